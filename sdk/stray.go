package sdk

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxStrayLine caps one logged line so a plugin that floods stdout without
// newlines cannot grow the host's memory.
const maxStrayLine = 4096

// StrayOutput returns a writer for go-plugin's ClientConfig.SyncStdout or
// SyncStderr. After the handshake, go-plugin redirects a plugin's os.Stdout
// and os.Stderr into a stream; whatever arrives there is not protocol data,
// so each line is logged as a warning ("plugin wrote to stdout") and never
// reaches review text.
func StrayOutput(logger hclog.Logger, stream string) io.Writer {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &strayWriter{logger: logger, stream: stream}
}

type strayWriter struct {
	logger hclog.Logger
	stream string

	mu  sync.Mutex
	buf []byte
}

func (w *strayWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxStrayLine - len(w.buf)
			if len(p) <= room {
				w.buf = append(w.buf, p...)
				break
			}
			w.buf = append(w.buf, p[:room]...)
			p = p[room:]
			w.flush(" [truncated]")
			continue
		}
		w.buf = append(w.buf, p[:min(i, maxStrayLine-len(w.buf))]...)
		p = p[i+1:]
		w.flush("")
	}
	return n, nil
}

func (w *strayWriter) flush(suffix string) {
	line := strings.TrimRight(string(w.buf), "\r")
	w.buf = w.buf[:0]
	w.logger.Warn("plugin wrote to "+w.stream, "line", line+suffix)
}
