package config

import (
	"errors"
	"io"
	"testing"
)

// FuzzParse checks that Parse never panics and always returns exactly one
// of a checked config or a *DiagError, and that both can be used without
// panicking. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse(src, "fuzz.hcl")
		if err != nil {
			var de *DiagError
			if !errors.As(err, &de) {
				t.Fatalf("error is %T, want *DiagError: %v", err, err)
			}
			if cfg != nil || !de.Diags.HasErrors() || de.Error() == "" {
				t.Fatalf("cfg = %v, diags = %v", cfg, de.Diags)
			}
			de.Render(io.Discard, true)
			return
		}
		if cfg == nil {
			t.Fatal("nil config without an error")
		}
		if b := cfg.Admission.Backend; b != "local" && b != "etcd" {
			t.Fatalf("backend %q", b)
		}
		seen := map[string]bool{}
		for _, p := range cfg.Providers {
			if !nameRE.MatchString(p.Name) || seen[p.Name] || p.Plugin == "" {
				t.Fatalf("provider %+v", p)
			}
			seen[p.Name] = true
			routes := map[string]bool{}
			for _, r := range p.Routes {
				if !nameRE.MatchString(r.Name) || routes[r.Name] || r.Limit < 0 || r.Budget < 0 || r.Timeout < 0 {
					t.Fatalf("route %+v", r)
				}
				routes[r.Name] = true
				cfg.Diagnostic("check", "detail", r.LimitRange).Render(io.Discard, false)
			}
			cfg.Diagnostic("check", "detail", p.DeclRange).Render(io.Discard, false)
		}
	})
}
