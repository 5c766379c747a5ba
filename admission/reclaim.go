package admission

import "github.com/relay-host/relay-host/admission/procid"

// slotState is what one slot is, seen under the gate; its text is what
// `admission status` shows (SlotInfo.State). A holder that procid.Classify
// judges keeps its state: alive, unverifiable or foreign.
type slotState string

const (
	slotFree         slotState = "free"                         // the record says free
	slotAlive        slotState = slotState(procid.Alive)        // another open file holds its lock
	slotDead         slotState = slotState(procid.Dead)         // its holder is proven gone
	slotUnverifiable slotState = slotState(procid.Unverifiable) // its holder cannot be inspected
	slotCorrupt      slotState = "corrupt"                      // a record we cannot vouch for
)

// verdict is the reclaim decision for one slot.
type verdict struct {
	state  slotState
	detail string // why, for debug logs and the operator's terminal
}

// reusable reports whether the slot may be given to a new lease: it is free
// or its holder is proven gone. Every other state counts as occupied.
func (v verdict) reusable() bool { return v.state == slotFree || v.state == slotDead }

// stuck reports a slot that fails closed for good, which `admission clean`
// resets: a corrupt record, or an unverifiable holder recorded under a
// fallback boot id, which no reboot can ever prove gone. An unverifiable
// holder with a real boot id is left alone: it may be alive, and a reboot
// frees it by itself.
func (v verdict) stuck(r record) bool {
	return v.state == slotCorrupt || v.state == slotUnverifiable && procid.IsFallbackBootID(r.BootID)
}

// judge is the one place that decides whether a slot may be reclaimed, for
// acquire (scan) and for status and clean (inspect) alike. locked says
// whether another open file holds the slot's lock; r and rerr are its record
// as read.
//
// A held lock is a live holder, whatever its record says. Otherwise only a
// record we can vouch for is reusable: a corrupt one fails closed. A
// lock-backed record is dead when its lock is free and the lock was taken on
// this kernel: on this host, or under another hostname with this boot id
// (containers sharing a state volume, a renamed host), since a lock held on
// this kernel would be visible here. Another host's record with another boot
// id is foreign and never reclaimed (its lock may not be visible here); a
// record without the lock-backed promise goes through procid.Classify, and
// is reclaimed only when procid.Reclaimable says so.
func (s *semaphore) judge(locked bool, r record, rerr error) verdict {
	switch {
	case locked:
		return verdict{state: slotAlive}
	case rerr != nil:
		return verdict{slotCorrupt, rerr.Error()}
	case r.State == stateFree:
		return verdict{state: slotFree}
	case r.State != stateHeld:
		return verdict{slotCorrupt, "state " + r.State}
	}
	o := s.opts.Observer
	if r.LockBacked && (r.Hostname == o.Hostname || procid.SameBoot(r.BootID, o.BootID)) {
		return verdict{slotDead, "lock_free"}
	}
	st, detail := procid.Classify(r.holder(), o)
	if procid.Reclaimable(st, r.holder(), o) {
		return verdict{slotDead, detail}
	}
	return verdict{slotState(st), detail}
}

// reusableSlot reads the record of slot i, whose lock nobody else holds, and
// judges it.
func (s *semaphore) reusableSlot(i int) bool {
	r, err := s.readRecord(s.slots[i].fd)
	v := s.judge(false, r, err)
	if v.state != slotFree {
		s.logDebug("judged unlocked slot", "slot", i, "state", v.state, "detail", v.detail, "holder_pid", r.PID, "holder_host", r.Hostname, "reclaim", v.reusable())
	}
	return v.reusable()
}
