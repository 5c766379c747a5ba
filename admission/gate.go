package admission

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// The gate file's header, read under the gate on every acquire. Slot and
// waiter files are only ever created under the gate, so the header's counts
// are exact and an acquire never lists the key dir.
const (
	hdrTicket = 0  // next waiter ticket
	hdrSlots  = 8  // number of slot-<i>.json files
	hdrWaits  = 16 // number of wait-<i>.json files
	hdrLimit  = 24 // limit of the most recent successful acquire
	hdrSize   = 32
	// hdrLimits starts the holders' limits: one uint64 per slot, slot i's
	// at hdrLimits+8*i, written under the gate by whoever takes slot i. An
	// entry speaks for its slot only while the slot's lock is held, since
	// only taking the slot writes it; 0 means unknown. Reading them along
	// with the header lets an acquire honour every holder's limit (see
	// Request.Limit) without reading one record per holder.
	hdrLimits = hdrSize
)

// limitsReadAhead is how many slots' limits every header read brings along,
// so a process that has not yet opened the slot files learns them too.
const limitsReadAhead = 8

// maxHolderLimit bounds an entry we believe: a larger one is damage, and
// counts as unknown.
const maxHolderLimit = 1<<31 - 1

type header struct {
	ticket, slots, waits, limit uint64
}

func (s *semaphore) open(root, slug string) error {
	dirfd, err := openKeyDir(root, slug)
	if err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, "gate", unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		unix.Close(dirfd)
		if errors.Is(err, unix.ELOOP) {
			return &RootError{Path: filepath.Join(s.dir, "gate"), Problem: "is a symlink", Fix: "remove it"}
		}
		return fmt.Errorf("admission: open gate: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		unix.Close(dirfd)
		return fmt.Errorf("admission: inspect gate: %w", err)
	}
	if err := checkOwned(filepath.Join(s.dir, "gate"), &st, unix.S_IFREG); err != nil {
		unix.Close(fd)
		unix.Close(dirfd)
		return err
	}
	s.dirfd, s.gfd = dirfd, fd
	s.gate = os.NewFile(uintptr(fd), filepath.Join(s.dir, "gate"))
	if err := s.openCooldown(); err != nil {
		s.gate.Close()
		unix.Close(dirfd)
		s.gate, s.dirfd = nil, -1
		return err
	}
	return nil
}

// lockGate takes the per-key gate, a kernel lock held for microseconds. A
// gate held past the gate timeout means a stopped (not dead) process holds
// it, since the kernel frees a dead one's lock.
func (s *semaphore) lockGate(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		if err := s.tryGate(ctx); err != nil {
			return err
		}
		// A key dir deleted behind our back leaves us locking an orphan
		// gate that no other process can see; reopen and try again.
		var st unix.Stat_t
		if err := unix.Fstat(s.gfd, &st); err != nil {
			s.unlockGate()
			return fmt.Errorf("admission: inspect gate: %w", err)
		}
		if st.Nlink > 0 {
			return s.readHeader()
		}
		s.unlockGate()
		if attempt > 2 {
			return fmt.Errorf("admission: key dir %s keeps disappearing", s.dir)
		}
		s.logWarn("admission key dir was removed while in use; reopening")
		for _, l := range s.slots {
			if l.mine {
				return fmt.Errorf("admission: key dir %s was removed while leases were held", s.dir)
			}
		}
		s.closeFiles()
		root, slug := filepath.Split(s.dir)
		if err := s.open(filepath.Clean(root), slug); err != nil {
			return err
		}
	}
}

// tryGate takes the gate lock without waiting when it can. Otherwise it
// blocks in the kernel on a fresh open file of the gate (so the kernel wakes
// it the moment the gate frees) from a helper goroutine, which lets the wait
// be bounded by the gate timeout and by ctx. A helper that loses that race
// drops the lock as soon as it gets it.
func (s *semaphore) tryGate(ctx context.Context) error {
	s.gateFD = s.gfd
	err := unix.Flock(s.gfd, unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return lockErr(s.dir, err)
	}
	fd, err := unix.Openat(s.dirfd, "gate", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("admission: open gate: %w", err)
	}
	got := make(chan error, 1)
	abandoned := make(chan struct{})
	go func() {
		var err error
		for {
			if err = unix.Flock(fd, unix.LOCK_EX); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		select {
		case got <- err:
		case <-abandoned:
			unix.Close(fd) // drops the lock we no longer want
		}
	}()
	timer := time.NewTimer(s.opts.GateTimeout)
	defer timer.Stop()
	select {
	case err := <-got:
		if err != nil {
			unix.Close(fd)
			return lockErr(s.dir, err)
		}
		s.gateFD = fd
		return nil
	case <-timer.C:
		close(abandoned)
		return &BlockedError{Reason: ReasonGateTimeout, Scope: ScopeKey}
	case <-ctx.Done():
		close(abandoned)
		return ctx.Err()
	}
}

func (s *semaphore) unlockGate() {
	unix.Flock(s.gateFD, unix.LOCK_UN)
	if s.gateFD != s.gfd {
		unix.Close(s.gateFD)
	}
	s.gateFD = s.gfd
}

func lockErr(dir string, err error) error {
	if errors.Is(err, unix.ENOLCK) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
		return &RootError{Path: dir, Problem: "its file system does not support advisory locks (" + err.Error() + ")", Fix: "set lock_root to a directory on a local file system"}
	}
	return fmt.Errorf("admission: lock: %w", err)
}

