// Package blocked writes the one line relay-host prints when admission
// refuses a slot: `review` (which records it as the job's error message,
// the line `jobs wait` prints again) and `admission run` both render it
// here, each in its own words for the thing refused and the fix.
//
// Invariant: the line names the route or key the user asked for and counts
// only (slots in use, the limit, waiters ahead, a cooldown's seconds left): never a holder's pid, host
// or boot id, and never a state directory. It is safe to print and to
// persist.
package blocked

import (
	"fmt"
	"strings"
	"time"

	"github.com/relay-host/relay-host/admission"
)

// Review is the line for a review of provider/route refused after waiting
// up to wait (0: it did not wait).
func Review(provider, route string, wait time.Duration, b *admission.BlockedError) string {
	return line(b, wait, words{
		subject:     provider + "/" + route,
		maxTotal:    "the global max_total",
		ahead:       "waiting ahead",
		atCapacity:  "; retry later or pass --wait 5m to queue",
		waitTimeout: "; retry later or pass a longer --wait",
		cooling:     "; nothing was sent: pass --wait to wait for it, or --ignore-cooldown to send anyway",
		unavailable: "the admission backend for " + provider + "/" + route + " is unavailable (backend_unavailable); nothing was sent (fail closed, no fallback to the local backend); check that the etcd cluster in relay.hcl is reachable and retry",
	})
}

// Run is the line for `admission run --key key` refused after waiting up
// to wait. The key is the one the user typed.
func Run(key string, wait time.Duration, b *admission.BlockedError) string {
	return line(b, wait, words{
		subject:     key,
		maxTotal:    "max_total",
		ahead:       "waiting",
		atCapacity:  "; retry later or pass --wait",
		cooling:     "; nothing was run: pass --wait to wait for it",
		unavailable: "the admission backend is unavailable (backend_unavailable); nothing was run; check that the etcd endpoints are reachable and retry",
	})
}

// Key is how a key (or its slug) is shown: a 64-hex one is a shared-state
// key (sha256 of an account's state dir or identity), shortened to
// "shared-state:" and its first 8 digits, which `admission status` lists
// and `admission cooldown clear --key` accepts.
func Key(key string) string {
	if IsIdentityKey(key) {
		return "shared-state:" + key[:8]
	}
	return key
}

// IsIdentityKey reports whether key is a shared-state identity hash.
func IsIdentityKey(key string) bool {
	return len(key) == 64 && strings.Trim(key, "0123456789abcdef") == ""
}

// words are a command's wording of a refusal.
type words struct {
	subject, maxTotal string // the key refused; the global cap
	ahead             string // how waiters ahead of the caller are counted
	// The fix after each reason ("" for none), and the whole reason for an
	// unreachable backend, which has no counts to give.
	atCapacity, waitTimeout, unavailable, cooling string
}

func line(b *admission.BlockedError, wait time.Duration, w words) string {
	what := w.subject
	if b.Scope == admission.ScopeMaxTotal {
		what = w.maxTotal
	}
	counts := fmt.Sprintf("%d/%d in use", b.Capacity.ActiveCount, b.Capacity.Limit)
	if b.Waiting > 0 {
		counts += fmt.Sprintf(", %d %s", b.Waiting, w.ahead)
	}
	switch b.Reason {
	case admission.ReasonAtCapacity:
		return fmt.Sprintf("admission blocked: %s is at capacity (%s)%s", what, counts, w.atCapacity)
	case admission.ReasonWaitTimeout:
		return fmt.Sprintf("admission blocked: %s stayed at capacity for --wait %s (%s)%s", what, wait, counts, w.waitTimeout)
	case admission.ReasonBackendUnavailable:
		return "admission blocked: " + w.unavailable
	case admission.ReasonCoolingDown:
		if b.Cooldown == admission.CooldownCorrupt {
			return fmt.Sprintf("admission blocked: the cooldown record of %s is unreadable, so it fails closed (%s); run `relay-host admission clean`", what, counts)
		}
		return fmt.Sprintf("admission blocked: %s is cooling down after %s (retry in %ds); %s%s", what, b.Cooldown.Words(), b.RetryAfterS, counts, w.cooling)
	default:
		// An invalid limit or a stuck gate: nothing command-specific to add.
		return b.Error()
	}
}
