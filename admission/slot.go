package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// recordSize is the fixed size of every slot and waiter record. Records are
// overwritten in place with one pwrite of this many bytes: a slot file is
// created once and kept for good, so the hot path never creates, truncates or
// deletes a file (an in-place pwrite costs a few µs; ftruncate+write ~300 µs
// on ext4).
const recordSize = 1024

const recordVersion = 2

// Record states.
const (
	stateHeld    = "held"
	stateFree    = "free"
	stateWaiting = "waiting"
)

// record is the content of a slot-<i>.json or wait-<i>.json file.
type record struct {
	V     int    `json:"v"`
	State string `json:"state"`
	// LockBacked promises that the writer holds an flock on the file for as
	// long as State is held or waiting. For such a record, a free lock means
	// the holder is gone, whatever its pid says.
	LockBacked bool   `json:"lock_backed"`
	PID        int    `json:"pid,omitempty"`
	StartTime  string `json:"starttime,omitempty"`
	Argv0      string `json:"argv0,omitempty"`
	Hostname   string `json:"hostname,omitempty"`
	BootID     string `json:"boot_id,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	Ticket     uint64 `json:"ticket,omitempty"`
	// SleepOn is 1 + the index of the waiter file this waiter sleeps on
	// (the waiter just ahead of it); that file must not be handed to a new
	// waiter until this one has moved on, or it would sleep on a stranger.
	SleepOn    int   `json:"sleep_on,omitempty"`
	AcquiredMS int64 `json:"acquired_unix_ms,omitempty"`
}

func (r *record) holder() Holder {
	return Holder{PID: r.PID, StartTime: r.StartTime, Argv0: r.Argv0, Hostname: r.Hostname, BootID: r.BootID}
}

var errCorrupt = errors.New("corrupt slot record")

// encodeRecord renders r as JSON padded with spaces to recordSize bytes, the
// last one a newline, so a cat of the file reads well and a parser accepts it.
func encodeRecord(r *record, buf []byte) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(b) > recordSize-1 {
		return nil, fmt.Errorf("admission: slot record of %d bytes exceeds %d", len(b), recordSize-1)
	}
	if cap(buf) < recordSize {
		buf = make([]byte, recordSize)
	}
	buf = buf[:recordSize]
	n := copy(buf, b)
	for i := n; i < recordSize-1; i++ {
		buf[i] = ' '
	}
	buf[recordSize-1] = '\n'
	return buf, nil
}

// parseRecord reads a record. Anything it cannot vouch for is errCorrupt, and
// callers treat a corrupt slot as occupied: a record we cannot read might be
// a live holder's, and guessing "free" could over-admit.
func parseRecord(b []byte) (record, error) {
	var r record
	b = bytes.TrimRight(b, " \n\x00")
	if len(b) == 0 {
		return r, fmt.Errorf("%w: empty", errCorrupt)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if dec.More() {
		return r, fmt.Errorf("%w: trailing data", errCorrupt)
	}
	if r.V != recordVersion {
		return r, fmt.Errorf("%w: version %d", errCorrupt, r.V)
	}
	switch r.State {
	case stateFree:
	case stateHeld, stateWaiting:
		if r.Hostname == "" {
			return r, fmt.Errorf("%w: no hostname", errCorrupt)
		}
	default:
		return r, fmt.Errorf("%w: state %q", errCorrupt, r.State)
	}
	if r.Limit < 0 {
		return r, fmt.Errorf("%w: negative limit", errCorrupt)
	}
	return r, nil
}