func (s *semaphore) readHeader() error {
	b := s.gateBuf(hdrLimits + 8*max(len(s.slots), limitsReadAhead))
	n, err := unix.Pread(s.gfd, b, 0)
	if err != nil {
		return fmt.Errorf("admission: read gate: %w", err)
	}
	s.limits, s.limitsAll = s.limits[:0], false
	if n < hdrSize {
		// A new (or recreated) gate: find out what is already there.
		return s.discover()
	}
	s.decodeLimits(b[hdrLimits:n])
	s.hdr = header{
		ticket: binary.LittleEndian.Uint64(b[hdrTicket:]),
		slots:  binary.LittleEndian.Uint64(b[hdrSlots:]),
		waits:  binary.LittleEndian.Uint64(b[hdrWaits:]),
		limit:  binary.LittleEndian.Uint64(b[hdrLimit:]),
	}
	// A header is only ever written by us; absurd counts mean damage, and
	// trusting them could make us open a million files.
	if s.hdr.slots > maxFiles || s.hdr.waits > maxFiles {
		return s.discover()
	}
	return nil
}

const maxFiles = 4096

func (s *semaphore) gateBuf(n int) []byte {
	if cap(s.gbuf) < n {
		s.gbuf = make([]byte, n)
	}
	return s.gbuf[:n]
}

func (s *semaphore) decodeLimits(b []byte) {
	s.limits = s.limits[:0]
	for ; len(b) >= 8; b = b[8:] {
		s.limits = append(s.limits, binary.LittleEndian.Uint64(b))
	}
}

// holderLimit is the limit that slot i's holder recorded in the gate, or 0
// when it is unknown. The gate must be held, and slot i locked by its holder.
func (s *semaphore) holderLimit(i int) (int, error) {
	if i >= len(s.limits) && !s.limitsAll {
		// Beyond what the header read brought along: read them all, once
		// per hold of the gate.
		b := s.gateBuf(8 * len(s.slots))
		n, err := unix.Pread(s.gfd, b, hdrLimits)
		if err != nil {
			return 0, fmt.Errorf("admission: read gate: %w", err)
		}
		s.decodeLimits(b[:n])
		s.limitsAll = true
	}
	if i >= len(s.limits) || s.limits[i] > maxHolderLimit {
		return 0, nil
	}
	return int(s.limits[i]), nil
}

// setHolderLimit records limit as that of slot i's new holder, unless the
// gate already says so. The gate must be held.
func (s *semaphore) setHolderLimit(i, limit int) error {
	if i < len(s.limits) && s.limits[i] == uint64(limit) {
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(limit))
	if _, err := unix.Pwrite(s.gfd, b[:], int64(hdrLimits+8*i)); err != nil {
		return fmt.Errorf("admission: write gate: %w", err)
	}
	if i < len(s.limits) {
		s.limits[i] = uint64(limit)
	}
	return nil
}

func (s *semaphore) writeHeader() error {
	var b [hdrSize]byte
	binary.LittleEndian.PutUint64(b[hdrTicket:], s.hdr.ticket)
	binary.LittleEndian.PutUint64(b[hdrSlots:], s.hdr.slots)
	binary.LittleEndian.PutUint64(b[hdrWaits:], s.hdr.waits)
	binary.LittleEndian.PutUint64(b[hdrLimit:], s.hdr.limit)
	if _, err := unix.Pwrite(s.gfd, b[:], 0); err != nil {
		return fmt.Errorf("admission: write gate: %w", err)
	}
	return nil
}

// discover counts existing slot and waiter files when the header is missing.
func (s *semaphore) discover() error {
	count := func(prefix string) uint64 {
		var n uint64
		for n < maxFiles {
			var st unix.Stat_t
			if unix.Fstatat(s.dirfd, fileName(prefix, int(n)), &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				break
			}
			n++
		}
		return n
	}
	var b [hdrSize]byte
	n, _ := unix.Pread(s.gfd, b[:], 0)
	s.hdr = header{slots: count("slot"), waits: count("wait")}
	if n >= 8 {
		s.hdr.ticket = binary.LittleEndian.Uint64(b[hdrTicket:])
	}
	return s.writeHeader()
}
