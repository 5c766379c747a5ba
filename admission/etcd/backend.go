package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/relay-host/relay-host/admission"
)

// totalSlug is the reserved key of the global max_total cap. Its leading "_"
// is never produced by admission.KeySlug for a caller's key.
const totalSlug = "_total"

// ErrNoEndpoints is returned by Open without any endpoint.
var ErrNoEndpoints = errors.New("etcd backend: no etcd endpoints configured")

// Backend is admission.Backend on an etcd cluster. It is safe for
// concurrent use. All its acquires share one etcd lease (a session), made on
// the first acquire and replaced by a new one once it is lost.
type Backend struct {
	cli  *clientv3.Client
	own  bool
	opts options

	mu     sync.Mutex
	closed bool

	// sessMu (a one-slot semaphore, so waiting honours ctx) guards sess,
	// the shared session; nil until the first acquire.
	sessMu chan struct{}
	sess   *concurrency.Session
	seq    atomic.Uint64 // makes each acquire's keys unique under the shared lease
}

var _ admission.Backend = (*Backend)(nil)

// Open connects to the cluster at endpoints. It does not wait for the
// cluster: an unreachable one is reported by Acquire as backend_unavailable.
// Close closes the connection.
func Open(endpoints []string, opts ...Option) (*Backend, error) {
	if len(endpoints) == 0 {
		return nil, ErrNoEndpoints
	}
	o := buildOptions(opts)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: o.opTimeout,
		TLS:         o.tls,
		Username:    o.username,
		Password:    o.password,
		Logger:      zap.NewNop(),
		// Keep-alive probes on the connection let a dead cluster show up
		// as a failed request rather than a hang.
		DialKeepAliveTime:    o.opTimeout,
		DialKeepAliveTimeout: o.opTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd backend: connect: %w", err)
	}
	return &Backend{cli: cli, own: true, opts: o, sessMu: make(chan struct{}, 1)}, nil
}

// New uses an existing client, which Close leaves open.
func New(cli *clientv3.Client, opts ...Option) *Backend {
	return &Backend{cli: cli, opts: buildOptions(opts), sessMu: make(chan struct{}, 1)}
}

// Acquire takes a slot of req.Key, after one of the max_total cap when
// req.MaxTotal is set, both bound to one new etcd lease. A refusal is a
// *admission.BlockedError: at_capacity, wait_timeout, invalid_limit, or
// backend_unavailable when etcd could not be reached (fail closed).
func (b *Backend) Acquire(ctx context.Context, req admission.Request) (admission.Lease, error) {
	if req.Limit < 1 {
		return nil, &admission.BlockedError{Reason: admission.ReasonInvalidLimit, Scope: admission.ScopeKey, Capacity: admission.Capacity{Limit: req.Limit}}
	}
	if req.MaxTotal < 0 {
		return nil, &admission.BlockedError{Reason: admission.ReasonInvalidLimit, Scope: admission.ScopeMaxTotal, Capacity: admission.Capacity{Limit: req.MaxTotal}}
	}
	if req.Key == "" {
		return nil, errors.New("etcd backend: empty concurrency key")
	}
	if b.isClosed() {
		return nil, admission.ErrClosed
	}
	var deadline time.Time
	if req.Wait > 0 {
		deadline = time.Now().Add(req.Wait)
	}
	for retried := false; ; retried = true {
		sess, err := b.session(ctx)
		if err != nil {
			return nil, b.fail(ctx, admission.ScopeKey, err)
		}
		l, scope, err := b.acquire(ctx, sess, req, deadline)
		if err == nil {
			return l, nil
		}
		if !retried && errors.Is(err, rpctypes.ErrLeaseNotFound) {
			// The shared lease ended before its keep-alive noticed: drop it
			// (its holders' Lost fires) and start over on a new one.
			b.dropSession(sess)
			continue
		}
		return nil, b.fail(ctx, scope, err)
	}
}

