package etcd

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/relay-host/relay-host/admission"
)

// Lease is a held slot (and max_total slot): holder keys bound to the
// Backend's shared etcd lease, which its session keeps alive. It implements
// admission.LossNotifier.
type Lease struct {
	b    *Backend
	sess *concurrency.Session
	id   string   // key name under holders/ and queue/: "<lease-id hex>-<seq hex>"
	keys []string // every key this lease may have put, deleted by Release
	lost chan struct{}

	mu       sync.Mutex
	released bool
	done     chan struct{} // closed by Release
}

var (
	_ admission.Lease        = (*Lease)(nil)
	_ admission.LossNotifier = (*Lease)(nil)
)

func newLease(b *Backend, sess *concurrency.Session, id string) *Lease {
	return &Lease{b: b, sess: sess, id: id, lost: make(chan struct{}), done: make(chan struct{})}
}

// take acquires a slot of s under this lease's id and session, recording
// its keys first so that abandon and Release remove them.
func (l *Lease) take(ctx context.Context, s *semaphore, limit int, deadline time.Time, obey bool) error {
	l.keys = append(l.keys, s.holders+l.id, s.queue+l.id)
	return s.acquire(ctx, l.sess, l.id, limit, deadline, obey)
}

// watch closes lost when the shared session's keep-alive ends (the lease
// expired, was revoked, or etcd stopped answering for a TTL) before Release.
func (l *Lease) watch() {
	go func() {
		select {
		case <-l.sess.Done():
			l.mu.Lock()
			if !l.released {
				close(l.lost)
			}
			l.mu.Unlock()
		case <-l.done:
		}
	}()
}

// Lost is closed when the lease ends without Release: the slot may already
// belong to someone else, so the work it admitted must stop.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// ID is the etcd lease the holder keys are bound to. The Backend's leases
// share it.
func (l *Lease) ID() clientv3.LeaseID { return l.sess.Lease() }

// Files returns nil: an etcd lease lives in this process's keep-alive and
// cannot be inherited by a child.
func (l *Lease) Files() []*os.File { return nil }

// Release deletes the lease's keys in one txn, which wakes the next waiter;
// the shared etcd lease lives on. It is idempotent. A lease that was already
// lost is not an error.
func (l *Lease) Release() error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	close(l.done)
	l.mu.Unlock()
	return l.remove()
}

// abandon gives up a lease that never admitted anything.
func (l *Lease) abandon() {
	l.mu.Lock()
	l.released = true
	l.mu.Unlock()
	l.remove()
}

func (l *Lease) remove() error {
	if len(l.keys) == 0 {
		return nil
	}
	ops := make([]clientv3.Op, len(l.keys))
	for i, k := range l.keys {
		ops[i] = clientv3.OpDelete(k)
	}
	ctx, cancel := l.b.opCtx(context.Background())
	defer cancel()
	_, err := l.b.cli.Txn(ctx).Then(ops...).Commit()
	if err == nil {
		return nil
	}
	select {
	case <-l.sess.Done():
		// The session is lost: its keys are gone or go at the TTL.
		return nil
	default:
	}
	return fmt.Errorf("etcd backend: release: %w (the slot frees when the lease TTL runs out)", err)
}
