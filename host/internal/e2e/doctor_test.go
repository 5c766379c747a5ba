package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// doctorReport is `relay-host doctor --json`.
type doctorReport struct {
	OK       bool     `json:"ok"`
	Usable   []string `json:"usable_routes"`
	Blocking []string `json:"blocking"`
	Items    []struct {
		Provider string `json:"provider"`
		Route    string `json:"route"`
		Check    string `json:"check"`
		OK       bool   `json:"ok"`
		Detail   string `json:"detail"`
		Fix      string `json:"fix"`
		Needed   bool   `json:"needed"`
	} `json:"items"`
}

func (e *env) doctor(args ...string) (result, doctorReport) {
	e.t.Helper()
	r := e.run(append([]string{"doctor", "--json"}, args...)...)
	var rep doctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		e.t.Fatalf("doctor --json %v: exit %d: %v\nstdout: %s\nstderr: %s", args, r.code, err, r.stdout, r.stderr)
	}
	return r, rep
}

// item returns the report's items of provider/route, by check name.
func (rep doctorReport) item(provider, route, check string) (ok bool, detail, fix string, found bool) {
	for _, it := range rep.Items {
		if it.Provider == provider && it.Route == route && it.Check == check {
			return it.OK, it.Detail, it.Fix, true
		}
	}
	return false, "", "", false
}

// doctorEnv is a fresh home with the real claude CLI on PATH and the echo
// provider declared in the user's relay.hcl.
func doctorEnv(t *testing.T) *env {
	t.Helper()
	cli := requireCLI(t, "claude")
	e := newEnv(t)
	e.extra = []string{"PATH=" + filepath.Dir(cli) + string(os.PathListSeparator) + os.Getenv("PATH")}
	e.config("provider \"echo\" {}\n")
	return e
}

