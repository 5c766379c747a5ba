package admission

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/admission/procid"
)

// Logger is the subset of go-hclog's Logger the semaphore uses. Holder
// identity (pids, hosts) is only ever passed at debug level.
type Logger interface {
	Debug(msg string, args ...interface{})
	Warn(msg string, args ...interface{})
}

// Options tune a local backend. The zero value is ready to use.
type Options struct {
	// GateTimeout bounds the wait for a key's gate; default 5 s
	// (see GateTimeoutFromEnv).
	GateTimeout time.Duration
	// Observer is "this host, now": hostname, boot id and the process
	// capture seam. Zero fields are filled from the running system.
	Observer procid.Observer
	Logger   Logger
}

// DefaultGateTimeout is the gate wait bound when none is configured.
const DefaultGateTimeout = 5 * time.Second

// GateTimeoutFromEnv reads RELAY_PROVIDER_WORKLOAD_GATE_TIMEOUT_MS; a value
// that is not a positive integer yields the default.
func GateTimeoutFromEnv(getenv func(string) string) time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(getenv("RELAY_PROVIDER_WORKLOAD_GATE_TIMEOUT_MS"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return DefaultGateTimeout
}

// Local is the file-system backend: one directory per key under a lock root
// that only the user can write. It keeps each key's files open between
// acquires, so a long-lived Local is much cheaper per acquire than a fresh one.
type Local struct {
	root   string
	opts   Options
	mu     sync.Mutex
	sems   map[string]*semaphore
	closed bool
}

var _ Backend = (*Local)(nil)

// OpenLocal prepares root (creating it 0700) and refuses one that another
// user could tamper with.
func OpenLocal(root string, opts Options) (*Local, error) {
	if err := prepareRoot(root); err != nil {
		return nil, err
	}
	if opts.GateTimeout <= 0 {
		opts.GateTimeout = DefaultGateTimeout
	}
	now := procid.ObserverNow()
	if opts.Observer.Hostname == "" {
		opts.Observer.Hostname = now.Hostname
	}
	if opts.Observer.BootID == "" {
		opts.Observer.BootID = now.BootID
	}
	if w := procid.BootIDWarning(); w != "" && opts.Logger != nil {
		opts.Logger.Warn(w)
	}
	return &Local{root: root, opts: opts, sems: map[string]*semaphore{}}, nil
}

// Root is the lock root this backend uses.
func (l *Local) Root() string { return l.root }

func (l *Local) sem(slug string) (*semaphore, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if s, ok := l.sems[slug]; ok {
		return s, nil
	}
	s, err := openSemaphore(l.root, slug, &l.opts)
	if err != nil {
		return nil, err
	}
	l.sems[slug] = s
	return s, nil
}

// Acquire takes a slot of req.Key (after one of max_total, when set).
func (l *Local) Acquire(ctx context.Context, req Request) (Lease, error) {
	if !ValidLimit(req.Limit) {
		return nil, &BlockedError{Reason: ReasonInvalidLimit, Scope: ScopeKey, Capacity: Capacity{Limit: req.Limit}}
	}
	if req.MaxTotal < 0 {
		return nil, &BlockedError{Reason: ReasonInvalidLimit, Scope: ScopeMaxTotal, Capacity: Capacity{Limit: req.MaxTotal}}
	}
	if req.Key == "" {
		return nil, errors.New("admission: empty concurrency key")
	}
	start := time.Now()
	lease := &localLease{}
	if req.MaxTotal > 0 {
		s, err := l.sem(totalSlug)
		if err != nil {
			return nil, err
		}
		t, err := s.acquire(ctx, req.MaxTotal, req.Wait)
		if err != nil {
			if b, ok := IsBlocked(err); ok {
				b.Scope = ScopeMaxTotal
			}
			return nil, err
		}
		lease.total = t
	}
	s, err := l.sem(KeySlug(req.Key))
	if err == nil {
		wait := req.Wait
		if wait > 0 {
			// One budget for both caps; with none left, one last try.
			wait = max(wait-time.Since(start), time.Nanosecond)
		}
		lease.route, err = s.acquire(ctx, req.Limit, wait)
	}
	if err != nil {
		if lease.total != nil {
			lease.total.Release()
		}
		return nil, err
	}
	return lease, nil
}

type localLease struct {
	route, total *slotLease
}

// Release frees the route slot, then the max_total slot.
func (l *localLease) Release() error {
	err := l.route.Release()
	if l.total != nil {
		err = errors.Join(err, l.total.Release())
	}
	return err
}

func (l *localLease) Files() []*os.File {
	fs := []*os.File{l.route.file()}
	if l.total != nil {
		fs = append(fs, l.total.file())
	}
	return fs
}

// Status counts the live holders of key under its gate.
func (l *Local) Status(ctx context.Context, key string) (Capacity, error) {
	st, err := l.statusSlug(ctx, KeySlug(key))
	return st.Capacity, err
}

// KeyStatus is one key's view for `relay-host admission status`.
type KeyStatus struct {
	Slug     string `json:"key"`
	Capacity `json:"capacity"`
	Waiting  int        `json:"waiting"`
	Slots    []SlotInfo `json:"-"`
}

// SlotInfo describes one slot for the operator's terminal. It holds holder
// identity and must never be persisted or sent anywhere else.
type SlotInfo struct {
	Index  int
	State  string // free | alive | dead | unverifiable | foreign | corrupt
	Detail string
	Holder procid.Holder
	Limit  int
}

func (l *Local) statusSlug(ctx context.Context, slug string) (KeyStatus, error) {
	s, err := l.sem(slug)
	if err != nil {
		return KeyStatus{}, err
	}
	return s.inspect(ctx, false)
}

// StatusAll reports every key under the lock root, sorted by key.
func (l *Local) StatusAll(ctx context.Context, withSlots bool) ([]KeyStatus, error) {
	slugs, err := l.slugs()
	if err != nil {
		return nil, err
	}
	var out []KeyStatus
	for _, slug := range slugs {
		s, err := l.sem(slug)
		if err != nil {
			return out, err
		}
		st, err := s.inspect(ctx, false)
		if err != nil {
			return out, err
		}
		if !withSlots {
			st.Slots = nil
		}
		out = append(out, st)
	}
	return out, nil
}

// Clean resets slots that fail closed and that no live process holds:
// corrupt records and unverifiable holders whose boot id cannot prove a
// reboot. With dryRun it only reports them. key "" means every key.
func (l *Local) Clean(ctx context.Context, key string, dryRun bool) ([]KeyStatus, error) {
	var slugs []string
	if key != "" {
		slugs = []string{KeySlug(key)}
	} else {
		var err error
		if slugs, err = l.slugs(); err != nil {
			return nil, err
		}
	}
	var out []KeyStatus
	for _, slug := range slugs {
		s, err := l.sem(slug)
		if err != nil {
			return out, err
		}
		st, err := s.inspect(ctx, !dryRun)
		if err != nil {
			return out, err
		}
		var bad []SlotInfo
		for _, si := range st.Slots {
			if stuck(si) {
				bad = append(bad, si)
			}
		}
		if len(bad) > 0 {
			st.Slots = bad
			out = append(out, st)
		}
	}
	return out, nil
}

// stuck reports a slot that fails closed for good: a corrupt record, or an
// unverifiable holder recorded under a fallback boot id, which no reboot can
// ever prove gone. An unverifiable holder with a real boot id is left alone:
// it may be alive, and a reboot will free it by itself.
func stuck(si SlotInfo) bool {
	return si.State == "corrupt" ||
		(si.State == string(procid.Unverifiable) && procid.IsFallbackBootID(si.Holder.BootID))
}

func (l *Local) slugs() ([]string, error) {
	ents, err := os.ReadDir(l.root)
	if err != nil {
		return nil, fmt.Errorf("admission: list lock root: %w", err)
	}
	var slugs []string
	for _, e := range ents {
		if e.IsDir() {
			slugs = append(slugs, e.Name())
		}
	}
	sort.Strings(slugs)
	return slugs, nil
}

// Close releases the open files of every key. Leases still held are lost.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		for _, s := range l.sems {
			s.mu.Lock()
			s.closeFiles()
			s.mu.Unlock()
		}
		l.closed = true
	}
	return nil
}

