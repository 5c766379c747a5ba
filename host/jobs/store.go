package jobs

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

const (
	recordExt = ".json"
	workerExt = ".worker"
	// maxFileBytes bounds what a read accepts; the sanitizer caps review
	// text far below this.
	maxFileBytes = 64 << 20
)

// Store is an open job store directory. It is safe for concurrent use by
// goroutines and processes.
type Store struct {
	dir  string
	root *os.Root // every file operation goes through it: no symlink escapes

	mu     sync.Mutex
	marked map[string]bool // fingerprint markers this process has written
}

// byFingerprint holds one directory per fingerprint with an empty marker
// file per job of that fingerprint, so the resend guard reads only the
// attempts that matter instead of every record. Each marker is its own file
// created exclusively: there is still no shared index to lose an update.
const byFingerprint = "by-fingerprint"

// Open opens the job store at dir, creating it (mode 0700) if missing. It
// refuses a directory that is a symlink, not owned by the current user, or
// writable by group or others.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("job store directory is empty: pass a directory")
	}
	dir = filepath.Clean(dir)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create job store %s: %w", dir, err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open job store %s: %w", dir, err)
	}
	if err := checkDir(dir, fi); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open job store %s: %w", dir, err)
	}
	// The directory checked above must be the one opened: refuse a swap in
	// between.
	if rfi, err := root.Stat("."); err != nil || !os.SameFile(fi, rfi) {
		root.Close()
		return nil, newError(ErrUnsafeDir, "job store %s changed while it was being opened: retry, and check who else writes there", dir)
	}
	return &Store{dir: dir, root: root}, nil
}

// Close releases the store's directory handle.
func (s *Store) Close() error { return s.root.Close() }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Put writes r as <dir>/<r.JobID>.json, replacing any earlier version
// atomically.
func (s *Store) Put(r *Record) error {
	if r == nil {
		return errors.New("put job record: nil record")
	}
	if !validID(r.JobID) {
		return newError(ErrInvalidID, "invalid job id %q: use jobs.NewID", r.JobID)
	}
	c := *r
	if c.SkippedFiles == nil {
		c.SkippedFiles = []string{} // always a list in the file, never null
	}
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode job %s: %w", r.JobID, err)
	}
	// The marker goes first: a record with a fingerprint never exists
	// without one (a marker without a record is skipped).
	if err := s.mark(r.Fingerprint, r.JobID); err != nil {
		return err
	}
	return s.writeAtomic(r.JobID+recordExt, append(data, '\n'))
}

func (s *Store) mark(fp, id string) error {
	if fp == "" {
		return nil
	}
	if !validID(fp) {
		return newError(ErrInvalidID, "invalid fingerprint %q", fp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.marked[fp+"/"+id] {
		return nil
	}
	dir := byFingerprint + "/" + fp
	for _, d := range []string{byFingerprint, dir} {
		if err := s.root.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write job store: %w", err)
		}
	}
	f, err := s.root.OpenFile(dir+"/"+id, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write job store: %w", err)
	}
	if err == nil {
		f.Close()
	}
	if s.marked == nil {
		s.marked = map[string]bool{}
	}
	s.marked[fp+"/"+id] = true
	return nil
}

// attempts returns the records of the jobs with fingerprint fp, newest
// first, corrupt ones included (see List).
func (s *Store) attempts(fp string) ([]*Record, error) {
	if !validID(fp) {
		return nil, nil
	}
	entries, err := fs.ReadDir(s.root.FS(), byFingerprint+"/"+fp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read job store: %w", err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return s.records(ids)
}

// writeAtomic makes name hold exactly data: a 0600 temp file created
// exclusively in the same directory is written and fsynced, renamed over
// name, and the directory is fsynced so the rename itself survives a crash.
func (s *Store) writeAtomic(name string, data []byte) (err error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	// A leading dot and the .tmp suffix keep temp files out of List and Get.
	tmp := "." + name + "." + hex.EncodeToString(rnd[:]) + ".tmp"
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write job store: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			s.root.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write job store: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write job store: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write job store: %w", err)
	}
	if err = s.root.Rename(tmp, name); err != nil {
		return fmt.Errorf("write job store: %w", err)
	}
	return s.syncDir()
}

func (s *Store) syncDir() error {
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("sync job store: %w", err)
	}
	defer d.Close()
	// Some file systems cannot fsync a directory; the rename is then as
	// durable as that file system makes it.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("sync job store: %w", err)
	}
	return nil
}

// readFile reads name from the store, bounded by maxFileBytes.
func (s *Store) readFile(name string) ([]byte, error) {
	f, err := s.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("larger than %d MiB", maxFileBytes>>20)
	}
	return data, nil
}

// Get reads the record of job id.
func (s *Store) Get(id string) (*Record, error) {
	if !validID(id) {
		return nil, newError(ErrInvalidID, "invalid job id %q: list job ids with relay-host jobs", id)
	}
	return s.get(id)
}

func (s *Store) get(id string) (*Record, error) {
	data, err := s.readFile(id + recordExt)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, newError(ErrNotFound, "no job %s: list job ids with relay-host jobs", id)
	}
	if err != nil {
		return nil, newError(ErrCorrupt, "job %s cannot be read: %v: check the job store's permissions", id, err)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, newError(ErrCorrupt, "job record %s is corrupt (%v): remove its file from the job store", id, err)
	}
	if r.JobID != id {
		return nil, newError(ErrCorrupt, "job record %s names job %q: remove its file from the job store", id, r.JobID)
	}
	return &r, nil
}

// List returns every record, newest first (by StartedAt, then by id). A
// record file that cannot be read back is not dropped: it appears as a
// Record with only JobID, ErrorCode CodeCorruptRecord and ErrorMessage set
// (see Record.Corrupt), after the readable ones. Temp files and worker
// sidecars are not records and are skipped.
func (s *Store) List() ([]*Record, error) {
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("list job store: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), recordExt); ok {
			ids = append(ids, id)
		}
	}
	return s.records(ids)
}

// records reads the named records, newest first; a file that cannot be read
// back becomes a corrupt Record, one that is gone is skipped.
func (s *Store) records(ids []string) ([]*Record, error) {
	var out []*Record
	for _, id := range ids {
		if !validID(id) {
			continue
		}
		r, err := s.get(id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // removed since the directory was read
		case errors.Is(err, ErrCorrupt):
			r = &Record{JobID: id, ErrorCode: CodeCorruptRecord, ErrorMessage: err.Error()}
		case err != nil:
			return nil, err
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return newer(out[i], out[j]) })
	return out, nil
}

// newer orders records newest first: readable before corrupt, then by
// StartedAt, then by id (NewID ids sort by time).
func newer(a, b *Record) bool {
	if a.Corrupt() != b.Corrupt() {
		return !a.Corrupt()
	}
	if !a.StartedAt.Equal(b.StartedAt) {
		return a.StartedAt.After(b.StartedAt)
	}
	return a.JobID > b.JobID
}
