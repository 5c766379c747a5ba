package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// CodeWorkerLost is the error code of a job whose worker died (killed,
// crashed, or its machine went down) before it recorded an outcome.
const CodeWorkerLost = "worker_lost"

// repairLock serializes repairs across processes, so two readers that both
// find a dead job do not both rewrite it.
const repairLock = ".repair.lock"

// Live reports whether r is still being worked on: a queued or running
// record whose job lock is held.
func (r *Record) Live() bool { return r.Status == StatusQueued || r.Status == StatusRunning }

// Settle returns r as it truly stands. A record that says queued or
// running while its job lock is free belongs to a worker that died without
// recording an outcome: it is rewritten, atomically and under the store's
// repair lock (re-read first, so a worker that just finished, or another
// repairer, wins), as failed with CodeWorkerLost. Its transmission stays
// sent or may_be_sent when the record says so (the Review call had
// started: the record says may_be_sent before that call), else not_sent.
//
// Settle never touches a record whose lock is held or whose liveness
// cannot be checked; it then returns r unchanged with the error.
func (s *Store) Settle(r *Record) (*Record, error) {
	if r == nil || r.Corrupt() || !r.Live() {
		return r, nil
	}
	if alive, err := s.workerAlive(r.JobID); alive || err != nil {
		return r, err
	}
	f, err := s.root.OpenFile(repairLock, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return r, fmt.Errorf("repair job %s: %w", r.JobID, err)
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return r, fmt.Errorf("repair job %s: %w", r.JobID, err)
	}
	cur, err := s.get(r.JobID)
	if err != nil {
		return r, err
	}
	if !cur.Live() {
		return cur, nil // finished, or repaired by someone else, meanwhile
	}
	// The lock was free before the re-read; a job's lock is never taken
	// again once it was free, so the worker is still gone.
	cur.Status, cur.ErrorCode = StatusFailed, CodeWorkerLost
	if cur.Transmission != Sent && cur.Transmission != MayBeSent {
		cur.Transmission = NotSent
	}
	cur.ErrorMessage = "the process running this job died without recording an outcome (killed or crashed)"
	if cur.Transmission != NotSent {
		cur.ErrorMessage += "; the source " + map[bool]string{true: "was", false: "may have been"}[cur.Transmission == Sent] + " sent"
	}
	cur.Verdict = ""
	cur.FinishedAt = time.Now().UTC()
	if cur.FinishedAt.Before(cur.StartedAt) {
		cur.FinishedAt = cur.StartedAt
	}
	if err := s.Put(cur); err != nil {
		return r, err
	}
	return cur, nil
}

// SettleAll settles every record of recs in place (see Settle) and returns
// the first error; records it could not check stay as they were.
func (s *Store) SettleAll(recs []*Record) error {
	var first error
	for i, r := range recs {
		got, err := s.Settle(r)
		recs[i] = got
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// SettleLocked settles the jobs that still have a lock file, which are the
// only ones a worker of this relay-host can be running or have died
// running: its cost follows the jobs in flight, not the store's size (a
// record left running by a relay-host without job locks is settled when
// read, by Settle). It returns the first error.
func (s *Store) SettleLocked() error {
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("list job store: %w", err)
	}
	var first error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), lockExt)
		if !ok || !validID(id) {
			continue
		}
		r, err := s.get(id)
		if err == nil {
			_, err = s.Settle(r)
		}
		if err != nil && !errors.Is(err, ErrNotFound) && first == nil {
			first = err
		}
	}
	return first
}
