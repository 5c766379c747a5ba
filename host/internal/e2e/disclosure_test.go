package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoDisclosure plants secrets where a plugin can reach them (the value
// of a variable its provider block passes it, a variable it must never get,
// the home directory, the state directories, this host's pid) and proves
// none of them reaches stdout, stderr (at info level, where plugin logs and
// stray output show) or any job record.
func TestNoDisclosure(t *testing.T) {
	for _, mode := range []string{"secrets", "secrets-error"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			const passed = "sk-relaytest-passed-0123456789"
			const unlisted = "unlisted-value-must-not-travel-42"
			e.extra = []string{"RELAY_LOG=info", "FAULT_API_KEY=" + passed, "FAULT_UNLISTED=" + unlisted, "ZZ_OTHER_TOKEN=" + unlisted}
			e.config(faultConfig(fmt.Sprintf("mode = %q", mode)))
			r := e.run("review", "fault")
			want := map[string]int{"secrets": 0, "secrets-error": 3}[mode]
			if r.code != want {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, want, r.stderr)
			}
			// The plugin did run and planted its text: its review or error
			// names the redaction markers where the secrets were.
			rec := e.latest()
			shown := rec.Review + rec.ErrorMessage
			for _, marker := range []string{"[REDACTED]", "[path]", "~/.ssh/config"} {
				if !strings.Contains(shown, marker) {
					t.Errorf("the planted text lost %q; the test no longer exercises the scrubber:\n%s", marker, shown)
				}
			}
			files := readAll(t, filepath.Join(e.state, "relay", "jobs"))
			checkAbsent(t, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "job files": files}, []string{
				passed, unlisted,
				e.home + "/", // shown as ~
				filepath.Join(e.state, "relay"),
				fmt.Sprintf("pid=%d", r.pid), fmt.Sprintf("pid %d", r.pid),
			})
		})
	}
}

// readAll concatenates every file under dir, names included (the
// fingerprint index names files by job id).
func readAll(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		b.WriteString(rel + "\n")
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkAbsent(t *testing.T, where map[string]string, needles []string) {
	t.Helper()
	for name, text := range where {
		for _, n := range needles {
			if strings.Contains(text, n) {
				t.Errorf("%s contains %q:\n%s", name, n, text)
			}
		}
	}
}
