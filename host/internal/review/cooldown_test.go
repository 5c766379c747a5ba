package review

import (
	"context"
	"testing"
	"time"

	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/sdk"
)

// Repeated rate limits without a retry-after double the cooldown up to the
// cap; a provider's retry-after is used as it is (capped); a quiet spell of
// cooldown_max starts again from the base; insufficient_balance gets the
// cap with its own reason; a longer cooldown in force is never shortened.
func TestNextCooldown(t *testing.T) {
	base, ceiling := 30*time.Second, 3*time.Minute
	now := time.Unix(1_800_000_000, 0)
	var prev admission.Cooldown
	var got []time.Duration
	for i := 0; i < 5; i++ {
		c := nextCooldown(prev, sdk.CodeUsageLimited, 0, base, ceiling, now)
		if c.Reason != admission.CooldownRateLimited || c.Strikes != i+1 || c.Keep != ceiling {
			t.Fatalf("strike %d: %+v", i+1, c)
		}
		got = append(got, c.Until.Sub(now))
		prev = c
		now = c.Until.Add(time.Second) // the next 429 comes just after it ended
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("escalation %v, want %v", got, want)
		}
	}
	if c := nextCooldown(prev, sdk.CodeUsageLimited, 20*time.Second, base, ceiling, now); c.Until.Sub(now) != 20*time.Second {
		t.Errorf("retry-after 20s gave %s", c.Until.Sub(now))
	}
	if c := nextCooldown(prev, sdk.CodeUsageLimited, time.Hour, base, ceiling, now); c.Until.Sub(now) != ceiling {
		t.Errorf("retry-after 1h gave %s, want the cap", c.Until.Sub(now))
	}
	quiet := prev.Until.Add(ceiling + time.Second)
	if c := nextCooldown(prev, sdk.CodeUsageLimited, 0, base, ceiling, quiet); c.Strikes != 1 || c.Until.Sub(quiet) != base {
		t.Errorf("after a quiet spell: %+v", c)
	}
	c := nextCooldown(prev, sdk.CodeInsufficientBalance, 5*time.Second, base, ceiling, now)
	if c.Reason != admission.CooldownInsufficientBalance || c.Until.Sub(now) != ceiling {
		t.Errorf("insufficient_balance: %+v", c)
	}
	long := admission.Cooldown{Reason: admission.CooldownInsufficientBalance, Until: now.Add(time.Hour), Strikes: 1}
	if c := nextCooldown(long, sdk.CodeUsageLimited, 20*time.Second, base, ceiling, now); !c.Until.Equal(long.Until) {
		t.Errorf("a 20s rate limit shortened a 1h cooldown to %s", c.Until.Sub(now))
	}
}

// A review that waits on a cooling route says until when.
func TestWaitLabel(t *testing.T) {
	b, err := admission.OpenLocal(t.TempDir(), admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if got := waitLabel(ctx, b, "p.r", false); got != "waiting for a slot" {
		t.Errorf("no cooldown: %q", got)
	}
	until := time.Now().Add(time.Minute)
	if err := b.SetCooldown(ctx, "p.r", admission.Cooldown{Until: until, Reason: admission.CooldownRateLimited, Strikes: 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := waitLabel(ctx, b, "p.r", false), "cooling down after a rate limit until "+until.Format("15:04:05"); got != want {
		t.Errorf("cooling: %q, want %q", got, want)
	}
	if got := waitLabel(ctx, b, "p.r", true); got != "waiting for a slot" {
		t.Errorf("--ignore-cooldown: %q", got)
	}
}
