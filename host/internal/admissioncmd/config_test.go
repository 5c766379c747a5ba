package admissioncmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/trust"
)

func TestNeedsCore(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	home := filepath.Join(dir, "home")
	getenv := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	bare := getenv(map[string]string{"HOME": home})
	for _, c := range []struct {
		args []string
		env  func(string) string
		want bool
	}{
		{[]string{"run", "--key", "k", "--limit", "1", "--", "true"}, bare, false},
		{[]string{"run", "--backend", "local", "--", "x", "--backend", "etcd"}, bare, false},
		{[]string{"run", "--backend", "etcd", "--", "true"}, bare, true},
		{[]string{"status", "--backend=etcd"}, bare, true},
		{[]string{"status", "--config", "/x.hcl"}, bare, true},
		{[]string{"status", "-config=/x.hcl"}, bare, true},
		{[]string{"run", "--", "cmd", "--config", "x"}, bare, false},
		{[]string{"run", "-config=/x.hcl", "--", "true"}, bare, true},
		{[]string{"run", "--key", "k", "--", "true"}, getenv(map[string]string{"HOME": home, "RELAY_CONFIG": "/x.hcl"}), true},
		// Only run stays in the front binary: the operator views resolve
		// as review does, in the core.
		{[]string{"status"}, bare, true},
		{[]string{"clean", "--key", "k"}, bare, true},
		{[]string{"--help"}, bare, true},
		{nil, bare, true},
	} {
		if got, _ := NeedsCore(c.args, c.env); got != c.want {
			t.Errorf("NeedsCore(%q) = %v, want %v", c.args, got, c.want)
		}
	}
	// A user file, or a repository file in the current directory (which the
	// core reads only if trusted), sends the command to the core.
	user := filepath.Join(home, ".config", "relay", "relay.hcl")
	os.MkdirAll(filepath.Dir(user), 0o700)
	os.WriteFile(user, nil, 0o600)
	runArgs := []string{"run", "--key", "k", "--limit", "1", "--", "true"}
	if core, _ := NeedsCore(runArgs, bare); !core {
		t.Error("a user relay.hcl is ignored")
	}
	os.Remove(user)
	// An untrusted repository file changes nothing: the front binary says
	// so and runs the command itself; trusted, the core must read it.
	os.WriteFile(".relay.hcl", []byte("admission { max_total = 1 }\n"), 0o600)
	state := getenv(map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(dir, "state")})
	core, warnings := NeedsCore(runArgs, state)
	if core || len(warnings) != 1 || !strings.Contains(warnings[0], "relay-host config trust ./.relay.hcl") {
		t.Errorf("untrusted ./.relay.hcl: core %v, warnings %q", core, warnings)
	}
	store, _ := trust.Open(state)
	src, _ := os.ReadFile(".relay.hcl")
	store.Trust(".relay.hcl", src)
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	if core, _ := NeedsCore(runArgs, state); !core {
		t.Error("a trusted ./.relay.hcl is not read by the core")
	}
	os.WriteFile(".relay.hcl", []byte("admission { max_total = 2 }\n"), 0o600)
	if core, warnings := NeedsCore(runArgs, state); core || len(warnings) != 1 || !strings.Contains(warnings[0], "changed since you trusted it") {
		t.Errorf("changed ./.relay.hcl: core %v, warnings %q", core, warnings)
	}
}

// Holder identity (pid, host) is printed only when stdout is a terminal:
// piped, status --holders and clean print counts and states only.
func TestIdentityOnlyOnATerminal(t *testing.T) {
	state := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	holder := startRH(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "sh", "-c", `echo $$ > "$0"; exec sleep 60`, ready)
	waitForFile(t, ready)
	pid := strconv.Itoa(holder.Process.Pid)
	run := func(terminal bool, args ...string) (string, string, exitcode.Code) {
		var out, errb bytes.Buffer
		io := IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTerminal: terminal, Getenv: func(k string) string {
			if k == "XDG_STATE_HOME" {
				return state
			}
			return ""
		}}
		code := Main(args, io)
		return out.String(), errb.String(), code
	}
	out, _, code := run(true, "status", "--holders")
	if code != 0 || !strings.Contains(out, "pid ") {
		t.Fatalf("terminal: exit %d\n%s", code, out)
	}
	out, errs, code := run(false, "status", "--holders")
	if code != 0 || strings.Contains(out, "pid ") || strings.Contains(out, pid) || !strings.Contains(errs, "only on a terminal") || !strings.Contains(out, "k ") {
		t.Fatalf("piped: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}
