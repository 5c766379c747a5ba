package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/relay-host/relay-host/admission/procid"
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

func (r *record) holder() procid.Holder {
	return procid.Holder{PID: r.PID, StartTime: r.StartTime, Argv0: r.Argv0, Hostname: r.Hostname, BootID: r.BootID}
}

var errCorrupt = errors.New("corrupt slot record")

// encodeRecord renders r as JSON padded with spaces to recordSize bytes, the
// last one a newline, so a cat of the file reads well and a parser accepts it.
// It is written by hand rather than with encoding/json: a cold json.Marshal
// costs ~0.1 ms, a tenth of what `admission run` may spend starting up.
func encodeRecord(r *record, buf []byte) ([]byte, error) {
	b := buf[:0]
	if cap(b) < recordSize {
		b = make([]byte, 0, recordSize)
	}
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.V), 10)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, r.State)
	b = append(b, `,"lock_backed":`...)
	b = strconv.AppendBool(b, r.LockBacked)
	num := func(name string, v int64) {
		if v != 0 {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, v, 10)
		}
	}
	str := func(name, v string) {
		if v != "" {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = appendJSONString(b, v)
		}
	}
	num("pid", int64(r.PID))
	str("starttime", r.StartTime)
	str("argv0", r.Argv0)
	str("hostname", r.Hostname)
	str("boot_id", r.BootID)
	num("limit", int64(r.Limit))
	if r.Ticket != 0 {
		b = append(b, `,"ticket":`...)
		b = strconv.AppendUint(b, r.Ticket, 10)
	}
	num("sleep_on", int64(r.SleepOn))
	num("acquired_unix_ms", r.AcquiredMS)
	b = append(b, '}')
	if len(b) > recordSize-1 {
		return nil, fmt.Errorf("admission: slot record of %d bytes exceeds %d", len(b), recordSize-1)
	}
	for len(b) < recordSize-1 {
		b = append(b, ' ')
	}
	return append(b, '\n'), nil
}

// appendJSONString quotes s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// freeRecord is what every release writes; recognising it byte for byte
// spares the common case a JSON decode.
var freeRecord, _ = encodeRecord(&record{V: recordVersion, State: stateFree, LockBacked: true}, nil)

// parseRecord reads a record. Anything it cannot vouch for is errCorrupt, and
// callers treat a corrupt slot as occupied: a record we cannot read might be
// a live holder's, and guessing "free" could over-admit.
func parseRecord(b []byte) (record, error) {
	var r record
	if bytes.Equal(b, freeRecord) {
		return record{V: recordVersion, State: stateFree, LockBacked: true}, nil
	}
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
