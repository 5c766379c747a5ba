package lockroot

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// envOf is an injected Getenv: only the given variables are set.
func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	xdg := filepath.Join(home, "xdg")
	override := filepath.Join(home, "override")
	configured := filepath.Join(home, "configured")
	flag := filepath.Join(home, "flag")
	underHome := filepath.Join(home, ".local", "state", "relay", "locks", "v2")

	tests := []struct {
		name  string
		in    Input
		env   []string
		want  string
		warns bool
	}{
		{"default under XDG_STATE_HOME", Input{}, []string{"XDG_STATE_HOME", xdg}, filepath.Join(xdg, "relay", "locks", "v2"), false},
		{"default under HOME", Input{}, nil, underHome, false},
		{"relative XDG_STATE_HOME ignored", Input{}, []string{"XDG_STATE_HOME", "rel"}, underHome, false},
		{"relay.hcl lock_root", Input{Configured: configured}, []string{"XDG_STATE_HOME", xdg}, configured, false},
		{"relay.hcl lock_root with ~", Input{Configured: "~/locks", SharedState: true}, nil, filepath.Join(home, "locks"), false},
		{"relay.hcl lock_root with $HOME", Input{Configured: "$HOME/locks"}, nil, filepath.Join(home, "locks"), false},
		{"flag beats everything", Input{Flag: flag, Configured: configured}, []string{OverrideEnv, override}, flag, false},
		{"flag beats everything, shared_state", Input{Flag: flag, SharedState: true}, []string{OverrideEnv, override}, flag, false},
		{"override moves stateless", Input{Configured: configured}, []string{OverrideEnv, override}, override, false},
		{"override with ~", Input{}, []string{OverrideEnv, "~/o"}, filepath.Join(home, "o"), false},
		{"blank override ignored", Input{Configured: configured}, []string{OverrideEnv, "  "}, configured, false},
		{"override ignored for shared_state", Input{Configured: configured, SharedState: true}, []string{OverrideEnv, override}, configured, true},
		{"override ignored for shared_state, default root", Input{SharedState: true}, []string{OverrideEnv, override}, underHome, true},
		{"override moves shared_state in test mode", Input{Configured: configured, SharedState: true}, []string{OverrideEnv, override, TestModeEnv, "1"}, override, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Getenv = envOf(append([]string{"HOME", home}, tt.env...)...)
			got, warning, err := Resolve(in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("lock root = %q, want %q", got, tt.want)
			}
			if (warning != "") != tt.warns {
				t.Errorf("warning = %q, want one: %v", warning, tt.warns)
			}
			if strings.Contains(warning, home) || strings.Contains(warning, "\n") {
				t.Errorf("warning %q names a path or spans lines", warning)
			}
		})
	}
}

func TestResolveRefusesAnUnexpandablePath(t *testing.T) {
	_, _, err := Resolve(Input{Configured: "~other/locks", Getenv: envOf("HOME", t.TempDir())})
	var le *Error
	if !errors.As(err, &le) || strings.Contains(le.Msg, "\n") || !strings.HasPrefix(err.Error(), "no_lock_root: ") {
		t.Fatalf("error = %v, want a one-line *Error", err)
	}
}

func TestDefaultNeedsAHome(t *testing.T) {
	noHome := func() (string, error) { return "", errors.New("no home") }
	_, err := defaultRoot(envOf(), noHome)
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("error = %v, want *Error", err)
	}
	got, err := defaultRoot(envOf(), func() (string, error) { return "/home/u", nil })
	if want := filepath.Join("/home/u", ".local", "state", "relay", "locks", "v2"); err != nil || got != want {
		t.Errorf("defaultRoot = %q, %v; want %q from os.UserHomeDir", got, err, want)
	}
	if got, err := Default(envOf("XDG_STATE_HOME", "/xdg")); err != nil || got != "/xdg/relay/locks/v2" {
		t.Errorf("Default = %q, %v", got, err)
	}
	if _, err := homeDir(envOf(), func() (string, error) { return "", nil }); err == nil {
		t.Error("an empty home directory is accepted")
	}
}
