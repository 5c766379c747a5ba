package etcd

import (
	"crypto/tls"
	"time"

	"github.com/relay-host/relay-host/admission"
)

const (
	// DefaultPrefix is the key prefix when none is configured.
	DefaultPrefix = "/relay/locks/v2"
	// DefaultTTL is the lease TTL when none is configured: how long a dead
	// holder keeps its slot, and how long a live one survives a partition.
	DefaultTTL = 15 * time.Second
	// DefaultOpTimeout bounds each etcd round trip of an acquire, so an
	// unreachable cluster fails closed quickly instead of hanging a review.
	DefaultOpTimeout = 2 * time.Second
)

type options struct {
	prefix    string
	ttl       time.Duration
	opTimeout time.Duration
	logger    admission.Logger
	tls       *tls.Config
	username  string
	password  string
}

// Option configures a Backend.
type Option func(*options)

// WithPrefix sets the key prefix (default DefaultPrefix). Hosts that must
// share limits must use the same prefix.
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithTTL sets the lease TTL, rounded up to whole seconds (etcd's unit);
// default DefaultTTL.
func WithTTL(ttl time.Duration) Option { return func(o *options) { o.ttl = ttl } }

// WithOpTimeout bounds each etcd request made while acquiring, releasing or
// counting (default DefaultOpTimeout). Waiting for a slot is bounded by
// Request.Wait, not by this.
func WithOpTimeout(d time.Duration) Option { return func(o *options) { o.opTimeout = d } }

// WithLogger receives warnings: holders that disagree on a key's limit, and
// the cause of a backend_unavailable refusal (which the counts-only
// BlockedError does not carry).
func WithLogger(l admission.Logger) Option { return func(o *options) { o.logger = l } }

// WithTLS makes Open dial the cluster with this TLS configuration.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithAuth makes Open authenticate as username with password.
func WithAuth(username, password string) Option {
	return func(o *options) { o.username, o.password = username, password }
}

func buildOptions(opts []Option) options {
	o := options{prefix: DefaultPrefix, ttl: DefaultTTL, opTimeout: DefaultOpTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.prefix == "" {
		o.prefix = DefaultPrefix
	}
	for len(o.prefix) > 1 && o.prefix[len(o.prefix)-1] == '/' {
		o.prefix = o.prefix[:len(o.prefix)-1]
	}
	if o.ttl <= 0 {
		o.ttl = DefaultTTL
	}
	if o.opTimeout <= 0 {
		o.opTimeout = DefaultOpTimeout
	}
	return o
}

// ttlSeconds is the TTL in etcd's unit, rounded up so it is never shorter
// than asked.
func (o *options) ttlSeconds() int64 {
	return int64((o.ttl + time.Second - 1) / time.Second)
}
