package e2e

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readPids reads a fault plugin pidfile: the plugin's pid, then its children's.
func readPids(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the plugin wrote no pidfile: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pidfile: %v", err)
		}
		pids = append(pids, n)
	}
	return pids
}

// waitForFile polls for path to exist (a generous bound: it is not a timing
// assertion, only a way not to hang forever).
func waitForFile(t *testing.T, path string, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// requireGone fails unless every pid is gone within bound, and then kills
// the leftovers so one failure does not leak processes into other tests.
func requireGone(t *testing.T, pids []int, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatalf("processes %v (plugin and its helpers %v) still running %s after the host finished", left, pids, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
