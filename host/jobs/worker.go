package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
)

// Worker identifies the detached process running a background job, so that
// `cancel` can verify pid, start time and argv0 before it signals and never
// kills a process that merely reused the pid. It is kept in <id>.worker, a
// sidecar beside the record, because process identity must never appear in
// a job record (records are shown to users and may be shared).
type Worker struct {
	PID       int    `json:"pid"`
	StartTime string `json:"start_time"`
	Argv0     string `json:"argv0"`
}

// PutWorker writes the worker sidecar of job id atomically (mode 0600).
func (s *Store) PutWorker(id string, w Worker) error {
	if !validID(id) {
		return newError(ErrInvalidID, "invalid job id %q: use jobs.NewID", id)
	}
	if w.PID <= 0 || w.StartTime == "" || w.Argv0 == "" {
		return fmt.Errorf("worker of job %s: pid, start time and argv0 are all required", id)
	}
	data, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return s.writeAtomic(id+workerExt, append(data, '\n'))
}

// GetWorker reads the identity of the process running job id: the one its
// job lock records, else (a job started before job locks) its sidecar.
func (s *Store) GetWorker(id string) (Worker, error) {
	if !validID(id) {
		return Worker{}, newError(ErrInvalidID, "invalid job id %q: list job ids with relay-host jobs", id)
	}
	// The job lock names the process holding it (see Lock.SetWorker); the
	// sidecar is where relay-host kept a background worker before job locks.
	data, err := s.readFile(id + lockExt)
	if err == nil && len(data) == 0 {
		return Worker{}, newError(ErrNotFound, "the worker of job %s is still starting: retry in a moment", id)
	}
	if errors.Is(err, fs.ErrNotExist) {
		data, err = s.readFile(id + workerExt)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return Worker{}, newError(ErrNotFound, "job %s names no process running it: it has finished or its worker is gone; see relay-host show %s", id, id)
	}
	if err != nil {
		return Worker{}, newError(ErrCorrupt, "worker file of job %s cannot be read: %v", id, err)
	}
	var w Worker
	if err := json.Unmarshal(data, &w); err != nil || w.PID <= 0 {
		return Worker{}, newError(ErrCorrupt, "worker file of job %s is corrupt: remove it from the job store", id)
	}
	return w, nil
}
