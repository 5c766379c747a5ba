package cli

import (
	"strings"
	"testing"
)

// TestDoctorVerdict: what doctor needs, rule by rule.
func TestDoctorVerdict(t *testing.T) {
	okHost := []doctorItem{{Check: "lock_root", OK: true, Needed: true}, {Check: "job_store", OK: true, Needed: true}}
	builtin := func(usable ...string) providerCheck {
		return providerCheck{name: "claude", usable: usable, wantedRoutes: map[string]bool{},
			items: []doctorItem{{Provider: "claude", Route: "subscription", Check: "credentials", OK: len(usable) > 0}}}
	}
	echo := providerCheck{name: "echo", wanted: true, wantedRoutes: map[string]bool{}, usable: []string{"default"},
		items: []doctorItem{{Provider: "echo", Route: "default", Check: "limit", OK: true}}}
	tests := []struct {
		name     string
		host     []doctorItem
		checks   []providerCheck
		only     string
		ok       bool
		blocking string
	}{
		{"a wanted provider usable, an unconfigured built-in not", okHost, []providerCheck{echo, builtin()}, "", true, ""},
		{"no usable route at all", okHost, []providerCheck{builtin()}, "", false, "no route is usable"},
		{"an unsafe job store", []doctorItem{{Check: "job_store", Detail: "job store x is a symlink", Needed: true}}, []providerCheck{echo}, "", false, "job_store: job store x is a symlink"},
		{"an ignored repository file is not needed", append([]doctorItem{{Check: "config", Detail: "./relay.hcl: ignored"}}, okHost...), []providerCheck{echo}, "", true, ""},
		{"a configured provider without a usable route", okHost, []providerCheck{echo, func() providerCheck { c := builtin(); c.wanted = true; return c }()}, "", false, "provider claude has no usable route, and your relay.hcl configures it"},
		{"a configured route that is unusable", okHost, []providerCheck{func() providerCheck {
			c := builtin("subscription")
			c.name, c.wanted, c.wantedRoutes = "apireviewer", true, map[string]bool{"glm": true}
			return c
		}()}, "", false, "route apireviewer/glm is not usable, and your relay.hcl configures it"},
		{"--provider names an unusable one", okHost, []providerCheck{func() providerCheck { c := builtin(); c.wanted = true; return c }()}, "claude", false, "provider claude has no usable route, and --provider names it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := doctorVerdict(tt.host, tt.checks, tt.only)
			if rep.OK != tt.ok || (tt.blocking != "" && !strings.Contains(strings.Join(rep.Blocking, "\n"), tt.blocking)) || (tt.ok && len(rep.Blocking) != 0) {
				t.Errorf("ok %v, blocking %q; want ok %v with %q", rep.OK, rep.Blocking, tt.ok, tt.blocking)
			}
			for _, it := range rep.Items {
				if it.Provider == "claude" && it.Needed && !tt.checks[len(tt.checks)-1].wanted {
					t.Errorf("item of a provider nobody configured is needed: %+v", it)
				}
			}
		})
	}
}
