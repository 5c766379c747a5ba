package admission

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A cooldown set through one Local (one process) refuses the key through
// another, at once and with the seconds left; a cleared one refuses nothing.
func TestCooldownRefusesEveryProcess(t *testing.T) {
	root := t.TempDir()
	a, b := openLocal(t, root), openLocal(t, root)
	held := acquire(t, b, "k", 3)
	defer held.Release()
	until := time.Now().Add(20 * time.Second)
	if err := a.SetCooldown(ctx, "k", Cooldown{Until: until, Reason: CooldownRateLimited, Strikes: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := b.Acquire(ctx, Request{Key: "k", Limit: 3})
	bl := wantBlocked(t, err, ReasonCoolingDown, 1, 3)
	if bl.Cooldown != CooldownRateLimited || bl.RetryAfterS < 19 || bl.RetryAfterS > 20 {
		t.Errorf("blocked %+v, want rate_limited with ~20 s left", bl)
	}
	c, err := b.Cooldown(ctx, "k")
	if err != nil || c.Reason != CooldownRateLimited || c.Strikes != 1 || c.Until.UnixMilli() != until.UnixMilli() {
		t.Errorf("Cooldown = %+v, %v", c, err)
	}
	st, err := b.StatusAll(ctx, false)
	if err != nil || len(st) != 1 || !st[0].Cooldown.Active(time.Now()) {
		t.Errorf("status %+v, %v; want the cooldown", st, err)
	}
	// An operator's override is admitted, and counted.
	over, err := b.Acquire(ctx, Request{Key: "k", Limit: 3, IgnoreCooldown: true})
	if err != nil {
		t.Fatalf("IgnoreCooldown: %v", err)
	}
	if c, _ := a.Status(ctx, "k"); c.ActiveCount != 2 {
		t.Errorf("status with the override held: %+v", c)
	}
	over.Release()
	// Another key is not affected.
	acquire(t, b, "other", 1).Release()
	if err := a.ClearCooldown(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	acquire(t, b, "k", 3).Release()
}

// A cooldown that has ended is ignored, though its record stays.
func TestCooldownExpiredIsIgnored(t *testing.T) {
	l := openLocal(t, t.TempDir())
	if err := l.SetCooldown(ctx, "k", Cooldown{Until: time.Now().Add(-time.Second), Reason: CooldownRateLimited, Strikes: 2}); err != nil {
		t.Fatal(err)
	}
	acquire(t, l, "k", 1).Release()
	if c, _ := l.Cooldown(ctx, "k"); c.Strikes != 2 {
		t.Errorf("the ended record was lost: %+v", c)
	}
}

// A cooldown record that cannot be read fails closed, with or without a
// wait, until `admission clean` resets it.
func TestCooldownCorruptFailsClosedUntilClean(t *testing.T) {
	root := t.TempDir()
	l := openLocal(t, root)
	acquire(t, l, "k", 1).Release()
	path := filepath.Join(root, "k", cooldownFile)
	if err := os.WriteFile(path, []byte(`{"v":1,"until_unix_ms":"soon"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{0, time.Minute} {
		_, err := l.Acquire(ctx, Request{Key: "k", Limit: 1, Wait: wait})
		if bl := wantBlocked(t, err, ReasonCoolingDown, 0, 1); bl.Cooldown != CooldownCorrupt {
			t.Errorf("wait %s: %+v, want a corrupt cooldown", wait, bl)
		}
	}
	found, err := l.Clean(ctx, "", true)
	if err != nil || len(found) != 1 || found[0].Cooldown.Reason != CooldownCorrupt {
		t.Fatalf("clean --dry-run: %+v, %v", found, err)
	}
	if _, err := l.Acquire(ctx, Request{Key: "k", Limit: 1}); err == nil {
		t.Fatal("a dry run reset the cooldown")
	}
	if _, err := l.Clean(ctx, "", false); err != nil {
		t.Fatal(err)
	}
	acquire(t, l, "k", 1).Release()
	if found, _ := l.Clean(ctx, "", true); len(found) != 0 {
		t.Errorf("after clean: %+v", found)
	}
}

// With a wait, an acquire on a cooling key is admitted once the cooldown
// ends, never before; one whose wait ends first is refused at once.
func TestCooldownWait(t *testing.T) {
	l := openLocal(t, t.TempDir())
	until := time.Now().Add(300 * time.Millisecond)
	if err := l.SetCooldown(ctx, "k", Cooldown{Until: until, Reason: CooldownRateLimited, Strikes: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := l.Acquire(ctx, Request{Key: "k", Limit: 1, Wait: 100 * time.Millisecond})
	wantBlocked(t, err, ReasonCoolingDown, 0, 1)
	lease, err := l.Acquire(ctx, Request{Key: "k", Limit: 1, Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	if time.Now().Before(until) {
		t.Errorf("admitted before the cooldown ended")
	}
}

func TestCooldownRecord(t *testing.T) {
	c := Cooldown{Until: time.UnixMilli(1_800_000_000_000), Reason: CooldownInsufficientBalance, Strikes: 3}
	b, err := encodeCooldown(c)
	if err != nil || len(b) != cooldownSize {
		t.Fatalf("encode: %d bytes, %v", len(b), err)
	}
	if got := parseCooldown(b); got != c {
		t.Errorf("round trip: %+v, want %+v", got, c)
	}
	for _, bad := range []string{"", "{}", `{"v":2}`, `{"v":1,"reason":"nap","until_unix_ms":5}`, `{"v":1,"reason":"rate_limited"}`, `{"v":1,"x":1}`} {
		rec := []byte(bad)
		for len(rec) < cooldownSize {
			rec = append(rec, ' ')
		}
		if got := parseCooldown(rec); got.Reason != CooldownCorrupt {
			t.Errorf("%q parsed as %+v", bad, got)
		}
	}
	if (Cooldown{Reason: "nap", Until: time.Now()}).Validate() == nil || (Cooldown{Reason: CooldownRateLimited}).Validate() == nil {
		t.Error("Validate accepts a cooldown without a reason or an end")
	}
}
