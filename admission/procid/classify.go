package procid

import (
	"errors"
	"os"
	"strings"
)

// HolderState is what a slot record's holder is, seen from here and now.
type HolderState string

const (
	// Alive: the recorded process runs (same pid, start time and argv0).
	Alive HolderState = "alive"
	// Dead: proven gone (no such process, invalid pid, or the pid was reused).
	Dead HolderState = "dead"
	// Unverifiable: the pid exists or may exist but cannot be inspected.
	Unverifiable HolderState = "unverifiable"
	// Foreign: recorded on another host (another hostname, and for a
	// lock-backed record another boot id too); nothing here can judge it.
	Foreign HolderState = "foreign"
)

// Holder is the identity a slot record stores about its holder.
type Holder struct {
	PID       int
	StartTime string
	Argv0     string
	Hostname  string
	BootID    string
}

// Observer is what "here and now" looks like to Classify. Tests inject every
// field; production uses ObserverNow.
type Observer struct {
	Hostname string
	BootID   string
	// Capture is the capture seam; nil means Capture.
	Capture func(pid int) (Info, error)
}

// ObserverNow describes this host now. A hostname that cannot be read is
// left empty, which makes every recorded holder foreign (occupied): failing
// closed is the safe direction.
func ObserverNow() Observer {
	host, err := os.Hostname()
	if err != nil {
		host = ""
	}
	return Observer{Hostname: host, BootID: BootID()}
}

// Classify decides h's state. The detail is one of "other_host",
// "invalid_pid", "process_gone", "capture_error", "incomplete_record",
// "starttime_mismatch", "argv0_mismatch", "match"; it is for debug logs.
//
// Order matters: another host's pid means nothing here, so hostname is
// checked before anything is captured.
func Classify(h Holder, o Observer) (HolderState, string) {
	if h.Hostname != o.Hostname {
		return Foreign, "other_host"
	}
	if h.PID <= 0 {
		return Dead, string(InvalidPID)
	}
	capture := o.Capture
	if capture == nil {
		capture = Capture
	}
	info, err := capture(h.PID)
	if err != nil {
		var ce *CaptureError
		if errors.As(err, &ce) && (ce.Kind == ProcessGone || ce.Kind == InvalidPID) {
			return Dead, string(ce.Kind)
		}
		// Cannot inspect is not proven gone: fail closed.
		return Unverifiable, string(CaptureFailed)
	}
	// A record without a start time cannot be told apart from a reused pid;
	// it was not written by Current, so treat it like an uninspectable
	// holder rather than reclaim a process that may be the real one.
	if h.StartTime == "" {
		return Unverifiable, "incomplete_record"
	}
	if info.StartTime != h.StartTime {
		return Dead, "starttime_mismatch"
	}
	if truncateArgv0(info.Argv0) != truncateArgv0(h.Argv0) {
		return Dead, "argv0_mismatch"
	}
	return Alive, "match"
}

// Reclaimable reports whether a holder in state may lose its slot. Dead is
// always reclaimable; Unverifiable only when its boot id proves a reboot
// since it was recorded; Alive and Foreign never are.
func Reclaimable(state HolderState, h Holder, o Observer) bool {
	switch state {
	case Dead:
		return true
	case Unverifiable:
		return bootIDProvesReboot(h.BootID, o.BootID)
	default:
		return false
	}
}

// bootIDProvesReboot is true only when two real boot ids from the same kind of
// source differ. An empty or unknown-… id is constant (or absent) across a
// reboot and proves nothing; nor does a change of source (macOS falling back
// from kern.bootsessionuuid to kern.boottime), which happens without a reboot.
func bootIDProvesReboot(recorded, current string) bool {
	for _, id := range [...]string{recorded, current} {
		if id == "" || IsFallbackBootID(id) {
			return false
		}
	}
	if strings.HasPrefix(recorded, bootTimeIDPrefix) != strings.HasPrefix(current, bootTimeIDPrefix) {
		return false
	}
	return recorded != current
}
