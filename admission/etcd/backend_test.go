package etcd

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/relay-host/relay-host/admission"
)

func req(key string, limit int) admission.Request {
	return admission.Request{Key: key, Limit: limit}
}

func TestImmediateAtCapacityCountsOnly(t *testing.T) {
	b := open(t, shared)
	ctx := context.Background()
	l1, err := b.Acquire(ctx, req("k", 2))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := b.Acquire(ctx, req("k", 2))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, req("k", 2))
	blk := blocked(t, err, admission.ReasonAtCapacity)
	if blk.Scope != admission.ScopeKey || blk.Capacity != (admission.Capacity{ActiveCount: 2, Limit: 2}) {
		t.Fatalf("blocked %+v", blk)
	}
	if st, err := b.Status(ctx, "k"); err != nil || st != (admission.Capacity{ActiveCount: 2, Limit: 2}) {
		t.Fatalf("status %+v %v", st, err)
	}
	if l1.Files() != nil {
		t.Fatal("an etcd lease has files to inherit")
	}
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l1.Release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
	l3, err := b.Acquire(ctx, req("k", 2))
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	l2.Release()
	l3.Release()
	if st, _ := b.Status(ctx, "k"); st.ActiveCount != 0 {
		t.Fatalf("status after releases %+v", st)
	}
}

func TestInvalidLimit(t *testing.T) {
	b := open(t, shared)
	for _, r := range []admission.Request{{Key: "k", Limit: 0}, {Key: "k", Limit: 1, MaxTotal: -1}} {
		_, err := b.Acquire(context.Background(), r)
		blocked(t, err, admission.ReasonInvalidLimit)
	}
}

