package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a config whose only provider is named after where it
// lives, so a test can tell which file Load picked.
func writeConfig(t *testing.T, path, provider string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	src := "provider \"" + provider + "\" {}\nadmission {\n  lock_root = \"~/locks\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadLookupOrder(t *testing.T) {
	root := t.TempDir()
	cwd := filepath.Join(root, "repo")
	home := filepath.Join(root, "home")
	xdg := filepath.Join(root, "xdg")
	explicit := filepath.Join(root, "explicit.hcl")
	for _, d := range []string{cwd, home, xdg} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(cwd)

	write := map[string]func(){
		"explicit": func() { writeConfig(t, explicit, "explicit") },
		"cwd":      func() { writeConfig(t, filepath.Join(cwd, "relay.hcl"), "cwd") },
		"xdg":      func() { writeConfig(t, filepath.Join(xdg, "relay", "relay.hcl"), "xdg") },
		"home":     func() { writeConfig(t, filepath.Join(home, ".config", "relay", "relay.hcl"), "home") },
	}
	for _, w := range write {
		w()
	}
	tests := []struct {
		name     string
		remove   []string // files deleted before this case (cumulative order below)
		explicit string
		env      map[string]string
		want     string // provider name, or "claude" for the embedded default
		wantPath string
	}{
		{"explicit wins", nil, explicit, map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg}, "explicit", explicit},
		{"cwd next", nil, "", map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg}, "cwd", "relay.hcl"},
		{"xdg next", []string{filepath.Join(cwd, "relay.hcl")}, "", map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg}, "xdg", filepath.Join(xdg, "relay", "relay.hcl")},
		{"home .config without XDG_CONFIG_HOME", nil, "", map[string]string{"HOME": home}, "home", filepath.Join(home, ".config", "relay", "relay.hcl")},
		{"relative XDG_CONFIG_HOME is ignored", nil, "", map[string]string{"HOME": home, "XDG_CONFIG_HOME": "xdg"}, "home", filepath.Join(home, ".config", "relay", "relay.hcl")},
		{"XDG set hides home .config", []string{filepath.Join(xdg, "relay", "relay.hcl")}, "", map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg}, "claude", EmbeddedPath},
		{"embedded last", []string{filepath.Join(home, ".config", "relay", "relay.hcl")}, "", map[string]string{"HOME": home}, "claude", EmbeddedPath},
		{"embedded without HOME", nil, "", map[string]string{}, "claude", EmbeddedPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range tt.remove {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(tt.explicit, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Path != tt.wantPath || len(cfg.Providers) == 0 || cfg.Providers[0].Name != tt.want {
				t.Fatalf("loaded %q with providers %v; want %q from %q", cfg.Path, cfg.Providers, tt.want, tt.wantPath)
			}
			if tt.want != "claude" && cfg.Admission.LockRoot != filepath.Join(home, "locks") {
				t.Errorf("lock_root = %q, want ~ expanded with the injected HOME", cfg.Admission.LockRoot)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	getenv := env(map[string]string{"HOME": dir})

	// A missing explicit file is a plain error, not a fallback.
	_, err := Load(filepath.Join(dir, "missing.hcl"), getenv)
	var de *DiagError
	if err == nil || errors.As(err, &de) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing explicit file: err = %v", err)
	}

	// A ./relay.hcl that exists but cannot be read is an error, not skipped.
	if err := os.Mkdir(filepath.Join(dir, "relay.hcl"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("", getenv); err == nil || errors.As(err, &de) {
		t.Errorf("unreadable ./relay.hcl: err = %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "relay.hcl")); err != nil {
		t.Fatal(err)
	}

	// An invalid file found by lookup is a *DiagError naming it.
	if err := os.WriteFile("relay.hcl", []byte("admission {\n  wait = \"later\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load("", getenv)
	if !errors.As(err, &de) || !strings.HasPrefix(err.Error(), "relay.hcl:2: Invalid wait") {
		t.Errorf("invalid ./relay.hcl: err = %v", err)
	}

	// ~ needs a HOME to expand.
	if err := os.WriteFile("relay.hcl", []byte("plugin_dirs = [\"~/p\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load("", env(nil))
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "HOME is not set") {
		t.Errorf("~ without HOME: err = %v", err)
	}
}
