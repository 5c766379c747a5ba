package procid

import (
	"errors"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	const host, boot = "host-a", "boot-1"
	live := Info{PID: 100, StartTime: "5555", Argv0: "relay-host"}
	capture := func(info Info, err error) func(int) (Info, error) {
		return func(int) (Info, error) { return info, err }
	}
	alive := capture(live, nil)
	holder := Holder{PID: 100, StartTime: "5555", Argv0: "relay-host", Hostname: host, BootID: boot}
	with := func(f func(*Holder)) Holder { h := holder; f(&h); return h }

	longA := strings.Repeat("a", MaxArgv0) + "-recorded-tail"
	longB := strings.Repeat("a", MaxArgv0) + "-live-tail"

	tests := []struct {
		name       string
		h          Holder
		capture    func(int) (Info, error)
		wantState  HolderState
		wantDetail string
	}{
		{"alive", holder, alive, Alive, "match"},
		{"foreign host is never captured", with(func(h *Holder) { h.Hostname = "host-b" }),
			func(int) (Info, error) { panic("captured a foreign pid") }, Foreign, "other_host"},
		{"pid 0", with(func(h *Holder) { h.PID = 0 }), alive, Dead, "invalid_pid"},
		{"pid -1", with(func(h *Holder) { h.PID = -1 }), alive, Dead, "invalid_pid"},
		{"process gone", holder, capture(Info{}, &CaptureError{Kind: ProcessGone, PID: 100}), Dead, "process_gone"},
		{"capture says invalid pid", holder, capture(Info{}, &CaptureError{Kind: InvalidPID, PID: 100}), Dead, "invalid_pid"},
		{"wrapped process gone", holder, capture(Info{}, wrapErr(&CaptureError{Kind: ProcessGone})), Dead, "process_gone"},
		{"starttime mismatch (pid reused)", with(func(h *Holder) { h.StartTime = "4444" }), alive, Dead, "starttime_mismatch"},
		{"argv0 mismatch (pid reused)", with(func(h *Holder) { h.Argv0 = "bash" }), alive, Dead, "argv0_mismatch"},
		{"long argv0 equal after truncation",
			with(func(h *Holder) { h.Argv0 = longA }), capture(Info{PID: 100, StartTime: "5555", Argv0: longB}, nil), Alive, "match"},
		{"capture error", holder, capture(Info{}, &CaptureError{Kind: CaptureFailed, PID: 100, Err: errors.New("permission denied")}), Unverifiable, "capture_error"},
		{"untyped error", holder, capture(Info{}, errors.New("boom")), Unverifiable, "capture_error"},
		{"record without start time", with(func(h *Holder) { h.StartTime = "" }), alive, Unverifiable, "incomplete_record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, detail := Classify(tt.h, Observer{Hostname: host, BootID: boot, Capture: tt.capture})
			if state != tt.wantState || detail != tt.wantDetail {
				t.Errorf("Classify = %s (%s), want %s (%s)", state, detail, tt.wantState, tt.wantDetail)
			}
		})
	}
}

func wrapErr(err error) error { return errors.Join(errors.New("context"), err) }

func TestReclaimable(t *testing.T) {
	const current = "boot-current"
	tests := []struct {
		name     string
		state    HolderState
		recorded string // the holder's boot id
		observed string // this boot's id
		want     bool
	}{
		{"dead", Dead, current, current, true},
		{"dead with unknown boot id", Dead, "unknown-h", current, true},
		{"alive", Alive, "boot-old", current, false},
		{"foreign", Foreign, "boot-old", current, false},
		{"unverifiable, stale boot id", Unverifiable, "boot-old", current, true},
		{"unverifiable, current boot id", Unverifiable, current, current, false},
		{"unverifiable, recorded unknown- id", Unverifiable, "unknown-h", current, false},
		{"unverifiable, current is unknown- id", Unverifiable, "boot-old", "unknown-h", false},
		{"unverifiable, both unknown- ids differ", Unverifiable, "unknown-a", "unknown-b", false},
		{"unverifiable, empty recorded boot id", Unverifiable, "", current, false},
		{"unverifiable, empty current boot id", Unverifiable, "boot-old", "", false},
		{"unverifiable, source changed uuid to boottime", Unverifiable, "6f1c-uuid", "boottime-1.000002", false},
		{"unverifiable, boottime changed", Unverifiable, "boottime-1.000001", "boottime-9.000001", true},
		{"unknown state", HolderState("corrupt"), "boot-old", current, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Holder{PID: 1, StartTime: "1", Hostname: "h", BootID: tt.recorded}
			if got := Reclaimable(tt.state, h, Observer{Hostname: "h", BootID: tt.observed}); got != tt.want {
				t.Errorf("Reclaimable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestObserverNow(t *testing.T) {
	o := ObserverNow()
	if o.BootID != BootID() || o.Capture != nil {
		t.Errorf("ObserverNow = %+v", o)
	}
}
