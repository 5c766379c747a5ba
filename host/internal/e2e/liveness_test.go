package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// slowFault is a limit-N fault route whose review sends at once and then
// answers after 60 s, writing its pid to pidfile.
func slowFault(limit int, pidfile string) string {
	return fmt.Sprintf(`
provider "fault" {
  route "default" {
    limit    = %d
    settings = { delay = "60s", pidfile = %q }
  }
}
`, limit, pidfile)
}

// quickFault is the same route answering at once.
func quickFault(limit int) string {
	return fmt.Sprintf(`
provider "fault" {
  route "default" {
    limit = %d
  }
}
`, limit)
}

// jobsJSON is `relay-host jobs --json`.
func (e *env) jobsJSON() []*jobs.Record {
	e.t.Helper()
	r := e.run("jobs", "--json")
	if r.code != 0 {
		e.t.Fatalf("jobs --json: exit %d\n%s", r.code, r.stderr)
	}
	var recs []*jobs.Record
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
		e.t.Fatalf("jobs --json: %v\n%s", err, r.stdout)
	}
	return recs
}

func (e *env) job(id string) *jobs.Record {
	e.t.Helper()
	for _, r := range e.jobsJSON() {
		if r.JobID == id {
			return r
		}
	}
	e.t.Fatalf("jobs --json lists no job %s", id)
	return nil
}

// requireLost: job id reads failed/worker_lost with transmission tr in the
// very first `jobs --json` after its worker died, and `jobs wait` returns
// for it with exit 3.
func requireLost(t *testing.T, e *env, id string, tr jobs.Transmission) {
	t.Helper()
	rec := e.job(id)
	if rec.Status != jobs.StatusFailed || rec.ErrorCode != jobs.CodeWorkerLost || rec.Transmission != tr {
		t.Errorf("job %s after its worker was SIGKILLed: %s/%s/%s, want failed/%s/%s", id, rec.Status, rec.ErrorCode, rec.Transmission, jobs.CodeWorkerLost, tr)
	}
	if w := e.run("jobs", "wait", id, "--timeout", "20s"); w.code != 3 || !strings.Contains(w.stderr, jobs.CodeWorkerLost) {
		t.Errorf("jobs wait %s: exit %d, want 3 naming %s\n%s", id, w.code, jobs.CodeWorkerLost, w.stderr)
	}
}

// TestSIGKILLedForegroundReviewIsWorkerLost: a foreground review SIGKILLed
// after it sent reads failed/worker_lost/sent at once; one SIGKILLed while
// it waited for a slot reads failed/worker_lost/not_sent. jobs wait returns
// for both; the first one's holder, running, is left alone.
func TestSIGKILLedForegroundReviewIsWorkerLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(slowFault(1, pidfile))

	// A holder that sent and waits; jobs wait on it does not return.
	holder := e.command("review", "fault")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	waitForFile(t, pidfile, 20*time.Second)
	waitSent(t, e)
	holderID := e.latest().JobID
	if w := e.run("jobs", "wait", holderID, "--timeout", "300ms"); w.code != 124 {
		t.Errorf("jobs wait on a running job: exit %d, want 124 (still running)\n%s", w.code, w.stderr)
	}
	if rec := e.job(holderID); rec.Status != jobs.StatusRunning {
		t.Errorf("a live review read %s/%s, want running", rec.Status, rec.ErrorCode)
	}

	// A second one, waiting for the slot: SIGKILLed before it sent.
	// Identical to the holder's, which still runs: the resend guard lets it
	// through to admission.
	waiter := e.command("review", "fault", "--wait", "60s")
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	var waiterID string
	for deadline := time.Now().Add(20 * time.Second); waiterID == ""; time.Sleep(10 * time.Millisecond) {
		for _, r := range e.records() {
			if r.JobID != holderID {
				waiterID = r.JobID
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiting review wrote no record")
		}
	}
	waiter.Process.Kill()
	waiter.Wait()
	requireLost(t, e, waiterID, jobs.NotSent)

	holder.Process.Kill()
	holder.Wait()
	requireLost(t, e, holderID, jobs.Sent)
}

// TestSIGKILLedBackgroundWorkerIsWorkerLost: kill -9 of a background
// worker after it sent: failed/worker_lost/sent at once, jobs wait returns.
func TestSIGKILLedBackgroundWorkerIsWorkerLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(slowFault(1, pidfile))
	r := e.run("review", "fault", "--background")
	if r.code != 0 {
		t.Fatalf("review --background: exit %d\n%s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	waitForFile(t, pidfile, 20*time.Second)
	waitSent(t, e)
	st, err := jobs.Open(filepath.Join(e.state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := st.GetWorker(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(w.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); alive(w.PID); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("worker %d survived SIGKILL", w.PID)
		}
	}
	requireLost(t, e, id, jobs.Sent)
}

// TestIdenticalReviewWhileOneRuns: the resend guard counts only finished
// attempts, so an identical review while the first still runs is admission's
// call: a limit-1 route blocks it (75), a limit-2 route runs it. The first
// runs at limit 2: a holder's limit binds every caller while it holds
// (admission.Request.Limit), so a limit-1 holder would block both.
func TestIdenticalReviewWhileOneRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(slowFault(2, pidfile))
	first := e.command("review", "fault")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	waitForFile(t, pidfile, 20*time.Second)
	waitSent(t, e)

	// Settings are not part of the fingerprint: the same packet to the same
	// route, answering at once.
	e.config(quickFault(1))
	if r := e.run("review", "fault"); r.code != 75 {
		t.Errorf("identical review on a limit-1 route while one runs: exit %d, want 75 (blocked)\n%s", r.code, r.stderr)
	}
	e.config(quickFault(2))
	if r := e.run("review", "fault"); r.code != 0 {
		t.Errorf("identical review on a limit-2 route while one runs: exit %d, want 0\n%s", r.code, r.stderr)
	}
	if w := e.run("jobs", "wait", e.latest().JobID); w.code != 0 {
		t.Errorf("jobs wait on a completed review: exit %d, want 0\n%s", w.code, w.stderr)
	}

	// Cancel works on a foreground job too: the review records cancelled.
	id := ""
	for _, r := range e.records() {
		if r.Status == jobs.StatusRunning {
			id = r.JobID
		}
	}
	if r := e.run("cancel", id); r.code != 0 || !strings.Contains(r.stdout, "cancelled (source_content_transmission sent)") {
		t.Errorf("cancel of a foreground review: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	err := first.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("the cancelled foreground review exited %v, want non-zero", err)
	}
}
