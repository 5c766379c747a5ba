package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// fullStateDir mounts a small tmpfs as the env's state directory (job store
// and lock root) and fills it until only free bytes are left: enough for the
// small queued and running records and the slot files, not for a review of a
// megabyte.
func fullStateDir(t *testing.T, e *env, free int64) {
	t.Helper()
	const size = 4 << 20
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", e.state).CombinedOutput(); err != nil {
		if os.Getenv("RELAY_REQUIRE_PRIVILEGED") != "" { // .ci/run sets it when it runs as root
			t.Fatalf("RELAY_REQUIRE_PRIVILEGED is set, but cannot mount a tmpfs for the job store (needs root or CAP_SYS_ADMIN): %v: %s", err, strings.TrimSpace(string(out)))
		}
		t.Skipf("cannot mount a tmpfs for the job store (needs root or CAP_SYS_ADMIN): %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", e.state).Run() })
	if err := os.WriteFile(filepath.Join(e.state, "filler"), make([]byte, size-free), 0o600); err != nil {
		t.Fatalf("filling the tmpfs: %v", err)
	}
}

func (e *env) noneRunning(t *testing.T) {
	t.Helper()
	for _, rec := range e.records() {
		if rec.Status == jobs.StatusRunning || rec.Status == jobs.StatusQueued {
			t.Errorf("job %s is left %s by a finished review", rec.JobID, rec.Status)
		}
	}
}

// The job store fills before the review's record is written: the review
// still reaches stdout, stderr says in one line that the record was not
// saved and why, the exit code is 74, and no record is left running.
func TestFullJobStoreKeepsTheReview(t *testing.T) {
	e := newEnv(t)
	e.config(faultConfig(`mode = "flood"`))
	fullStateDir(t, e, 256<<10)
	r := e.runEnv([]string{"TMPDIR=" + shortTempDir(t)}, "review", "fault", "--log-file", filepath.Join(e.root, "log"))
	if r.code != 74 {
		t.Fatalf("exit %d, want 74 (EX_IOERR)\nstderr: %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "xxxx") || len(r.stdout) < 1<<20 {
		t.Errorf("the review did not reach stdout (%d bytes: %.80q)", len(r.stdout), r.stdout)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "record could not be saved (no space left on device)") {
		t.Errorf("want one stderr line saying the record could not be saved and why, got:\n%s", r.stderr)
	}
	e.noneRunning(t)
	rec := e.latest()
	if rec.Status != jobs.StatusFailed || rec.ErrorCode != "job_store_failed" || rec.Transmission != jobs.Sent {
		t.Errorf("record: %s %s %s, want failed job_store_failed sent", rec.Status, rec.ErrorCode, rec.Transmission)
	}
}

// The same in a background worker, whose stdout nobody reads: the text is
// kept in $TMPDIR/relay-review-<id>.txt and the record says where.
func TestFullJobStoreBackgroundKeepsTheReview(t *testing.T) {
	e := newEnv(t)
	e.config(faultConfig(`mode = "flood"`))
	fullStateDir(t, e, 256<<10)
	tmp := shortTempDir(t)
	r := e.runEnv([]string{"TMPDIR=" + tmp}, "review", "fault", "--background", "--log-file", filepath.Join(e.root, "log"))
	if r.code != 0 {
		t.Fatalf("--background: exit %d\n%s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	var rec jobs.Record
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, err := os.ReadFile(filepath.Join(e.state, "relay", "jobs", id+".json"))
		if err == nil && json.Unmarshal(data, &rec) == nil && rec.Status != jobs.StatusQueued && rec.Status != jobs.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %q after 60s", id, rec.Status)
		}
	}
	if rec.Status != jobs.StatusFailed || rec.ErrorCode != "job_store_failed" || rec.Transmission != jobs.Sent {
		t.Errorf("record: %s %s %s, want failed job_store_failed sent", rec.Status, rec.ErrorCode, rec.Transmission)
	}
	kept := filepath.Join(tmp, "relay-review-"+id+".txt")
	if !strings.Contains(rec.ErrorMessage, kept) {
		t.Errorf("error_message %q does not say where the text is (%s)", rec.ErrorMessage, kept)
	}
	text, err := os.ReadFile(kept)
	if err != nil || !strings.HasPrefix(string(text), "xxxx") || len(text) < 1<<20 {
		t.Errorf("the review text was not kept in %s: %v (%d bytes)", kept, err, len(text))
	}
	if fi, err := os.Stat(kept); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("%s is %v, want 0600", kept, fi.Mode().Perm())
	}
	e.noneRunning(t)
}
