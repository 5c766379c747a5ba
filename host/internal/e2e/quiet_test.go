package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// defaultLevel runs relay-host at the default log level: environ sets
// RELAY_LOG=error for the other tests, and the last value of a variable wins.
var defaultLevel = []string{"RELAY_LOG="}

// completedLine is the status line a successful review prints on stderr
// (the review itself goes to stdout). It is not a log line.
var completedLine = regexp.MustCompile(`^relay-host: job r-\S+ completed \(echo/default, verdict approve\)$`)

// TestQuietNormalRun: at the default log level a normal run logs nothing.
// A successful review prints only its one completion line on stderr, and
// listing the built-in providers (grokweb without a web tunnel among them)
// prints nothing on stderr at all.
func TestQuietNormalRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.extra = defaultLevel

	// The built-in relay.hcl: the five real plugins, described.
	for _, args := range [][]string{{"providers"}, {"capacity"}} {
		r := e.run(args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", args[0], r.code, r.stderr)
		}
	}

	e.config(`provider "echo" {}`)
	r := e.run("review", "echo")
	lines := stderrLines(r.stderr)
	if r.code != 0 || len(lines) != 1 || !completedLine.MatchString(lines[0]) {
		t.Errorf("review echo: exit %d, stderr:\n%s\nwant exit 0 and only the completion line", r.code, r.stderr)
	}
}

// TestMisconfigurationStillWarns: quiet is for the normal case only. A
// grok2api tunnel that is named but unusable (a malformed
// GROK2API_ENDPOINT) is still a warning at the default level.
func TestMisconfigurationStillWarns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.extra = append(defaultLevel, "GROK2API_ENDPOINT=ftp://tunnel.example")
	r := e.run("providers")
	if r.code != 0 || !strings.Contains(r.stderr, "[WARN]") || !strings.Contains(r.stderr, "route web is not offered: GROK2API_ENDPOINT must start with http") {
		t.Errorf("providers: exit %d, stderr %q; want a warning that the web route is not offered", r.code, r.stderr)
	}
}

// TestFailuresPrintOneLine: at the default log level every failure class
// prints exactly one line on stderr, relay-host's own, and no log line
// (from the host or the plugin) repeats it.
func TestFailuresPrintOneLine(t *testing.T) {
	t.Parallel()
	fault := func(settings string) string {
		return fmt.Sprintf(`
provider "fault" {
  env = ["FAULT_API_KEY"]
  route "default" {
    limit    = 2
    settings = { %s }
  }
}
`, settings)
	}
	tests := []struct {
		name   string
		config string
		args   []string
		hold   bool // another process holds echo's only slot
		exit   int
		want   string
	}{
		{name: "unknown route", config: `provider "echo" {}`, args: []string{"review", "echo", "--route", "nosuch"},
			exit: 2, want: `has no route "nosuch"`},
		{name: "unknown provider", config: `provider "echo" {}`, args: []string{"review", "nosuch"},
			exit: 2, want: `unknown provider "nosuch"`},
		{name: "missing plugin", config: `provider "ghost" {}`, args: []string{"review", "ghost"},
			exit: 2, want: "relay-provider-ghost for provider \"ghost\" is not installed"},
		{name: "admission blocked", config: "provider \"echo\" {\n  route \"default\" {\n    limit = 1\n  }\n}\n", args: []string{"review", "echo"}, hold: true,
			exit: 75, want: "at capacity (1/1 in use)"},
		{name: "plugin crash", config: fault(`mode = "crash"`), args: []string{"review", "fault"},
			exit: 3, want: "the plugin exited or dropped the connection"},
		{name: "plugin crash before sending", config: fault(`mode = "crash-early"`), args: []string{"review", "fault"},
			exit: 3, want: "may have been sent"},
		{name: "provider error", config: fault(`mode = "error", code = "usage_limited"`), args: []string{"review", "fault"},
			exit: 3, want: "(usage_limited)"},
		{name: "provider error before sending", config: fault(`mode = "presend"`), args: []string{"review", "fault"},
			exit: 3, want: "set FAULT_API_KEY"},
		// The plugin honours cancellation; the host still stops it.
		{name: "timeout", config: fault(`mode = "ok", delay = "60s"`), args: []string{"review", "fault", "--timeout", "1s"},
			exit: 3, want: "did not finish within 1s"},
		// The plugin ignores cancellation: its SDK ends it after the grace.
		{name: "timeout, cancellation ignored", config: fault(`mode = "hang"`), args: []string{"review", "fault", "--timeout", "1s"},
			exit: 3, want: "did not finish within 1s"},
		{name: "panic", config: fault(`mode = "panic"`), args: []string{"review", "fault"},
			exit: 3, want: "provider panicked in Review"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.extra = defaultLevel
			e.config(tt.config)
			if tt.hold {
				holdSlot(t, e, "echo.default")
			}
			r := e.run(tt.args...)
			lines := stderrLines(r.stderr)
			if r.code != tt.exit || len(lines) != 1 || !strings.HasPrefix(lines[0], "relay-host: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("exit %d, stderr (%d lines):\n%s\nwant exit %d and one relay-host line containing %q", r.code, len(lines), r.stderr, tt.exit, tt.want)
			}
		})
	}
}

