package admission

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/admission/procid"
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
)

type header struct {
	ticket, slots, waits, limit uint64
}

// lockFile is one slot or waiter file that this process keeps open.
type lockFile struct {
	f     *os.File
	fd    int
	mine  bool   // a lease or waiter of this process holds the file's lock
	tick  uint64 // our ticket, when mine and a waiter file
	sleep int    // our record's SleepOn, when mine and a waiter file
}

// semaphore is what one process keeps open for one key: the key dir, its
// gate and every slot file, so that an acquire costs a handful of syscalls
// (gate lock, header read, one flock probe per slot, one record write).
type semaphore struct {
	mu    sync.Mutex // flock is per open file: goroutines must take turns
	dir   string
	dirfd int
	gate  *os.File
	gfd   int
	// gateFD is the open file holding the gate lock while we hold it: gfd,
	// or a fresh one the kernel blocked on (see tryGate).
	gateFD int
	slots  []lockFile
	waits  []lockFile
	hdr    header
	buf    [recordSize]byte
	opts   *Options
	self   record // our held-record template
}

func openSemaphore(root, slug string, opts *Options) (*semaphore, error) {
	s := &semaphore{dir: filepath.Join(root, slug), opts: opts}
	if err := s.open(root, slug); err != nil {
		return nil, err
	}
	s.self = record{
		V: recordVersion, State: stateHeld, LockBacked: true,
		PID: os.Getpid(), Hostname: opts.Observer.Hostname, BootID: opts.Observer.BootID,
	}
	if me, err := procid.Current(); err == nil {
		s.self.StartTime, s.self.Argv0 = me.StartTime, me.Argv0
	}
	return s, nil
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
	return nil
}

func (s *semaphore) closeFiles() {
	for _, l := range append(s.slots, s.waits...) {
		l.f.Close()
	}
	s.slots, s.waits = nil, nil
	if s.gate != nil {
		s.gate.Close()
		s.gate = nil
	}
	if s.dirfd >= 0 {
		unix.Close(s.dirfd)
		s.dirfd = -1
	}
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

func lockErr(dir string, err error) error {
	if errors.Is(err, unix.ENOLCK) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
		return &RootError{Path: dir, Problem: "its file system does not support advisory locks (" + err.Error() + ")", Fix: "set lock_root to a directory on a local file system"}
	}
	return fmt.Errorf("admission: lock: %w", err)
}

func (s *semaphore) unlockGate() {
	unix.Flock(s.gateFD, unix.LOCK_UN)
	if s.gateFD != s.gfd {
		unix.Close(s.gateFD)
	}
	s.gateFD = s.gfd
}

