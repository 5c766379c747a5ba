package admission

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/admission/procid"
)

var ctx = context.Background()

func acquire(t *testing.T, l *Local, key string, limit int) Lease {
	t.Helper()
	lease, err := l.Acquire(ctx, Request{Key: key, Limit: limit})
	if err != nil {
		t.Fatalf("acquire %s/%d: %v", key, limit, err)
	}
	return lease
}

func wantBlocked(t *testing.T, err error, reason Reason, active, limit int) *BlockedError {
	t.Helper()
	b, ok := IsBlocked(err)
	if !ok {
		t.Fatalf("got %v, want blocked %s", err, reason)
	}
	if b.Reason != reason || b.Capacity.ActiveCount != active || b.Capacity.Limit != limit {
		t.Fatalf("got %+v, want %s %d/%d", b, reason, active, limit)
	}
	return b
}

func slotIndex(l Lease) int { return l.(*localLease).route.idx }

func TestInvalidLimitFailsClosed(t *testing.T) {
	l := openLocal(t, t.TempDir())
	for _, limit := range []int{0, -1, -100} {
		_, err := l.Acquire(ctx, Request{Key: "k", Limit: limit})
		wantBlocked(t, err, ReasonInvalidLimit, 0, limit)
	}
	_, err := l.Acquire(ctx, Request{Key: "k", Limit: 1, MaxTotal: -1})
	if b, ok := IsBlocked(err); !ok || b.Reason != ReasonInvalidLimit || b.Scope != ScopeMaxTotal {
		t.Fatalf("negative max_total: %v", err)
	}
}

// Separate Locals on one root have separate open files, so their flocks
// conflict exactly as two processes' would.
func TestCountsEverySlotAndClaimsLowestFree(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	l0 := acquire(t, a, "k", 3)
	l1 := acquire(t, b, "k", 3)
	l2 := acquire(t, a, "k", 3)
	if got := []int{slotIndex(l0), slotIndex(l1), slotIndex(l2)}; got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("slot indexes %v, want [0 1 2]", got)
	}
	_, err := b.Acquire(ctx, Request{Key: "k", Limit: 3})
	wantBlocked(t, err, ReasonAtCapacity, 3, 3)
	must(t, l1.Release())
	must(t, l1.Release()) // idempotent
	l1b := acquire(t, b, "k", 3)
	if slotIndex(l1b) != 1 {
		t.Fatalf("claimed slot %d, want the lowest free (1)", slotIndex(l1b))
	}
	st, err := a.Status(ctx, "k")
	must(t, err)
	if st != (Capacity{ActiveCount: 3, Limit: 3}) {
		t.Fatalf("status %+v", st)
	}
}

func TestLimitOneIsSingleFlight(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	lease := acquire(t, a, "k", 1)
	_, err := b.Acquire(ctx, Request{Key: "k", Limit: 1})
	wantBlocked(t, err, ReasonAtCapacity, 1, 1)
	lease.Release()
	acquire(t, b, "k", 1).Release()
}

// Lowering the limit while high-index slots are held must count them all.
func TestLoweredLimitCountsHighIndexSlots(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	var ls []Lease
	for i := 0; i < 4; i++ {
		ls = append(ls, acquire(t, a, "k", 4))
	}
	ls[0].Release()
	ls[1].Release() // slots 2 and 3 stay held
	_, err := b.Acquire(ctx, Request{Key: "k", Limit: 2})
	wantBlocked(t, err, ReasonAtCapacity, 2, 2)
	got := acquire(t, b, "k", 3)
	if slotIndex(got) != 0 {
		t.Fatalf("claimed %d, want 0", slotIndex(got))
	}
	_, err = b.Acquire(ctx, Request{Key: "k", Limit: 3})
	wantBlocked(t, err, ReasonAtCapacity, 3, 3)
}

// A fresh process learns the holders' limits from the gate, also for slots
// beyond those its first header read brings along (limitsReadAhead).
func TestLowestLimitBeyondReadAhead(t *testing.T) {
	root := t.TempDir()
	a := openLocal(t, root)
	for i := 0; i < limitsReadAhead; i++ {
		acquire(t, a, "k", 12)
	}
	// Slot limitsReadAhead is the only one that asked for a lower limit.
	if l := acquire(t, a, "k", limitsReadAhead+1); slotIndex(l) != limitsReadAhead {
		t.Fatalf("claimed %d, want %d", slotIndex(l), limitsReadAhead)
	}
	_, err := openLocal(t, root).Acquire(ctx, Request{Key: "k", Limit: 12})
	wantBlocked(t, err, ReasonAtCapacity, limitsReadAhead+1, limitsReadAhead+1)
}

