package sdk

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxStrayLine bounds one held line so a plugin that floods stdout without
// newlines cannot grow the host's memory. A longer line is withheld whole,
// not cut: the logger it goes to redacts secrets from each entry, and a cut
// line could end inside one.
const maxStrayLine = maxTextBytes

// StrayOutput returns a writer for go-plugin's ClientConfig.SyncStdout or
// SyncStderr. After the handshake, go-plugin redirects a plugin's os.Stdout
// and os.Stderr into a stream; whatever arrives there is not protocol data,
// so each line is logged whole as a warning ("plugin wrote to stdout") and
// never reaches review text. A line over 64 KiB is logged as its length
// only. The writer also has a Flush method, which logs a last unterminated
// line: call it once the plugin has exited, so no line is held forever.
func StrayOutput(logger hclog.Logger, stream string) io.Writer {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &strayWriter{logger: logger, stream: stream}
}

type strayWriter struct {
	logger hclog.Logger
	stream string

	mu       sync.Mutex
	buf      []byte
	withheld int // bytes of the current line dropped; > 0 once it is over the cap
}

func (w *strayWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		w.add(part)
		if i >= 0 {
			w.end()
		}
	}
	return n, nil
}

// add appends part of the current line, or counts it once the line is over
// the cap.
func (w *strayWriter) add(part []byte) {
	if w.withheld == 0 && len(w.buf)+len(part) <= maxStrayLine {
		w.buf = append(w.buf, part...)
		return
	}
	w.withheld += len(w.buf) + len(part)
	w.buf = w.buf[:0]
}

// end logs the current line and starts the next.
func (w *strayWriter) end() {
	if w.withheld > 0 {
		w.logger.Warn("plugin wrote to "+w.stream, "line",
			fmt.Sprintf("[a line of %d bytes withheld: over the %d KiB limit]", w.withheld, maxStrayLine>>10))
	} else {
		w.logger.Warn("plugin wrote to "+w.stream, "line", strings.TrimRight(string(w.buf), "\r"))
	}
	w.buf, w.withheld = w.buf[:0], 0
}

// Flush logs an unterminated last line, if any.
func (w *strayWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 || w.withheld > 0 {
		w.end()
	}
}
