package sanitize

import (
	"io"
	"strings"
	"sync"
)

// Writer returns a writer for log output that scrubs each write (hclog
// writes one entry per call) before passing it to w. With identity false the
// host's own identity is kept: the host's debug log is the one place where
// admission may name holders. Plugin log lines always use identity true.
func (s *Scrubber) Writer(w io.Writer, identity bool) io.Writer {
	return &writer{s: s, w: w, identity: identity}
}

type writer struct {
	s        *Scrubber
	w        io.Writer
	identity bool
	mu       sync.Mutex
}

func (w *writer) Write(p []byte) (int, error) {
	st := w.s.p.Load()
	text := string(p)
	if w.identity {
		text = st.identity(text)
	}
	text = st.policy.Review(strings.TrimSuffix(text, "\n"))
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := io.WriteString(w.w, text+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}
