package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relay-host/relay-host/admission/procid"
	"github.com/relay-host/relay-host/host/jobs"
)

// testIO is a non-TTY IO over buffers with a private state directory.
func testIO(t *testing.T) (IO, *bytes.Buffer, *bytes.Buffer, string) {
	t.Helper()
	state := t.TempDir()
	env := map[string]string{"XDG_STATE_HOME": state, "HOME": t.TempDir(), "XDG_CONFIG_HOME": t.TempDir()}
	var out, errb bytes.Buffer
	return IO{In: strings.NewReader(""), Out: &out, Err: &errb,
		Getenv:  func(k string) string { return env[k] },
		Environ: func() []string { return nil }}, &out, &errb, state
}

func TestJobsAndShow(t *testing.T) {
	io, out, errb, state := testIO(t)
	st, err := jobs.Open(filepath.Join(state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rec := &jobs.Record{JobID: "r-1", Provider: "echo", Route: "default", Status: jobs.StatusCompleted,
		Transmission: jobs.Sent, Verdict: "approve", Review: "fine\nVerdict: APPROVE\n", StartedAt: now, FinishedAt: now}
	st.Put(rec)
	st.Close()

	if code := Main([]string{"jobs"}, io, "test"); code != 0 {
		t.Fatalf("jobs: exit %d: %s", code, errb)
	}
	if !strings.Contains(out.String(), "r-1  completed  echo") {
		t.Errorf("jobs table:\n%s", out)
	}
	out.Reset()
	if code := Main([]string{"show", "r-1", "--json"}, io, "test"); code != 0 {
		t.Fatalf("show: exit %d: %s", code, errb)
	}
	var got jobs.Record
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.JobID != "r-1" || got.Verdict != "approve" {
		t.Errorf("show --json: %v %+v", err, got)
	}
	out.Reset()
	Main([]string{"show", "r-1"}, io, "test")
	if !strings.Contains(out.String(), "status:       completed") || !strings.HasSuffix(out.String(), "Verdict: APPROVE\n") {
		t.Errorf("show:\n%s", out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"review"},
		{"review", "echo", "--fail-on", "approve"},
		{"review", "echo", "--staged", "--base", "main"},
		{"show", "../x"},
		{"nosuchcommand"},
		{"cancel", "r-none"},
	} {
		io, _, errb, _ := testIO(t)
		if code := Main(args, io, "test"); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb)
		}
		if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "relay-host: ") {
			t.Errorf("%v: want one relay-host: line, got %q", args, errb)
		}
	}
}

// TestAdmissionUsesInjectedIO: `admission` through the core's command tree
// reads the injected environment and writes to the injected streams, and so
// does the command it runs under the lease.
func TestAdmissionUsesInjectedIO(t *testing.T) {
	io, out, errb, state := testIO(t)
	args := []string{"admission", "run", "--key", "k", "--limit", "1", "--", "sh", "-c", "echo out; echo err >&2"}
	if code := Main(args, io, "test"); code != 0 || out.String() != "out\n" || errb.String() != "err\n" {
		t.Fatalf("admission run: exit %d, stdout %q, stderr %q", code, out, errb)
	}
	out.Reset()
	if code := Main([]string{"admission", "status", "--json"}, io, "test"); code != 0 || !strings.Contains(out.String(), `"key": "k"`) {
		t.Fatalf("admission status: exit %d, stdout %q, stderr %q", code, out, errb)
	}
	if _, err := os.Stat(filepath.Join(state, "relay", "locks")); err != nil {
		t.Errorf("the lock root is not under the injected XDG_STATE_HOME: %v", err)
	}
}

func TestRELAYLOGIsChecked(t *testing.T) {
	io, _, errb, _ := testIO(t)
	base := io.Getenv
	io.Getenv = func(k string) string {
		if k == "RELAY_LOG" {
			return "loud"
		}
		return base(k)
	}
	t.Chdir(t.TempDir())
	if code := Main([]string{"providers"}, io, "test"); code != 2 || !strings.Contains(errb.String(), `RELAY_LOG="loud" is not a log level`) {
		t.Errorf("exit %d: %s", code, errb)
	}
}

// TestCancelNeverSignalsAReusedPid: the worker sidecar names a live process
// whose start time differs (the pid was reused): it is not signalled, and
// the job is recorded honestly as failed with its transmission kept.
// TestCancelNeverSignalsAReusedPid: the job's lock is held (its worker
// runs), but the pid it records now names another process (a different
// start time): cancel signals nothing and says it cannot verify.
func TestCancelNeverSignalsAReusedPid(t *testing.T) {
	io, out, errb, state := testIO(t)
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	st, err := jobs.Open(filepath.Join(state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := st.Lock("r-2")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	rec := &jobs.Record{JobID: "r-2", Provider: "echo", Route: "default", Status: jobs.StatusRunning,
		Transmission: jobs.MayBeSent, StartedAt: time.Now().UTC()}
	st.Put(rec)
	info, err := procid.Capture(sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	lock.SetWorker(jobs.Worker{PID: info.PID, StartTime: info.StartTime + "0", Argv0: info.Argv0})
	if code := Main([]string{"cancel", "r-2"}, io, "test"); code != 1 {
		t.Fatalf("cancel: exit %d, want 1: %s%s", code, out, errb)
	}
	if !strings.Contains(errb.String(), "cannot verify the process running job r-2, so it was not signalled") {
		t.Errorf("cancel said: %s", errb)
	}
	if got, _ := st.Get("r-2"); got.Status != jobs.StatusRunning {
		t.Errorf("a live job's record was changed: %+v", got)
	}
	if err := sleeper.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the process behind the reused pid was signalled: %v", err)
	}
	done := make(chan struct{})
	go func() { sleeper.Wait(); close(done) }()
	select {
	case <-done:
		t.Fatal("the process behind the reused pid exited")
	case <-time.After(200 * time.Millisecond):
	}

	// Once its lock is free, the job's worker is gone: recorded, not signalled.
	lock.Close()
	out.Reset()
	if code := Main([]string{"cancel", "r-2"}, io, "test"); code != 0 {
		t.Fatalf("cancel: exit %d: %s", code, errb)
	}
	if !strings.Contains(out.String(), "its worker is gone; recorded as failed (worker_lost, source_content_transmission may_be_sent)") {
		t.Errorf("cancel said: %s", out)
	}
	got, _ := st.Get("r-2")
	if got.Status != jobs.StatusFailed || got.ErrorCode != "worker_lost" || got.Transmission != jobs.MayBeSent {
		t.Errorf("record %+v", got)
	}
}
