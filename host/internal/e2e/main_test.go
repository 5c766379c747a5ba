package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/host/jobs"
)

// binDir holds relay-host, relay-host-core, relay-provider-echo,
// relay-provider-fault and every providers/<name> plugin, built once in
// TestMain. The plugins sit beside
// relay-host-core, where discovery finds them, as in bin/.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relay-e2e-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	builds := map[string]string{
		"relay-host":           "github.com/relay-host/relay-host/host/cmd/relay-host",
		"relay-host-core":      "github.com/relay-host/relay-host/host/cmd/relay-host-core",
		"relay-provider-echo":  "github.com/relay-host/relay-host/sdk/examples/echo",
		"relay-provider-fault": "github.com/relay-host/relay-host/host/internal/testplugins/fault",
	}
	// Every provider plugin of the repository too: providers/<name>/main.go
	// becomes relay-provider-<name>.
	mains, _ := filepath.Glob(filepath.Join("..", "..", "..", "providers", "*", "main.go"))
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		builds["relay-provider-"+name] = "github.com/relay-host/relay-host/providers/" + name
	}
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, pkg := range builds {
		args = append(args, pkg)
	}
	build := exec.Command("go", args...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building test binaries:", err)
		os.Exit(1)
	}
	for name, pkg := range builds {
		// go build -o dir/ names each binary after its package directory.
		if got := filepath.Join(dir, filepath.Base(pkg)); got != filepath.Join(dir, name) {
			if err := os.Rename(got, filepath.Join(dir, name)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one isolated relay-host user: its own home, state and config.
type env struct {
	t     testing.TB
	root  string
	home  string
	state string
	repo  string
	extra []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{t: t, root: root, home: filepath.Join(root, "home"), state: filepath.Join(root, "state"), repo: filepath.Join(root, "repo")}
	for _, d := range []string{e.home, e.state, e.repo} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.git("init", "-q")
	e.write("main.go", "package main\n\nfunc main() {}\n")
	e.git("add", ".")
	e.git("commit", "-qm", "init")
	e.write("main.go", "package main\n\nfunc main() { println(\"hi\") }\n")
	return e
}

func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || strings.HasPrefix(k, "XDG_") || strings.HasPrefix(k, "RELAY_") || strings.HasPrefix(k, "GIT_") {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "HOME="+e.home, "XDG_STATE_HOME="+e.state, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "RELAY_LOG=error")
	return append(out, e.extra...)
}

func (e *env) git(args ...string) {
	e.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = e.repo, e.environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func (e *env) write(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.repo, name)
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// config writes $XDG_CONFIG_HOME/relay/relay.hcl.
func (e *env) config(hcl string) {
	e.t.Helper()
	p := filepath.Join(e.home, ".config", "relay", "relay.hcl")
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(hcl), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
	pid            int
}

func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "relay-host"), args...)
	cmd.Dir, cmd.Env = e.repo, e.environ()
	return cmd
}

func (e *env) run(args ...string) result {
	e.t.Helper()
	cmd := e.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String(), pid: cmd.Process.Pid}
}

func (e *env) records() []*jobs.Record {
	e.t.Helper()
	st, err := jobs.Open(filepath.Join(e.state, "relay", "jobs"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.List()
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// latest is the newest record.
func (e *env) latest() *jobs.Record {
	e.t.Helper()
	recs := e.records()
	if len(recs) == 0 {
		e.t.Fatal("no job record")
	}
	return recs[0]
}

// active is `relay-host capacity provider --json`'s active count of route.
func (e *env) active(provider, route string) int {
	e.t.Helper()
	r := e.run("capacity", provider, "--json")
	if r.code != 0 {
		e.t.Fatalf("capacity: exit %d\n%s", r.code, r.stderr)
	}
	var rows []struct {
		Route       string `json:"route"`
		ActiveCount int    `json:"active_count"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		e.t.Fatalf("capacity --json: %v\n%s", err, r.stdout)
	}
	for _, row := range rows {
		if row.Route == route {
			return row.ActiveCount
		}
	}
	e.t.Fatalf("capacity has no route %s: %s", route, r.stdout)
	return 0
}
