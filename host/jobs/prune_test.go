package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	s := openStore(t)
	now := time.Now().UTC()
	put := func(id string, st Status, age time.Duration) {
		r := liveRecord(id, st, Sent)
		r.StartedAt = now.Add(-age)
		if st != StatusRunning {
			r.FinishedAt, r.Verdict = r.StartedAt, "approve"
		}
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.Lock("r-run")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	put("r-run", StatusRunning, 90*24*time.Hour) // old, but still running
	put("r-old1", StatusCompleted, 40*24*time.Hour)
	put("r-old2", StatusCompleted, 50*24*time.Hour)
	put("r-new", StatusCompleted, time.Hour)
	put("r-dead", StatusRunning, 60*24*time.Hour) // no lock: a dead worker

	removed, err := s.Prune(PruneOptions{OlderThan: 30 * 24 * time.Hour, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: r-new is kept by Keep (and is young), the others are old.
	if want := []string{"r-old1", "r-old2", "r-dead"}; !equal(removed, want) {
		t.Errorf("Prune removed %v, want %v", removed, want)
	}
	left, _ := s.List()
	var ids []string
	for _, r := range left {
		ids = append(ids, r.JobID)
	}
	if want := []string{"r-new", "r-run"}; !equal(ids, want) {
		t.Errorf("left %v, want %v", ids, want)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), byFingerprint, "fp", "r-old1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the fingerprint marker of a pruned job is still there: %v", err)
	}
	// --older-than 0 --keep 0 removes every finished job, never a running one.
	if removed, _ := s.Prune(PruneOptions{}); !equal(removed, []string{"r-new"}) {
		t.Errorf("Prune everything removed %v, want [r-new]", removed)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "0": 0, "90m": 90 * time.Minute} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1.5d", "-5m", "month"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) accepted", in)
		}
	}
}

func TestPruneRemovesOrphanLocksOnly(t *testing.T) {
	s := openStore(t)
	held, err := s.Lock("r-starting") // about to write its first record
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	orphan, err := s.Lock("r-killed") // killed before its first record
	if err != nil {
		t.Fatal(err)
	}
	orphan.Close()
	if _, err := s.Prune(PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "r-killed.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an orphan lock file survived prune: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "r-starting.lock")); err != nil {
		t.Errorf("prune removed a held lock: %v", err)
	}
}

// A killed review's reserve file goes with prune; a running one's stays.
func TestPruneRemovesDeadReservesOnly(t *testing.T) {
	s := openStore(t)
	held, err := s.Lock("r-running")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	for _, name := range []string{".r-running.reserve", ".r-killed.reserve"} {
		if err := os.WriteFile(filepath.Join(s.Dir(), name), make([]byte, 8192), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), ".r-killed.reserve")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dead job's reserve survived prune: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), ".r-running.reserve")); err != nil {
		t.Errorf("prune removed a running job's reserve: %v", err)
	}
}
