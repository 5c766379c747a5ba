package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shortTempDir is a fresh TMPDIR for one run: short, because the plugin host
// falls back to /tmp when $TMPDIR is too long for a unix socket path.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "i9t-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func requireEmptyDir(t *testing.T, what, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s: TMPDIR still holds %v, want it empty", what, names)
	}
}

// A review that stops after the plugin started but before it held a slot
// (blocked, unknown route, resend refused) leaves nothing in $TMPDIR: the
// plugin's socket directory goes with the plugin.
func TestNoTempDirLeftBeforeTheSlot(t *testing.T) {
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "slow.pid")
	e.config(fmt.Sprintf(`
provider "slow" {
  plugin = "relay-provider-fault"
  route "default" {
    limit    = 1
    settings = { delay = "60s", pidfile = %q }
  }
}
provider "crashy" {
  plugin = "relay-provider-fault"
  route "default" {
    settings = { mode = "crash" }
  }
}
`, pidfile))

	holder := e.startEnv([]string{"TMPDIR=" + shortTempDir(t)}, "review", "slow")
	waitForFile(t, pidfile, 20*time.Second)
	tmp := shortTempDir(t)
	if r := e.runEnv([]string{"TMPDIR=" + tmp}, "review", "slow", "--confirm-resend"); r.code != 75 {
		t.Fatalf("second review of a full limit-1 route: exit %d, want 75\n%s", r.code, r.stderr)
	}
	requireEmptyDir(t, "after exit 75 (blocked)", tmp)
	for _, pid := range readPids(t, pidfile) {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	<-holder

	tmp = shortTempDir(t)
	if r := e.runEnv([]string{"TMPDIR=" + tmp}, "review", "slow", "--route", "nosuch"); r.code != 2 {
		t.Fatalf("unknown route: exit %d, want 2\n%s", r.code, r.stderr)
	}
	requireEmptyDir(t, "after exit 2 (unknown route)", tmp)

	e.runEnv([]string{"TMPDIR=" + shortTempDir(t)}, "review", "crashy")
	tmp = shortTempDir(t)
	if r := e.runEnv([]string{"TMPDIR=" + tmp}, "review", "crashy"); r.code != 2 {
		t.Fatalf("resend of a crashed attempt: exit %d, want 2 (refused)\n%s", r.code, r.stderr)
	}
	requireEmptyDir(t, "after exit 2 (resend refused)", tmp)
}

// A plugin that crashes mid-review leaves nothing in $TMPDIR either: the
// host gives it a TMPDIR inside the plugin's private directory and removes
// that directory when the plugin ends, whatever the plugin left there.
func TestCrashedPluginLeavesNoScratch(t *testing.T) {
	e := newEnv(t)
	events := filepath.Join(e.root, "events")
	e.config(fmt.Sprintf(`
provider "crashy" {
  plugin = "relay-provider-fault"
  route "default" {
    settings = { mode = "crash", scratch = "1", events = %q }
  }
}
`, events))
	tmp := shortTempDir(t)
	if r := e.runEnv([]string{"TMPDIR=" + tmp}, "review", "crashy"); r.code != 3 {
		t.Fatalf("crashing plugin: exit %d, want 3\n%s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(events)
	var scratch string
	for _, line := range strings.Split(string(data), "\n") {
		if d, ok := strings.CutPrefix(line, "scratch "); ok {
			scratch = d
		}
	}
	if !strings.HasPrefix(scratch, tmp+"/") {
		t.Fatalf("the plugin made its scratch directory at %q, want it under the review's TMPDIR %s", scratch, tmp)
	}
	requireEmptyDir(t, "after the plugin crashed", tmp)
}