// holdSlot holds key's only slot (limit 1) with `relay-host admission run`
// until the test ends.
func holdSlot(t *testing.T, e *env, key string) {
	t.Helper()
	pidfile := filepath.Join(e.root, "holder.pid")
	holder := e.command("admission", "run", "--key", key, "--limit", "1", "--", "sh", "-c", `echo $$ > "$0"; exec sleep 60`, pidfile)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { holder.Wait(); close(waited) }()
	t.Cleanup(func() { holder.Process.Kill(); <-waited })
	waitForFile(t, pidfile, 20*time.Second)
}

func stderrLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestReadOnlyCommandsCreateNothing: `providers` and `capacity` in a fresh
// home leave it exactly as it was: no empty ~/.claude, ~/.gemini, ~/.grok
// or ~/.kimi, no lock root, no settings written by a plugin's Describe or
// Configure. A missing shared_state directory is shown as "would be
// created" with nothing active, and the first review on the route creates it.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.extra = defaultLevel
	before := tree(t, e.home, e.state)

	// The built-in relay.hcl: every real plugin's Describe and Configure.
	for _, args := range [][]string{{"providers"}, {"providers", "--json"}, {"capacity"}, {"capacity", "--json"}, {"capacity", "claude"}} {
		r := e.run(args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		if after := tree(t, e.home, e.state); after != before {
			t.Fatalf("%v changed the home or state tree:\nbefore:\n%s\nafter:\n%s", args, before, after)
		}
		for _, route := range []string{`claude\s+subscription`, `gemini\s+subscription`, `kimi\s+subscription`, `grokweb\s+cli`} {
			if len(args) == 1 && !regexp.MustCompile(`(?m)^`+route+`\s.*\(state directory would be created\)$`).MatchString(r.stdout) {
				t.Errorf("%v: route %s is not shown as would be created:\n%s", args, route, r.stdout)
			}
		}
		if args[0] == "capacity" && len(args) == 1 && !regexp.MustCompile(`(?m)^claude\s+subscription\s+0\s+1\s`).MatchString(r.stdout) {
			t.Errorf("capacity: claude is not 0 of 1:\n%s", r.stdout)
		}
		if len(args) == 2 && args[1] == "--json" && !strings.Contains(r.stdout, `"would_create": true`) {
			t.Errorf("%v: no would_create in the JSON:\n%s", args, r.stdout)
		}
	}

	// The first review on a shared_state route creates its directory, and
	// from then on the route has a key like any other.
	e.config(`
provider "fault" {
  route "shared" {
    settings = { mode = "ok" }
  }
}
`)
	if r := e.run("capacity", "fault", "--json"); !strings.Contains(r.stdout, `"would_create": true`) {
		t.Fatalf("before the review, fault/shared is not would_create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run("review", "fault", "--route", "shared"); r.code != 0 {
		t.Fatalf("review fault --route shared: exit %d\n%s", r.code, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(e.home, ".fault-state")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("the review did not create ~/.fault-state 0700: %v %v", fi, err)
	}
	r := e.run("capacity", "fault", "--json")
	if r.code != 0 || strings.Contains(r.stdout, "would_create") || !strings.Contains(r.stdout, `"route": "shared"`) {
		t.Errorf("after the review: exit %d\n%s%s\nwant fault/shared without would_create", r.code, r.stdout, r.stderr)
	}
	if n := e.active("fault", "shared"); n != 0 {
		t.Errorf("fault/shared has %d active after the review, want 0", n)
	}
}

// tree lists every path under roots with its type, permissions and size.
func tree(t *testing.T, roots ...string) string {
	t.Helper()
	var lines []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			size := fi.Size()
			if d.IsDir() {
				size = 0
			}
			lines = append(lines, fmt.Sprintf("%s %v %d", p, fi.Mode(), size))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
