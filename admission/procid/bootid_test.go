package procid

import (
	"errors"
	"strings"
	"testing"
)

func TestBootIDFrom(t *testing.T) {
	fails := func() (string, error) { return "", errors.New("no such sysctl") }
	empty := func() (string, error) { return " \n", nil }
	primary := func() (string, error) { return "6f1c0a52-primary\n", nil }
	fallback := func() (string, error) { return "boottime-1700000000.000123", nil }
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == bootIDOverrideEnv {
				return v
			}
			return ""
		}
	}
	host := func() (string, error) { return "build-7", nil }
	noHost := func() (string, error) { return "", errors.New("no hostname") }

	tests := []struct {
		name     string
		override string
		hostname func() (string, error)
		sources  []bootIDSource
		want     string
		warns    bool
	}{
		{"override wins over sources", " boot-from-env ", host, []bootIDSource{primary}, "boot-from-env", false},
		{"primary, trimmed", "", host, []bootIDSource{primary, fallback}, "6f1c0a52-primary", false},
		{"primary fails: fallback", "", host, []bootIDSource{fails, fallback}, "boottime-1700000000.000123", false},
		{"primary empty: fallback", "", host, []bootIDSource{empty, fallback}, "boottime-1700000000.000123", false},
		{"no source: unknown-<hostname>", "", host, []bootIDSource{fails, empty}, "unknown-build-7", true},
		{"no sources at all", "", host, nil, "unknown-build-7", true},
		{"no hostname either", "", noHost, nil, "unknown-localhost", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, warning := bootIDFrom(env(tt.override), tt.hostname, tt.sources...)
			if id != tt.want {
				t.Errorf("id = %q, want %q", id, tt.want)
			}
			if (warning != "") != tt.warns {
				t.Errorf("warning = %q, want a warning: %v", warning, tt.warns)
			}
			if tt.warns && (strings.Contains(warning, "\n") || !strings.Contains(warning, "by hand")) {
				t.Errorf("warning %q is not one line naming the manual cleanup", warning)
			}
		})
	}
}

func TestBootIDIsCachedAndNonEmpty(t *testing.T) {
	a, b := BootID(), BootID()
	if a == "" || a != b {
		t.Errorf("BootID() = %q then %q, want a stable non-empty id", a, b)
	}
	if w := BootIDWarning(); (w != "") != strings.HasPrefix(a, unknownBootIDPrefix) {
		t.Errorf("BootIDWarning() = %q for boot id %q", w, a)
	}
}
