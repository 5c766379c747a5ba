package admission

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// slotLease is one held slot of one key.
type slotLease struct {
	s    *semaphore
	idx  int
	once sync.Once
	err  error
}

func (l *slotLease) Release() error {
	l.once.Do(func() {
		l.s.mu.Lock()
		defer l.s.mu.Unlock()
		if l.idx >= len(l.s.slots) {
			// Closing the backend closed the files: the kernel has
			// already dropped the lock.
			l.err = ErrClosed
			return
		}
		l.err = l.s.releaseSlot(l.idx)
	})
	return l.err
}

func (l *slotLease) file() *os.File { return l.s.slots[l.idx].f }

// releaseSlot frees slot idx: the record says free before the lock drops, so
// a prober that wins the lock finds a free record (and one that loses it
// counts us, which is the safe side). No gate is needed for this.
func (s *semaphore) releaseSlot(idx int) error {
	l := &s.slots[idx]
	free := record{V: recordVersion, State: stateFree, LockBacked: true}
	werr := s.writeRecord(l.fd, &free)
	uerr := unix.Flock(l.fd, unix.LOCK_UN)
	l.mine = false
	if werr != nil {
		return werr
	}
	return uerr
}
