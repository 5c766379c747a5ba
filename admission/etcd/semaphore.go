package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/relay-host/relay-host/admission"
)

// A semaphore is one key's holders and queue. It keeps no state: every
// decision is made from one consistent read (a single-revision txn) and
// committed by a txn that fails if a holder appeared since that read.
//
// FIFO as in the local backend: a waiter's ticket is the create revision of
// its queue key, and a caller is admitted only while (admission.Request.Limit)
//
//	holders + waiters ahead of it < min(its limit, lowest limit a holder recorded)
//
// (a newcomer has every waiter ahead of it). Holders leave by delete or lease
// expiry; waiters ahead only ever leave, and newer ones are behind; so a
// commit guarded by "no holder key changed since the read" cannot exceed the
// bound.
//
// No thundering herd: the waiter at the head watches the holders for a
// delete, every other waiter watches only the queue key just ahead of its
// own (as concurrency.Mutex's waitDeletes), so a release wakes one process,
// which on admission deletes its queue key and wakes the next.
type semaphore struct {
	b        *Backend
	holders  string // "<prefix>/<slug>/holders/"
	queue    string // "<prefix>/<slug>/queue/"
	cooldown string // "<prefix>/<slug>/cooldown" (see cooldown.go)
}

// record is the value of a holder or waiter key.
type record struct {
	Limit      int   `json:"limit"`
	AcquiredMS int64 `json:"acquired_unix_ms"`
}

// fallbackPoll re-reads the key when no watch event came, in case a watch
// ended without telling (it normally does not).
const fallbackPoll = time.Second

// errQueueGone: our own queue key vanished, so our lease expired or was
// revoked while we waited.
var errQueueGone = errors.New("etcd backend: waiter lease lost while waiting")

// view is one consistent read of the key.
type view struct {
	rev     int64
	holders int
	ahead   int    // waiters ahead of the caller
	pred    string // queue key just ahead of the caller; "" at the head
	lowest  int    // lowest limit recorded by a holder; 0 with no holders
	differ  bool   // holders' limits (or theirs and the caller's) differ
	cool    admission.Cooldown
}

// cooling reports whether the key's cooldown refuses an acquire now.
func (v view) cooling() bool { return v.cool.Active(time.Now()) }

// coolsPast reports whether the cooldown lasts past deadline (a corrupt one
// lasts until cleared): waiting for it is futile.
func (v view) coolsPast(deadline time.Time) bool {
	return v.cool.Reason == admission.CooldownCorrupt || !v.cool.Until.Before(deadline)
}

func (v view) coolBlocked(limit int) *admission.BlockedError {
	return &admission.BlockedError{Reason: admission.ReasonCoolingDown, Scope: admission.ScopeKey,
		Capacity: admission.Capacity{ActiveCount: v.holders, Limit: v.bound(limit)}, Waiting: v.ahead,
		Cooldown: v.cool.Reason, RetryAfterS: int64(v.cool.Remaining(time.Now()) / time.Second)}
}

func (v view) bound(limit int) int {
	if v.lowest > 0 && v.lowest < limit {
		return v.lowest
	}
	return limit
}

func (v view) blocked(limit int, reason admission.Reason) *admission.BlockedError {
	return &admission.BlockedError{Reason: reason, Scope: admission.ScopeKey,
		Capacity: admission.Capacity{ActiveCount: v.holders, Limit: v.bound(limit)}, Waiting: v.ahead}
}

