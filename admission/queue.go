package admission

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// Waiting is a queue of tickets. A waiter takes the next ticket under the
// gate and keeps a lock on its own waiter file while it waits; a slot that
// frees goes to the live waiter with the lowest ticket, never to a newcomer
// or a later waiter, so a steady stream of newcomers cannot starve anyone.
//
// A waiter does not poll. It sleeps on kernel locks, which wake it however
// their holder lets go, crash included: the head of the queue sleeps on the
// slots that are held, every other waiter on the waiter just ahead of it
// (so a release wakes one process, not the whole queue). A slow fallback poll
// covers occupancy that no lock backs (corrupt or foreign records).

const fallbackPoll = 100 * time.Millisecond

// maxWakeSources bounds the slot locks one head waiter sleeps on (each is a
// blocked thread until its holder lets go).
const maxWakeSources = 8

// queueView is what one pass over the waiter files saw.
type queueView struct {
	ahead  int          // live waiters with a lower ticket
	pred   int          // the one of them with the highest ticket, or -1
	free   []int        // waiter files nobody holds
	pinned map[int]bool // waiter files some live waiter sleeps on
}

// queue looks at the live waiters with a ticket lower than ticket. It counts
// them, stopping early once it has found enough (a newcomer only needs to
// know whether the free slots are all promised).
func (s *semaphore) queue(ticket uint64, enough int) (queueView, error) {
	q := queueView{pred: -1, pinned: map[int]bool{}}
	var predTicket uint64
	for i := range s.waits {
		if q.ahead >= enough {
			break
		}
		l := &s.waits[i]
		t, sleep := l.tick, l.sleep
		if !l.mine {
			held, err := probe(l, s.dir)
			if err != nil {
				return q, err
			}
			if !held {
				unix.Flock(l.fd, unix.LOCK_UN)
				q.free = append(q.free, i)
				continue
			}
			r, err := s.readRecord(l.fd)
			// A live waiter whose record we cannot read counts as ahead:
			// it leaves when it gives up, and skipping it could starve it.
			t, sleep = 0, 0
			if err == nil {
				t, sleep = r.Ticket, r.SleepOn
			}
		}
		if sleep > 0 {
			q.pinned[sleep-1] = true
		}
		if t < ticket {
			q.ahead++
			if q.pred < 0 || t >= predTicket {
				q.pred, predTicket = i, t
			}
		}
	}
	return q, nil
}

// enqueue registers a waiter under the gate: takes the next ticket and a
// waiter file that nobody holds and no live waiter sleeps on (q is the
// queue as attempt just saw it), which it keeps locked while it waits.
func (s *semaphore) enqueue(q queueView) (int, error) {
	s.hdr.ticket++
	t := s.hdr.ticket
	rec := s.self
	rec.State, rec.Ticket, rec.AcquiredMS = stateWaiting, t, time.Now().UnixMilli()
	for _, l := range s.waits {
		if l.mine && l.sleep > 0 {
			q.pinned[l.sleep-1] = true
		}
	}
	idx := -1
	for _, i := range q.free {
		if q.pinned[i] {
			continue
		}
		held, err := probe(&s.waits[i], s.dir)
		if err != nil {
			return -1, err
		}
		if !held {
			idx = i
			break
		}
	}
	if idx < 0 {
		idx = len(s.waits)
		l, err := s.create("wait", idx, &rec, true)
		if errors.Is(err, errExists) {
			// The header under-counted: the file is there but not in q.
			s.waits = append(s.waits, l)
			s.hdr.waits = uint64(len(s.waits))
			s.hdr.ticket--
			return s.enqueue(q)
		}
		if err != nil {
			return -1, err
		}
		s.waits = append(s.waits, l)
		s.hdr.waits = uint64(len(s.waits))
	} else if err := s.writeRecord(s.waits[idx].fd, &rec); err != nil {
		unix.Flock(s.waits[idx].fd, unix.LOCK_UN)
		return -1, err
	}
	s.waits[idx].mine, s.waits[idx].tick = true, t
	if err := s.writeHeader(); err != nil {
		s.dequeue(idx)
		return -1, err
	}
	return idx, nil
}

