package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/sdk"
)

func TestGrokwebNormalizeEndpoint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8000", "http://127.0.0.1:8000"},
		{"HTTP://Example.COM:80/", "http://example.com"},
		{"https://Grok.Example.com:443/v1/", "https://grok.example.com"},
		{"http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"},
		{"http://127.0.0.1:8000/v1///", "http://127.0.0.1:8000"},
		{"https://h:80", "https://h:80"}, // 80 is not https's default
		{"http://h:443", "http://h:443"},
		{"http://h:8080/proxy/Grok/", "http://h:8080/proxy/Grok"}, // path kept, case too
		{"http://h/proxy/v1", "http://h/proxy"},
		{"http://[::1]:8000/", "http://[::1]:8000"},
		{"http://[::1]:80", "http://[::1]"},
		{"  http://h:9000 ", "http://h:9000"},
	}
	for _, tt := range tests {
		got, err := normalizeEndpoint(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("normalizeEndpoint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "ftp://h", "localhost:8000", "http://", "http://user:pw@h:8000", "http://tok@h", "http://h?key=1", "http://h/#x", "http://h?"} {
		if got, err := normalizeEndpoint(bad); err == nil {
			t.Errorf("normalizeEndpoint(%q) = %q; want an error", bad, got)
		}
	}
}

// TestGrokwebIdentityEndpoint: the spellings of one endpoint share one
// admission key: scheme and host case, default port, trailing slash, /v1,
// and every name of the loopback; other hosts and ports stay apart.
func TestGrokwebIdentityEndpoint(t *testing.T) {
	same := [][]string{
		{"http://localhost:8000/v1", "http://127.0.0.1:8000/v1", "http://[::1]:8000", "HTTP://LocalHost:8000/", "http://localhost.:8000", "http://[::ffff:127.0.0.1]:8000/v1/", "http://127.0.0.1:8000"},
		{"http://localhost", "http://127.0.0.1:80/", "http://[::1]:80/v1"},
		{"https://Grok.Example.com:443/v1/", "https://grok.example.com", "https://grok.example.com./"},
		{"http://[0:0::0:1]:9000/proxy", "http://localhost:9000/proxy/"},
		{"http://[2001:DB8::1]:8000", "http://[2001:db8:0::1]:8000/"},
	}
	seen := map[string]int{}
	for i, group := range same {
		want, err := identityEndpoint(group[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range group[1:] {
			if got, err := identityEndpoint(in); err != nil || got != want {
				t.Errorf("identityEndpoint(%q) = %q, %v; want %q as for %q", in, got, err, want, group[0])
			}
		}
		if j, dup := seen[want]; dup {
			t.Errorf("groups %d and %d share %q", j, i, want)
		}
		seen[want] = i
	}
	for _, pair := range [][2]string{
		{"http://127.0.0.1:8000", "http://127.0.0.2:8000"},
		{"http://localhost:8000", "http://localhost:8001"},
		{"http://localhost:8000", "https://localhost:8000"},
		{"http://localhost:8000", "http://localhost:8000/proxy"},
	} {
		a, _ := identityEndpoint(pair[0])
		b, _ := identityEndpoint(pair[1])
		if a == b {
			t.Errorf("%q and %q share the key %q", pair[0], pair[1], a)
		}
	}
	// The request still goes where the user said.
	if got, _ := normalizeEndpoint("http://[::1]:8000/v1"); got != "http://[::1]:8000" {
		t.Errorf("normalizeEndpoint rewrote the host: %q", got)
	}
	if a, _ := endpointIdentity("http://localhost:8000/v1", ""); a != "endpoint=http://127.0.0.1:8000;admin=default" {
		t.Errorf("endpointIdentity(localhost) = %q", a)
	}
}

func TestGrokwebEndpointIdentity(t *testing.T) {
	const keyA, keyB = "admin-key-AAAA-secret", "admin-key-BBBB-secret"
	hash := func(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }
	tests := []struct{ endpoint, admin, want string }{
		{"http://127.0.0.1:8000", "", "endpoint=http://127.0.0.1:8000;admin=default"},
		{"HTTP://127.0.0.1:8000/v1/", "  ", "endpoint=http://127.0.0.1:8000;admin=default"},
		{"http://127.0.0.1:8000", keyA, "endpoint=http://127.0.0.1:8000;admin=" + hash(keyA)},
		{"http://127.0.0.1:8000", " " + keyA + "\n", "endpoint=http://127.0.0.1:8000;admin=" + hash(keyA)},
		{"http://127.0.0.1:8000", keyB, "endpoint=http://127.0.0.1:8000;admin=" + hash(keyB)},
	}
	ids := map[string]bool{}
	for _, tt := range tests {
		got, err := endpointIdentity(tt.endpoint, tt.admin)
		if err != nil || got != tt.want {
			t.Errorf("endpointIdentity(%q, %q) = %q, %v; want %q", tt.endpoint, tt.admin, got, err, tt.want)
		}
		if strings.Contains(got, keyA) || strings.Contains(got, keyB) {
			t.Errorf("identity %q contains the admin key", got)
		}
		ids[got] = true
		if err := sdk.SharedStateIdentity(got).Validate(); err != nil {
			t.Errorf("identity %q is not a valid fact: %v", got, err)
		}
	}
	if len(ids) != 3 {
		t.Errorf("want 3 distinct identities (default, key A, key B), got %d: %v", len(ids), ids)
	}
}

// clearWebEnv gives a test an empty grok2api environment and home.
func clearWebEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"GROK2API_ENDPOINT", "GROK2API_ADMIN_KEY", "GROK2API_API_KEY", "GROK2API_HOME"} {
		t.Setenv(k, "")
	}
	return home
}

func TestGrokwebResolveWeb(t *testing.T) {
	t.Run("explicit endpoint", func(t *testing.T) {
		clearWebEnv(t)
		t.Setenv("GROK2API_ENDPOINT", "http://Tunnel.local:8000/v1")
		t.Setenv("GROK2API_ADMIN_KEY", "adm")
		t.Setenv("GROK2API_API_KEY", "app-key")
		got, err := resolveWeb("")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("adm"))
		want := webTarget{fact: sdk.SharedStateIdentity("endpoint=http://tunnel.local:8000;admin=" + hex.EncodeToString(sum[:])), endpoint: "http://tunnel.local:8000", apiKey: "app-key"}
		if got != want {
			t.Errorf("resolveWeb() = %+v, want %+v", got, want)
		}
	})
	t.Run("explicit endpoint wins over a managed home", func(t *testing.T) {
		home := clearWebEnv(t)
		os.Mkdir(filepath.Join(home, ".grok2api"), 0o700)
		t.Setenv("GROK2API_ENDPOINT", "http://h:1")
		if got, err := resolveWeb(""); err != nil || got.fact.Identity == "" {
			t.Errorf("resolveWeb() = %+v, %v; want the endpoint identity", got, err)
		}
	})
	t.Run("bad endpoint", func(t *testing.T) {
		clearWebEnv(t)
		t.Setenv("GROK2API_ENDPOINT", "http://user:secretpw@h:8000")
		_, err := resolveWeb("")
		if err == nil || strings.Contains(err.Error(), "secretpw") {
			t.Errorf("resolveWeb() error %v; want a refusal that does not repeat the URL", err)
		}
	})
	t.Run("managed home default", func(t *testing.T) {
		home := clearWebEnv(t)
		os.Mkdir(filepath.Join(home, ".grok2api"), 0o700)
		got, err := resolveWeb("")
		if err != nil || got.fact != sdk.SharedStateDir("~/.grok2api") || got.endpoint != managedDefaultEndpoint {
			t.Errorf("resolveWeb() = %+v, %v; want ~/.grok2api and %s", got, err, managedDefaultEndpoint)
		}
	})
	t.Run("managed home with endpoint file", func(t *testing.T) {
		clearWebEnv(t)
		dir := filepath.Join(t.TempDir(), "tunnel")
		os.Mkdir(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "endpoint"), []byte("http://127.0.0.1:9123/v1\n"), 0o600)
		t.Setenv("GROK2API_HOME", dir)
		got, err := resolveWeb("")
		if err != nil || got.fact != sdk.SharedStateDir(dir) || got.endpoint != "http://127.0.0.1:9123" {
			t.Errorf("resolveWeb() = %+v, %v", got, err)
		}
	})
	t.Run("neither", func(t *testing.T) {
		clearWebEnv(t)
		if got, err := resolveWeb(""); err != errNoWebTarget {
			t.Errorf("resolveWeb() = %+v, %v; want errNoWebTarget", got, err)
		}
		t.Setenv("GROK2API_HOME", filepath.Join(t.TempDir(), "missing"))
		if _, err := resolveWeb(""); err != errNoWebTarget {
			t.Errorf("missing GROK2API_HOME: %v; want errNoWebTarget", err)
		}
	})
}

