package etcd

import (
	"context"
	"testing"
	"time"

	"github.com/relay-host/relay-host/admission"
)

// A cooldown set through one backend (one host) refuses the key through
// another on the same cluster, with the seconds left; status shows it; a
// cleared one refuses nothing.
func TestCooldownSharedAcrossHosts(t *testing.T) {
	a, b := open(t, shared, WithPrefix("/cool1")), open(t, shared, WithPrefix("/cool1"))
	ctx := context.Background()
	until := time.Now().Add(20 * time.Second)
	if err := a.SetCooldown(ctx, "k", admission.Cooldown{Until: until, Reason: admission.CooldownRateLimited, Strikes: 2}); err != nil {
		t.Fatal(err)
	}
	_, err := b.Acquire(ctx, req("k", 2))
	blk := blocked(t, err, admission.ReasonCoolingDown)
	if blk.Cooldown != admission.CooldownRateLimited || blk.RetryAfterS < 19 || blk.RetryAfterS > 20 {
		t.Errorf("blocked %+v, want rate_limited with ~20 s left", blk)
	}
	// A wait shorter than the cooldown is refused at once, not at its end.
	_, err = b.Acquire(ctx, admission.Request{Key: "k", Limit: 2, Wait: time.Second})
	blocked(t, err, admission.ReasonCoolingDown)
	over, err := b.Acquire(ctx, admission.Request{Key: "k", Limit: 2, IgnoreCooldown: true})
	if err != nil {
		t.Fatalf("IgnoreCooldown: %v", err)
	}
	over.Release()
	st, err := b.KeyStatus(ctx, "k")
	if err != nil || st.Cooldown.Strikes != 2 || !st.Cooldown.Active(time.Now()) {
		t.Errorf("status %+v, %v", st, err)
	}
	if err := a.ClearCooldown(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	l, err := b.Acquire(ctx, req("k", 2))
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

// A waiter on a cooling key is admitted once the cooldown ends, never
// before; the record's lease outlives Until by Keep.
func TestCooldownWaitThenAdmit(t *testing.T) {
	b := open(t, shared, WithPrefix("/cool2"))
	ctx := context.Background()
	until := time.Now().Add(500 * time.Millisecond)
	if err := b.SetCooldown(ctx, "k", admission.Cooldown{Until: until, Reason: admission.CooldownInsufficientBalance, Strikes: 1, Keep: time.Minute}); err != nil {
		t.Fatal(err)
	}
	l, err := b.Acquire(ctx, admission.Request{Key: "k", Limit: 1, Wait: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if time.Now().Before(until) {
		t.Error("admitted before the cooldown ended")
	}
	if c, err := b.Cooldown(ctx, "k"); err != nil || c.Reason != admission.CooldownInsufficientBalance || c.Active(time.Now()) {
		t.Errorf("after the end: %+v, %v; want the record kept, not active", c, err)
	}
}

// A value that cannot be read fails closed.
func TestCooldownCorruptFailsClosed(t *testing.T) {
	b := open(t, shared, WithPrefix("/cool3"))
	ctx := context.Background()
	if _, err := b.cli.Put(ctx, "/cool3/k/cooldown", "soon"); err != nil {
		t.Fatal(err)
	}
	_, err := b.Acquire(ctx, admission.Request{Key: "k", Limit: 1, Wait: time.Minute})
	if blk := blocked(t, err, admission.ReasonCoolingDown); blk.Cooldown != admission.CooldownCorrupt {
		t.Errorf("blocked %+v", blk)
	}
}
