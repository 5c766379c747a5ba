package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// lockExt is a job's liveness lock file, <id>.lock.
const lockExt = ".lock"

// Lock is the liveness lock of one job: an exclusive flock on <id>.lock,
// held by the process running the job for the job's whole life. The kernel
// drops it when that process dies, however it dies (SIGKILL included), so
// "record queued or running, lock free" proves the worker is gone; see
// Settle. A job's lock is taken before its record becomes visible, so a
// reader never sees a live job whose lock is not held yet.
//
// The file also holds the identity (pid, start time, argv0) of the process
// running the job, for `cancel`; it may be empty while a background worker
// is being started.
type Lock struct {
	f  *os.File
	s  *Store
	id string
}

// ErrLocked: the job's lock is already held, by another process or by
// another Lock of this one.
var ErrLocked = errors.New("job lock is held")

// Lock creates the lock file of the new job id (mode 0600, never through a
// symlink, never an existing file) and takes its lock. Call it before the
// job's first Put.
func (s *Store) Lock(id string) (*Lock, error) {
	if !validID(id) {
		return nil, newError(ErrInvalidID, "invalid job id %q: use jobs.NewID", id)
	}
	f, err := s.root.OpenFile(id+lockExt, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the lock of job %s: %w", id, err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil && !noLocks(err) {
		f.Close()
		s.root.Remove(id + lockExt)
		return nil, fmt.Errorf("lock job %s: %w", id, err)
	}
	// Where the file system has no advisory locks, the job runs without
	// one: readers get the same error, cannot tell, and repair nothing.
	return &Lock{f: f, s: s, id: id}, nil
}

// noLocks reports a file system without advisory locks.
func noLocks(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS)
}

// Inherit adopts f, a descriptor of job id's lock file that this process
// inherited from the one that took the lock (a background worker gets it
// from the `review --background` process that started it). It checks that
// f is that file and still holds the lock, and marks f close-on-exec so
// that no plugin or CLI the job starts inherits it: the lock must die with
// the worker.
func (s *Store) Inherit(id string, f *os.File) (*Lock, error) {
	if !validID(id) {
		return nil, newError(ErrInvalidID, "invalid job id %q", id)
	}
	syscall.CloseOnExec(int(f.Fd()))
	got, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("the inherited lock of job %s: %w", id, err)
	}
	want, err := s.root.Lstat(id + lockExt)
	if err != nil || !os.SameFile(got, want) {
		return nil, fmt.Errorf("the inherited descriptor is not the lock of job %s", id)
	}
	// Re-locking an already-held lock through the same open file is a
	// no-op; it fails only if f never held it.
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil && !noLocks(err) {
		return nil, fmt.Errorf("the inherited lock of job %s is not held: %w", id, err)
	}
	return &Lock{f: f, s: s, id: id}, nil
}

// File is the lock's descriptor, for handing it to a child process
// (exec.Cmd.ExtraFiles): the child then holds the same lock.
func (l *Lock) File() *os.File { return l.f }

// SetWorker records w as the process running the job, for `cancel`. No
// fsync: after a crash the lock is free and the identity is not used.
func (l *Lock) SetWorker(w Worker) error {
	if w.PID <= 0 || w.StartTime == "" || w.Argv0 == "" {
		return fmt.Errorf("worker of job %s: pid, start time and argv0 are all required", l.id)
	}
	data, err := json.Marshal(w)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("record the worker of job %s: %w", l.id, err)
	}
	if _, err := l.f.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("record the worker of job %s: %w", l.id, err)
	}
	return nil
}

// Close drops this process's hold on the lock and keeps the file: for a
// process that handed the lock to a child, which still holds it.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Release ends the job's liveness: it removes the lock file and drops the
// lock. Call it only after the job's final record is written (or its write
// failed): from then on a reader that still finds the record queued or
// running takes the worker for dead, which it is. Nil-safe; idempotent.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Unlink first, while the lock is still held: a reader that opened the
	// file before sees the lock free only after the final record exists.
	l.s.root.Remove(l.id + lockExt)
	return l.Close()
}

// workerAlive reports whether job id's lock is held. A missing lock file
// means no worker (a finished job, or one written by a relay-host without
// job locks). An error means it cannot tell; callers then leave the record
// alone.
func (s *Store) workerAlive(id string) (bool, error) {
	f, err := s.root.OpenFile(id+lockExt, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check the worker of job %s: %w", id, err)
	}
	defer f.Close()
	// A shared lock: readers never block each other, and the worker's
	// exclusive lock excludes every one of them.
	switch err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("check the worker of job %s: %w", id, err)
	}
	return false, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Wait blocks until job id's lock is free (its worker finished or died) or
// ctx ends, and returns the job's record, settled (see Settle). It blocks
// on the lock itself, not by polling the record.
func (s *Store) Wait(ctx context.Context, id string) (*Record, error) {
	r, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if r, err = s.Settle(r); err != nil || !r.Live() {
		return r, err
	}
	f, err := s.root.OpenFile(id+lockExt, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err == nil {
		done := make(chan error, 1)
		go func() { done <- flock(f, syscall.LOCK_SH) }()
		select {
		case err = <-done:
			f.Close()
		case <-ctx.Done():
			// The goroutine stays blocked in flock; closing f would not
			// wake it. The caller is about to give up anyway.
			return r, ctx.Err()
		}
		if err != nil {
			return r, fmt.Errorf("wait for job %s: %w", id, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("wait for job %s: %w", id, err)
	}
	if r, err = s.get(id); err != nil {
		return nil, err
	}
	return s.Settle(r)
}
