package sanitize

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentityIsRedacted(t *testing.T) {
	old := hostname
	hostname = func() (string, error) { return "build-7.example.com", nil }
	defer func() { hostname = old }()
	s := NewScrubber(Policy{Home: "/home/u", Secrets: []string{"sk-test-0123456789"}})
	s.AddPaths("/home/u/.local/state/relay")
	tests := []struct{ in, want string }{
		{"held by pid 4242 on build-7.example.com", "held by pid [REDACTED] on [REDACTED]"},
		{`{"pid":4242,"host":"BUILD-7.example.com"}`, `{"pid":[REDACTED],"host":"[REDACTED]"}`},
		{"PID: 17, ppid=1", "PID: [REDACTED], ppid=[REDACTED]"},
		{"line 4242 of build-7.example.com.go is fine", "line 4242 of [REDACTED].go is fine"},
		{"rebuild-7.example.community stays", "rebuild-7.example.community stays"},
		{"key sk-test-0123456789 in /home/u/.local/state/relay/locks/x and /home/u/src", "key [REDACTED] in [path] and ~/src"},
		{"rapid 3 stays", "rapid 3 stays"},
	}
	for _, tt := range tests {
		if got := s.Review(tt.in); got != tt.want {
			t.Errorf("Review(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
	if got := s.Message("a\nb \x1b[31mred"); got != "a b red" {
		t.Errorf("Message: %q", got)
	}
}

// TestShortHostnameIsKept: a two-letter host name would redact words.
func TestShortHostnameIsKept(t *testing.T) {
	old := hostname
	hostname = func() (string, error) { return "vm", nil }
	defer func() { hostname = old }()
	if got := NewScrubber(Policy{}).Review("a vm image"); got != "a vm image" {
		t.Errorf("got %q", got)
	}
}

// TestWriter: log lines lose secrets and paths; only plugin lines lose the
// host's identity (the host's own debug log may name holders).
func TestWriter(t *testing.T) {
	s := NewScrubber(Policy{Secrets: []string{"hunter2-secret"}})
	var host, plug bytes.Buffer
	s.Writer(&host, false).Write([]byte("holder pid 99 key hunter2-secret\n"))
	s.Writer(&plug, true).Write([]byte("holder pid 99 key hunter2-secret\n"))
	if got := host.String(); got != "holder pid 99 key [REDACTED]\n" {
		t.Errorf("host log: %q", got)
	}
	if got := plug.String(); strings.Contains(got, "99") || strings.Contains(got, "hunter2") {
		t.Errorf("plugin log: %q", got)
	}
}

// TestPathsOutsideHomeAndResolved: a state root, a config file and their
// symlink-resolved forms are removed wherever they lie, inside the home
// directory or not, and a state dir that does not exist yet is resolved
// through its existing ancestor.
func TestPathsOutsideHomeAndResolved(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	if err := os.MkdirAll(filepath.Join(real, "conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	realRoot, err := filepath.EvalSymlinks(real) // t.TempDir may itself sit below a symlink
	if err != nil {
		t.Fatal(err)
	}
	s := NewScrubber(Policy{Home: "/home/u"})
	s.AddPaths(filepath.Join(link, "state", "relay"), filepath.Join(link, "conf", "relay.hcl"))
	for _, in := range []string{
		filepath.Join(link, "state", "relay", "jobs", "j-1.json"),
		filepath.Join(realRoot, "state", "relay", "locks", "v2", "x"),
		filepath.Join(realRoot, "conf", "relay.hcl"),
		filepath.Join(link, "conf", "relay.hcl") + ":3:1",
	} {
		if got := s.Message("at " + in + " now"); got != "at [path] now" {
			t.Errorf("Message(%q) = %q", in, got)
		}
	}
	if got := s.Message("at " + filepath.Join(realRoot, "conf", "other.hcl")); strings.Contains(got, "[path]") {
		t.Errorf("a sibling of the config file was removed: %q", got)
	}
}

// TestRelativePathIsMadeAbsolute: a config path given relative to the
// working directory is removed in its absolute spelling.
func TestRelativePathIsMadeAbsolute(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	s := NewScrubber(Policy{})
	s.AddPaths("testdata-relay.hcl", "")
	if got := s.Message("read " + filepath.Join(wd, "testdata-relay.hcl")); got != "read [path]" {
		t.Errorf("got %q", got)
	}
	if n := len(s.Policy().Paths); n != 2 {
		t.Errorf("paths %q, want the relative and the absolute form", s.Policy().Paths)
	}
}