func TestGrokwebDescribe(t *testing.T) {
	clearWebEnv(t)
	names := func() []string {
		d, err := (&provider{}).Describe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Routes[0] != (sdk.Route{Name: "cli", Fact: sdk.SharedStateDir("~/.grok"), Budget: 112 << 10}) {
			t.Errorf("cli route %+v", d.Routes[0])
		}
		var n []string
		for _, r := range d.Routes {
			n = append(n, r.Name)
		}
		return n
	}
	if got := names(); !slices.Equal(got, []string{"cli"}) {
		t.Errorf("routes without a tunnel: %v, want only cli", got)
	}
	t.Setenv("GROK2API_ENDPOINT", "http://127.0.0.1:8000")
	if got := names(); !slices.Equal(got, []string{"cli", "web"}) {
		t.Errorf("routes with an endpoint: %v, want cli and web", got)
	}
}

func TestGrokwebConfigure(t *testing.T) {
	s := sdk.Settings{
		Provider: map[string]string{"model": "grok-4", "cli_path": "/usr/bin/grok", "relay.x": "y"},
		Routes: map[string]map[string]string{
			"cli": {"max_tokens": "4096"},
			"web": {"model": "grok-4-fast"},
		},
	}
	if errs := (&provider{}).Configure(context.Background(), s); len(errs) != 0 {
		t.Errorf("valid settings refused: %v", errs)
	}
	s = sdk.Settings{
		Provider: map[string]string{"endpoint": "http://user:pw@h:8000", "colour": "red"},
		Routes: map[string]map[string]string{
			"cli": {"max_tokens": "0", "cli_path": "bin/grok", "model": "-x", "endpoint": "http://h"},
			"web": {"max_tool_rounds": "2", "endpoint": "ftp://h"},
		},
	}
	var got []string
	for _, e := range (&provider{}).Configure(context.Background(), s) {
		got = append(got, e.Route+"/"+e.Attribute)
		if strings.Contains(e.Message, "pw") {
			t.Errorf("an endpoint error repeats its credentials: %s", e.Message)
		}
	}
	slices.Sort(got)
	want := []string{"/colour", "/endpoint", "cli/cli_path", "cli/endpoint", "cli/max_tokens", "cli/model", "web/endpoint", "web/max_tool_rounds"}
	if !slices.Equal(got, want) {
		t.Errorf("errors on %v, want %v", got, want)
	}
}

// relay-host calls Configure before Describe, so an endpoint set in relay.hcl
// decides the web route's admission key, ahead of GROK2API_ENDPOINT.
func TestGrokwebConfiguredEndpointDecidesTheKey(t *testing.T) {
	t.Setenv("GROK2API_ENDPOINT", "http://env-tunnel:8000")
	t.Setenv("GROK2API_ADMIN_KEY", "")
	p := &provider{}
	if errs := p.Configure(context.Background(), sdk.Settings{Routes: map[string]map[string]string{"web": {"endpoint": "HTTP://Tunnel.Local:8000/v1/"}}}); len(errs) != 0 {
		t.Fatal(errs)
	}
	d, err := p.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Routes {
		if r.Name == routeWeb {
			if r.Fact.Identity != "endpoint=http://tunnel.local:8000;admin=default" {
				t.Fatalf("web fact %+v, want the configured endpoint's identity", r.Fact)
			}
			return
		}
	}
	t.Fatalf("web route not offered: %+v", d.Routes)
}
