package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	relay "github.com/relay-host/relay-host"
)

func TestDefaultConfig(t *testing.T) {
	cfg, err := Parse(relay.DefaultConfig, EmbeddedPath)
	if err != nil {
		var de *DiagError
		if errors.As(err, &de) {
			var b strings.Builder
			de.Render(&b, false)
			t.Fatalf("embedded default does not parse:\n%s", b.String())
		}
		t.Fatal(err)
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		if p.Plugin != "relay-provider-"+p.Name {
			t.Errorf("provider %s: plugin = %q", p.Name, p.Plugin)
		}
		if len(p.Routes) == 0 || len(p.Env) == 0 {
			t.Errorf("provider %s: %d routes, %d env entries", p.Name, len(p.Routes), len(p.Env))
		}
	}
	if want := []string{"claude", "gemini", "kimi", "grokweb", "apireviewer"}; !reflect.DeepEqual(names, want) {
		t.Errorf("providers = %v, want %v", names, want)
	}
	if cfg.Path != EmbeddedPath || cfg.Admission.Backend != "local" || cfg.Admission.Wait != 0 {
		t.Errorf("path %q admission %+v", cfg.Path, cfg.Admission)
	}
	if r := cfg.Provider("claude").Route("subscription"); r == nil || r.Timeout != 15*time.Minute || r.Limit != 0 {
		t.Errorf("claude/subscription = %+v", r)
	}
	// Every built-in route has a timeout, so no review can hang for good:
	// 15m where a CLI or web session runs, 5m for a direct API.
	for _, p := range cfg.Providers {
		want := 15 * time.Minute
		if p.Name == "apireviewer" {
			want = 5 * time.Minute
		}
		for _, r := range p.Routes {
			if r.Timeout != want {
				t.Errorf("%s/%s: timeout %v, want %v", p.Name, r.Name, r.Timeout, want)
			}
		}
	}
	if r := cfg.Provider("grokweb").Route("cli"); r == nil || r.Budget != 112<<10 {
		t.Errorf("grokweb/cli = %+v", r)
	}
	if r := cfg.Provider("grokweb").Route("web"); r == nil {
		t.Error("grokweb/web missing")
	}
	ds := cfg.Provider("apireviewer").Route("deepseek")
	if ds == nil || ds.Settings["base_url"] != "https://api.deepseek.com" || ds.Settings["model"] != "deepseek-v4-flash" || ds.Limit != 0 {
		t.Errorf("apireviewer/deepseek = %+v", ds)
	}
	if c := cfg.Provider("apireviewer").Route("custom"); c == nil || len(c.Settings) != 3 || c.Settings["api_key_env"] != "" {
		t.Errorf("apireviewer/custom = %+v", c)
	}
	if cfg.Provider("nope").Route("x") != nil {
		t.Error("lookup of a missing provider/route should be nil")
	}
}

const fullConfig = `
admission {
  backend   = "local"
  lock_root = "~/locks"
  max_total = 8
  wait      = "1m30s"
}
plugin_dirs = ["$HOME/plugins", "/opt/relay//plugins/"]

provider "api" {
  plugin   = "/opt/relay/relay-provider-api"
  checksum = "sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
  env      = ["API_KEY", "_X1"]
  settings = { region = "eu", retries = 3, verbose = true }
  route "fast" {
    limit    = 3
    budget   = 2000
    timeout  = "30s"
    settings = { "model" = "m-1" }
  }
  route "slow" {
    budget = "120KB"
  }
}
provider "home-plugin_2" {
  plugin = "~/bin/p"
}
`

