package etcdadm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/relay-host/relay-host/admission"
)

// Lease is a held slot (and max_total slot): keys bound to one etcd lease
// that a session keeps alive. It implements admission.LossNotifier.
type Lease struct {
	b    *Backend
	sess *concurrency.Session
	lost chan struct{}

	mu       sync.Mutex
	released bool
	done     chan struct{} // closed by Release
}

var (
	_ admission.Lease        = (*Lease)(nil)
	_ admission.LossNotifier = (*Lease)(nil)
)

func newLease(b *Backend, sess *concurrency.Session) *Lease {
	return &Lease{b: b, sess: sess, lost: make(chan struct{}), done: make(chan struct{})}
}

// watch closes lost when the keep-alive ends (the lease expired, was
// revoked, or etcd stopped answering for a TTL) before Release.
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

// ID is the etcd lease the holder keys are bound to.
func (l *Lease) ID() clientv3.LeaseID { return l.sess.Lease() }

// Files returns nil: an etcd lease lives in this process's keep-alive and
// cannot be inherited by a child.
func (l *Lease) Files() []*os.File { return nil }

// Release revokes the lease, which deletes its keys in one step and wakes
// the next waiter. It is idempotent. A lease that already expired is not an
// error.
func (l *Lease) Release() error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	close(l.done)
	l.mu.Unlock()
	return l.revoke()
}

// abandon gives up a lease that never admitted anything.
func (l *Lease) abandon() {
	l.mu.Lock()
	l.released = true
	l.mu.Unlock()
	l.revoke()
}

func (l *Lease) revoke() error {
	l.sess.Orphan()
	ctx, cancel := l.b.opCtx(context.Background())
	defer cancel()
	_, err := l.b.cli.Revoke(ctx, l.sess.Lease())
	if err == nil || errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return nil
	}
	return fmt.Errorf("etcdadm: release: %w (the slot frees when the lease TTL runs out)", err)
}
