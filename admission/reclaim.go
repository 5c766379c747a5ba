package admission

import "github.com/relay-host/relay-host/admission/procid"

// slotFree decides, for a slot whose lock nobody holds, whether its record
// lets us reuse it. The decision is judgeUnlocked's, the same one `admission
// status` and `clean` show.
func (s *semaphore) slotFree(i int) bool {
	r, err := s.readRecord(s.slots[i].fd)
	state, detail, free := s.judgeUnlocked(r, err)
	if state != stateFree {
		s.logDebug("judged unlocked slot", "slot", i, "state", state, "detail", detail, "holder_pid", r.PID, "holder_host", r.Hostname, "reclaim", free)
	}
	return free
}

// judgeUnlocked classifies a slot record whose lock nobody holds and says
// whether the slot may be reused. Only a record we can vouch for is free: a
// corrupt one fails closed. A lock-backed record is dead when its lock is
// free and the lock was taken on this kernel: on this host, or under another
// hostname with this boot id (containers sharing a state volume, a renamed
// host), since a lock held on this kernel would be visible here. Another
// host's record with another boot id is foreign and never reclaimed (its lock
// may not be visible here); a record without the lock-backed promise goes
// through the identity classifier.
func (s *semaphore) judgeUnlocked(r record, rerr error) (state, detail string, free bool) {
	switch {
	case rerr != nil:
		return "corrupt", rerr.Error(), false
	case r.State == stateFree:
		return stateFree, "", true
	case r.State != stateHeld:
		return "corrupt", "state " + r.State, false
	}
	o := s.opts.Observer
	if r.LockBacked && (r.Hostname == o.Hostname || procid.SameBoot(r.BootID, o.BootID)) {
		return string(procid.Dead), "lock_free", true
	}
	st, detail := procid.Classify(r.holder(), o)
	if procid.Reclaimable(st, r.holder(), o) {
		return string(procid.Dead), detail, true
	}
	return string(st), detail, false
}

// stuck reports a slot that fails closed for good: a corrupt record, or an
// unverifiable holder recorded under a fallback boot id, which no reboot can
// ever prove gone. An unverifiable holder with a real boot id is left alone:
// it may be alive, and a reboot will free it by itself.
func stuck(si SlotInfo) bool {
	return si.State == "corrupt" ||
		(si.State == string(procid.Unverifiable) && procid.IsFallbackBootID(si.Holder.BootID))
}
