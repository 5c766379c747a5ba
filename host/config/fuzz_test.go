package config

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"

	relay "github.com/relay-host/relay-host"
)

// FuzzParse checks that Parse never panics and always returns exactly one
// of a checked config or a *DiagError, and that both can be used without
// panicking. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("provider \"claude\" {\n  plugin = \"/tmp/evil\"\n}\n"))
	f.Add([]byte("provider \"apireviewer\" {\n  route \"deepseek\" {\n    limit = 1\n    settings = { base_url = \"x\" }\n  }\n}\nadmission { max_total = 2 }\nexclude = [\"a\"]\n"))
	f.Add([]byte("provider \"apireviewer\" {\n  route \"deepseek\" { limit = 1 }\n  route \"new\" { timeout = \"1m\" }\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		repoLayerOnlyNarrows(t, src)
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

var (
	embeddedOnce  sync.Once
	embeddedLayer *layer
	embeddedErr   *DiagError
)

// repoLayerOnlyNarrows merges src as a trusted repository layer over the
// built-in default and checks that whatever it says, the result either is
// refused or changes nothing but caps, a lower max_total, longer cooldowns
// and exclusions.
func repoLayerOnlyNarrows(t *testing.T, src []byte) {
	embeddedOnce.Do(func() {
		embeddedLayer, embeddedErr = decodeLayer(relay.DefaultConfig, EmbeddedPath, "/h", LayerEmbedded)
	})
	if embeddedErr != nil {
		t.Fatal(embeddedErr)
	}
	base := func() *Config {
		l := embeddedLayer
		c := newConfig()
		var diags hcl.Diagnostics
		c.merge(l, &diags)
		c.finish(&diags)
		return c
	}
	want, got := base(), base()
	l, err := decodeLayer(src, "repo.hcl", "/h", LayerRepo)
	if err != nil {
		return
	}
	var diags hcl.Diagnostics
	got.merge(l, &diags)
	got.finish(&diags)
	if diags.HasErrors() {
		return
	}
	if !reflect.DeepEqual(got.PluginDirs, want.PluginDirs) || got.Admission.Backend != want.Admission.Backend ||
		got.Admission.LockRoot != want.Admission.LockRoot || got.Admission.Wait != want.Admission.Wait ||
		!reflect.DeepEqual(got.Admission.Endpoints, want.Admission.Endpoints) || len(got.Providers) != len(want.Providers) ||
		got.Jobs != want.Jobs {
		t.Fatalf("a repository layer changed more than it may: %+v", got.Admission)
	}
	gb, gc := got.Admission.EffectiveCooldown()
	wb, wc := want.Admission.EffectiveCooldown()
	if gb < wb || gc < wc {
		t.Fatalf("a repository layer shortened the cooldowns: %s/%s, was %s/%s", gb, gc, wb, wc)
	}
	for i, p := range got.Providers {
		w := want.Providers[i]
		if p.Name != w.Name || p.Plugin != w.Plugin || p.Checksum != w.Checksum || !reflect.DeepEqual(p.Env, w.Env) || !reflect.DeepEqual(p.Settings, w.Settings) {
			t.Fatalf("a repository layer changed provider %s", p.Name)
		}
		for _, r := range p.Routes {
			wr := w.Route(r.Name)
			if wr == nil {
				if r.Limit != 0 || r.Budget != 0 || r.Timeout != 0 || len(r.Settings) != 0 {
					t.Fatalf("a repository layer set route %s/%s: %+v", p.Name, r.Name, r)
				}
				continue
			}
			if r.Limit != wr.Limit || r.Budget != wr.Budget || r.Timeout != wr.Timeout || !reflect.DeepEqual(r.Settings, wr.Settings) {
				t.Fatalf("a repository layer changed route %s/%s beyond caps", p.Name, r.Name)
			}
		}
	}
	for _, pat := range got.Exclude {
		if strings.HasPrefix(pat, "!") {
			t.Fatalf("a repository layer re-included %q", pat)
		}
	}
}