// dequeue takes waiter idx out of the queue; dropping the lock wakes the
// waiter behind it.
func (s *semaphore) dequeue(idx int) {
	l := &s.waits[idx]
	free := record{V: recordVersion, State: stateFree, LockBacked: true}
	s.writeRecord(l.fd, &free)
	unix.Flock(l.fd, unix.LOCK_UN)
	l.mine, l.tick, l.sleep = false, 0, 0
}

// wakeSources names the files whose locks waiter w sleeps on, and records
// in w's waiter file which waiter it sleeps on (see record.SleepOn). Runs
// under the gate.
func (s *semaphore) wakeSources(w int, out outcome) []string {
	l := &s.waits[w]
	if sleep := out.pred + 1; sleep != l.sleep {
		rec := s.self
		rec.State, rec.Ticket, rec.SleepOn, rec.AcquiredMS = stateWaiting, l.tick, sleep, time.Now().UnixMilli()
		if s.writeRecord(l.fd, &rec) == nil {
			l.sleep = sleep
		}
	}
	if out.pred >= 0 {
		return []string{fileName("wait", out.pred)}
	}
	var names []string
	for _, i := range out.held {
		if len(names) == maxWakeSources {
			break
		}
		names = append(names, fileName("slot", i))
	}
	return names
}

// wake returns a channel that receives once any of the named files' locks is
// free. Each file is opened afresh (its own open file description) and a
// shared lock is requested on it, which the kernel grants the moment the
// exclusive holder lets go; the lock is dropped at once, it only signals.
// A waiter that stops waiting leaves these threads blocked until their
// holders let go, which is bounded by the holders' lifetimes.
func (s *semaphore) wake(names []string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	for _, name := range names {
		fd, err := unix.Openat(s.dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		go func() {
			for {
				err := unix.Flock(fd, unix.LOCK_SH)
				if !errors.Is(err, unix.EINTR) {
					break
				}
			}
			unix.Close(fd) // also drops the shared lock
			select {
			case ch <- struct{}{}:
			default:
			}
		}()
	}
	return ch
}

// wait sleeps until a wake source lets go (or the fallback poll fires), then
// tries again under the gate, as waiter w, until it gets a slot, the deadline
// passes or ctx is done. Leaving the queue on the way out is done under the
// gate, with a fresh context, so a cancelled waiter still tidies up.
func (s *semaphore) wait(ctx context.Context, limit int, obey bool, deadline time.Time, w int, last outcome, sources []string) (*slotLease, error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		woken := s.wake(sources)
		timer.Reset(max(min(fallbackPoll, time.Until(deadline)), 0))
		var cancelled error
		select {
		case <-ctx.Done():
			cancelled = ctx.Err()
		case <-woken:
		case <-timer.C:
		}
		s.mu.Lock()
		if err := s.lockGate(context.Background()); err != nil {
			s.dequeue(w)
			s.mu.Unlock()
			return nil, err
		}
		if cancelled == nil {
			out, err := s.attempt(limit, s.waits[w].tick, true, obey)
			if err != nil || out.lease != nil {
				s.dequeue(w)
				s.unlockGate()
				s.mu.Unlock()
				return out.lease, err
			}
			last, sources = out, s.wakeSources(w, out)
		}
		if cancelled != nil || !time.Now().Before(deadline) || last.coolsPast(deadline) {
			s.dequeue(w)
			s.unlockGate()
			s.mu.Unlock()
			if cancelled != nil {
				return nil, cancelled
			}
			b := *last.blocked
			if b.Reason != ReasonCoolingDown {
				b.Reason = ReasonWaitTimeout
			}
			return nil, &b
		}
		s.unlockGate()
		s.mu.Unlock()
	}
}