func TestBlockedResultIsCountsOnly(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	acquire(t, a, "secret-key", 1)
	_, err := b.Acquire(ctx, Request{Key: "secret-key", Limit: 1})
	bl := wantBlocked(t, err, ReasonAtCapacity, 1, 1)
	js, _ := json.Marshal(bl)
	var m map[string]any
	must(t, json.Unmarshal(js, &m))
	keys := []string{}
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "capacity,reason,scope" {
		t.Fatalf("blocked result has fields %v", keys)
	}
	host, _ := os.Hostname()
	for _, leak := range []string{root, host, "secret-key", strconv.Itoa(os.Getpid())} {
		if strings.Contains(err.Error(), leak) || strings.Contains(string(js), leak) {
			t.Fatalf("blocked result leaks %q: %s / %s", leak, err, js)
		}
	}
}

// writeSlot plants a record as another process (or host, or a human) would.
func writeSlot(t *testing.T, root, key string, idx int, content string) {
	t.Helper()
	dir := filepath.Join(root, KeySlug(key))
	must(t, os.MkdirAll(dir, 0o700))
	// The header counts the slots; a missing header makes the semaphore
	// discover them, as after an operator recreated the gate.
	os.Remove(filepath.Join(dir, "gate"))
	must(t, os.WriteFile(filepath.Join(dir, fileName("slot", idx)), []byte(content), 0o600))
}

func heldRecord(r record) string {
	r.V, r.State = recordVersion, stateHeld
	b, _ := json.Marshal(r)
	return string(b)
}

func TestCorruptSlotFailsClosedUntilCleaned(t *testing.T) {
	root := t.TempDir()
	writeSlot(t, root, "k", 0, "{garbage")
	l := openLocal(t, root)
	_, err := l.Acquire(ctx, Request{Key: "k", Limit: 1})
	wantBlocked(t, err, ReasonAtCapacity, 1, 1)
	got := acquire(t, l, "k", 2) // a second slot is still usable
	if slotIndex(got) != 1 {
		t.Fatalf("claimed %d, want 1", slotIndex(got))
	}
	got.Release()
	found, err := l.Clean(ctx, "k", true)
	must(t, err)
	if len(found) != 1 || len(found[0].Slots) != 1 || found[0].Slots[0].State != "corrupt" {
		t.Fatalf("dry run found %+v", found)
	}
	_, err = l.Acquire(ctx, Request{Key: "k", Limit: 1})
	wantBlocked(t, err, ReasonAtCapacity, 1, 1) // dry run changed nothing
	_, err = l.Clean(ctx, "k", false)
	must(t, err)
	acquire(t, l, "k", 1)
}

func TestStrayTempFileNeverBlocks(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "k")
	must(t, os.MkdirAll(dir, 0o700))
	// What a creator SIGKILLed between open and link leaves behind.
	must(t, os.WriteFile(filepath.Join(dir, ".tmp-1-x"), []byte(`{"v":2,"state":"held"`), 0o600))
	l := openLocal(t, root)
	acquire(t, l, "k", 1).Release()
	_, err := l.Clean(ctx, "", false)
	must(t, err)
	if _, err := os.Stat(filepath.Join(dir, ".tmp-1-x")); !os.IsNotExist(err) {
		t.Fatal("clean left the stray temp file")
	}
}