// look reads holders and queue at one revision. myRev is the caller's ticket
// (0 for a newcomer: every waiter is ahead); myQueue its queue key, which
// must still exist.
func (s *semaphore) look(ctx context.Context, myRev int64, myQueue string) (view, error) {
	octx, cancel := s.b.opCtx(ctx)
	defer cancel()
	resp, err := s.b.cli.Txn(octx).Then(
		clientv3.OpGet(s.holders, clientv3.WithPrefix()),
		clientv3.OpGet(s.queue, clientv3.WithPrefix(), clientv3.WithKeysOnly()),
		clientv3.OpGet(s.cooldown),
	).Commit()
	if err != nil {
		return view{}, err
	}
	v := view{rev: resp.Header.Revision}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		v.holders++
		var r record
		if json.Unmarshal(kv.Value, &r) != nil || r.Limit < 1 {
			// Unreadable: it still occupies a slot, but cannot lower the bound.
			continue
		}
		if v.lowest != 0 && r.Limit != v.lowest {
			v.differ = true
		}
		if v.lowest == 0 || r.Limit < v.lowest {
			v.lowest = r.Limit
		}
	}
	if kvs := resp.Responses[2].GetResponseRange().Kvs; len(kvs) > 0 {
		v.cool = parseCooldown(kvs[0].Value)
	}
	var predRev int64
	found := myQueue == ""
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		switch {
		case string(kv.Key) == myQueue:
			found = true
		case myRev == 0 || kv.CreateRevision < myRev:
			v.ahead++
			if kv.CreateRevision > predRev {
				predRev, v.pred = kv.CreateRevision, string(kv.Key)
			}
		}
	}
	if !found {
		return v, errQueueGone
	}
	return v, nil
}

// acquire puts the holder key <holders>id bound to sess's lease, waiting in
// the queue (as <queue>id) until deadline (zero: no waiting). id is unique
// per acquire, as many acquires share the lease. With obey it is not
// admitted while the key's cooldown is active.
func (s *semaphore) acquire(ctx context.Context, sess *concurrency.Session, id string, limit int, deadline time.Time, obey bool) error {
	holderKey, queueKey := s.holders+id, s.queue+id
	val, _ := json.Marshal(record{Limit: limit, AcquiredMS: time.Now().UnixMilli()})
	warned := false
	warn := func(v view) {
		if !warned && s.b.opts.logger != nil && (v.differ || (v.lowest != 0 && v.lowest != limit)) {
			warned = true
			s.b.opts.logger.Warn("admission: holders of this key recorded different limits; admitting against the lowest",
				"lowest", v.bound(limit), "requested", limit)
		}
	}

	// A newcomer: every current waiter is ahead of it.
	look := func(myRev int64, myQueue string) (view, error) {
		v, err := s.look(ctx, myRev, myQueue)
		if !obey {
			v.cool = admission.Cooldown{}
		}
		return v, err
	}
	v, err := look(0, "")
	if err != nil {
		return err
	}
	for !v.cooling() && v.holders+v.ahead < v.bound(limit) {
		warn(v)
		ok, err := s.admit(ctx, sess, v.rev, holderKey, val, "", 0)
		if err != nil || ok {
			return err
		}
		if v, err = look(0, ""); err != nil {
			return err
		}
	}
	warn(v)
	if v.cooling() && (deadline.IsZero() || v.coolsPast(deadline)) {
		return v.coolBlocked(limit)
	}
	if deadline.IsZero() || !time.Now().Before(deadline) {
		return v.blocked(limit, admission.ReasonAtCapacity)
	}

	myRev, err := s.enqueue(ctx, sess, queueKey, val)
	if err != nil {
		return err
	}
	for {
		v, err := look(myRev, queueKey)
		if err != nil {
			return err
		}
		warn(v)
		if v.cooling() {
			// Waiters keep their place while the key cools down.
			if v.coolsPast(deadline) {
				s.leave(queueKey)
				return v.coolBlocked(limit)
			}
			if err := s.pause(ctx, sess, v.cool.Until); err != nil {
				return err
			}
			continue
		}
		if v.holders+v.ahead < v.bound(limit) {
			ok, err := s.admit(ctx, sess, v.rev, holderKey, val, queueKey, myRev)
			if err != nil || ok {
				return err
			}
			continue // a holder came in since the read: look again
		}
		if !time.Now().Before(deadline) {
			s.leave(queueKey)
			return v.blocked(limit, admission.ReasonWaitTimeout)
		}
		if err := s.sleep(ctx, sess, v, deadline); err != nil {
			return err
		}
	}
}

