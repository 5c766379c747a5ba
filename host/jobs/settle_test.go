package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func liveRecord(id string, st Status, tx Transmission) *Record {
	return &Record{JobID: id, Provider: "claude", Route: "subscription", Fingerprint: "fp",
		Status: st, Transmission: tx, StartedAt: time.Now().UTC()}
}

func TestLockFileIsPrivateAndNeverFollowsASymlink(t *testing.T) {
	s := openStore(t)
	l, err := s.Lock("r-a")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	fi, err := os.Lstat(filepath.Join(s.Dir(), "r-a.lock"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, %v; want mode 0600", fi, err)
	}
	if _, err := s.Lock("r-a"); err == nil {
		t.Error("a second Lock of one job succeeded")
	}
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(target, nil, 0o600)
	if err := os.Symlink(target, filepath.Join(s.Dir(), "r-b.lock")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock("r-b"); err == nil {
		t.Error("Lock took a lock through a symlink")
	}
	if alive, err := s.workerAlive("r-b"); alive || err == nil {
		t.Errorf("workerAlive through a symlink = %v, %v; want an error", alive, err)
	}
}

func TestSettle(t *testing.T) {
	tests := []struct {
		name  string
		st    Status
		tx    Transmission
		alive bool
		want  Status
		code  string
		wtx   Transmission
	}{
		{"running, lock held", StatusRunning, MayBeSent, true, StatusRunning, "", MayBeSent},
		{"queued, lock held", StatusQueued, NotSent, true, StatusQueued, "", NotSent},
		{"running after sent, lock free", StatusRunning, Sent, false, StatusFailed, CodeWorkerLost, Sent},
		{"running, review call started, lock free", StatusRunning, MayBeSent, false, StatusFailed, CodeWorkerLost, MayBeSent},
		{"running before the call, lock free", StatusRunning, NotSent, false, StatusFailed, CodeWorkerLost, NotSent},
		{"queued, lock free", StatusQueued, NotSent, false, StatusFailed, CodeWorkerLost, NotSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			l, err := s.Lock("r-1")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(liveRecord("r-1", tt.st, tt.tx)); err != nil {
				t.Fatal(err)
			}
			if !tt.alive {
				l.Close() // as a SIGKILL would: the file stays, the lock goes
			} else {
				defer l.Release()
			}
			r, _ := s.Get("r-1")
			got, err := s.Settle(r)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want || got.ErrorCode != tt.code || got.Transmission != tt.wtx {
				t.Errorf("Settle = %s/%s/%s, want %s/%s/%s", got.Status, got.ErrorCode, got.Transmission, tt.want, tt.code, tt.wtx)
			}
			disk, _ := s.Get("r-1")
			if disk.Status != tt.want || len(contradictions(disk)) > 0 {
				t.Errorf("record on disk: %s, contradictions %v", disk.Status, contradictions(disk))
			}
		})
	}
}

func TestSettleRacesWriteOnce(t *testing.T) {
	s := openStore(t)
	if err := s.Put(liveRecord("r-1", StatusRunning, MayBeSent)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	finished := make([]time.Time, 8)
	for i := range finished {
		wg.Go(func() {
			r, _ := s.Get("r-1")
			got, err := s.Settle(r)
			if err != nil {
				t.Error(err)
				return
			}
			finished[i] = got.FinishedAt
		})
	}
	wg.Wait()
	// Every repairer sees the one repair: re-read under the repair lock.
	for _, f := range finished {
		if !f.Equal(finished[0]) {
			t.Fatalf("repairers wrote different outcomes: %v", finished)
		}
	}
}

func TestWaitBlocksOnTheLock(t *testing.T) {
	s := openStore(t)
	l, err := s.Lock("r-1")
	if err != nil {
		t.Fatal(err)
	}
	s.Put(liveRecord("r-1", StatusRunning, MayBeSent))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(ctx, "r-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a live job = %v, want the deadline", err)
	}
	done := make(chan *Record, 1)
	go func() {
		r, err := s.Wait(context.Background(), "r-1")
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	r := liveRecord("r-1", StatusCompleted, Sent)
	r.Verdict, r.FinishedAt = "approve", r.StartedAt
	s.Put(r)
	l.Release()
	if got := <-done; got == nil || got.Status != StatusCompleted {
		t.Errorf("Wait returned %+v, want the completed record", got)
	}
}

func TestSettleLocked(t *testing.T) {
	s := openStore(t)
	held, _ := s.Lock("r-live")
	defer held.Release()
	s.Put(liveRecord("r-live", StatusRunning, Sent))
	dead, _ := s.Lock("r-dead")
	s.Put(liveRecord("r-dead", StatusRunning, Sent))
	dead.Close()
	s.Put(liveRecord("r-old", StatusRunning, Sent)) // no lock file: left for Settle
	if err := s.SettleLocked(); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]Status{"r-live": StatusRunning, "r-dead": StatusFailed, "r-old": StatusRunning} {
		if r, _ := s.Get(id); r.Status != want {
			t.Errorf("%s: %s, want %s", id, r.Status, want)
		}
	}
}
