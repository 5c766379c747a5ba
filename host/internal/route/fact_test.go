package route

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/sdk"
)

// envOf is an injected Getenv: only the given variables are set.
func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func wantFactError(t *testing.T, err error, code string) {
	t.Helper()
	var fe *FactError
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("error = %v, want FactError %s", err, code)
	}
	if msg := fe.Error(); strings.Contains(msg, "\n") || msg != strings.ToLower(msg[:1])+msg[1:] {
		t.Errorf("error %q is not one lower-case line", msg)
	}
}

func devInoKey(t *testing.T, dir string) string {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino, ok := fileIdentity(fi)
	if !ok {
		t.Skip("no device/inode numbers on this platform")
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%d:%d", dev, ino))
	return hex.EncodeToString(sum[:])
}

func sharedDir(dir string) factInput {
	return factInput{Provider: "claude", Route: "subscription", Fact: sdk.Fact{Kind: sdk.FactSharedState, Directory: dir, DefaultLimit: 1}}
}

func TestFactSharedStateDirectory(t *testing.T) {
	home := t.TempDir()
	state := filepath.Join(home, "state")
	other := filepath.Join(home, "other")
	for _, d := range []string{state, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	alias := filepath.Join(home, "alias")
	if err := os.Symlink(state, alias); err != nil {
		t.Fatal(err)
	}
	want := devInoKey(t, state)
	env := envOf("HOME", home, "XDG_STATE_HOME", filepath.Join(home, "xdg"))

	tests := []struct {
		name     string
		provider string
		dir      string
		sameKey  bool
	}{
		{"the directory", "claude", state, true},
		{"symlink alias", "claude", alias, true},
		{"another provider, same directory", "gemini", alias, true},
		{"tilde path", "claude", "~/state", true},
		{"unclean spelling", "claude", home + "/./other/../state/", true},
		{"a different directory", "claude", other, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sharedDir(tt.dir)
			in.Provider, in.Getenv = tt.provider, env
			res, err := resolveFact(in)
			if err != nil {
				t.Fatal(err)
			}
			if (res.Key == want) != tt.sameKey {
				t.Errorf("key = %s, same as the directory's (%s): %v, want %v", res.Key, want, res.Key == want, tt.sameKey)
			}
			if res.Limit != 1 || res.LimitSource != LimitFromSharedState {
				t.Errorf("resolution = %+v, want limit 1 from shared_state", res)
			}
			if strings.Contains(res.Key, tt.provider) {
				t.Errorf("key %q carries the provider name", res.Key)
			}
		})
	}
}

func TestFactSharedStateCreatesMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	in := sharedDir(dir)
	in.Getenv, in.Create = envOf("HOME", t.TempDir()), true
	res, err := resolveFact(in)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created %v (%v), want a 0700 directory", fi, err)
	}
	if res.Key != devInoKey(t, dir) || res.WouldCreate {
		t.Errorf("resolution %+v: want the created directory's dev:ino hash and no WouldCreate", res)
	}
}

