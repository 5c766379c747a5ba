package review

import (
	"context"
	"errors"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/relay-host/relay-host/host/jobs"
)

// fill writes to dir/filler until the file system has no room left.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "filler"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range []int{1 << 16, 512, 1} {
		buf := make([]byte, n)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling %s: %v", dir, err)
				}
				break
			}
		}
	}
}

// The job store fills up completely while the review runs (here: the
// moment the Review call starts). The review is not lost and the store does
// not lie: Run returns the completed review with a job_store_failed error
// (exit 74), and the persisted record is a short failed one, not running,
// written in the room held back before the source was sent.
func TestStoreFillsDuringTheReview(t *testing.T) {
	f := setupWith(t, "", func(state string) {
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", state).CombinedOutput(); err != nil {
			if os.Getenv("RELAY_REQUIRE_PRIVILEGED") != "" { // .ci/run sets it when it runs as root
				t.Fatalf("RELAY_REQUIRE_PRIVILEGED is set, but cannot mount a tmpfs for the job store (needs root or CAP_SYS_ADMIN): %v: %s", err, strings.TrimSpace(string(out)))
			}
			t.Skipf("cannot mount a tmpfs for the job store (needs root or CAP_SYS_ADMIN): %v: %s", err, strings.TrimSpace(string(out)))
		}
		t.Cleanup(func() { exec.Command("umount", "-l", state).Run() })
	})
	state := filepath.Dir(filepath.Dir(f.store.Dir()))
	f.opts.Status = func(s string) {
		if s == "reviewing" {
			fill(t, state)
		}
	}
	rec, err := Run(context.Background(), f.opts)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeJobStoreFailed || e.Exit != exitcode.IOErr || !strings.Contains(e.Msg, "no space left on device") {
		t.Fatalf("Run: %v; want a job_store_failed error with exit 74 naming the reason", err)
	}
	if rec == nil || rec.Status != jobs.StatusCompleted || !strings.Contains(rec.Review, "fault review") {
		t.Fatalf("Run returned %+v, want the completed review in hand", rec)
	}
	saved, gerr := f.store.Get(rec.JobID)
	if gerr != nil {
		t.Fatal(gerr)
	}
	if saved.Status != jobs.StatusFailed || saved.ErrorCode != CodeJobStoreFailed || saved.Transmission != jobs.Sent {
		t.Errorf("persisted record: %s %q %s; want failed job_store_failed sent (never running)", saved.Status, saved.ErrorCode, saved.Transmission)
	}
	if ents, _ := os.ReadDir(f.store.Dir()); len(ents) > 0 {
		for _, en := range ents {
			if strings.HasSuffix(en.Name(), ".reserve") {
				t.Errorf("the reserve file %s was left behind", en.Name())
			}
		}
	}
}