// Records without the lock-backed promise go through the classifier; the
// capture seam forces each branch.
func TestIdentityClassifiedRecords(t *testing.T) {
	me, err := procid.Current()
	must(t, err)
	host, _ := os.Hostname()
	gone := func(int) (procid.Info, error) { return procid.Info{}, &procid.CaptureError{Kind: procid.ProcessGone} }
	unverifiable := func(int) (procid.Info, error) { return procid.Info{}, &procid.CaptureError{Kind: procid.CaptureFailed} }
	live := func(pid int) (procid.Info, error) { return me, nil }
	cases := []struct {
		name    string
		rec     record
		capture func(int) (procid.Info, error)
		free    bool
	}{
		{"dead: process gone", record{PID: 99999, Hostname: host, BootID: "boot-now"}, gone, true},
		{"dead: pid reused (starttime)", record{PID: me.PID, StartTime: "1", Argv0: me.Argv0, Hostname: host, BootID: "boot-now"}, live, true},
		{"dead: invalid pid", record{PID: -5, Hostname: host, BootID: "boot-now"}, live, true},
		{"alive", record{PID: me.PID, StartTime: me.StartTime, Argv0: me.Argv0, Hostname: host, BootID: "boot-now"}, live, false},
		{"unverifiable, stale boot id: reclaimed", record{PID: 1, Hostname: host, BootID: "boot-old"}, unverifiable, true},
		{"unverifiable, current boot id: occupied", record{PID: 1, Hostname: host, BootID: "boot-now"}, unverifiable, false},
		{"unverifiable, unknown- boot id: occupied", record{PID: 1, Hostname: host, BootID: "unknown-" + host}, unverifiable, false},
		{"foreign host, lock-backed, other boot id: occupied", record{PID: 1, Hostname: "other-host", BootID: "x", LockBacked: true}, gone, false},
		{"foreign host, lock-backed, this boot id, lock free: dead", record{PID: 1, Hostname: "other-host", BootID: "boot-now", LockBacked: true}, live, true},
		{"foreign host, not lock-backed, this boot id: occupied", record{PID: 99999, Hostname: "other-host", BootID: "boot-now"}, gone, false},
		{"foreign host, lock-backed, unknown- boot id: occupied", record{PID: 1, Hostname: "other-host", BootID: "unknown-other-host", LockBacked: true}, gone, false},
		{"same host, lock-backed, lock free: dead", record{PID: me.PID, StartTime: me.StartTime, Argv0: me.Argv0, Hostname: host, BootID: "boot-now", LockBacked: true}, live, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeSlot(t, root, "k", 0, heldRecord(c.rec))
			l := openLocal(t, root, Options{Observer: procid.Observer{Hostname: host, BootID: "boot-now", Capture: c.capture}})
			// Status and acquire ask the same question (judge).
			st, err := l.StatusAll(ctx, true)
			must(t, err)
			if status := st[0].Slots[0]; (st[0].ActiveCount == 0) != c.free || (status.State == "dead") != c.free {
				t.Fatalf("status says %s (%d active), acquire is to reclaim: %v", status.State, st[0].ActiveCount, c.free)
			}
			lease, err := l.Acquire(ctx, Request{Key: "k", Limit: 1})
			if c.free {
				if err != nil {
					t.Fatalf("slot not reclaimed: %v", err)
				}
				lease.Release()
				return
			}
			wantBlocked(t, err, ReasonAtCapacity, 1, 1)
		})
	}
}

func TestWaitGetsReleasedSlot(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	held := acquire(t, a, "k", 1)
	go func() { time.Sleep(50 * time.Millisecond); held.Release() }()
	lease, err := b.Acquire(ctx, Request{Key: "k", Limit: 1, Wait: 30 * time.Second})
	if err != nil {
		t.Fatalf("waiter did not get the slot: %v", err)
	}
	lease.Release()
}

