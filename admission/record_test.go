package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/admission/procid"
)

func TestRecordRoundTrip(t *testing.T) {
	r := record{V: recordVersion, State: stateHeld, LockBacked: true, PID: 42, StartTime: "123",
		Argv0: strings.Repeat("x", procid.MaxArgv0), Hostname: strings.Repeat("h", 255), BootID: "b", Limit: 4, AcquiredMS: 1}
	b, err := encodeRecord(&r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != recordSize || b[recordSize-1] != '\n' {
		t.Fatalf("record is %d bytes, want %d ending in newline", len(b), recordSize)
	}
	got, err := parseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != r {
		t.Fatalf("round trip: got %+v want %+v", got, r)
	}
}

func TestParseRecordFailsClosed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"spaces":         "     \n",
		"garbage":        "not json",
		"truncated":      `{"v":2,"state":"held","lock_back`,
		"wrong version":  `{"v":1,"state":"free","lock_backed":true}`,
		"unknown state":  `{"v":2,"state":"maybe","lock_backed":true}`,
		"held no host":   `{"v":2,"state":"held","lock_backed":true,"pid":1}`,
		"unknown field":  `{"v":2,"state":"free","lock_backed":true,"holder":"x"}`,
		"trailing data":  `{"v":2,"state":"free","lock_backed":true} {}`,
		"negative limit": `{"v":2,"state":"free","lock_backed":true,"limit":-1}`,
		"nul padding":    "\x00\x00\x00",
	} {
		if _, err := parseRecord([]byte(in)); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: got %v, want errCorrupt", name, err)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	good, _ := encodeRecord(&record{V: recordVersion, State: stateHeld, LockBacked: true, PID: 7, Hostname: "h"}, nil)
	f.Add(good)
	f.Add([]byte(`{"v":2,"state":"free","lock_backed":true}`))
	f.Add([]byte(`{"v":2,"state":"held","lock_backed":false,"pid":-1,"hostname":"x","boot_id":"unknown-x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error not classified corrupt: %v", err)
			}
			return
		}
		// Whatever parses must be a state the semaphore understands and must
		// survive a rewrite unchanged.
		if r.State != stateFree && r.State != stateHeld && r.State != stateWaiting {
			t.Fatalf("accepted state %q", r.State)
		}
		enc, err := encodeRecord(&r, nil)
		if err != nil {
			return // e.g. an over-long argv0 from outside: never written by us
		}
		r2, err := parseRecord(enc)
		if err != nil || r2 != r {
			t.Fatalf("re-encode changed record: %+v vs %+v (%v)", r, r2, err)
		}
	})
}

// The hand-written encoder must say what encoding/json says.
func TestEncodeRecordMatchesEncodingJSON(t *testing.T) {
	for _, r := range []record{
		{V: recordVersion, State: stateFree, LockBacked: true},
		{V: recordVersion, State: stateHeld, LockBacked: true, PID: 42, StartTime: "123", Argv0: "/usr/bin/relay-host", Hostname: "h", BootID: "b", Limit: 4, AcquiredMS: 1700000000000},
		{V: recordVersion, State: stateWaiting, LockBacked: true, PID: 1, Hostname: "h", Ticket: 1 << 40, SleepOn: 3},
		{V: recordVersion, State: stateHeld, Argv0: "quote\" back\\slash \x01\x1f tab\t nl\n é 漢", Hostname: "h"},
	} {
		got, err := encodeRecord(&r, nil)
		must(t, err)
		want, _ := json.Marshal(&r)
		if string(bytes.TrimRight(got, " \n")) != string(want) {
			t.Errorf("encodeRecord:\n got %s\nwant %s", bytes.TrimRight(got, " \n"), want)
		}
	}
	bad, err := encodeRecord(&record{V: recordVersion, State: stateHeld, Hostname: "h", Argv0: "a\xffb"}, nil)
	must(t, err)
	r, err := parseRecord(bad)
	if err != nil || r.Argv0 != "a\ufffdb" {
		t.Fatalf("invalid UTF-8: %q %v", r.Argv0, err)
	}
}
