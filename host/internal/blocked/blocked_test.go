package blocked

import (
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/admission"
)

// TestLines pins each command's wording of each refusal: review's line is
// stored in the job record and printed again by `jobs wait`, and
// `admission run`'s is in the README.
func TestLines(t *testing.T) {
	full := &admission.BlockedError{Reason: admission.ReasonAtCapacity, Scope: admission.ScopeKey, Capacity: admission.Capacity{ActiveCount: 4, Limit: 4}, Waiting: 2}
	waited := &admission.BlockedError{Reason: admission.ReasonWaitTimeout, Scope: admission.ScopeMaxTotal, Capacity: admission.Capacity{ActiveCount: 1, Limit: 1}}
	down := &admission.BlockedError{Reason: admission.ReasonBackendUnavailable, Scope: admission.ScopeKey}
	gate := &admission.BlockedError{Reason: admission.ReasonGateTimeout, Scope: admission.ScopeKey}
	cool := &admission.BlockedError{Reason: admission.ReasonCoolingDown, Scope: admission.ScopeKey, Capacity: admission.Capacity{ActiveCount: 0, Limit: 4},
		Cooldown: admission.CooldownRateLimited, RetryAfterS: 23}
	broke := &admission.BlockedError{Reason: admission.ReasonCoolingDown, Scope: admission.ScopeKey, Capacity: admission.Capacity{Limit: 1}, Cooldown: admission.CooldownInsufficientBalance, RetryAfterS: 600}
	corrupt := &admission.BlockedError{Reason: admission.ReasonCoolingDown, Scope: admission.ScopeKey, Capacity: admission.Capacity{Limit: 1}, Cooldown: admission.CooldownCorrupt}
	tests := []struct {
		name, got, want string
	}{
		{"review at capacity", Review("claude", "default", 0, full),
			"admission blocked: claude/default is at capacity (4/4 in use, 2 waiting ahead); retry later or pass --wait 5m to queue"},
		{"review wait timeout", Review("claude", "default", 30*time.Second, waited),
			"admission blocked: the global max_total stayed at capacity for --wait 30s (1/1 in use); retry later or pass a longer --wait"},
		{"review backend down", Review("claude", "default", 0, down),
			"admission blocked: the admission backend for claude/default is unavailable (backend_unavailable); nothing was sent (fail closed, no fallback to the local backend); check that the etcd cluster in relay.hcl is reachable and retry"},
		{"run at capacity", Run("api.route", 0, full),
			"admission blocked: api.route is at capacity (4/4 in use, 2 waiting); retry later or pass --wait"},
		{"run wait timeout", Run("api.route", time.Second, waited),
			"admission blocked: max_total stayed at capacity for --wait 1s (1/1 in use)"},
		{"run backend down", Run("api.route", 0, down),
			"admission blocked: the admission backend is unavailable (backend_unavailable); nothing was run; check that the etcd endpoints are reachable and retry"},
		{"gate timeout", Run("api.route", 0, gate), gate.Error()},
		{"review cooling down", Review("apireviewer", "deepseek", 0, cool),
			"admission blocked: apireviewer/deepseek is cooling down after a rate limit (retry in 23s); 0/4 in use; nothing was sent: pass --wait to wait for it, or --ignore-cooldown to send anyway"},
		{"review cooling down, no balance", Review("apireviewer", "glm", 0, broke),
			"admission blocked: apireviewer/glm is cooling down after an insufficient balance (retry in 600s); 0/1 in use; nothing was sent: pass --wait to wait for it, or --ignore-cooldown to send anyway"},
		{"run corrupt cooldown", Run("api.route", 0, corrupt),
			"admission blocked: the cooldown record of api.route is unreadable, so it fails closed (0/1 in use); run `relay-host admission clean`"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, tt.got, tt.want)
		}
		if strings.Contains(tt.got, "\n") {
			t.Errorf("%s: not one line: %q", tt.name, tt.got)
		}
	}
}
