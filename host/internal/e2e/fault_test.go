package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// faultConfig is relay.hcl for the fault plugin with one route's settings.
func faultConfig(settings string, extra ...string) string {
	return fmt.Sprintf(`
provider "fault" {
  env = ["FAULT_API_KEY"]
  route "default" {
    limit    = 2
    %s
    settings = { %s }
  }
}
`, strings.Join(extra, "\n    "), settings)
}

// TestFaults runs each way a plugin can misbehave and checks, for each: a
// one-line error, a true record, the lease released and no process left.
func TestFaults(t *testing.T) {
	tests := []struct {
		mode     string
		extra    []string // more route attributes
		args     []string
		exit     int
		status   jobs.Status
		code     string
		tr       jobs.Transmission
		inStderr string
	}{
		// Exits right after its transmission event, which may or may not
		// have reached the host: either way the record must not say not_sent.
		{mode: "crash", exit: 3, status: jobs.StatusFailed, code: "plugin_crashed", tr: "sent|may_be_sent", inStderr: "the plugin exited or dropped the connection"},
		{mode: "crash-early", exit: 3, status: jobs.StatusFailed, code: "plugin_crashed", tr: jobs.MayBeSent, inStderr: "may have been sent"},
		{mode: "badutf8", exit: 3, status: jobs.StatusFailed, code: "plugin_protocol_error", tr: jobs.Sent, inStderr: "invalid UTF-8"},
		{mode: "hang", args: []string{"--timeout", "1s"}, exit: 3, status: jobs.StatusFailed, code: "timeout", tr: jobs.Sent, inStderr: "did not finish within 1s"},
		{mode: "hang", extra: []string{`timeout = "1s"`}, exit: 3, status: jobs.StatusFailed, code: "timeout", tr: jobs.Sent, inStderr: "raise timeout"},
		{mode: "panic", exit: 3, status: jobs.StatusFailed, code: "plugin_panic", tr: jobs.Sent, inStderr: "(plugin_panic)"},
		{mode: "error", exit: 3, status: jobs.StatusFailed, code: "usage_limited", tr: jobs.Sent, inStderr: "(usage_limited)"},
		{mode: "presend", exit: 3, status: jobs.StatusFailed, code: "not_authenticated", tr: jobs.NotSent, inStderr: "set FAULT_API_KEY"},
		{mode: "flood", exit: 0, status: jobs.StatusCompleted, tr: jobs.Sent},
		{mode: "stdout", exit: 0, status: jobs.StatusCompleted, tr: jobs.Sent},
		{mode: "garbage", exit: 0, status: jobs.StatusCompleted, tr: jobs.Sent},
	}
	for _, tt := range tests {
		name := tt.mode
		if len(tt.extra) > 0 {
			name += "-route-timeout"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			pidfile := filepath.Join(e.root, "pids")
			e.config(faultConfig(fmt.Sprintf(`mode = %q, pidfile = %q, children = "all"`, tt.mode, pidfile), tt.extra...))
			// Logs go to a file: stderr holds only relay-host's own lines.
			r := e.run(append([]string{"review", "fault", "--log-file", filepath.Join(e.root, "log")}, tt.args...)...)
			if r.code != tt.exit {
				t.Fatalf("exit %d, want %d\nstdout: %.500s\nstderr: %s", r.code, tt.exit, r.stdout, r.stderr)
			}
			rec := e.latest()
			if rec.Status != tt.status || rec.ErrorCode != tt.code || !strings.Contains("|"+string(tt.tr)+"|", "|"+string(rec.Transmission)+"|") {
				t.Errorf("record: status %s, error_code %q, transmission %s; want %s, %q, %s", rec.Status, rec.ErrorCode, rec.Transmission, tt.status, tt.code, tt.tr)
			}
			if tt.exit != 0 {
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "relay-host: ") || !strings.Contains(lines[0], tt.inStderr) {
					t.Errorf("want one error line containing %q, got:\n%s", tt.inStderr, r.stderr)
				}
				if rec.ErrorMessage == "" || strings.Contains(rec.ErrorMessage, "\n") {
					t.Errorf("error_message %q: want one non-empty line", rec.ErrorMessage)
				}
			}
			requireGone(t, readPids(t, pidfile), 5*time.Second)
			if n := e.active("fault", "default"); n != 0 {
				t.Errorf("capacity after the run: %d active, want 0 (lease leaked)", n)
			}
			checkClean(t, tt.mode, r, rec)
		})
	}
}

