package admission

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockFile is one slot or waiter file that this process keeps open.
type lockFile struct {
	f     *os.File
	fd    int
	mine  bool   // a lease or waiter of this process holds the file's lock
	tick  uint64 // our ticket, when mine and a waiter file
	sleep int    // our record's SleepOn, when mine and a waiter file
}

func fileName(prefix string, i int) string {
	return prefix + "-" + strconv.Itoa(i) + ".json"
}

// refresh opens the slot and waiter files other processes created since we
// last looked. A file the header promises but that is missing (an operator
// deleted it) is recreated free, so indexes stay dense.
func (s *semaphore) refresh() error {
	for uint64(len(s.slots)) < s.hdr.slots {
		l, err := s.openOrCreate("slot", len(s.slots))
		if err != nil {
			return err
		}
		s.slots = append(s.slots, l)
	}
	for uint64(len(s.waits)) < s.hdr.waits {
		l, err := s.openOrCreate("wait", len(s.waits))
		if err != nil {
			return err
		}
		s.waits = append(s.waits, l)
	}
	return nil
}

func (s *semaphore) openOrCreate(prefix string, i int) (lockFile, error) {
	f, err := openLockFile(s.dirfd, s.dir, fileName(prefix, i))
	if errors.Is(err, os.ErrNotExist) {
		free := record{V: recordVersion, State: stateFree, LockBacked: true}
		return s.create(prefix, i, &free, false)
	}
	if err != nil {
		return lockFile{}, err
	}
	return lockFile{f: f, fd: int(f.Fd())}, nil
}

// create makes <prefix>-<i>.json appear already written (and, when locked is
// set, already locked by us): the record goes into a private temp file that
// is then hard-linked into place. A SIGKILL at any instant leaves either no
// slot file or a complete one; at worst a stray temp file that nothing reads.
func (s *semaphore) create(prefix string, i int, r *record, locked bool) (lockFile, error) {
	b, err := encodeRecord(r, s.buf[:])
	if err != nil {
		return lockFile{}, err
	}
	return s.createFile(fileName(prefix, i), b, locked)
}

// createFile makes name appear in the key dir already holding b (and
// locked by us with locked), as create does.
func (s *semaphore) createFile(name string, b []byte, locked bool) (lockFile, error) {
	tmp := ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64(), 36)
	fd, err := unix.Openat(s.dirfd, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return lockFile{}, fmt.Errorf("admission: create %s: %w", name, err)
	}
	defer unix.Unlinkat(s.dirfd, tmp, 0)
	fail := func(err error) (lockFile, error) {
		unix.Close(fd)
		return lockFile{}, err
	}
	if locked {
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return fail(lockErr(s.dir, err))
		}
	}
	if _, err := unix.Pwrite(fd, b, 0); err != nil {
		return fail(fmt.Errorf("admission: write %s: %w", name, err))
	}
	if err := unix.Linkat(s.dirfd, tmp, s.dirfd, name, 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			// Only possible when the header under-counted (a recreated
			// gate): use the file that is there.
			unix.Close(fd)
			f, err := openLockFile(s.dirfd, s.dir, name)
			if err != nil {
				return lockFile{}, err
			}
			return lockFile{f: f, fd: int(f.Fd())}, errExists
		}
		return fail(fmt.Errorf("admission: link %s: %w", name, err))
	}
	f := os.NewFile(uintptr(fd), filepath.Join(s.dir, name))
	return lockFile{f: f, fd: fd, mine: locked}, nil
}

var errExists = errors.New("exists")

func (s *semaphore) readRecord(fd int) (record, error) {
	n, err := unix.Pread(fd, s.buf[:], 0)
	if err != nil {
		return record{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return parseRecord(s.buf[:n])
}

func (s *semaphore) writeRecord(fd int, r *record) error {
	b, err := encodeRecord(r, s.buf[:])
	if err != nil {
		return err
	}
	if _, err := unix.Pwrite(fd, b, 0); err != nil {
		return fmt.Errorf("admission: write slot: %w", err)
	}
	return nil
}

// probe reports whether some other open file holds l's lock. When it does
// not, the caller now holds it and must keep or drop it.
func probe(l *lockFile, dir string) (held bool, err error) {
	err = unix.Flock(l.fd, unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return false, nil
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	return false, lockErr(dir, err)
}