// A waiter is woken by a release (not by its own deadline), and one that
// waits too long gets wait_timeout with counts.
func TestWaitReleaseAndTimeout(t *testing.T) {
	b := open(t, shared)
	ctx := context.Background()
	held, err := b.Acquire(ctx, req("w", 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, admission.Request{Key: "w", Limit: 1, Wait: 300 * time.Millisecond})
	blk := blocked(t, err, admission.ReasonWaitTimeout)
	if blk.Capacity != (admission.Capacity{ActiveCount: 1, Limit: 1}) {
		t.Fatalf("timeout capacity %+v", blk.Capacity)
	}
	if st, _ := b.KeyStatus(ctx, "w"); st.Waiting != 0 {
		t.Fatalf("a timed-out waiter stayed queued: %+v", st)
	}
	got := make(chan error, 1)
	go func() {
		l, err := b.Acquire(ctx, admission.Request{Key: "w", Limit: 1, Wait: 20 * time.Second})
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	waitFor(t, 5*time.Second, func() bool { st, _ := b.KeyStatus(ctx, "w"); return st.Waiting == 1 })
	held.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not admitted after the release")
	}
}

// max_total caps the sum over keys and is reported with its own scope.
func TestMaxTotal(t *testing.T) {
	b := open(t, shared)
	ctx := context.Background()
	a, err := b.Acquire(ctx, admission.Request{Key: "a", Limit: 5, MaxTotal: 2})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Acquire(ctx, admission.Request{Key: "c", Limit: 5, MaxTotal: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, admission.Request{Key: "d", Limit: 5, MaxTotal: 2})
	blk := blocked(t, err, admission.ReasonAtCapacity)
	if blk.Scope != admission.ScopeMaxTotal || blk.Capacity.ActiveCount != 2 {
		t.Fatalf("blocked %+v", blk)
	}
	// A route refusal gives back the max_total slot it took first.
	c.Release()
	_, err = b.Acquire(ctx, admission.Request{Key: "a", Limit: 1, MaxTotal: 2})
	if blk := blocked(t, err, admission.ReasonAtCapacity); blk.Scope != admission.ScopeKey {
		t.Fatalf("blocked %+v", blk)
	}
	tot, _ := b.sem(totalSlug).look(ctx, 0, "")
	if tot.holders != 1 {
		t.Fatalf("max_total holders %d after a refused route, want 1", tot.holders)
	}
	a.Release()
}

// etcd stopped (or never there) ⇒ fail closed with backend_unavailable,
// within a bounded time, and never a lease.
func TestUnavailableFailsClosed(t *testing.T) {
	stop, ep := ownEtcd(t)
	log := &warnLog{}
	b := open(t, ep, WithOpTimeout(500*time.Millisecond), WithLogger(log))
	ctx := context.Background()
	l, err := b.Acquire(ctx, req("k", 1))
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	stop()
	for _, wait := range []time.Duration{0, time.Second} {
		start := time.Now()
		_, err = b.Acquire(ctx, admission.Request{Key: "k", Limit: 1, Wait: wait})
		blocked(t, err, admission.ReasonBackendUnavailable)
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("fail-closed took %s", d)
		}
	}
	if log.count("unavailable") == 0 {
		t.Fatal("cause of backend_unavailable not logged")
	}
	if _, err := b.Status(ctx, "k"); err == nil {
		t.Fatal("status succeeded without etcd")
	}
}

// Lease revoked behind the holder's back (as an operator or a partition
// would) ⇒ Lost fires, for every lease of the Backend (they share the etcd
// lease), and the next acquire gets a new etcd lease; a normal Release never
// fires it.
func TestLostOnRevoke(t *testing.T) {
	b := open(t, shared, WithTTL(2*time.Second))
	other := open(t, shared, WithTTL(2*time.Second))
	ctx := context.Background()
	l, err := b.Acquire(ctx, req("lost", 1))
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := b.Acquire(ctx, req("sibling", 1))
	if err != nil {
		t.Fatal(err)
	}
	kept, err := other.Acquire(ctx, req("kept", 1))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{shared}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Revoke(ctx, l.(*Lease).ID()); err != nil {
		t.Fatal(err)
	}
	for _, x := range []admission.Lease{l, sibling} {
		select {
		case <-x.(admission.LossNotifier).Lost():
		case <-time.After(5 * time.Second):
			t.Fatal("Lost did not fire after the lease was revoked")
		}
	}
	if err := l.Release(); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
	if err := sibling.Release(); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
	again, err := b.Acquire(ctx, req("lost", 1))
	if err != nil {
		t.Fatalf("acquire after the lease was lost: %v", err)
	}
	if again.(*Lease).ID() == l.(*Lease).ID() {
		t.Fatal("a lost etcd lease was reused")
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
	if err := kept.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kept.(admission.LossNotifier).Lost():
		t.Fatal("Lost fired after a normal Release")
	case <-again.(admission.LossNotifier).Lost():
		t.Fatal("Lost fired after a normal Release")
	case <-time.After(300 * time.Millisecond):
	}
}

// Leases of one Backend share an etcd lease but not keys: each Release
// frees only its own slot, and the shared lease survives it.
func TestSharedLeaseReleaseFreesOwnSlot(t *testing.T) {
	b := open(t, shared)
	ctx := context.Background()
	l1, err := b.Acquire(ctx, admission.Request{Key: "s", Limit: 2, MaxTotal: 3})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := b.Acquire(ctx, admission.Request{Key: "s", Limit: 2, MaxTotal: 3})
	if err != nil {
		t.Fatal(err)
	}
	if l1.(*Lease).ID() != l2.(*Lease).ID() {
		t.Fatal("two acquires of one Backend took two etcd leases")
	}
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	if st, err := b.Status(ctx, "s"); err != nil || st.ActiveCount != 1 {
		t.Fatalf("status after one release %+v %v", st, err)
	}
	if tot, _ := b.sem(totalSlug).look(ctx, 0, ""); tot.holders != 1 {
		t.Fatalf("max_total holders %d after one release, want 1", tot.holders)
	}
	select {
	case <-l2.(admission.LossNotifier).Lost():
		t.Fatal("a Release ended the shared lease")
	case <-time.After(200 * time.Millisecond):
	}
	l2.Release()
	if st, _ := b.Status(ctx, "s"); st.ActiveCount != 0 {
		t.Fatalf("status after releases %+v", st)
	}
}

// etcd gone while a lease is held ⇒ the keep-alive fails and Lost fires
// (within about the TTL).
func TestLostWhenEtcdStops(t *testing.T) {
	stop, ep := ownEtcd(t)
	b := open(t, ep, WithTTL(2*time.Second), WithOpTimeout(500*time.Millisecond))
	l, err := b.Acquire(context.Background(), req("k", 1))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	select {
	case <-l.(admission.LossNotifier).Lost():
	case <-time.After(15 * time.Second):
		t.Fatal("Lost did not fire after etcd stopped")
	}
	l.Release()
}

// The commit guard: an admission decided on a read that a new holder has
// since made stale must not commit (else two racing newcomers could both
// take the last slot).
func TestAdmitGuardRefusesStaleRead(t *testing.T) {
	b := open(t, shared)
	ctx := context.Background()
	s := b.sem("guard")
	v, err := s.look(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Acquire(ctx, req("guard", 1)) // a holder arrives after the read
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	sess, err := b.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := s.admit(ctx, sess, v.rev, s.holders+"stale", []byte(`{"limit":1}`), "", 0)
	if err != nil || ok {
		t.Fatalf("admitted on a stale read: ok=%v err=%v", ok, err)
	}
}

// An acquire right after the shared lease was revoked, before the keep-alive
// noticed, is not refused: it drops the dead lease and takes a new one.
func TestAcquireRightAfterRevoke(t *testing.T) {
	b := open(t, shared)
	ctx := context.Background()
	l, err := b.Acquire(ctx, req("r", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.cli.Revoke(ctx, l.(*Lease).ID()); err != nil {
		t.Fatal(err)
	}
	again, err := b.Acquire(ctx, req("r", 1))
	if err != nil {
		t.Fatalf("acquire right after a revoke: %v", err)
	}
	defer again.Release()
	if again.(*Lease).ID() == l.(*Lease).ID() {
		t.Fatal("a revoked etcd lease was reused")
	}
	select {
	case <-l.(admission.LossNotifier).Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("Lost did not fire after the lease was revoked")
	}
}