func TestWaitTimeoutAndCancelLeaveNoWaiter(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	acquire(t, a, "k", 1)
	_, err := b.Acquire(ctx, Request{Key: "k", Limit: 1, Wait: 30 * time.Millisecond})
	wantBlocked(t, err, ReasonWaitTimeout, 1, 1)

	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	_, err = b.Acquire(cctx, Request{Key: "k", Limit: 1, Wait: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	sts, err := a.StatusAll(ctx, false)
	must(t, err)
	if len(sts) != 1 || sts[0].Waiting != 0 {
		t.Fatalf("a waiter stayed queued: %+v", sts)
	}
}

// A newcomer that does not wait may not take a slot that a waiter queued
// for first.
func TestNewcomerDoesNotJumpTheQueue(t *testing.T) {
	root := t.TempDir()
	a, b, c := openLocal(t, root), openLocal(t, root), openLocal(t, root)
	held := acquire(t, a, "k", 1)
	got := make(chan error, 1)
	go func() {
		lease, err := b.Acquire(ctx, Request{Key: "k", Limit: 1, Wait: 30 * time.Second})
		if err == nil {
			time.Sleep(20 * time.Millisecond)
			lease.Release()
		}
		got <- err
	}()
	waitFor(t, func() bool { st, _ := a.StatusAll(ctx, false); return len(st) == 1 && st[0].Waiting == 1 })
	// Freeze the waiter between polls (its in-process mutex), free the slot,
	// and let a newcomer look: it sees a free slot and a live waiter ahead.
	wsem, _ := b.sem("k")
	wsem.mu.Lock()
	held.Release()
	// The waiter's wake-up thread takes a shared lock on the slot for an
	// instant once the slot frees (it may not have run yet when the slot
	// first looks free); let it come and go so the newcomer sees the slot
	// free, and accept either view below: the newcomer must be refused.
	slotFree := func() bool {
		f, err := os.Open(filepath.Join(root, "k", "slot-0.json"))
		if err != nil {
			return false
		}
		defer f.Close()
		return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
	}
	waitFor(t, slotFree)
	time.Sleep(50 * time.Millisecond)
	waitFor(t, slotFree)
	_, err := c.Acquire(ctx, Request{Key: "k", Limit: 1})
	wsem.mu.Unlock()
	bl, ok := IsBlocked(err)
	switch {
	case !ok || bl.Reason != ReasonAtCapacity:
		t.Fatalf("a newcomer got %v while a waiter was queued for the free slot", err)
	case bl.Capacity.ActiveCount == 0 && bl.Waiting != 1:
		t.Fatalf("blocked with the slot free: says %d waiting, want 1", bl.Waiting)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestMaxTotalCapsAcrossKeys(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	lease := acquireReq(t, a, Request{Key: "one", Limit: 4, MaxTotal: 1})
	_, err := b.Acquire(ctx, Request{Key: "two", Limit: 4, MaxTotal: 1})
	bl := wantBlocked(t, err, ReasonAtCapacity, 1, 1)
	if bl.Scope != ScopeMaxTotal || !strings.Contains(bl.Error(), "max_total") {
		t.Fatalf("blocked result does not say the global cap blocked: %+v %q", bl, bl.Error())
	}
	if fs := lease.Files(); len(fs) != 2 {
		t.Fatalf("lease has %d inheritable files, want route + total", len(fs))
	}
	lease.Release()
	acquireReq(t, b, Request{Key: "two", Limit: 4, MaxTotal: 1}).Release()
	// A route refusal gives the max_total slot back.
	r := acquireReq(t, a, Request{Key: "two", Limit: 1})
	_, err = b.Acquire(ctx, Request{Key: "two", Limit: 1, MaxTotal: 2})
	wantBlocked(t, err, ReasonAtCapacity, 1, 1)
	st, err := a.Status(ctx, "_total")
	must(t, err)
	_ = st
	sts, _ := a.StatusAll(ctx, false)
	for _, s := range sts {
		if s.Slug == totalSlug && s.ActiveCount != 0 {
			t.Fatalf("max_total slot leaked after a route refusal: %+v", s)
		}
	}
	r.Release()
}

func acquireReq(t *testing.T, l *Local, r Request) Lease {
	t.Helper()
	lease, err := l.Acquire(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return lease
}

func TestGateTimeout(t *testing.T) {
	root := t.TempDir()
	l := openLocal(t, root, Options{GateTimeout: 30 * time.Millisecond})
	acquire(t, l, "k", 1).Release()
	f, err := os.OpenFile(filepath.Join(root, "k", "gate"), os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX)) // a stopped process's gate
	_, err = l.Acquire(ctx, Request{Key: "k", Limit: 1})
	if b, ok := IsBlocked(err); !ok || b.Reason != ReasonGateTimeout {
		t.Fatalf("got %v, want gate_timeout", err)
	}
}

func TestRemovedKeyDirIsRecreated(t *testing.T) {
	root := t.TempDir()
	a := openLocal(t, root)
	acquire(t, a, "k", 1).Release()
	must(t, os.RemoveAll(filepath.Join(root, "k")))
	b := openLocal(t, root)
	held := acquire(t, b, "k", 1) // b creates a fresh key dir
	// a's open files are orphans; it must notice and see b's holder.
	_, err := a.Acquire(ctx, Request{Key: "k", Limit: 1})
	wantBlocked(t, err, ReasonAtCapacity, 1, 1)
	held.Release()
}

func TestGateTimeoutFromEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": defaultGateTimeout, "250": 250 * time.Millisecond, "x": defaultGateTimeout, "0": defaultGateTimeout, "-4": defaultGateTimeout} {
		if got := GateTimeoutFromEnv(func(string) string { return v }); got != want {
			t.Errorf("%q: got %v want %v", v, got, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 20 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