// TestDoctorFreshHome: in a fresh home the echo provider passes (its plugin
// offers no self-check, which the host says), and claude's own self-check
// finds the real CLI and its version but no credentials, with the fix.
// Doctor exits 0 (echo, which the user configured, is usable; claude is a
// built-in provider the user did not configure) and creates nothing.
func TestDoctorFreshHome(t *testing.T) {
	t.Parallel()
	e := doctorEnv(t)
	before := tree(t, e.home, e.state)

	r, rep := e.doctor()
	if r.code != 0 || !rep.OK {
		t.Fatalf("exit %d, ok %v, blocking %v\nstdout: %s\nstderr: %s", r.code, rep.OK, rep.Blocking, r.stdout, r.stderr)
	}
	if ok, detail, _, _ := rep.item("echo", "", "plugin"); !ok || !strings.Contains(detail, "relay-provider-echo 0.1.0") {
		t.Errorf("echo plugin: ok %v, %q", ok, detail)
	}
	if ok, detail, _, _ := rep.item("echo", "default", "limit"); !ok || detail != "stateless, limit 2 (default), local backend" {
		t.Errorf("echo/default limit: ok %v, %q", ok, detail)
	}
	if ok, detail, _, _ := rep.item("echo", "default", "self_check"); !ok || detail != "plugin offers no self-check" {
		t.Errorf("echo/default self_check: ok %v, %q", ok, detail)
	}
	if !strings.Contains(strings.Join(rep.Usable, " "), "echo/default") {
		t.Errorf("echo/default is not usable: %v", rep.Usable)
	}

	if ok, detail, _, found := rep.item("claude", "subscription", "cli"); !found || !ok || !regexp.MustCompile(`^claude \d+\.\d+\.\d+ \(Claude Code\)$`).MatchString(detail) {
		t.Errorf("claude/subscription cli: found %v ok %v, %q", found, ok, detail)
	}
	ok, detail, fix, found := rep.item("claude", "subscription", "credentials")
	if !found || ok || detail != "not logged in / ANTHROPIC_API_KEY unset" || !strings.Contains(fix, "set ANTHROPIC_API_KEY") || !strings.Contains(fix, "claude /login") {
		t.Errorf("claude/subscription credentials: found %v ok %v, %q, fix %q", found, ok, detail, fix)
	}
	if ok, detail, _, _ := rep.item("claude", "subscription", "state"); !ok || !strings.Contains(detail, "does not exist yet") {
		t.Errorf("claude/subscription state: ok %v, %q", ok, detail)
	}
	for _, it := range rep.Items {
		if it.Provider == "claude" && it.Needed {
			t.Errorf("claude item %s is needed, but the user never configured claude", it.Check)
		}
		if strings.Contains(it.Detail+it.Fix, e.home) {
			t.Errorf("item %s/%s %s names the home directory: %q %q", it.Provider, it.Route, it.Check, it.Detail, it.Fix)
		}
	}
	if ok, detail, _, _ := rep.item("", "", "lock_root"); !ok || detail != "lock root "+filepath.Join(e.state, "relay", "locks", "v2")+" does not exist yet; the first review creates it (0700)" {
		t.Errorf("lock root: ok %v, %q", ok, detail)
	}

	// The text form: one line per item, the verdict last.
	text := e.run("doctor")
	if text.code != 0 {
		t.Fatalf("doctor: exit %d\n%s", text.code, text.stderr)
	}
	for _, want := range []string{
		"✓ echo/default self_check: plugin offers no self-check\n",
		"✗ claude/subscription credentials: not logged in / ANTHROPIC_API_KEY unset — fix: set ANTHROPIC_API_KEY",
		"\nready: ",
	} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("doctor's text has no %q:\n%s", want, text.stdout)
		}
	}
	if after := tree(t, e.home, e.state); after != before {
		t.Fatalf("doctor changed the home or state tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestDoctorExitCodes: what doctor needs, as its help and the README
// define it.
func TestDoctorExitCodes(t *testing.T) {
	t.Parallel()
	e := doctorEnv(t)

	// --provider checks one: echo passes, claude (no credentials) fails,
	// and only the named provider is checked.
	r, rep := e.doctor("--provider", "echo")
	if r.code != 0 || !rep.OK {
		t.Errorf("--provider echo: exit %d, blocking %v", r.code, rep.Blocking)
	}
	for _, it := range rep.Items {
		// The lock root and the job store are checked too: a review of
		// echo needs them.
		if it.Provider != "echo" && it.Check != "lock_root" && it.Check != "job_store" {
			t.Errorf("--provider echo checked %s %s", it.Provider, it.Check)
		}
	}
	r, rep = e.doctor("--provider", "claude")
	if r.code != 3 || rep.OK || len(rep.Blocking) != 1 || !strings.Contains(rep.Blocking[0], "provider claude has no usable route") {
		t.Errorf("--provider claude: exit %d, blocking %v, want 3 and claude's route", r.code, rep.Blocking)
	}
	if r := e.run("doctor", "--provider", "nosuch"); r.code != 2 || !strings.Contains(r.stderr, `unknown provider "nosuch"`) {
		t.Errorf("--provider nosuch: exit %d, stderr %q, want 2", r.code, r.stderr)
	}

	// A built-in provider the user configures is needed: claude with a
	// model setting and no credentials fails doctor although echo works.
	e.config("provider \"echo\" {}\nprovider \"claude\" {\n  settings = { model = \"sonnet\" }\n}\n")
	r, rep = e.doctor()
	if r.code != 3 || rep.OK || !strings.Contains(strings.Join(rep.Blocking, "\n"), "provider claude has no usable route, and your relay.hcl configures it") {
		t.Errorf("configured claude: exit %d, blocking %v, want 3", r.code, rep.Blocking)
	}
	if _, _, _, found := rep.item("echo", "default", "limit"); !found {
		t.Errorf("echo is not checked with claude configured")
	}

	// Only the built-in relay.hcl, and no provider usable: nothing works.
	if err := os.Remove(filepath.Join(e.home, ".config", "relay", "relay.hcl")); err != nil {
		t.Fatal(err)
	}
	r, rep = e.doctor()
	if r.code != 3 || rep.OK || len(rep.Usable) != 0 || !strings.Contains(strings.Join(rep.Blocking, "\n"), "no route is usable") {
		t.Errorf("built-in only: exit %d, usable %v, blocking %v, want 3 and no usable route", r.code, rep.Usable, rep.Blocking)
	}
	// providers stays a listing: it exits 0 with nothing usable.
	if r := e.run("providers"); r.code != 0 {
		t.Errorf("providers with nothing usable: exit %d, want 0\n%s", r.code, r.stderr)
	}
	// A key makes a built-in route usable, and doctor passes.
	e.extra = append(e.extra, "DEEPSEEK_API_KEY=sk-doctor-e2e")
	r, rep = e.doctor()
	if r.code != 0 || !rep.OK || !strings.Contains(strings.Join(rep.Usable, " "), "apireviewer/deepseek") {
		t.Errorf("with DEEPSEEK_API_KEY: exit %d, usable %v, blocking %v, want 0", r.code, rep.Usable, rep.Blocking)
	}
	if strings.Contains(r.stdout, "sk-doctor-e2e") {
		t.Errorf("doctor printed the key:\n%s", r.stdout)
	}
}

// TestDoctorUnsafeState: a job store writable by others is a needed
// failure with its fix; doctor does not repair it (read-only).
func TestDoctorUnsafeState(t *testing.T) {
	t.Parallel()
	e := doctorEnv(t)
	store := filepath.Join(e.state, "relay", "jobs")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(store, 0o777); err != nil {
		t.Fatal(err)
	}
	r, rep := e.doctor()
	ok, detail, fix, _ := rep.item("", "", "job_store")
	if r.code != 3 || ok || !strings.Contains(detail, "is writable by other users (mode 0777)") || fix != "run chmod 700 "+store {
		t.Errorf("exit %d, job_store ok %v %q fix %q, want 3 and the chmod", r.code, ok, detail, fix)
	}
	if fi, err := os.Stat(store); err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("doctor changed the job store's mode: %v %v", fi, err)
	}
}

// TestDoctorScrubsSelfCheck: what a plugin's self-check says is scrubbed
// like any plugin output: no key, home path or holder pid reaches stdout.
func TestDoctorScrubsSelfCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const key = "sk-fault-doctor-0123456789abcdef"
	e.extra = []string{"FAULT_API_KEY=" + key}
	e.config(faultConfig(`mode = "secrets"`))
	r, rep := e.doctor("--provider", "fault")
	ok, detail, fix, found := rep.item("fault", "default", "leak")
	if !found || ok || !strings.HasPrefix(detail, "leaking: ") || !strings.HasPrefix(fix, "fix: ") {
		t.Fatalf("fault/default leak: found %v ok %v %q %q\n%s", found, ok, detail, fix, r.stdout)
	}
	if r.code != 3 {
		t.Errorf("exit %d, want 3: fault's only configured route failed its self-check", r.code)
	}
	if strings.Contains(r.stdout, key) {
		t.Errorf("doctor printed the key:\n%s", r.stdout)
	}
	for _, leak := range []string{e.home, e.state, "pid=" + strconv.Itoa(r.pid)} {
		if strings.Contains(detail+fix, leak) {
			t.Errorf("the self-check's text names %q: %q %q", leak, detail, fix)
		}
	}
	if !strings.Contains(detail, "env FAULT_API_KEY=[REDACTED]") {
		t.Errorf("the key was not redacted in place: %q", detail)
	}
	if ok, detail, _, _ := rep.item("fault", "shared", "fault"); !ok || detail != "route shared ready" {
		t.Errorf("fault/shared self-check: ok %v %q", ok, detail)
	}
}

