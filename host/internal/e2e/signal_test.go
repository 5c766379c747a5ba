package e2e

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// TestSIGKILLedHostLeavesNothing: relay-host is SIGKILLed mid-review. The
// plugin is told by its parent-death signal, cancels the review (killing the
// CLI it ran with sdk.Command), SIGKILLs its own process group (a helper it
// started with plain os/exec) and exits; the kernel frees the slot, so the
// next review on a limit-1 route runs.
func TestSIGKILLedHostLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(fmt.Sprintf(`
provider "fault" {
  route "default" {
    limit    = 1
    settings = { delay = "60s", pidfile = %q, children = "all" }
  }
}
`, pidfile))
	cmd := e.command("review", "fault")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, pidfile, 20*time.Second)
	pids := readPids(t, pidfile)
	if len(pids) != 3 {
		t.Fatalf("want the plugin, its sdk.Command helper and its plain os/exec helper, got %v", pids)
	}
	waitSent(t, e)
	cmd.Process.Kill()
	cmd.Wait()
	requireGone(t, pids, 5*time.Second)

	if n := e.active("fault", "default"); n != 0 {
		t.Errorf("slot still held after SIGKILL: %d active", n)
	}
	// The record says the review's worker died after the source was sent
	// (capacity, above, repaired it): a retry needs --confirm-resend.
	rec := e.latest()
	if rec.Status != jobs.StatusFailed || rec.ErrorCode != jobs.CodeWorkerLost || rec.Transmission != jobs.Sent {
		t.Errorf("killed review's record: %s/%s/%s, want failed/worker_lost/sent", rec.Status, rec.ErrorCode, rec.Transmission)
	}
	e.config(fmt.Sprintf(`
provider "fault" {
  route "default" {
    limit    = 1
    settings = { pidfile = %q }
  }
}
`, pidfile))
	if r := e.run("review", "fault"); r.code != 2 {
		t.Errorf("retry without --confirm-resend: exit %d, want 2: %s", r.code, r.stderr)
	}
	if r := e.run("review", "fault", "--confirm-resend"); r.code != 0 {
		t.Errorf("next review on the freed limit-1 route: exit %d: %s", r.code, r.stderr)
	}
}

// TestSignalCancelsTheReview: SIGINT and SIGTERM cancel the review; the
// record says cancelled with the source sent, the slot is free, the plugin
// and its helpers are gone, and the exit code is 128+signal.
func TestSignalCancelsTheReview(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			pidfile := filepath.Join(e.root, "pids")
			e.config(faultConfig(fmt.Sprintf(`delay = "60s", pidfile = %q, children = "all"`, pidfile)))
			cmd := e.command("review", "fault")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForFile(t, pidfile, 20*time.Second)
			pids := readPids(t, pidfile)
			waitSent(t, e)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
				t.Errorf("exit %d (%v), want %d", code, err, 128+int(sig))
			}
			requireGone(t, pids, 5*time.Second)
			rec := e.latest()
			if rec.Status != jobs.StatusCancelled || rec.Transmission != jobs.Sent || rec.ErrorCode != "cancelled" {
				t.Errorf("record %s/%s/%s, want cancelled/sent/cancelled", rec.Status, rec.Transmission, rec.ErrorCode)
			}
			if n := e.active("fault", "default"); n != 0 {
				t.Errorf("%d slots held after the signal", n)
			}
		})
	}
}

// waitSent waits until the running review has recorded its transmission:
// the plugin writes its pidfile around the same moment, not after it, so a
// test that signals the host on the pidfile alone races the record.
func waitSent(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if recs := e.records(); len(recs) > 0 && recs[0].Transmission == jobs.Sent {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the review never recorded the transmission")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