// A read-only resolve (Create unset) of a missing directory creates nothing
// and says the directory would be created; a later resolve with Create
// gets the same key as any resolve after it.
func TestFactSharedStateWouldCreate(t *testing.T) {
	home := t.TempDir()
	parent := filepath.Join(home, "parent")
	dir := filepath.Join(parent, "state")
	in := sharedDir("~/parent/state")
	in.Getenv = envOf("HOME", home, "XDG_STATE_HOME", filepath.Join(home, "xdg"))
	res, err := resolveFact(in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.WouldCreate || res.Key != "" || res.Limit != 1 || res.LimitSource != LimitFromSharedState || res.LockRoot == "" {
		t.Errorf("read-only resolution = %+v; want WouldCreate, no key, limit 1 from shared_state, a lock root", res)
	}
	if _, err := os.Lstat(parent); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only resolve created %s (%v)", parent, err)
	}

	in.Create = true
	created, err := resolveFact(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Create = false
	again, err := resolveFact(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := devInoKey(t, dir); created.Key != want || again.Key != want || created.WouldCreate || again.WouldCreate {
		t.Errorf("after creation: %+v then %+v; want key %s and no WouldCreate both times", created, again, want)
	}
}

func TestFactSharedStateErrors(t *testing.T) {
	home := t.TempDir()
	file := filepath.Join(home, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fileLink := filepath.Join(home, "file-link")
	if err := os.Symlink(file, fileLink); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(home, "dangling")
	if err := os.Symlink(filepath.Join(home, "missing"), dangling); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name   string
		mutate func(*factInput)
		code   string
	}{
		{"a file", func(in *factInput) { in.Fact.Directory = file }, FactNotADirectory},
		{"a symlink to nothing", func(in *factInput) { in.Fact.Directory = dangling }, FactUnresolvableIdentity},
		{"a symlink to a file", func(in *factInput) { in.Fact.Directory = fileLink }, FactNotADirectory},
		{"below a file", func(in *factInput) { in.Fact.Directory = filepath.Join(file, "sub") }, FactNotADirectory},
		{"configured limit 2", func(in *factInput) { in.ConfiguredLimit = 2 }, FactLimitOnSharedState},
		{"declared limit 4", func(in *factInput) { in.Fact.DefaultLimit = 4 }, FactLimitOnSharedState},
		{"configured limit -1", func(in *factInput) { in.ConfiguredLimit = -1 }, FactInvalidLimit},
		{"directory and identity", func(in *factInput) { in.Fact.Identity = "acct-1" }, FactUnresolvableIdentity},
		{"neither directory nor identity", func(in *factInput) { in.Fact.Directory = "" }, FactUnresolvableIdentity},
		{"blank identity only", func(in *factInput) { in.Fact.Directory, in.Fact.Identity = "", "  " }, FactUnresolvableIdentity},
		{"~user path", func(in *factInput) { in.Fact.Directory = "~root/state" }, FactUnresolvableIdentity},
		{"unknown category", func(in *factInput) { in.Fact.Kind = "shared" }, FactUnknownCategory},
		{"empty category", func(in *factInput) { in.Fact.Kind = "" }, FactUnknownCategory},
	}
	// A read-only resolve refuses exactly what a review's resolve refuses.
	for _, create := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/create=%v", tt.name, create), func(t *testing.T) {
				in := sharedDir(dir)
				in.Getenv, in.Create = envOf("HOME", home), create
				tt.mutate(&in)
				_, err := resolveFact(in)
				wantFactError(t, err, tt.code)
				if strings.Contains(err.Error(), home) || strings.Contains(err.Error(), dir) {
					t.Errorf("error %q names a state directory", err)
				}
			})
		}
	}
	if _, err := os.Lstat(filepath.Join(home, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("resolving a dangling symlink created its target (%v)", err)
	}
}

func TestFactSharedStateLimitOneIsAccepted(t *testing.T) {
	in := sharedDir(t.TempDir())
	in.Getenv = envOf("HOME", t.TempDir())
	in.ConfiguredLimit, in.Fact.DefaultLimit = 1, 0
	if res, err := resolveFact(in); err != nil || res.Limit != 1 {
		t.Fatalf("ResolveFact = %+v, %v; want limit 1", res, err)
	}
}

