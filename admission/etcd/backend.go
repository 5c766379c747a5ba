package etcdadm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/relay-host/relay-host/admission"
)

// totalSlug is the reserved key of the global max_total cap. Its leading "_"
// is never produced by admission.KeySlug for a caller's key.
const totalSlug = "_total"

// ErrNoEndpoints is returned by Open without any endpoint.
var ErrNoEndpoints = errors.New("etcdadm: no etcd endpoints configured")

// Backend is admission.Backend on an etcd cluster. It is safe for
// concurrent use; each Acquire takes its own etcd lease.
type Backend struct {
	cli  *clientv3.Client
	own  bool
	opts options

	mu     sync.Mutex
	closed bool
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
		return nil, fmt.Errorf("etcdadm: connect: %w", err)
	}
	return &Backend{cli: cli, own: true, opts: o}, nil
}

// New uses an existing client, which Close leaves open.
func New(cli *clientv3.Client, opts ...Option) *Backend {
	return &Backend{cli: cli, opts: buildOptions(opts)}
}

// Acquire takes a slot of req.Key, after one of the max_total cap when
// req.MaxTotal is set, both bound to one new etcd lease. A refusal is a
// *admission.BlockedError: at_capacity, wait_timeout, invalid_limit, or
// backend_unavailable when etcd could not be reached (fail closed).
func (b *Backend) Acquire(ctx context.Context, req admission.Request) (admission.Lease, error) {
	if !admission.ValidLimit(req.Limit) {
		return nil, &admission.BlockedError{Reason: admission.ReasonInvalidLimit, Scope: admission.ScopeKey, Capacity: admission.Capacity{Limit: req.Limit}}
	}
	if req.MaxTotal < 0 {
		return nil, &admission.BlockedError{Reason: admission.ReasonInvalidLimit, Scope: admission.ScopeMaxTotal, Capacity: admission.Capacity{Limit: req.MaxTotal}}
	}
	if req.Key == "" {
		return nil, errors.New("etcdadm: empty concurrency key")
	}
	if b.isClosed() {
		return nil, admission.ErrClosed
	}
	var deadline time.Time
	if req.Wait > 0 {
		deadline = time.Now().Add(req.Wait)
	}
	sess, err := b.session(ctx)
	if err != nil {
		return nil, b.fail(ctx, admission.ScopeKey, err)
	}
	l := newLease(b, sess)
	if req.MaxTotal > 0 {
		if err := b.sem(totalSlug).acquire(ctx, sess, req.MaxTotal, deadline); err != nil {
			l.abandon()
			return nil, b.fail(ctx, admission.ScopeMaxTotal, err)
		}
	}
	if err := b.sem(admission.KeySlug(req.Key)).acquire(ctx, sess, req.Limit, deadline); err != nil {
		l.abandon()
		return nil, b.fail(ctx, admission.ScopeKey, err)
	}
	l.watch()
	return l, nil
}

// session grants a lease and keeps it alive until the session is orphaned.
// The grant is bounded by the op timeout; the keep-alive lives on the
// client's own context, not on ctx, because the lease outlives Acquire.
func (b *Backend) session(ctx context.Context) (*concurrency.Session, error) {
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	g, err := b.cli.Grant(octx, b.opts.ttlSeconds())
	if err != nil {
		return nil, err
	}
	return concurrency.NewSession(b.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(b.opts.ttlSeconds())))
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
	return admission.KeyStatus{Slug: slug, Capacity: admission.Capacity{ActiveCount: v.holders, Limit: v.lowest}, Waiting: v.ahead}, nil
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
	return &semaphore{b: b, holders: dir + "/holders/", queue: dir + "/queue/"}
}
