package admission

import (
	"errors"
	"fmt"
)

// Reason says why an acquire did not get a lease.
type Reason string

const (
	// ReasonAtCapacity: every slot the limit allows is occupied, or the free
	// ones are promised to processes that have been waiting longer.
	ReasonAtCapacity Reason = "at_capacity"
	// ReasonWaitTimeout: the caller waited as long as it asked to.
	ReasonWaitTimeout Reason = "wait_timeout"
	// ReasonGateTimeout: the per-key gate stayed taken for longer than the
	// gate timeout (a holder of the gate is stopped, not dead).
	ReasonGateTimeout Reason = "gate_timeout"
	// ReasonInvalidLimit: the limit is not a positive integer. Fails closed.
	ReasonInvalidLimit Reason = "invalid_limit"
	// ReasonBackendUnavailable: the backend could not be reached. Fails closed.
	ReasonBackendUnavailable Reason = "backend_unavailable"
	// ReasonCoolingDown: the key cools down after a provider's refusal (see
	// Cooldown); BlockedError.Cooldown says why, RetryAfterS for how long.
	ReasonCoolingDown Reason = "cooling_down"
)

// Scope names the cap that blocked: the route's own key or the global
// max_total taken before it.
type Scope string

const (
	ScopeKey      Scope = "key"
	ScopeMaxTotal Scope = "max_total"
)

// Capacity is the only thing a blocked result says about the holders.
type Capacity struct {
	ActiveCount int `json:"active_count"`
	Limit       int `json:"limit"`
}

// BlockedError is returned when an acquire is refused. It carries counts
// only, so it is safe to print and to persist.
type BlockedError struct {
	Reason   Reason   `json:"reason"`
	Scope    Scope    `json:"scope"`
	Capacity Capacity `json:"capacity"`
	Waiting  int      `json:"waiting,omitempty"` // live waiters that are ahead of the caller
	// Cooldown and RetryAfterS, for ReasonCoolingDown only: why the key
	// cools down, and the whole seconds left (0 for a corrupt record,
	// which cools down until cleaned).
	Cooldown    CooldownReason `json:"cooldown,omitempty"`
	RetryAfterS int64          `json:"retry_after_s,omitempty"`
}

func (e *BlockedError) Error() string {
	what := "the route"
	if e.Scope == ScopeMaxTotal {
		what = "the global max_total"
	}
	switch e.Reason {
	case ReasonInvalidLimit:
		return fmt.Sprintf("admission refused: limit %d is not a positive integer", e.Capacity.Limit)
	case ReasonGateTimeout:
		return "admission blocked: the admission gate stayed busy past RELAY_PROVIDER_WORKLOAD_GATE_TIMEOUT_MS; a holder may be stopped (check `relay-host admission status`)"
	case ReasonBackendUnavailable:
		return "admission blocked: the admission backend is unavailable"
	case ReasonWaitTimeout:
		return fmt.Sprintf("admission blocked: waited for a slot of %s and timed out (%s)", what, e.counts())
	case ReasonCoolingDown:
		if e.Cooldown == CooldownCorrupt {
			return "admission blocked: the route's cooldown record is unreadable (fails closed); run `relay-host admission clean`"
		}
		return fmt.Sprintf("admission blocked: the route is cooling down after %s (retry in %ds)", e.Cooldown.Words(), e.RetryAfterS)
	default:
		return fmt.Sprintf("admission blocked: %s is at capacity (%s)", what, e.counts())
	}
}

func (e *BlockedError) counts() string {
	s := fmt.Sprintf("%d/%d in use", e.Capacity.ActiveCount, e.Capacity.Limit)
	if e.Waiting > 0 {
		s += fmt.Sprintf(", %d waiting ahead", e.Waiting)
	}
	return s
}

// IsBlocked reports whether err is (or wraps) a *BlockedError and returns it.
func IsBlocked(err error) (*BlockedError, bool) {
	var b *BlockedError
	ok := errors.As(err, &b)
	return b, ok
}

// RootError is a lock root, key directory or slot file that is unsafe to use.
// It names the path and the fix; it is an operator error, printed on stderr
// and never persisted.
type RootError struct {
	Path    string
	Problem string
	Fix     string
}

func (e *RootError) Error() string {
	return fmt.Sprintf("unsafe lock path %s: %s; %s", e.Path, e.Problem, e.Fix)
}

// ErrClosed is returned by operations on a closed backend.
var ErrClosed = errors.New("admission: backend is closed")