// acquire takes the max_total slot (if any) and the key's slot under sess.
// On error it removes whatever keys it made and reports the failing scope.
func (b *Backend) acquire(ctx context.Context, sess *concurrency.Session, req admission.Request, deadline time.Time) (*Lease, admission.Scope, error) {
	l := newLease(b, sess, fmt.Sprintf("%x-%x", int64(sess.Lease()), b.seq.Add(1)))
	if req.MaxTotal > 0 {
		if err := l.take(ctx, b.sem(totalSlug), req.MaxTotal, deadline, false); err != nil {
			l.abandon()
			return nil, admission.ScopeMaxTotal, err
		}
	}
	if err := l.take(ctx, b.sem(admission.KeySlug(req.Key)), req.Limit, deadline, !req.IgnoreCooldown); err != nil {
		l.abandon()
		return nil, admission.ScopeKey, err
	}
	l.watch()
	return l, admission.ScopeKey, nil
}

// session returns the Backend's shared session, granting a new lease (kept
// alive until the session is lost or orphaned) when there is none or the
// last one was lost. The grant is bounded by the op timeout; the keep-alive
// lives on the client's own context, not on ctx, because the lease outlives
// Acquire.
func (b *Backend) session(ctx context.Context) (*concurrency.Session, error) {
	select {
	case b.sessMu <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-b.sessMu }()
	if s := b.sess; s != nil {
		select {
		case <-s.Done():
			b.sess = nil // lost: never reused
		default:
			return s, nil
		}
	}
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	g, err := b.cli.Grant(octx, b.opts.ttlSeconds())
	if err != nil {
		return nil, err
	}
	s, err := concurrency.NewSession(b.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(b.opts.ttlSeconds())))
	if err != nil {
		return nil, err
	}
	b.sess = s
	return s, nil
}

// dropSession ends sess (found dead by etcd) so that every lease on it
// reports Lost and the next acquire makes a new one.
func (b *Backend) dropSession(sess *concurrency.Session) {
	sess.Orphan()
	b.sessMu <- struct{}{}
	if b.sess == sess {
		b.sess = nil
	}
	<-b.sessMu
}

// fail maps an acquire error: refusals get their scope, the caller's own
// cancellation stays as it is, anything else means etcd did not answer and
// fails closed.
func (b *Backend) fail(ctx context.Context, scope admission.Scope, err error) error {
	if blk, ok := admission.IsBlocked(err); ok {
		blk.Scope = scope
		return blk
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if b.opts.logger != nil {
		b.opts.logger.Warn("admission: etcd backend unavailable; refusing (fail closed)", "error", err.Error())
	}
	return &admission.BlockedError{Reason: admission.ReasonBackendUnavailable, Scope: scope}
}

// Status counts the live holders of key. Limit is the lowest limit they
// recorded — the bound acquires are admitted against — or 0 when there are
// no holders.
func (b *Backend) Status(ctx context.Context, key string) (admission.Capacity, error) {
	st, err := b.KeyStatus(ctx, key)
	return st.Capacity, err
}

// KeyStatus is Status plus the number of waiters, for
// `relay-host admission status`.
func (b *Backend) KeyStatus(ctx context.Context, key string) (admission.KeyStatus, error) {
	if b.isClosed() {
		return admission.KeyStatus{}, admission.ErrClosed
	}
	slug := admission.KeySlug(key)
	v, err := b.sem(slug).look(ctx, 0, "")
	if err != nil {
		if ctx.Err() != nil {
			return admission.KeyStatus{}, ctx.Err()
		}
		return admission.KeyStatus{}, b.fail(ctx, admission.ScopeKey, err)
	}
	return admission.KeyStatus{Slug: slug, Capacity: admission.Capacity{ActiveCount: v.holders, Limit: v.lowest}, Waiting: v.ahead, Cooldown: v.cool}, nil
}

// Close closes the connection if Open made it. Leases still held stop being
// kept alive and expire within the TTL.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.own {
		return b.cli.Close()
	}
	return nil
}

func (b *Backend) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Backend) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.opts.opTimeout)
}

func (b *Backend) sem(slug string) *semaphore {
	dir := b.opts.prefix + "/" + slug
	return &semaphore{b: b, holders: dir + "/holders/", queue: dir + "/queue/", cooldown: dir + "/cooldown"}
}
