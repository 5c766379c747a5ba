package admissioncmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var relayHost string // the front binary, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relay-host-bin-")
	if err != nil {
		panic(err)
	}
	relayHost = filepath.Join(dir, "relay-host")
	// The core too: status and clean run there.
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "github.com/relay-host/relay-host/host/cmd/relay-host", "github.com/relay-host/relay-host/host/cmd/relay-host-core")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building relay-host:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func rh(t *testing.T, state string, args ...string) result {
	t.Helper()
	cmd := exec.Command(relayHost, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state, "XDG_CONFIG_HOME="+state, "RELAY_CONFIG=", "RELAY_PROVIDER_WORKLOAD_LOCK_DIR=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func startRH(t *testing.T, state string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(relayHost, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state, "XDG_CONFIG_HOME="+state, "RELAY_CONFIG=", "RELAY_PROVIDER_WORKLOAD_LOCK_DIR=")
	cmd.Stderr = os.Stderr
	// Its own process group, so cleanup also ends the CMD it runs (which
	// would otherwise hold the test's output pipe open).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	return cmd
}

// waitForFile waits for a file a child writes when it is running.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

func TestRunPassesExitCodeAndStreams(t *testing.T) {
	state := t.TempDir()
	r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
	if r.code != 7 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("got %+v", r)
	}
	// The slot is free again afterwards.
	if r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "true"); r.code != 0 {
		t.Fatalf("second run: %+v", r)
	}
}

func TestRunBlockedExits75WithCountsOnly(t *testing.T) {
	state := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	startRH(t, state, "admission", "run", "--key", "api.route", "--limit", "1", "--", "sh", "-c", "echo $$ > "+ready+"; exec sleep 60")
	pid := waitForFile(t, ready)
	r := rh(t, state, "admission", "run", "--key", "api.route", "--limit", "1", "--", "true")
	if r.code != 75 {
		t.Fatalf("blocked run: %+v", r)
	}
	want := "relay-host: admission blocked: api.route is at capacity (1/1 in use); retry later or pass --wait\n"
	if r.stderr != want {
		t.Fatalf("stderr %q, want %q", r.stderr, want)
	}
	host, _ := os.Hostname()
	for _, leak := range []string{pid, host, state} {
		if strings.Contains(r.stderr+r.stdout, leak) {
			t.Fatalf("blocked message leaks %q", leak)
		}
	}
	st := rh(t, state, "admission", "status", "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(st.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("status --json: %q %v", st.stdout, err)
	}
	if rows[0]["active_count"] != 1.0 || rows[0]["limit"] != 1.0 || rows[0]["cooldown_s"] != 0.0 || len(rows[0]) != 5 {
		t.Fatalf("status row %v", rows[0])
	}
}

// The lease lives exactly as long as the work: a SIGKILLed relay-host leaves
// CMD running and counted, and the slot frees when CMD ends.
func TestCommandKeepsTheSlotWhenRelayHostIsKilled(t *testing.T) {
	state := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	front := startRH(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "sh", "-c", "echo $$ > "+ready+"; exec sleep 60")
	pid, _ := strconv.Atoi(waitForFile(t, ready))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	front.Process.Signal(syscall.SIGKILL)
	front.Wait()
	if r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "true"); r.code != 75 {
		t.Fatalf("a new holder started while the old CMD still runs: %+v", r)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	// The kernel drops the lock when the process exits (reaped or not).
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "true")
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed after CMD died: %+v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCommandInheritsOnlyTheLease(t *testing.T) {
	state := t.TempDir()
	r := rh(t, state, "admission", "run", "--key", "k", "--limit", "2", "--max-total", "3", "--", "sh", "-c", "ls /proc/$$/fd | sort -n | tr '\\n' ' '")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	// 0-2, the route slot (3), the max_total slot (4), and otherwise only
	// what this test process itself passed down (a CI runner's own fds).
	ours, _ := os.ReadDir("/proc/self/fd")
	inherited := map[string]bool{}
	for _, e := range ours {
		inherited[e.Name()] = true
	}
	got := strings.Fields(r.stdout)
	if len(got) < 5 || strings.Join(got[:5], " ") != "0 1 2 3 4" {
		t.Fatalf("CMD has descriptors %v, want 0-4 first", got)
	}
	for _, fd := range got {
		switch fd {
		case "0", "1", "2", "3", "4":
		default:
			if !inherited[fd] {
				t.Fatalf("relay-host leaked descriptor %s to CMD (CMD has %v)", fd, got)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	state := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"admission", "run", "--key", "k", "--limit", "2.5", "--", "true"}, 2, `invalid_limit): --limit "2.5" is not a positive integer`},
		{[]string{"admission", "run", "--key", "k", "--limit", "0", "--", "true"}, 2, "invalid_limit"},
		{[]string{"admission", "run", "--key", "k", "--limit", "1", "--max-total", "-1", "--", "true"}, 2, "invalid_limit"},
		{[]string{"admission", "run", "--key", "k", "--limit", "1"}, 2, "needs --key, --limit and a command"},
		{[]string{"admission", "run", "--key", "k", "--limit", "1", "--", "no-such-command-xyz"}, 127, "no-such-command-xyz: command not found"},
		{[]string{"admission", "frobnicate"}, 2, "unknown admission command"},
	} {
		r := rh(t, state, c.args...)
		first := strings.SplitN(r.stderr, "\n", 2)[0]
		if r.code != c.code || !strings.Contains(first, c.want) {
			t.Errorf("%v: exit %d stderr %q; want %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	os.Mkdir(root, 0o777)
	os.Chmod(root, 0o777)
	r := rh(t, state, "admission", "status", "--lock-root", root)
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, root) || !strings.Contains(r.stderr, "writable by other users") {
		t.Fatalf("unsafe lock root: %+v", r)
	}
}

func TestWaitAdmitsWhenTheHolderEnds(t *testing.T) {
	state := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	startRH(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "sh", "-c", "echo $$ > "+ready+"; sleep 0.3")
	waitForFile(t, ready)
	r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--wait", "30s", "--", "echo", "admitted")
	if r.code != 0 || r.stdout != "admitted\n" {
		t.Fatalf("%+v", r)
	}
	r = rh(t, state, "admission", "run", "--key", "k2", "--limit", "1", "--wait", "1ms", "--", "true")
	if r.code != 0 {
		t.Fatalf("free key with a wait: %+v", r)
	}
}

func TestCleanShowsThenResets(t *testing.T) {
	state := t.TempDir()
	dir := filepath.Join(state, "relay", "locks", "v2", "k")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "slot-0.json"), []byte("garbage"), 0o600)
	if r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "true"); r.code != 75 {
		t.Fatalf("corrupt slot must fail closed: %+v", r)
	}
	r := rh(t, state, "admission", "clean")
	if r.code != 0 || !strings.Contains(r.stdout, "k slot 0: corrupt") || !strings.Contains(r.stdout, "dry run: pass --yes") {
		t.Fatalf("clean dry run: %+v", r)
	}
	if r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "true"); r.code != 75 {
		t.Fatalf("dry run changed something: %+v", r)
	}
	if r := rh(t, state, "admission", "clean", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "reset 1 slot(s)") {
		t.Fatalf("clean --yes: %+v", r)
	}
	if r := rh(t, state, "admission", "run", "--key", "k", "--limit", "1", "--", "true"); r.code != 0 {
		t.Fatalf("after clean: %+v", r)
	}
}
