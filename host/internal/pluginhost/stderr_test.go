package pluginhost

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

type logBuf struct {
	mu      sync.Mutex
	entries []string // one per hclog write: what the scrubber sees at once
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries = append(b.entries, string(p))
	return len(p), nil
}

func newTestStderr(level hclog.Level) (*stderrLog, *logBuf) {
	out := &logBuf{}
	return newStderrLog(hclog.New(&hclog.LoggerOptions{Name: "plugin.relay-provider-x", Level: level, Output: out})), out
}

// TestStderrLineIsReassembled: a line go-plugin hands over in 64 KiB pieces
// (its read buffer) is logged as one entry, so a secret straddling a piece
// boundary reaches the scrubber whole.
func TestStderrLineIsReassembled(t *testing.T) {
	const secret = "stderr-secret-0123456789abcdefghijklmnop"
	w, out := newTestStderr(hclog.Debug)
	line := strings.Repeat("a", 64<<10-20) + secret + " tail"
	for rest := []byte(line); len(rest) > 0; {
		n := min(len(rest), 64<<10)
		w.Write(rest[:n])
		rest = rest[n:]
	}
	w.Write([]byte("\n"))
	if len(out.entries) != 1 || !strings.Contains(out.entries[0], secret) || !strings.Contains(out.entries[0], "[DEBUG]") {
		t.Fatalf("%d entries; first %.120q", len(out.entries), out.entries)
	}
}

// TestStderrJSONEntries: the plugin's hclog JSON lines keep their level,
// message and fields; a line with no level is debug text; a malformed
// @message does not panic (go-plugin's parser would).
func TestStderrJSONEntries(t *testing.T) {
	w, out := newTestStderr(hclog.Trace)
	w.Write([]byte(`{"@level":"warn","@message":"quota low","@timestamp":"2026-01-01T00:00:00.000000Z","@module":"fault","left":3}` + "\n"))
	w.Write([]byte(`{"@level":"error","@message":7}` + "\r\n"))
	w.Write([]byte(`{"no":"level"}` + "\n"))
	w.Write([]byte("[INFO] plain prefixed\nnot json\npanic: boom\n\tmain.go:1\n"))
	want := []string{
		"[WARN]  plugin.relay-provider-x: quota low: @module=fault left=3",
		"[ERROR] plugin.relay-provider-x: 7",
		`[DEBUG] plugin.relay-provider-x: {"no":"level"}`,
		"[INFO]  plugin.relay-provider-x: [INFO] plain prefixed",
		"[DEBUG] plugin.relay-provider-x: not json",
		"[ERROR] plugin.relay-provider-x: panic: boom",
		"[ERROR] plugin.relay-provider-x: \tmain.go:1",
	}
	if len(out.entries) != len(want) {
		t.Fatalf("entries %q", out.entries)
	}
	for i, e := range out.entries {
		if !strings.Contains(e, want[i]) {
			t.Errorf("entry %d = %q, want %q", i, e, want[i])
		}
		if strings.Contains(e, "2026-01-01") {
			t.Errorf("entry %d keeps @timestamp: %q", i, e)
		}
	}
}

// TestStderrOverCapIsWithheld: past maxStderrLine nothing of the line is
// logged, only its length, and the next line is logged again.
func TestStderrOverCapIsWithheld(t *testing.T) {
	w, out := newTestStderr(hclog.Debug)
	chunk := bytes.Repeat([]byte("s"), 64<<10)
	total := 0
	for total <= maxStderrLine+len(chunk) {
		w.Write(chunk)
		total += len(chunk)
	}
	w.Write([]byte("\nnext line\n"))
	if len(out.entries) != 2 {
		t.Fatalf("entries: %d", len(out.entries))
	}
	if e := out.entries[0]; strings.Contains(e, "sss") || !strings.Contains(e, "withheld") || !strings.Contains(e, "bytes=") {
		t.Errorf("over-cap entry = %.200q", e)
	}
	if !strings.Contains(out.entries[1], "next line") {
		t.Errorf("next entry = %q", out.entries[1])
	}
	if cap(w.buf) > 64<<10 {
		t.Errorf("the long line's buffer is kept: cap %d", cap(w.buf))
	}
}

// TestStderrFlush: an unterminated last line is logged by Flush, once.
func TestStderrFlush(t *testing.T) {
	w, out := newTestStderr(hclog.Debug)
	w.Write([]byte("last words"))
	if len(out.entries) != 0 {
		t.Fatalf("logged before its newline: %q", out.entries)
	}
	w.Flush()
	w.Flush()
	if len(out.entries) != 1 || !strings.Contains(out.entries[0], "last words") {
		t.Fatalf("entries %q", out.entries)
	}
}

// TestStderrOffSilencesOnlyTheStderrReader: go-plugin's stderr reader gets
// a logger that is off; every other logger go-plugin derives is the real one.
func TestStderrOffSilencesOnlyTheStderrReader(t *testing.T) {
	out := &logBuf{}
	l := stderrOff{Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: out}), name: "relay-provider-x"}
	if got := l.Named("relay-provider-x").GetLevel(); got != hclog.Off {
		t.Errorf("stderr reader's level %v, want off", got)
	}
	l.Named("stdio").Warn("kept")
	l.Warn("kept too")
	if len(out.entries) != 2 {
		t.Errorf("entries %q", out.entries)
	}
}