func (s *semaphore) readHeader() error {
	var b [hdrSize]byte
	n, err := unix.Pread(s.gfd, b[:], 0)
	if err != nil {
		return fmt.Errorf("admission: read gate: %w", err)
	}
	if n < hdrSize {
		// A new (or recreated) gate: find out what is already there.
		return s.discover()
	}
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
	name := fileName(prefix, i)
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
	b, err := encodeRecord(r, s.buf[:])
	if err != nil {
		return fail(err)
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

// slotFree decides, for a slot whose lock nobody holds, whether its record
// lets us reuse it. The decision is judgeUnlocked's, the same one `admission
// status` and `clean` show.
func (s *semaphore) slotFree(i int) bool {
	r, err := s.readRecord(s.slots[i].fd)
	state, detail, free := s.judgeUnlocked(r, err)
	if state != stateFree {
		s.logDebug("judged unlocked slot", "slot", i, "state", state, "detail", detail, "holder_pid", r.PID, "holder_host", r.Hostname, "reclaim", free)
	}
	return free
}

// judgeUnlocked classifies a slot record whose lock nobody holds and says
// whether the slot may be reused. Only a record we can vouch for is free: a
// corrupt one fails closed. A lock-backed record is dead when its lock is
// free and the lock was taken on this kernel: on this host, or under another
// hostname with this boot id (containers sharing a state volume, a renamed
// host), since a lock held on this kernel would be visible here. Another
// host's record with another boot id is foreign and never reclaimed (its lock
// may not be visible here); a record without the lock-backed promise goes
// through the identity classifier.
func (s *semaphore) judgeUnlocked(r record, rerr error) (state, detail string, free bool) {
	switch {
	case rerr != nil:
		return "corrupt", rerr.Error(), false
	case r.State == stateFree:
		return stateFree, "", true
	case r.State != stateHeld:
		return "corrupt", "state " + r.State, false
	}
	o := s.opts.Observer
	if r.LockBacked && (r.Hostname == o.Hostname || procid.SameBoot(r.BootID, o.BootID)) {
		return string(procid.Dead), "lock_free", true
	}
	st, detail := procid.Classify(r.holder(), o)
	if procid.Reclaimable(st, r.holder(), o) {
		return string(procid.Dead), detail, true
	}
	return string(st), detail, false
}

// scan counts the key's occupied slots and keeps the lock of the lowest
// free slot (returned as free, else -1). It also lists the slots that other
// open files hold: a waiter can sleep on their locks. Runs under the gate.
func (s *semaphore) scan() (active, free int, held []int, err error) {
	free = -1
	for i := range s.slots {
		l := &s.slots[i]
		if l.mine {
			active++
			held = append(held, i)
			continue
		}
		locked, err := probe(l, s.dir)
		if err != nil {
			if free >= 0 {
				unix.Flock(s.slots[free].fd, unix.LOCK_UN)
			}
			return 0, -1, nil, err
		}
		if locked {
			active++
			held = append(held, i)
			continue
		}
		if !s.slotFree(i) {
			active++
			unix.Flock(l.fd, unix.LOCK_UN)
			continue
		}
		if free < 0 {
			free = i
			continue
		}
		unix.Flock(l.fd, unix.LOCK_UN)
	}
	return active, free, held, nil
}

// queueView is what one pass over the waiter files saw.
type queueView struct {
	ahead  int          // live waiters with a lower ticket
	pred   int          // the one of them with the highest ticket, or -1
	free   []int        // waiter files nobody holds
	pinned map[int]bool // waiter files some live waiter sleeps on
}

// queue looks at the live waiters with a ticket lower than ticket. It counts
// them, stopping early once it has found enough (a newcomer only needs to
// know whether the free slots are all promised).
func (s *semaphore) queue(ticket uint64, enough int) (queueView, error) {
	q := queueView{pred: -1, pinned: map[int]bool{}}
	var predTicket uint64
	for i := range s.waits {
		if q.ahead >= enough {
			break
		}
		l := &s.waits[i]
		t, sleep := l.tick, l.sleep
		if !l.mine {
			held, err := probe(l, s.dir)
			if err != nil {
				return q, err
			}
			if !held {
				unix.Flock(l.fd, unix.LOCK_UN)
				q.free = append(q.free, i)
				continue
			}
			r, err := s.readRecord(l.fd)
			// A live waiter whose record we cannot read counts as ahead:
			// it leaves when it gives up, and skipping it could starve it.
			t, sleep = 0, 0
			if err == nil {
				t, sleep = r.Ticket, r.SleepOn
			}
		}
		if sleep > 0 {
			q.pinned[sleep-1] = true
		}
		if t < ticket {
			q.ahead++
			if q.pred < 0 || t >= predTicket {
				q.pred, predTicket = i, t
			}
		}
	}
	return q, nil
}

const noTicket = ^uint64(0)

// outcome is one gated try: a lease, or why not and what to sleep on.
type outcome struct {
	lease   *slotLease
	blocked *BlockedError
	pred    int   // waiter file of the waiter just ahead, or -1
	held    []int // slot files held by others
	q       queueView
}

// attempt runs one gated try for a slot on behalf of ticket (noTicket for a
// newcomer, which every live waiter is ahead of). With full it looks at the
// whole queue, as a waiter (or a newcomer about to queue) must. The gate
// must be held.
func (s *semaphore) attempt(limit int, ticket uint64, full bool) (outcome, error) {
	if err := s.refresh(); err != nil {
		return outcome{}, err
	}
	active, free, held, err := s.scan()
	if err != nil {
		return outcome{}, err
	}
	unlockFree := func() {
		if free >= 0 {
			unix.Flock(s.slots[free].fd, unix.LOCK_UN)
		}
	}
	// A newcomer needs the queue only while a slot is free; a waiter also
	// needs to know whom to sleep on.
	q := queueView{pred: -1}
	if len(s.waits) > 0 && (active < limit || full) {
		enough := limit - active
		if full {
			enough = len(s.waits)
		}
		if q, err = s.queue(ticket, enough); err != nil {
			unlockFree()
			return outcome{}, err
		}
	}
	if active+q.ahead >= limit {
		unlockFree()
		return outcome{pred: q.pred, held: held, q: q, blocked: &BlockedError{Reason: ReasonAtCapacity, Scope: ScopeKey,
			Capacity: Capacity{ActiveCount: active, Limit: limit}, Waiting: q.ahead}}, nil
	}
	rec := s.self
	rec.Limit = limit
	rec.AcquiredMS = time.Now().UnixMilli()
	dirty := s.hdr.limit != uint64(limit)
	if free < 0 {
		free = len(s.slots)
		dirty = true
		l, err := s.create("slot", free, &rec, true)
		if errors.Is(err, errExists) {
			// The header under-counted; count again with the file in view.
			s.slots = append(s.slots, l)
			s.hdr.slots = uint64(len(s.slots))
			return s.attempt(limit, ticket, full)
		}
		if err != nil {
			return outcome{}, err
		}
		s.slots = append(s.slots, l)
		s.hdr.slots = uint64(len(s.slots))
	} else if err := s.writeRecord(s.slots[free].fd, &rec); err != nil {
		unlockFree()
		return outcome{}, err
	}
	s.slots[free].mine = true
	if dirty {
		s.hdr.limit = uint64(limit)
		if err := s.writeHeader(); err != nil {
			s.releaseSlot(free)
			return outcome{}, err
		}
	}
	return outcome{lease: &slotLease{s: s, idx: free}}, nil
}

// releaseSlot frees slot idx: the record says free before the lock drops, so
// a prober that wins the lock finds a free record (and one that loses it
// counts us, which is the safe side). No gate is needed for this.
func (s *semaphore) releaseSlot(idx int) error {
	l := &s.slots[idx]
	free := record{V: recordVersion, State: stateFree, LockBacked: true}
	werr := s.writeRecord(l.fd, &free)
	uerr := unix.Flock(l.fd, unix.LOCK_UN)
	l.mine = false
	if werr != nil {
		return werr
	}
	return uerr
}

func (s *semaphore) logDebug(msg string, args ...interface{}) {
	if s.opts.Logger != nil {
		s.opts.Logger.Debug(msg, append([]interface{}{"key_dir", s.dir}, args...)...)
	}
}

func (s *semaphore) logWarn(msg string, args ...interface{}) {
	if s.opts.Logger != nil {
		s.opts.Logger.Warn(msg, args...)
	}
}

// slotLease is one held slot of one key.
type slotLease struct {
	s    *semaphore
	idx  int
	once sync.Once
	err  error
}

func (l *slotLease) Release() error {
	l.once.Do(func() {
		l.s.mu.Lock()
		defer l.s.mu.Unlock()
		if l.idx >= len(l.s.slots) {
			// Closing the backend closed the files: the kernel has
			// already dropped the lock.
			l.err = ErrClosed
			return
		}
		l.err = l.s.releaseSlot(l.idx)
	})
	return l.err
}

func (l *slotLease) file() *os.File { return l.s.slots[l.idx].f }