// inspect classifies every slot under the gate. With reset, slots that fail
// closed and are not locked by anyone are rewritten free, and stray temp files
// (only ever left by a creator killed mid-create) are removed.
func (s *semaphore) inspect(ctx context.Context, reset bool) (KeyStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.lockGate(ctx); err != nil {
		return KeyStatus{}, err
	}
	defer s.unlockGate()
	if err := s.refresh(); err != nil {
		return KeyStatus{}, err
	}
	st := KeyStatus{Slug: s.dir[strings.LastIndexByte(s.dir, '/')+1:]}
	st.Limit = int(s.hdr.limit)
	for i := range s.slots {
		l := &s.slots[i]
		si := SlotInfo{Index: i}
		held := l.mine
		if !held {
			var err error
			if held, err = probe(l, s.dir); err != nil {
				return st, err
			}
		}
		r, rerr := s.readRecord(l.fd)
		si.Holder, si.Limit = r.holder(), r.Limit
		if held {
			si.State = "alive"
			st.ActiveCount++
		} else {
			var free bool
			si.State, si.Detail, free = s.judgeUnlocked(r, rerr)
			if !free {
				st.ActiveCount++
			}
		}
		if reset && !held && stuck(si) {
			free := record{V: recordVersion, State: stateFree, LockBacked: true}
			if err := s.writeRecord(l.fd, &free); err != nil {
				unix.Flock(l.fd, unix.LOCK_UN)
				return st, err
			}
		}
		if !held {
			unix.Flock(l.fd, unix.LOCK_UN)
		}
		st.Slots = append(st.Slots, si)
	}
	for i := range s.waits {
		l := &s.waits[i]
		held := l.mine
		if !held {
			var err error
			if held, err = probe(l, s.dir); err != nil {
				return st, err
			}
			if !held {
				unix.Flock(l.fd, unix.LOCK_UN)
			}
		}
		if held {
			st.Waiting++
		}
	}
	if reset {
		ents, _ := os.ReadDir(s.dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				unix.Unlinkat(s.dirfd, e.Name(), 0)
			}
		}
	}
	return st, nil
}
