package review

import (
	"context"
	"fmt"
	"time"

	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/host/internal/blocked"
	"github.com/relay-host/relay-host/sdk"
)

// A review that ends usage_limited (HTTP 429, GLM 1302 and the other
// rate-limit codes the plugins map to it) or insufficient_balance puts its
// route's admission key in a cooldown, stored by the admission backend, so
// that no review on the route, from any process or (etcd) any host, sends
// into the same wall until it ends:
//
//   - usage_limited: the provider's retry-after, else relay.hcl's
//     admission.cooldown doubled for each rate limit in a row; both capped
//     at cooldown_max. A rate limit is "in a row" when it comes within
//     cooldown_max of the end of the previous one's cooldown (the record
//     is kept that long). Two processes that hit the limit at once may
//     both count the same strike; the cooldown is then one doubling short.
//   - insufficient_balance: cooldown_max, with its own reason: topping up
//     the account takes a person, and `relay-host admission cooldown
//     clear` ends it at once.
//
// A cooldown never shortens one that is already in force.

// cooldownKey is a route's key on the backend the review acquired from.
type cooldownKey struct {
	backend admission.Backend
	key     string
}

// cooldownTimeout bounds recording a cooldown: the review is over, and a
// store that does not answer must not hold the exit.
const cooldownTimeout = 5 * time.Second

// coolDown records the route's cooldown after a review failed with code
// and the provider's retryAfter (0: none). It returns what the error line
// adds ("; the route cools down for 20s"), "" when code calls for none.
func (r *run) coolDown(code sdk.ErrorCode, retryAfter time.Duration) string {
	if r.cool.backend == nil || code != sdk.CodeUsageLimited && code != sdk.CodeInsufficientBalance {
		return ""
	}
	base, ceiling := r.o.Config.Admission.EffectiveCooldown()
	ctx, cancel := context.WithTimeout(context.Background(), cooldownTimeout)
	defer cancel()
	prev, err := r.cool.backend.Cooldown(ctx, r.cool.key)
	if err != nil {
		r.log.Warn("cannot read the route's cooldown; recording a first one", "error", r.o.Logs.Scrubber.Message(err.Error()))
		prev = admission.Cooldown{}
	}
	now := time.Now()
	c := nextCooldown(prev, code, min(retryAfter, sdk.MaxRetryAfter), base, ceiling, now)
	if err := r.cool.backend.SetCooldown(ctx, r.cool.key, c); err != nil {
		r.log.Warn("cannot record the route's cooldown", "error", r.o.Logs.Scrubber.Message(err.Error()))
		return ""
	}
	r.log.Info("route cools down", "reason", string(c.Reason), "seconds", int64(c.Remaining(now)/time.Second), "strikes", c.Strikes)
	return fmt.Sprintf("; %s/%s cools down for %s (relay-host admission cooldown clear --key %s ends it)",
		r.rec.Provider, r.rec.Route, c.Remaining(now), blocked.Key(r.cool.key))
}

// nextCooldown is the cooldown that follows prev after a failure with code
// at now (see the rules above).
func nextCooldown(prev admission.Cooldown, code sdk.ErrorCode, retryAfter, base, ceiling time.Duration, now time.Time) admission.Cooldown {
	c := admission.Cooldown{Reason: admission.CooldownRateLimited, Strikes: 1, Keep: ceiling}
	d := ceiling
	if code == sdk.CodeInsufficientBalance {
		c.Reason = admission.CooldownInsufficientBalance
	} else {
		if prev.Reason == admission.CooldownRateLimited && now.Before(prev.Until.Add(ceiling)) {
			c.Strikes = prev.Strikes + 1
		}
		d = retryAfter
		if d <= 0 {
			d = base
			for i := 1; i < c.Strikes && d < ceiling; i++ {
				d *= 2
			}
		}
		d = min(d, ceiling)
	}
	c.Until = now.Add(d)
	if prev.Reason != admission.CooldownCorrupt && prev.Active(now) && prev.Until.After(c.Until) {
		c.Until = prev.Until
	}
	return c
}

// waitLabel is what the progress line says while a review waits for its
// slot: when the route's cooldown ends, if it cools down (one extra read of
// it, paid only by a review that may wait), else that it waits for a slot.
func waitLabel(ctx context.Context, b admission.Backend, key string, ignore bool) string {
	if !ignore {
		if c, err := b.Cooldown(ctx, key); err == nil && c.Active(time.Now()) && c.Reason != admission.CooldownCorrupt {
			return fmt.Sprintf("cooling down after %s until %s", c.Reason.Words(), c.Until.Format("15:04:05"))
		}
	}
	return "waiting for a slot"
}
