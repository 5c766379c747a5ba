package etcd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relay-host/relay-host/admission"
)

// Peak overlap of holders, from the event stream many real processes wrote,
// never exceeds the limit.
func TestCrossProcessPeakWithinLimit(t *testing.T) {
	const procs, cycles, limit = 8, 10, 2
	events := filepath.Join(t.TempDir(), "events")
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		c := helper(t, shared, "cycles", "KEY=api.route", fmt.Sprintf("LIMIT=%d", limit),
			"WAIT_MS=30000", fmt.Sprintf("CYCLES=%d", cycles), "HOLD_US=1000", "EVENTS="+events)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper failed: %v", err)
		}
	}
	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		at  int64
		acq bool
	}
	var evs []ev
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var kind string
		var at, pid int64
		if _, err := fmt.Sscanf(line, "%s %d %d", &kind, &at, &pid); err != nil {
			t.Fatalf("bad event %q", line)
		}
		evs = append(evs, ev{at, kind == "A"})
	}
	// Releases sort before acquires at equal times: the release is logged
	// before the lease goes, so equal stamps are not an overlap.
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return !evs[i].acq && evs[j].acq
	})
	cur, peak, acquired := 0, 0, 0
	for _, e := range evs {
		if e.acq {
			cur++
			acquired++
			peak = max(peak, cur)
		} else {
			cur--
		}
	}
	if acquired != procs*cycles {
		t.Fatalf("acquired %d times, want %d", acquired, procs*cycles)
	}
	if peak > limit {
		t.Fatalf("peak holders %d > limit %d", peak, limit)
	}
	if peak < limit {
		t.Logf("note: peak %d never reached the limit %d", peak, limit)
	}
}

// Waiters are admitted in the order they queued (create revision), not in
// the order they happen to wake.
func TestCrossProcessFIFO(t *testing.T) {
	const n = 5
	_, release := holdProc(t, shared, "KEY=fifo", "LIMIT=1")
	b := open(t, shared)
	events := filepath.Join(t.TempDir(), "events")
	var waiters []*exec.Cmd
	for i := 0; i < n; i++ {
		c := helper(t, shared, "waiter", "KEY=fifo", "LIMIT=1", "WAIT_MS=20000",
			fmt.Sprintf("NAME=w%d", i), "EVENTS="+events)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waiters = append(waiters, c)
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		waitFor(t, 10*time.Second, func() bool {
			st, err := b.KeyStatus(context.Background(), "fifo")
			return err == nil && st.Waiting == i+1
		})
	}
	release()
	for _, c := range waiters {
		if err := c.Wait(); err != nil {
			t.Fatalf("waiter failed: %v", err)
		}
	}
	data, _ := os.ReadFile(events)
	got := strings.Fields(string(data))
	want := []string{"w0", "w1", "w2", "w3", "w4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("admission order %v, want %v", got, want)
	}
}

// A SIGKILLed holder's slot frees by itself once its lease TTL (2 s) runs
// out; "within TTL + 1 s" is checked as an upper bound only.
func TestCrossProcessSIGKILLFreedByTTL(t *testing.T) {
	cmd, _ := holdProc(t, shared, "KEY=killed", "LIMIT=1")
	b := open(t, shared)
	if _, err := b.Acquire(context.Background(), admission.Request{Key: "killed", Limit: 1}); err == nil {
		t.Fatal("acquired a slot the holder process has")
	} else {
		blocked(t, err, admission.ReasonAtCapacity)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lease, err := b.Acquire(context.Background(), admission.Request{Key: "killed", Limit: 1, Wait: 3 * time.Second})
	if err != nil {
		t.Fatalf("slot of a SIGKILLed holder not free within TTL+1s: %v", err)
	}
	lease.Release()
}

// Request.Limit's rule, as in the local backend: a holder process with limit
// 1 holds the key at 1 for everyone (a newcomer asking for 4 is refused, and
// Status says 1/1).
func TestCrossProcessMixedLimitsLowestHolds(t *testing.T) {
	_, release := holdProc(t, shared, "KEY=mixed", "LIMIT=1")
	log := &warnLog{}
	b := open(t, shared, WithLogger(log))
	_, err := b.Acquire(context.Background(), admission.Request{Key: "mixed", Limit: 4})
	blk := blocked(t, err, admission.ReasonAtCapacity)
	if blk.Capacity != (admission.Capacity{ActiveCount: 1, Limit: 1}) {
		t.Fatalf("capacity %+v, want 1/1", blk.Capacity)
	}
	if log.count("different limits") == 0 {
		t.Fatal("no warning about differing limits")
	}
	if c, err := b.Status(context.Background(), "mixed"); err != nil || c != (admission.Capacity{ActiveCount: 1, Limit: 1}) {
		t.Fatalf("status beside a limit-1 holder: %+v %v, want 1/1", c, err)
	}
	release()
	lease, err := b.Acquire(context.Background(), admission.Request{Key: "mixed", Limit: 4})
	if err != nil {
		t.Fatalf("after the limit-1 holder left: %v", err)
	}
	defer lease.Release()
	// Now the limit-4 holder does not let a limit-1 newcomer past 1.
	_, err = b.Acquire(context.Background(), admission.Request{Key: "mixed", Limit: 1})
	blocked(t, err, admission.ReasonAtCapacity)
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