// TestDoctorNodeExample: a plugin written before the Diagnose RPC existed
// (the Node example implements only Describe, Configure and Review) answers
// UNIMPLEMENTED, which doctor shows as a passing "plugin offers no
// self-check", not as a failure.
func TestDoctorNodeExample(t *testing.T) {
	t.Parallel()
	bin := requireNodeExample(t)
	e := newEnv(t)
	e.config(nodeConfig(bin, ""))
	r, rep := e.doctor("--provider", "node-echo")
	if r.code != 0 || !rep.OK {
		t.Fatalf("exit %d, blocking %v\nstdout: %s\nstderr: %s", r.code, rep.Blocking, r.stdout, r.stderr)
	}
	if ok, detail, _, _ := rep.item("node-echo", "default", "self_check"); !ok || detail != "plugin offers no self-check" {
		t.Errorf("node-echo/default self_check: ok %v, %q", ok, detail)
	}
	if r.stderr != "" {
		t.Errorf("stderr is not empty:\n%s", r.stderr)
	}
}

// TestDoctorEtcd: with admission on etcd, doctor reads from it: a running
// etcd passes, a stopped one is a needed failure with the fix.
func TestDoctorEtcd(t *testing.T) {
	t.Parallel()
	ep, stop := startEtcd(t)
	e := newEnv(t)
	e.config(etcdConfig(ep, `mode = "ok"`))
	r, rep := e.doctor()
	if ok, detail, _, found := rep.item("", "", "etcd"); !found || !ok || detail != "etcd ("+ep+") answers" {
		t.Errorf("running etcd: found %v ok %v %q", found, ok, detail)
	}
	if ok, detail, _, _ := rep.item("fault", "default", "limit"); !ok || detail != "stateless, limit 1 (relay.hcl), etcd backend" {
		t.Errorf("fault/default limit: ok %v %q", ok, detail)
	}
	if r.code != 0 {
		t.Errorf("running etcd: exit %d, blocking %v", r.code, rep.Blocking)
	}
	stop()
	r, rep = e.doctor()
	ok, detail, fix, _ := rep.item("", "", "etcd")
	if r.code != 3 || ok || !strings.Contains(detail, "did not answer a read (timeout 3s)") || !strings.Contains(fix, "check that etcd runs") {
		t.Errorf("stopped etcd: exit %d, etcd ok %v %q fix %q, want 3 with the fix", r.code, ok, detail, fix)
	}
}
