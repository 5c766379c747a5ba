package admission

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// acquire takes one slot of the key, waiting up to wait for it; with obey,
// not while the key's cooldown is active.
func (s *semaphore) acquire(ctx context.Context, limit int, wait time.Duration, obey bool) (*slotLease, error) {
	if limit < 1 {
		return nil, &BlockedError{Reason: ReasonInvalidLimit, Scope: ScopeKey, Capacity: Capacity{Limit: limit}}
	}
	s.mu.Lock()
	if err := s.lockGate(ctx); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	// One look serves both a newcomer and, when it must wait, the waiter it
	// becomes: its ticket will be the newest, so every live waiter is ahead
	// of it and the newest of them is the one to sleep on.
	out, err := s.attempt(limit, noTicket, wait > 0, obey)
	deadline := time.Now().Add(wait)
	if err != nil || out.lease != nil || wait <= 0 || out.coolsPast(deadline) {
		s.unlockGate()
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if out.lease != nil {
			return out.lease, nil
		}
		return nil, out.blocked
	}
	w, err := s.enqueue(out.q)
	var sources []string
	if err == nil {
		sources = s.wakeSources(w, out)
	}
	s.unlockGate()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.wait(ctx, limit, obey, deadline, w, out, sources)
}

const noTicket = ^uint64(0)

// outcome is one gated try: a lease, or why not and what to sleep on.
type outcome struct {
	lease   *slotLease
	blocked *BlockedError
	pred    int   // waiter file of the waiter just ahead, or -1
	held    []int // slot files held by others
	q       queueView
	cool    Cooldown // the key's cooldown, when it refused
}

// coolsPast reports whether o was refused by a cooldown that lasts past
// deadline (a corrupt one lasts until cleaned): waiting for it is futile.
func (o outcome) coolsPast(deadline time.Time) bool {
	return o.blocked != nil && o.blocked.Reason == ReasonCoolingDown &&
		(o.cool.Reason == CooldownCorrupt || !o.cool.Until.Before(deadline))
}

// attempt runs one gated try for a slot on behalf of ticket (noTicket for a
// newcomer, which every live waiter is ahead of). With full it looks at the
// whole queue, as a waiter (or a newcomer about to queue) must; with obey
// it refuses while the key's cooldown is active. The gate must be held.
func (s *semaphore) attempt(limit int, ticket uint64, full, obey bool) (outcome, error) {
	if err := s.refresh(); err != nil {
		return outcome{}, err
	}
	active, free, held, err := s.scan()
	if err != nil {
		return outcome{}, err
	}
	unlockFree := func() {
		if free >= 0 {
			unix.Flock(s.slots[free].fd, unix.LOCK_UN)
		}
	}
	bound, err := s.bound(limit, held)
	if err != nil {
		unlockFree()
		return outcome{}, err
	}
	// A newcomer needs the queue only while a slot is free; a waiter also
	// needs to know whom to sleep on.
	q := queueView{pred: -1}
	if len(s.waits) > 0 && (active < bound || full) {
		enough := bound - active
		if full {
			enough = len(s.waits)
		}
		if q, err = s.queue(ticket, enough); err != nil {
			unlockFree()
			return outcome{}, err
		}
	}
	// A cooling key admits nobody, waiters included: they keep their
	// place and look again when they wake.
	now := time.Now()
	if c := s.readCooldown(); obey && c.Active(now) {
		unlockFree()
		return outcome{pred: q.pred, held: held, q: q, cool: c,
			blocked: c.blocked(now, Capacity{ActiveCount: active, Limit: bound}, q.ahead)}, nil
	}
	if active+q.ahead >= bound {
		unlockFree()
		return outcome{pred: q.pred, held: held, q: q, blocked: &BlockedError{Reason: ReasonAtCapacity, Scope: ScopeKey,
			Capacity: Capacity{ActiveCount: active, Limit: bound}, Waiting: q.ahead}}, nil
	}
	rec := s.self
	rec.Limit = limit
	rec.AcquiredMS = now.UnixMilli()
	dirty := s.hdr.limit != uint64(limit)
	if free < 0 {
		free = len(s.slots)
		dirty = true
		l, err := s.create("slot", free, &rec, true)
		if errors.Is(err, errExists) {
			// The header under-counted; count again with the file in view.
			s.slots = append(s.slots, l)
			s.hdr.slots = uint64(len(s.slots))
			return s.attempt(limit, ticket, full, obey)
		}
		if err != nil {
			return outcome{}, err
		}
		s.slots = append(s.slots, l)
		s.hdr.slots = uint64(len(s.slots))
	} else if err := s.writeRecord(s.slots[free].fd, &rec); err != nil {
		unlockFree()
		return outcome{}, err
	}
	s.slots[free].mine = true
	if err := s.setHolderLimit(free, limit); err != nil {
		s.releaseSlot(free)
		return outcome{}, err
	}
	if dirty {
		s.hdr.limit = uint64(limit)
		if err := s.writeHeader(); err != nil {
			s.releaseSlot(free)
			return outcome{}, err
		}
	}
	return outcome{lease: &slotLease{s: s, idx: free}}, nil
}

// scan counts the key's occupied slots and keeps the lock of the lowest
// free slot (returned as free, else -1). It also lists the slots that other
// open files hold: a waiter can sleep on their locks. Runs under the gate.
func (s *semaphore) scan() (active, free int, held []int, err error) {
	free = -1
	for i := range s.slots {
		l := &s.slots[i]
		if l.mine {
			active++
			held = append(held, i)
			continue
		}
		locked, err := probe(l, s.dir)
		if err != nil {
			if free >= 0 {
				unix.Flock(s.slots[free].fd, unix.LOCK_UN)
			}
			return 0, -1, nil, err
		}
		if locked {
			active++
			held = append(held, i)
			continue
		}
		if !s.reusableSlot(i) {
			active++
			unix.Flock(l.fd, unix.LOCK_UN)
			continue
		}
		if free < 0 {
			free = i
			continue
		}
		unix.Flock(l.fd, unix.LOCK_UN)
	}
	return active, free, held, nil
}

// bound is how many leases the key may have for a caller asking for limit:
// the lowest of limit and every limit the holders of the held slots
// recorded, so that no holder ever sees more leases than it allowed (see
// Request.Limit). A holder whose limit is unknown does not lower it. Runs
// under the gate.
func (s *semaphore) bound(limit int, held []int) (int, error) {
	bound, differ := limit, false
	for _, i := range held {
		l, err := s.holderLimit(i)
		if err != nil {
			return 0, err
		}
		if l > 0 && l != limit {
			differ = true
			bound = min(bound, l)
		}
	}
	if differ && s.warned != [2]int{bound, limit} {
		s.warned = [2]int{bound, limit}
		s.logWarn("admission: holders of this key recorded different limits; admitting against the lowest",
			"lowest", bound, "requested", limit)
	}
	return bound, nil
}
