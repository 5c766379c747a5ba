package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// openTerminal opens a pseudo-terminal's master side: a real terminal for
// isTerminal (it answers the termios ioctls).
func openTerminal(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here (%v): the terminal cases cannot run", err)
	}
	t.Cleanup(func() { f.Close() })
	if !isTerminal(f.Fd()) {
		t.Fatal("/dev/ptmx is not a terminal to isTerminal")
	}
	return f
}

func TestColorEnabled(t *testing.T) {
	tty := openTerminal(t)
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tests := []struct {
		name string
		f    *os.File
		env  map[string]string
		want bool
	}{
		{"terminal", tty, map[string]string{"TERM": "xterm-256color"}, true},
		{"terminal, TERM unset", tty, nil, true},
		{"terminal, NO_COLOR=1", tty, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false},
		{"terminal, NO_COLOR=0 (any non-empty value)", tty, map[string]string{"NO_COLOR": "0"}, false},
		{"terminal, NO_COLOR empty", tty, map[string]string{"TERM": "xterm", "NO_COLOR": ""}, true},
		{"terminal, TERM=dumb", tty, map[string]string{"TERM": "dumb"}, false},
		{"a file", file, map[string]string{"TERM": "xterm"}, false},
		{"no stderr terminal", nil, map[string]string{"TERM": "xterm"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := colorEnabled(getenv, tt.f); got != tt.want {
				t.Errorf("colorEnabled = %v, want %v", got, tt.want)
			}
		})
	}
}

// On a dumb terminal the progress line redraws with carriage returns and
// spaces only; elsewhere it erases the line with ESC [ K. Either way the
// line is blank when the progress stops.
func TestProgressEscapes(t *testing.T) {
	for _, dumb := range []bool{false, true} {
		var buf bytes.Buffer
		p := runProgress(&buf, "waiting for a slot", dumb, time.Millisecond)
		// drawn waits until the line was drawn n times in all.
		drawn := func(n int) {
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				p.mu.Lock()
				c := strings.Count(buf.String(), "waiting for a slot")
				p.mu.Unlock()
				if c >= n {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("dumb=%v: the line was drawn %d times in 10s, want %d", dumb, c, n)
				}
			}
		}
		drawn(2)
		p.println(&buf, "relay-host: a line")
		drawn(4)
		p.stop()
		out := buf.String()
		if !strings.Contains(out, "waiting for a slot") || !strings.Contains(out, "relay-host: a line\n") {
			t.Fatalf("dumb=%v: no progress or line drawn: %q", dumb, out)
		}
		if got := strings.Contains(out, "\x1b"); got == dumb {
			t.Errorf("dumb=%v: escape sequence in output %v: %q", dumb, got, out)
		}
		// What is left on screen after the last carriage return is blank.
		last := out[strings.LastIndex(out, "relay-host: a line\n")+len("relay-host: a line\n"):]
		if i := strings.LastIndex(last, "\r"); i >= 0 {
			last = last[i+1:]
		}
		if strings.TrimSpace(strings.ReplaceAll(last, "\x1b[K", "")) != "" {
			t.Errorf("dumb=%v: the progress line is not cleared at stop: %q", dumb, last)
		}
		// The first frame is "| waiting for a slot 0s"; the next draw
		// blanks exactly that many columns.
		if dumb && !strings.Contains(out, "\r"+strings.Repeat(" ", len("| waiting for a slot 0s"))+"\r") {
			t.Errorf("dumb: the clearing spaces do not cover the line: %q", out)
		}
	}
}
