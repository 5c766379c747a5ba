package etcd

import (
	"context"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/relay-host/relay-host/admission"
)

// A key's cooldown is <prefix>/<slug>/cooldown, value cooldownRecord, bound
// to an etcd lease of its own that ends at Until+Keep, so etcd forgets it
// by itself and every host reads the same one. Every acquire reads it in
// the same txn as the holders and queue, and an admission commits only if
// it has not changed since that read, so no host admits past a cooldown
// set before its commit.

// cooldownRecord is the value of a cooldown key.
type cooldownRecord struct {
	UntilMS int64  `json:"until_unix_ms"`
	Reason  string `json:"reason"`
	Strikes int    `json:"strikes"`
}

// parseCooldown reads a cooldown key's value; one it cannot vouch for is a
// corrupt cooldown, which refuses acquires (fail closed) until it is
// cleared or its lease ends.
func parseCooldown(b []byte) admission.Cooldown {
	var r cooldownRecord
	if json.Unmarshal(b, &r) != nil {
		return admission.Cooldown{Reason: admission.CooldownCorrupt}
	}
	c := admission.Cooldown{Until: time.UnixMilli(r.UntilMS), Reason: admission.CooldownReason(r.Reason), Strikes: r.Strikes}
	if c.Validate() != nil {
		return admission.Cooldown{Reason: admission.CooldownCorrupt}
	}
	return c
}

// Cooldown returns key's cooldown as stored.
func (b *Backend) Cooldown(ctx context.Context, key string) (admission.Cooldown, error) {
	if b.isClosed() {
		return admission.Cooldown{}, admission.ErrClosed
	}
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	resp, err := b.cli.Get(octx, b.sem(admission.KeySlug(key)).cooldown)
	if err != nil {
		return admission.Cooldown{}, b.fail(ctx, admission.ScopeKey, err)
	}
	if len(resp.Kvs) == 0 {
		return admission.Cooldown{}, nil
	}
	return parseCooldown(resp.Kvs[0].Value), nil
}

// SetCooldown stores c as key's cooldown under a new lease that ends at
// c.Until + c.Keep (at least a second from now).
func (b *Backend) SetCooldown(ctx context.Context, key string, c admission.Cooldown) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if b.isClosed() {
		return admission.ErrClosed
	}
	val, _ := json.Marshal(cooldownRecord{UntilMS: c.Until.UnixMilli(), Reason: string(c.Reason), Strikes: c.Strikes})
	ttl := int64((time.Until(c.Until.Add(c.Keep)) + time.Second - 1) / time.Second)
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	g, err := b.cli.Grant(octx, max(ttl, 1))
	if err != nil {
		return b.fail(ctx, admission.ScopeKey, err)
	}
	if _, err := b.cli.Put(octx, b.sem(admission.KeySlug(key)).cooldown, string(val), clientv3.WithLease(g.ID)); err != nil {
		return b.fail(ctx, admission.ScopeKey, err)
	}
	return nil
}

// ClearCooldown deletes key's cooldown; its lease runs out unused.
func (b *Backend) ClearCooldown(ctx context.Context, key string) error {
	if b.isClosed() {
		return admission.ErrClosed
	}
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	if _, err := b.cli.Delete(octx, b.sem(admission.KeySlug(key)).cooldown); err != nil {
		return b.fail(ctx, admission.ScopeKey, err)
	}
	return nil
}