func TestFactSharedStateIdentity(t *testing.T) {
	sum := sha256.Sum256([]byte("account-42"))
	want := hex.EncodeToString(sum[:])
	for _, id := range []string{"account-42", "  account-42\n"} {
		res, err := resolveFact(factInput{
			Provider: "grok", Route: "web",
			Fact:   sdk.Fact{Kind: sdk.FactSharedState, Identity: id},
			Getenv: envOf("HOME", t.TempDir()),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Key != want || res.Limit != 1 || res.LimitSource != LimitFromSharedState {
			t.Errorf("identity %q: %+v, want key sha256(account-42), limit 1", id, res)
		}
	}
}

func TestFactStateless(t *testing.T) {
	const capVar = "RELAY_DEEPSEEK_CONCURRENCY_LIMIT"
	tests := []struct {
		name       string
		configured int
		declared   int
		capValue   string // "" = unset
		wantLimit  int
		wantSource LimitSource
		warns      bool
	}{
		{"declared default", 0, 4, "", 4, LimitFromDefault, false},
		{"configured beats default", 8, 4, "", 8, LimitFromConfig, false},
		{"configured below default", 2, 4, "", 2, LimitFromConfig, false},
		{"env cap lowers the default", 0, 4, "2", 2, LimitFromEnvCap, false},
		{"env cap lowers the configured limit", 8, 4, "3", 3, LimitFromEnvCap, false},
		{"env cap equal does nothing", 0, 4, "4", 4, LimitFromDefault, false},
		{"env cap never raises", 0, 4, "16", 4, LimitFromDefault, false},
		{"env cap with spaces", 0, 4, " 1 ", 1, LimitFromEnvCap, false},
		{"env cap 0 ignored", 0, 4, "0", 4, LimitFromDefault, true},
		{"env cap negative ignored", 0, 4, "-2", 4, LimitFromDefault, true},
		{"env cap malformed ignored", 0, 4, "two", 4, LimitFromDefault, true},
		{"env cap fractional ignored", 8, 4, "1.5", 8, LimitFromConfig, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"HOME", t.TempDir()}
			if tt.capValue != "" {
				env = append(env, capVar, tt.capValue)
			}
			res, err := resolveFact(factInput{
				Provider: "deepseek", Route: "direct_api",
				Fact:            sdk.Fact{Kind: sdk.FactStateless, DefaultLimit: tt.declared, EnvCapVar: capVar},
				ConfiguredLimit: tt.configured,
				Getenv:          envOf(env...),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Key != "deepseek.direct_api" {
				t.Errorf("key = %q", res.Key)
			}
			if res.Limit != tt.wantLimit || res.LimitSource != tt.wantSource {
				t.Errorf("limit = %d from %s, want %d from %s", res.Limit, res.LimitSource, tt.wantLimit, tt.wantSource)
			}
			if (len(res.Warnings) > 0) != tt.warns {
				t.Fatalf("warnings = %q, want some: %v", res.Warnings, tt.warns)
			}
			for _, w := range res.Warnings {
				if !strings.Contains(w, capVar) || strings.Contains(w, "\n") {
					t.Errorf("warning %q does not name %s on one line", w, capVar)
				}
			}
		})
	}
}

func TestFactStatelessErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*factInput)
		code   string
	}{
		{"no limit anywhere", func(in *factInput) { in.Fact.DefaultLimit = 0 }, FactInvalidLimit},
		{"negative configured limit", func(in *factInput) { in.ConfiguredLimit = -3 }, FactInvalidLimit},
		{"negative declared limit", func(in *factInput) { in.Fact.DefaultLimit = -1; in.ConfiguredLimit = 2 }, FactInvalidLimit},
		{"empty provider", func(in *factInput) { in.Provider = "" }, FactInvalidRouteName},
		{"empty route", func(in *factInput) { in.Route = "" }, FactInvalidRouteName},
		{"dot in provider", func(in *factInput) { in.Provider = "deep.seek" }, FactInvalidRouteName},
		{"slash in route", func(in *factInput) { in.Route = "../x" }, FactInvalidRouteName},
		{"space in route", func(in *factInput) { in.Route = "direct api" }, FactInvalidRouteName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := factInput{Provider: "glm", Route: "direct_api",
				Fact: sdk.Fact{Kind: sdk.FactStateless, DefaultLimit: 4}, Getenv: envOf("HOME", t.TempDir())}
			tt.mutate(&in)
			_, err := resolveFact(in)
			wantFactError(t, err, tt.code)
		})
	}
}

func TestExpandUserPath(t *testing.T) {
	env := envOf("HOME", "/home/u")
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"~", "/home/u", false},
		{"~/", "/home/u", false},
		{"~/.claude", "/home/u/.claude", false},
		{"$HOME/.claude", "/home/u/.claude", false},
		{"/abs/~/x", "/abs/~/x", false},
		{"rel/x", "rel/x", false},
		{"~other/x", "", true},
	}
	for _, tt := range tests {
		got, err := expandUserPath(tt.in, env)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("expandUserPath(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
