package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// DefaultKeep is how long a finished job's record is kept when relay.hcl's
// jobs { keep } does not say.
const DefaultKeep = 30 * 24 * time.Hour

// PruneOptions say which finished records Prune removes.
type PruneOptions struct {
	// OlderThan: a finished record of a job started longer ago than this
	// is removed; 0 makes every finished record old.
	OlderThan time.Duration
	// Keep: the newest Keep finished records stay whatever their age.
	Keep int
	// Now is the time ages are measured from; zero means time.Now().
	Now time.Time
}

// Prune removes the records of finished jobs as o says, with their job
// lock, worker sidecar and fingerprint marker, and returns the ids it
// removed, newest first. Each record is settled first (see Settle); one
// that is still queued or running, or whose liveness cannot be checked, is
// never removed. Unreadable record files are left for the operator.
func (s *Store) Prune(o PruneOptions) ([]string, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	recs, err := s.List()
	if err != nil {
		return nil, err
	}
	cutoff := o.Now.Add(-o.OlderThan)
	var removed []string
	kept := 0
	for _, r := range recs { // newest first
		if r.Corrupt() {
			continue
		}
		if r, err = s.Settle(r); err != nil || r.Live() {
			continue
		}
		if kept < o.Keep {
			kept++
			continue
		}
		// Age counts from the start: a dead worker's job is only repaired
		// (and given a finish time) when someone looks.
		if o.OlderThan > 0 && r.StartedAt.After(cutoff) {
			continue
		}
		if err := s.remove(r); err != nil {
			return removed, err
		}
		removed = append(removed, r.JobID)
	}
	s.removeOrphanLocks()
	return removed, nil
}

// removeOrphanLocks removes what a killed review leaves beside the records:
// the reserve file of a job with no live worker, and the lock files of jobs
// that have no record and no live worker: a review killed between taking its lock and writing its
// first record leaves one. A lock that is held (a job about to write its
// first record) is left alone; so is anything that cannot be checked.
func (s *Store) removeOrphanLocks() {
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return
	}
	for _, e := range entries {
		// A review's reserve (".<id>.reserve", room held back for its
		// outcome if the disk fills) outlives it only when it was killed.
		if id, ok := strings.CutSuffix(strings.TrimPrefix(e.Name(), "."), ".reserve"); ok && e.Name()[0] == '.' && validID(id) {
			if alive, err := s.workerAlive(id); !alive && err == nil {
				s.root.Remove(e.Name())
			}
			continue
		}
		id, ok := strings.CutSuffix(e.Name(), lockExt)
		if !ok || !validID(id) {
			continue
		}
		if _, err := s.root.Lstat(id + recordExt); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		// A free lock is free for good (its holder is gone, and a job's
		// lock is never taken twice), so no record can appear after this.
		if alive, err := s.workerAlive(id); alive || err != nil {
			continue
		}
		s.root.Remove(id + lockExt)
	}
}

// remove deletes a finished job's files. The record goes first: a
// fingerprint marker without its record is skipped by the resend guard,
// while a record without its marker would be invisible to it.
func (s *Store) remove(r *Record) error {
	if err := s.root.Remove(r.JobID + recordExt); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove job %s: %w", r.JobID, err)
	}
	for _, name := range []string{r.JobID + lockExt, r.JobID + workerExt} {
		s.root.Remove(name)
	}
	if validID(r.Fingerprint) {
		// The fingerprint's directory stays: removing it could race a new
		// attempt's marker being created in it.
		s.root.Remove(byFingerprint + "/" + r.Fingerprint + "/" + r.JobID)
	}
	return nil
}

// ParseAge reads an age such as "30d", "12h" or "90m": a whole number of
// days with a "d" suffix, or a Go duration. It must not be negative.
func ParseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("age %q: want a whole number of days like \"30d\", or a duration like \"12h\"", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("age %q: want a whole number of days like \"30d\", or a duration like \"12h\"", s)
	}
	return d, nil
}
