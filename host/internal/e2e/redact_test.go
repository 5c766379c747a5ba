package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plantedKey is a deterministic n-character key of letters and digits,
// shaped like no credential pattern, so only the redaction of the value the
// host passed the plugin can hide it.
func plantedKey(n int) string {
	const chars = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b strings.Builder
	for x := uint32(2463534242); b.Len() < n; {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(chars[x%uint32(len(chars))])
	}
	return b.String()
}

// TestRedactBeforeCut plants a 256-character key, passed to the fault
// plugin through its provider block's env (so the host knows to redact
// it), across each place where text used to be cut before the host could
// redact it: byte 512 of a panic message and byte 64 of an unknown error
// code (cut by the SDK), byte 4096 of a progress message and of a stray
// stdout and stderr line, byte 64 KiB of a raw stderr line and of a JSON
// log line (go-plugin's stderr read buffer), and the stderr and stdout
// lines left unterminated when the plugin exits (held, then logged whole).
// No 12-character piece of the
// key may reach stdout, stderr, a job record or the debug log.
func TestRedactBeforeCut(t *testing.T) {
	key := plantedKey(256)
	tests := []struct {
		at   string
		exit int
		// shown is text that proves the planted line was redacted where
		// it is shown (in the debug log or the job record).
		shown string
	}{
		{"panic", 3, "provider panicked in Review: pppp"},
		{"code", 3, `plugin sent unknown error code "not_a_code[REDACTED]": bogus code`},
		{"progress", 0, "progress: message=\"pppp"},
		{"stray", 0, "plugin wrote to stdout: line=\"pppp"},
		{"stray", 0, "plugin wrote to stderr: line=\"pppp"},
		{"stderr", 0, "[DEBUG] plugin.relay-provider-fault: pppp"},
		{"partial", 0, "[DEBUG] plugin.relay-provider-fault: pppp"},
		{"partial", 0, "plugin wrote to stdout: line=\"pppp"},
		{"log", 0, "[WARN]  plugin.relay-provider-fault: pppp"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s-%d", tt.at, i), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.extra = []string{"RELAY_LOG=debug", "FAULT_API_KEY=" + key}
			e.config(faultConfig(fmt.Sprintf(`mode = "cut", at = %q`, tt.at)))
			logFile := filepath.Join(e.root, "debug.log")
			r := e.run("review", "fault", "--log-file", logFile)
			if r.code != tt.exit {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tt.exit, r.stderr)
			}
			log, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			rec := e.latest()
			places := map[string]string{
				"stdout":      r.stdout,
				"stderr":      r.stderr,
				"job records": readAll(t, filepath.Join(e.state, "relay", "jobs")),
				"debug log":   string(log),
			}
			// The planted text did arrive, whole, and was redacted: a line
			// of the log or the record has its start and "[REDACTED] end".
			found := false
			for _, text := range []string{string(log), rec.ErrorMessage} {
				for _, line := range strings.Split(text, "\n") {
					if strings.Contains(line, tt.shown) && strings.Contains(line, "[REDACTED]") &&
						(tt.at == "code" || strings.Contains(line, "[REDACTED] end")) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("no redacted line with %q; the test no longer exercises this cut\nrecord: %.300q\nlog:\n%s", tt.shown, rec.ErrorMessage, tail(string(log), 3000))
			}
			for name, text := range places {
				for i := 0; i+12 <= len(key); i++ {
					if j := strings.Index(text, key[i:i+12]); j >= 0 {
						t.Errorf("%s holds key[%d:%d] at byte %d: …%q…", name, i, i+12, j, text[max(0, j-40):min(len(text), j+60)])
						break
					}
				}
			}
		})
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestPanicIsOneErrorLine: at the default level (warn) a provider panic
// shows as one error line of the plugin's log (beside the review's own
// one-line error), with no stack; RELAY_LOG=debug adds the stack.
func TestPanicIsOneErrorLine(t *testing.T) {
	for _, level := range []string{"warn", "debug"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.extra = []string{"RELAY_LOG=" + level}
			e.config(faultConfig(`mode = "panic"`))
			r := e.run("review", "fault")
			if r.code != 3 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			var panicLines int
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.Contains(l, "provider panicked in Review: fault plugin: deliberate panic") {
					panicLines++
				}
			}
			stack := strings.Contains(r.stderr, "provider panic stack") && strings.Contains(r.stderr, "goroutine")
			// At the default level the one line is relay-host's own; at
			// debug the plugin's log line and its stack come too.
			want := 1
			if level == "debug" {
				want = 2
			}
			if panicLines != want || stack != (level == "debug") {
				t.Errorf("%d lines for the panic, stack shown %v; want %d and %v:\n%s", panicLines, stack, want, level == "debug", r.stderr)
			}
			if level == "warn" && len(stderrLines(r.stderr)) != 1 {
				t.Errorf("a panic prints %d lines at the default level, want 1:\n%s", len(stderrLines(r.stderr)), r.stderr)
			}
		})
	}
}