// checkClean checks what a completed fault review may print and persist.
func checkClean(t *testing.T, mode string, r result, rec *jobs.Record) {
	t.Helper()
	for what, s := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "review": rec.Review, "model": rec.Model, "error_message": rec.ErrorMessage} {
		for _, bad := range []string{"\x1b", "\x07", "\r", "\xff", "\x9b"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains control byte %q", what, bad)
			}
		}
	}
	switch mode {
	case "flood":
		if len(rec.Review) > 1<<20+64 || len(rec.Model) > 300 {
			t.Errorf("flood not capped: review %d bytes, model %d bytes", len(rec.Review), len(rec.Model))
		}
		if !strings.HasSuffix(rec.Review, "[truncated]") {
			t.Errorf("flooded review does not say it was truncated")
		}
	case "stdout":
		if strings.Contains(r.stdout, "stray") || strings.Contains(rec.Review, "stray") {
			t.Errorf("stray plugin output reached the review:\n%s", r.stdout)
		}
	case "garbage":
		if !strings.Contains(rec.Review, "click me") || !strings.Contains(rec.Review, "red and") || rec.Verdict != "approve" {
			t.Errorf("garbage review not cleaned as expected: %q (verdict %s)", rec.Review, rec.Verdict)
		}
		if strings.Contains(rec.Review, "evil.example") || strings.Contains(rec.Review, "pwned") {
			t.Errorf("escape sequence payload survived: %q", rec.Review)
		}
	}
}

// TestStrayOutputIsAWarning: at the default log level a plugin's stray
// stdout is logged on stderr as a warning, never mixed into the review.
func TestStrayOutputIsAWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.extra = []string{"RELAY_LOG=warn"}
	e.config(faultConfig(`mode = "stdout"`))
	r := e.run("review", "fault")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "[WARN]") || !strings.Contains(r.stderr, "plugin wrote to stdout") {
		t.Errorf("no warning for stray stdout:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, "stray") {
		t.Errorf("stray output on stdout:\n%s", r.stdout)
	}
}

// TestConfiguredLimitBeatsALyingPlugin: the fault plugin declares a
// stateless default of 1000 on a route relay.hcl limits to 2.
func TestConfiguredLimitBeatsALyingPlugin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.config(faultConfig(""))
	r := e.run("providers")
	if r.code != 0 {
		t.Fatalf("providers: exit %d: %s", r.code, r.stderr)
	}
	var line string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "fault ") && strings.Contains(l, "default") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) != 6 || f[4] != "2" || f[5] != "relay.hcl" {
		t.Errorf("fault/default: want limit 2 from relay.hcl, got %q", line)
	}
	// Without a configured limit the declared default applies, lowered by
	// the env cap.
	e.config(strings.Replace(faultConfig(""), "limit    = 2", "", 1))
	e.extra = []string{"RELAY_FAULT_CONCURRENCY_LIMIT=3"}
	r = e.run("providers", "--json")
	if !strings.Contains(r.stdout, `"limit": 3`) || !strings.Contains(r.stdout, `"limit_source": "env_cap"`) {
		t.Errorf("env cap not applied:\n%s", r.stdout)
	}
}

func TestMain_binariesExist(t *testing.T) {
	for _, b := range []string{"relay-host", "relay-host-core", "relay-provider-echo", "relay-provider-fault"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			t.Fatal(err)
		}
	}
}
