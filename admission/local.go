package admission

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

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

// defaultGateTimeout is the gate wait bound when none is configured.
const defaultGateTimeout = 5 * time.Second

// GateTimeoutFromEnv reads RELAY_PROVIDER_WORKLOAD_GATE_TIMEOUT_MS; a value
// that is not a positive integer yields the default.
func GateTimeoutFromEnv(getenv func(string) string) time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(getenv("RELAY_PROVIDER_WORKLOAD_GATE_TIMEOUT_MS"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return defaultGateTimeout
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

var errEmptyKey = errors.New("admission: empty concurrency key")

// OpenLocal prepares root (creating it 0700) and refuses one that another
// user could tamper with.
func OpenLocal(root string, opts Options) (*Local, error) {
	if err := prepareRoot(root); err != nil {
		return nil, err
	}
	if opts.GateTimeout <= 0 {
		opts.GateTimeout = defaultGateTimeout
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
	if req.Limit < 1 {
		return nil, &BlockedError{Reason: ReasonInvalidLimit, Scope: ScopeKey, Capacity: Capacity{Limit: req.Limit}}
	}
	if req.MaxTotal < 0 {
		return nil, &BlockedError{Reason: ReasonInvalidLimit, Scope: ScopeMaxTotal, Capacity: Capacity{Limit: req.MaxTotal}}
	}
	if req.Key == "" {
		return nil, errEmptyKey
	}
	start := time.Now()
	lease := &localLease{}
	if req.MaxTotal > 0 {
		s, err := l.sem(totalSlug)
		if err != nil {
			return nil, err
		}
		t, err := s.acquire(ctx, req.MaxTotal, req.Wait, false)
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
		lease.route, err = s.acquire(ctx, req.Limit, wait, !req.IgnoreCooldown)
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
	st, _, err := l.inspect(ctx, KeySlug(key), false)
	return st.Capacity, err
}

// KeyStatus is Status plus the key's waiters and cooldown, for
// `relay-host capacity`.
func (l *Local) KeyStatus(ctx context.Context, key string) (KeyStatus, error) {
	st, _, err := l.inspect(ctx, KeySlug(key), false)
	st.Slots = nil
	return st, err
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
