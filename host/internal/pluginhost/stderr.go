package pluginhost

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxStderrLine bounds the part of one plugin stderr line the host holds.
// A longer line is withheld whole, never cut: the scrubber redacts a secret
// only from a line that holds all of it.
const maxStderrLine = 1 << 20

// go-plugin reads a plugin's stderr (its structured JSON log) through a
// bufio.Reader of ClientConfig.PluginLogBufferSize, 64 KiB by default, and
// logs a line longer than that as separate debug entries of at most 64 KiB
// each (client.go, logStderr). A secret straddling a piece boundary would
// then reach the scrubber as two halves, neither of which it can recognise.
// So the host silences that reader (stderrOff) and reads the same bytes,
// which go-plugin also copies to ClientConfig.Stderr piece by piece with the
// newline restored, through stderrLog, which reassembles each line before
// it is parsed, logged and (by the log writer) scrubbed as a whole.

// stderrOff is the plugin client's logger with go-plugin's own stderr
// reader silenced: go-plugin logs stderr through Named(<binary name>), and
// a logger at level Off makes it skip the lines altogether.
type stderrOff struct {
	hclog.Logger
	name string
}

func (s stderrOff) Named(name string) hclog.Logger {
	if name == s.name {
		return hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})
	}
	return s.Logger.Named(name)
}

// stderrLog logs each whole line of a plugin's stderr: a JSON entry from the
// plugin's hclog logger at its own level with its fields, any other line at
// debug level (or at the level a "[WARN]"-style prefix names; after a Go
// "panic:" line, at error level). A line is held until its newline, until
// it is over maxStderrLine (then only its length is logged), or until the
// plugin exits: go-plugin ends an unterminated last line with a newline at
// EOF, and Plugin.Kill calls Flush as well. Never forever.
type stderrLog struct {
	l hclog.Logger

	mu       sync.Mutex
	buf      []byte
	withheld int  // bytes of the current line dropped; > 0 once it is over the cap
	inPanic  bool // a Go panic is being printed: the rest is its trace
}

func newStderrLog(l hclog.Logger) *stderrLog { return &stderrLog{l: l} }

func (w *stderrLog) Write(p []byte) (int, error) {
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
		if w.withheld == 0 && len(w.buf)+len(part) <= maxStderrLine {
			w.buf = append(w.buf, part...)
		} else {
			w.withheld += len(w.buf) + len(part)
			w.buf = w.buf[:0]
		}
		if i >= 0 {
			w.end()
		}
	}
	return n, nil
}

// Flush logs an unterminated last line, if any.
func (w *stderrLog) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 || w.withheld > 0 {
		w.end()
	}
}

func (w *stderrLog) end() {
	if w.withheld > 0 {
		w.l.Warn("plugin wrote a stderr line too long to log; withheld", "bytes", w.withheld, "limit_bytes", maxStderrLine)
	} else {
		w.line(strings.TrimSuffix(string(w.buf), "\r"))
	}
	w.buf, w.withheld = w.buf[:0], 0
	if cap(w.buf) > 64<<10 {
		w.buf = nil // a rare long line does not keep its buffer
	}
}

func (w *stderrLog) line(line string) {
	if strings.HasPrefix(line, "{") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err == nil {
			if level := hclog.LevelFromString(text(entry["@level"])); level != hclog.NoLevel {
				msg := text(entry["@message"])
				for _, k := range []string{"@level", "@message", "@timestamp"} {
					delete(entry, k)
				}
				keys := make([]string, 0, len(entry))
				for k := range entry {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				args := make([]any, 0, 2*len(keys))
				for _, k := range keys {
					args = append(args, k, entry[k])
				}
				w.l.Log(level, msg, args...)
				return
			}
		}
	}
	for _, p := range []struct {
		prefix string
		level  hclog.Level
	}{{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info}, {"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}} {
		if strings.HasPrefix(line, p.prefix) {
			w.l.Log(p.level, line)
			return
		}
	}
	if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
		w.inPanic = true
	}
	if w.inPanic {
		w.l.Error(line)
		return
	}
	w.l.Debug(line)
}

// text is a JSON value as a string; go-plugin's own parser panics on a
// non-string @message.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}