func TestParseFull(t *testing.T) {
	cfg, err := parse([]byte(fullConfig), "full.hcl", "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	wantAdm := Admission{Backend: "local", LockRoot: "/home/u/locks", MaxTotal: 8, Wait: 90 * time.Second}
	if !reflect.DeepEqual(cfg.Admission, wantAdm) {
		t.Errorf("admission = %+v, want %+v", cfg.Admission, wantAdm)
	}
	if want := []string{"/home/u/plugins", "/opt/relay/plugins"}; !reflect.DeepEqual(cfg.PluginDirs, want) {
		t.Errorf("plugin_dirs = %q, want %q", cfg.PluginDirs, want)
	}
	p := cfg.Provider("api")
	if p.Plugin != "/opt/relay/relay-provider-api" ||
		p.Checksum != "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789" ||
		!reflect.DeepEqual(p.Env, []string{"API_KEY", "_X1"}) ||
		!reflect.DeepEqual(p.Settings, map[string]string{"region": "eu", "retries": "3", "verbose": "true"}) {
		t.Errorf("provider = %+v", p)
	}
	if p.DeclRange.Start.Line != 10 || p.SettingRanges["retries"].Start.Line != 14 {
		t.Errorf("provider ranges: decl %v settings %v", p.DeclRange, p.SettingRanges)
	}
	fast := p.Route("fast")
	if fast.Limit != 3 || fast.Budget != 2000 || fast.Timeout != 30*time.Second || fast.Settings["model"] != "m-1" {
		t.Errorf("fast = %+v", fast)
	}
	if fast.LimitRange.Start.Line != 16 || fast.LimitRange.Filename != "full.hcl" || fast.BudgetRange.Start.Line != 17 {
		t.Errorf("fast ranges: limit %v budget %v", fast.LimitRange, fast.BudgetRange)
	}
	if slow := p.Route("slow"); slow.Budget != 120000 || slow.Limit != 0 || slow.Timeout != 0 {
		t.Errorf("slow = %+v", slow)
	}
	if hp := cfg.Provider("home-plugin_2"); hp.Plugin != "/home/u/bin/p" || hp.Routes != nil {
		t.Errorf("home-plugin_2 = %+v", hp)
	}
}

func TestParseEtcd(t *testing.T) {
	src := `admission {
  backend   = "etcd"
  endpoints = ["https://e1:2379", "e2:2379"]
  prefix    = "/relay/"
  ttl       = "30s"
  max_total = 4
  ca_file      = "/etc/relay/etcd-ca.pem"
  cert_file    = "/etc/relay/client.pem"
  key_file     = "/etc/relay/client-key.pem"
  username     = "relay"
  password_env = "RELAY_ETCD_PASSWORD"
}`
	cfg, err := Parse([]byte(src), "etcd.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := Admission{Backend: "etcd", MaxTotal: 4, Endpoints: []string{"https://e1:2379", "e2:2379"}, Prefix: "/relay/", TTL: 30 * time.Second,
		CAFile: "/etc/relay/etcd-ca.pem", CertFile: "/etc/relay/client.pem", KeyFile: "/etc/relay/client-key.pem", Username: "relay", PasswordEnv: "RELAY_ETCD_PASSWORD"}
	if !reflect.DeepEqual(cfg.Admission, want) {
		t.Errorf("admission = %+v, want %+v", cfg.Admission, want)
	}
}

// TestParseDiagnostics checks, for each invalid input, that the error is a
// *DiagError whose one-line form starts with file:line and whose rendering
// shows the file, the line and the offending source line as a snippet.
func TestParseDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int    // line of the first error
		want string // substring of the rendered diagnostics
	}{
		{"unknown route attribute", "provider \"a\" {\n  route \"r\" {\n    limt = 2\n  }\n}", 3, `Did you mean "limit"?`},
		{"unknown block", "providr \"a\" {\n}", 1, `Did you mean "provider"?`},
		{"unknown top-level attribute", "plugin_dir = [\"/x\"]", 1, `Did you mean "plugin_dirs"?`},
		{"unknown admission attribute", "admission {\n  bakend = \"local\"\n}", 2, `Did you mean "backend"?`},
		{"route outside provider", "route \"r\" {}", 1, `Unsupported block type`},
		{"missing provider label", "provider {\n}", 1, `Missing name for provider`},
		{"syntax error", "provider \"a\" {\n  plugin = \n}", 2, `Invalid expression`},
		{"fractional limit", "provider \"a\" {\n  route \"r\" {\n    limit = 2.5\n  }\n}", 3, `got 2.5`},
		{"zero limit", "provider \"a\" {\n  route \"r\" { limit = 0 }\n}", 2, `limit must be a whole number of at least 1`},
		{"negative limit", "provider \"a\" {\n  route \"r\" {\n    limit = -1\n  }\n}", 3, `got -1`},
		{"huge limit", "provider \"a\" {\n  route \"r\" {\n    limit = 1e12\n  }\n}", 3, `limit must be at most 2147483647`},
		// Formatting this value with big.Float took minutes (found by FuzzParse).
		{"astronomical limit", "provider \"a\" {\n  route \"r\" {\n    limit = 1e100000000\n  }\n}", 3, `got 1e100000000.`},
		{"string limit", "provider \"a\" {\n  route \"r\" {\n    limit = \"2\"\n  }\n}", 3, `without quotes; got string`},
		{"null limit", "provider \"a\" {\n  route \"r\" {\n    limit = null\n  }\n}", 3, `limit must not be null`},
		{"variable in limit", "provider \"a\" {\n  route \"r\" {\n    limit = var.n\n  }\n}", 3, `Variables not allowed`},
		{"bad budget unit", "provider \"a\" {\n  route \"r\" {\n    budget = \"12XB\"\n  }\n}", 3, `unknown unit "XB"`},
		{"fractional budget", "provider \"a\" {\n  route \"r\" {\n    budget = \"1.5MiB\"\n  }\n}", 3, `use a smaller unit`},
		{"zero budget", "provider \"a\" {\n  route \"r\" {\n    budget = 0\n  }\n}", 3, `Invalid budget`},
		{"bool budget", "provider \"a\" {\n  route \"r\" {\n    budget = true\n  }\n}", 3, `got bool`},
		{"bad timeout", "provider \"a\" {\n  route \"r\" {\n    timeout = \"10 minutes\"\n  }\n}", 3, `timeout must be a duration like "30s"`},
		{"zero timeout", "provider \"a\" {\n  route \"r\" {\n    timeout = \"0s\"\n  }\n}", 3, `timeout must be positive`},
		{"bad wait", "admission {\n  wait = \"soon\"\n}", 2, `wait must be a duration`},
		{"negative wait", "admission {\n  wait = \"-1s\"\n}", 2, `wait must not be negative`},
		{"number wait", "admission {\n  wait = 5\n}", 2, `wait must be a string`},
		{"zero max_total", "admission {\n  max_total = 0\n}", 2, `max_total must be a whole number of at least 1`},
		{"bad backend", "admission {\n  backend = \"redis\"\n}", 2, `backend must be "local"`},
		{"endpoints with local backend", "admission {\n  endpoints = [\"e:2379\"]\n}", 2, `only used by backend = "etcd"`},
		{"ttl with local backend", "admission {\n  backend = \"local\"\n  ttl = \"10s\"\n}", 3, `only used by backend = "etcd"`},
		{"etcd without endpoints", "admission {\n  backend = \"etcd\"\n}", 2, `Missing endpoints`},
		{"etcd with empty endpoints", "admission {\n  backend = \"etcd\"\n  endpoints = []\n}", 3, `at least one etcd endpoint`},
		{"etcd endpoint with space", "admission {\n  backend = \"etcd\"\n  endpoints = [\"a b\"]\n}", 3, `without spaces`},
		{"etcd with lock_root", "admission {\n  backend = \"etcd\"\n  endpoints = [\"e:2379\"]\n  lock_root = \"/l\"\n}", 4, `only used by backend = "local"`},
		{"etcd cert without key", "admission {\n  backend = \"etcd\"\n  endpoints = [\"e:2379\"]\n  cert_file = \"/c.pem\"\n}", 4, `cert_file and key_file go together`},
		{"etcd user without password_env", "admission {\n  backend = \"etcd\"\n  endpoints = [\"e:2379\"]\n  username = \"u\"\n}", 4, `username and password_env go together`},
		{"etcd password in place of a variable name", "admission {\n  backend = \"etcd\"\n  endpoints = [\"e:2379\"]\n  username = \"u\"\n  password_env = \"hunter2!\"\n}", 5, `never goes in relay.hcl`},
		{"relative ca_file", "admission {\n  backend = \"etcd\"\n  endpoints = [\"e:2379\"]\n  ca_file = \"ca.pem\"\n}", 4, `is relative`},
		{"ca_file with local backend", "admission {\n  ca_file = \"/ca.pem\"\n}", 2, `only used by backend = "etcd"`},
		{"fractional ttl", "admission {\n  backend = \"etcd\"\n  endpoints = [\"e:2379\"]\n  ttl = \"1500ms\"\n}", 4, `whole number of seconds`},
		{"duplicate admission", "admission {}\nadmission {}", 2, `Duplicate admission block`},
		{"relative lock_root", "admission {\n  lock_root = \"locks\"\n}", 2, `"locks" is relative`},
		{"tilde user", "plugin_dirs = [\"/ok\",\n  \"~bob/plugins\"]", 2, `~user paths are not supported`},
		{"plugin_dirs not a list", "plugin_dirs = \"/x\"", 1, `plugin_dirs must be a list of strings`},
		{"plugin_dirs number", "plugin_dirs = [1]", 1, `plugin_dirs must be a string`},
		{"reviewer not a name", "reviewers = [\"claude\",\n  \"a/b/c\"]", 2, `provider/route`},
		{"reviewer twice", "reviewers = [\"claude\", \"claude\"]", 1, `"claude" is listed twice`},
		{"relative plugin path", "provider \"a\" {\n  plugin = \"bin/relay-provider-a\"\n}", 2, `is relative`},
		{"empty plugin", "provider \"a\" {\n  plugin = \"\"\n}", 2, `plugin must name a binary`},
		{"bad checksum", "provider \"a\" {\n  checksum = \"md5:abc\"\n}", 2, `checksum must be "sha256:" followed by 64 hex digits`},
		{"short checksum", "provider \"a\" {\n  checksum = \"sha256:abc\"\n}", 2, `Invalid checksum`},
		{"bad env name", "provider \"a\" {\n  env = [\"OK\",\n    \"FOO-BAR\"]\n}", 3, `got "FOO-BAR"`},
		{"env starting with digit", "provider \"a\" {\n  env = [\"1FOO\"]\n}", 2, `Invalid env`},
		{"duplicate env", "provider \"a\" {\n  env = [\"K\", \"K\"]\n}", 2, `K is listed twice`},
		{"bad provider name", "provider \"Claude\" {\n}", 1, `Invalid provider name`},
		{"bad route name", "provider \"a\" {\n  route \"-r\" {}\n}", 2, `Invalid route name`},
		{"empty provider name", "provider \"\" {\n}", 1, `Invalid provider name`},
		{"duplicate provider", "provider \"a\" {\n}\n\nprovider \"a\" {\n}", 4, `already declared at test.hcl:1`},
		{"duplicate route", "provider \"a\" {\n  route \"r\" {}\n  route \"r\" {}\n}", 3, `already declares route "r" at test.hcl:2`},
		{"settings not a map", "provider \"a\" {\n  settings = \"x\"\n}", 2, `settings must be a map of strings`},
		{"settings nested", "provider \"a\" {\n  route \"r\" {\n    settings = { a = { b = \"c\" } }\n  }\n}", 3, `must be a string, number or bool; got object`},
		{"settings duplicate key", "provider \"a\" {\n  settings = {\n    a = \"1\"\n    a = \"2\"\n  }\n}", 4, `"a" is set twice (first at test.hcl:3)`},
		{"reserved provider setting", "provider \"a\" {\n  settings = {\n    model = \"m\"\n    \"relay.debug\" = \"true\"\n  }\n}", 4, `Keys beginning with "relay." are reserved`},
		{"reserved route setting", "provider \"a\" {\n  route \"r\" {\n    settings = { \"relay.x\" = 1 }\n  }\n}", 3, `Reserved setting`},
		{"settings null", "provider \"a\" {\n  settings = { a = null }\n}", 2, `must not be null`},
		{"attribute redefined", "provider \"a\" {\n  plugin = \"x\"\n  plugin = \"y\"\n}", 3, `Attribute redefined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte(tt.src), "test.hcl", "/home/u")
			var de *DiagError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), cfg = %+v; want *DiagError", err, err, cfg)
			}
			if cfg != nil {
				t.Error("config returned with an error")
			}
			checkRendered(t, de, tt.src, tt.line, tt.want)
		})
	}
}

// checkRendered asserts the one-line and rendered forms of de point at
// line of src and contain want.
func checkRendered(t *testing.T, de *DiagError, src string, line int, want string) {
	t.Helper()
	if prefix := fmt.Sprintf("test.hcl:%d: ", line); !strings.HasPrefix(de.Error(), prefix) {
		t.Errorf("Error() = %q, want prefix %q", de.Error(), prefix)
	}
	if strings.Contains(de.Error(), "\n") {
		t.Errorf("Error() is not one line: %q", de.Error())
	}
	var b strings.Builder
	de.Render(&b, false)
	out := b.String()
	srcLine := strings.Split(src, "\n")[line-1]
	for _, s := range []string{
		fmt.Sprintf("on test.hcl line %d", line),
		fmt.Sprintf("%4d: %s\n", line, srcLine),
		want,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("rendered diagnostics lack %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("color=false rendering has escapes:\n%s", out)
	}
}

func TestDiagErrorReportsEveryProblem(t *testing.T) {
	src := "provider \"a\" {\n  route \"r\" {\n    limit = 0\n    budget = \"x\"\n  }\n  bogus = 1\n}"
	_, err := parse([]byte(src), "test.hcl", "/h")
	var de *DiagError
	if !errors.As(err, &de) {
		t.Fatal(err)
	}
	if len(de.Diags) != 3 {
		t.Fatalf("got %d diagnostics, want 3: %v", len(de.Diags), de.Diags)
	}
	if got := de.Error(); !strings.HasPrefix(got, "test.hcl:3: Invalid limit: ") || !strings.HasSuffix(got, "(and 2 more)") {
		t.Errorf("Error() = %q", got)
	}
}

func TestDiagnostic(t *testing.T) {
	src := "provider \"claude\" {\n  route \"subscription\" {\n    limit = 2\n  }\n}"
	cfg, err := parse([]byte(src), "test.hcl", "/h")
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Provider("claude").Route("subscription")
	de := cfg.Diagnostic("Limit above 1 on a shared_state route",
		"claude/subscription shares the CLI's state directory, so it runs one review at a time; remove limit or set it to 1.", r.LimitRange)
	checkRendered(t, de, src, 3, "remove limit or set it to 1")
	var b strings.Builder
	de.Render(&b, true)
	if !strings.Contains(b.String(), "\x1b[1;4m2\x1b[0m") {
		t.Errorf("color rendering does not highlight the value:\n%q", b.String())
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"2000", 2000, ""},
		{"2000B", 2000, ""},
		{"512KiB", 512 << 10, ""},
		{"512 kib", 512 << 10, ""},
		{"1MiB", 1 << 20, ""},
		{"2GiB", 2 << 30, ""},
		{"120KB", 120000, ""},
		{"3MB", 3000000, ""},
		{" 7 ", 7, ""},
		{"0", 0, "at least 1 byte"},
		{"0KiB", 0, "at least 1 byte"},
		{"-1", 0, "want a whole number"},
		{"", 0, "want a whole number"},
		{"KiB", 0, "want a whole number"},
		{"1.5MiB", 0, "smaller unit"},
		{"12XB", 0, "unknown unit"},
		{"1e3", 0, "unknown unit"},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"9007199254740992KiB", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
		}
	}
}