// leave deletes the caller's queue key, which wakes the waiter behind it.
// Best effort: the caller deletes the key again, and the lease TTL bounds it.
func (s *semaphore) leave(queueKey string) {
	dctx, cancel := s.b.opCtx(context.Background())
	s.b.cli.Delete(dctx, queueKey)
	cancel()
}

// pause sleeps until the cooldown that ends at until is over, looking again
// at least every fallbackPoll (a cleared cooldown ends sooner). It fails
// when the caller's own lease is lost.
func (s *semaphore) pause(ctx context.Context, sess *concurrency.Session, until time.Time) error {
	t := time.NewTimer(min(time.Until(until), fallbackPoll))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-sess.Done():
		return errQueueGone
	}
}

// enqueue creates the caller's queue key; its create revision is the ticket.
func (s *semaphore) enqueue(ctx context.Context, sess *concurrency.Session, queueKey string, val []byte) (int64, error) {
	octx, cancel := s.b.opCtx(ctx)
	defer cancel()
	resp, err := s.b.cli.Txn(octx).
		If(clientv3.Compare(clientv3.CreateRevision(queueKey), "=", 0)).
		Then(clientv3.OpPut(queueKey, string(val), clientv3.WithLease(sess.Lease()))).
		Commit()
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("etcd backend: queue key %s already exists", queueKey)
	}
	return resp.Header.Revision, nil
}

// admit commits the holder key if no holder key changed after rev (and, for
// a waiter, its queue key is still its own), leaving the queue in the same
// txn. It reports false when the guard failed.
func (s *semaphore) admit(ctx context.Context, sess *concurrency.Session, rev int64, holderKey string, val []byte, queueKey string, myRev int64) (bool, error) {
	cmps := []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(s.holders), "<", rev+1).WithPrefix(),
		clientv3.Compare(clientv3.CreateRevision(holderKey), "=", 0),
		// No cooldown was set (or changed) since the read.
		clientv3.Compare(clientv3.ModRevision(s.cooldown), "<", rev+1),
	}
	ops := []clientv3.Op{clientv3.OpPut(holderKey, string(val), clientv3.WithLease(sess.Lease()))}
	if queueKey != "" {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(queueKey), "=", myRev))
		ops = append(ops, clientv3.OpDelete(queueKey))
	}
	octx, cancel := s.b.opCtx(ctx)
	defer cancel()
	resp, err := s.b.cli.Txn(octx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// sleep waits for what can let the caller in: at the head of the queue a
// holder's delete (release or expiry), otherwise the delete of the queue key
// just ahead. Watching from v.rev+1 misses nothing that happened after the
// read. It returns early on the deadline (the caller then times out) and
// fails when the caller's own lease is lost.
func (s *semaphore) sleep(ctx context.Context, sess *concurrency.Session, v view, deadline time.Time) error {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	wctx = clientv3.WithRequireLeader(wctx)
	var wch clientv3.WatchChan
	if v.pred != "" {
		wch = s.b.cli.Watch(wctx, v.pred, clientv3.WithRev(v.rev+1), clientv3.WithFilterPut())
	} else {
		wch = s.b.cli.Watch(wctx, s.holders, clientv3.WithPrefix(), clientv3.WithRev(v.rev+1), clientv3.WithFilterPut())
	}
	poll := time.NewTimer(fallbackPoll)
	defer poll.Stop()
	select {
	case <-wch: // an event, or the watch ended: look again either way
	case <-poll.C:
	case <-wctx.Done():
		if ctx.Err() != nil {
			return ctx.Err()
		}
	case <-sess.Done():
		return errQueueGone
	}
	return nil
}
