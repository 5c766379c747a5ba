package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// complete runs cobra's hidden __complete command, as a shell's completion
// script does, and returns the candidates (without descriptions).
func complete(t *testing.T, io IO, out *bytes.Buffer, args ...string) []string {
	t.Helper()
	out.Reset()
	if code := Main(append([]string{"__complete"}, args...), io, "test"); code != 0 {
		t.Fatalf("__complete %q: exit %d", args, code)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue // the directive line
		}
		name, _, _ := strings.Cut(line, "\t")
		got = append(got, name)
	}
	return got
}

// TestCompletion: providers and their routes come from the layered
// configuration (the user's layer included), job ids from the job store,
// without starting a plugin or creating a job store.
func TestCompletion(t *testing.T) {
	io, out, _, state := testIO(t)
	cfgDir := filepath.Join(io.Getenv("XDG_CONFIG_HOME"), "relay")
	os.MkdirAll(cfgDir, 0o700)
	os.WriteFile(filepath.Join(cfgDir, "relay.hcl"), []byte("provider \"mine\" {\n  route \"fast\" {}\n  route \"slow\" {}\n}\n"), 0o600)

	if got := strings.Join(complete(t, io, out, "review", ""), " "); got != "claude gemini kimi grokweb apireviewer mine" {
		t.Errorf("review <TAB>: %q", got)
	}
	if got := strings.Join(complete(t, io, out, "review", "gr"), " "); got != "grokweb" {
		t.Errorf("review gr<TAB>: %q", got)
	}
	if got := strings.Join(complete(t, io, out, "review", "mine", "--route", ""), " "); got != "fast slow" {
		t.Errorf("review mine --route <TAB>: %q", got)
	}
	if got := strings.Join(complete(t, io, out, "review", "apireviewer", "--route", "d"), " "); got != "deepseek" {
		t.Errorf("review apireviewer --route d<TAB>: %q", got)
	}
	if got := complete(t, io, out, "show", ""); len(got) != 0 {
		t.Errorf("show <TAB> with no job store: %q", got)
	}
	if _, err := os.Stat(filepath.Join(state, "relay")); !os.IsNotExist(err) {
		t.Errorf("completion created the job store: %v", err)
	}

	st, err := jobs.Open(filepath.Join(state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, id := range []string{"r-20261201T100000Z-aaaa", "r-20261201T110000Z-bbbb"} {
		st.Put(&jobs.Record{JobID: id, Provider: "echo", Route: "default", Status: jobs.StatusCompleted, Transmission: jobs.Sent, StartedAt: now, FinishedAt: now})
	}
	st.Close()
	for _, cmd := range [][]string{{"show"}, {"cancel"}, {"jobs", "wait"}} {
		got := strings.Join(complete(t, io, out, append(cmd, "r-20261201T11")...), " ")
		if got != "r-20261201T110000Z-bbbb" {
			t.Errorf("%s r-20261201T11<TAB>: %q", strings.Join(cmd, " "), got)
		}
	}
}
