package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFingerprint(t *testing.T) {
	base := Fingerprint("claude", "subscription", "p", "d")
	if base != Fingerprint("claude", "subscription", "p", "d") || len(base) != 64 {
		t.Fatalf("Fingerprint not a stable sha256 hex: %q", base)
	}
	for _, other := range []string{
		Fingerprint("gemini", "subscription", "p", "d"),
		Fingerprint("claude", "cli", "p", "d"),
		Fingerprint("claude", "subscription", "q", "d"),
		Fingerprint("claude", "subscription", "p", "e"),
		Fingerprint("claudes", "ubscription", "p", "d"), // same concatenation
		Fingerprint("claude", "subscriptionp", "", "d"),
	} {
		if other == base {
			t.Errorf("distinct inputs share fingerprint %s", base)
		}
	}
}

// attempt is a shorthand record for resend cases.
type attempt struct {
	id    string
	st    Status
	tx    Transmission
	at    int // minutes after t0
	edit  func(*Record)
	wrong bool // a different fingerprint
	alive bool // its job lock is held: its worker still runs
}

func TestCheckResend(t *testing.T) {
	const fp = "fp-this"
	failed := func(r *Record) { r.ErrorCode = "timeout" }
	tests := []struct {
		name     string
		attempts []attempt
		gate     string // job id that must gate, or "" for no gate
	}{
		{"no earlier attempt", nil, ""},
		{"failed after sent", []attempt{{id: "r-1", st: StatusFailed, tx: Sent, edit: failed}}, "r-1"},
		{"failed, may_be_sent", []attempt{{id: "r-1", st: StatusFailed, tx: MayBeSent, edit: failed}}, "r-1"},
		{"cancelled, may_be_sent", []attempt{{id: "r-1", st: StatusCancelled, tx: MayBeSent}}, "r-1"},
		{"cancelled, sent", []attempt{{id: "r-1", st: StatusCancelled, tx: Sent}}, "r-1"},
		{"running (crashed) after sent", []attempt{{id: "r-1", st: StatusRunning, tx: Sent}}, "r-1"},
		{"running (crashed), may_be_sent", []attempt{{id: "r-1", st: StatusRunning, tx: MayBeSent}}, "r-1"},
		{"running (crashed) before sending", []attempt{{id: "r-1", st: StatusRunning, tx: NotSent}}, ""},

		// Only finished attempts count: a live one is admission's business.
		{"running, alive, sent", []attempt{{id: "r-1", st: StatusRunning, tx: Sent, alive: true}}, ""},
		{"running, alive, may_be_sent", []attempt{{id: "r-1", st: StatusRunning, tx: MayBeSent, alive: true}}, ""},
		{"queued, alive", []attempt{{id: "r-1", st: StatusQueued, tx: NotSent, alive: true}}, ""},
		{"a live attempt does not hide a sent failure", []attempt{
			{id: "r-1", st: StatusFailed, tx: Sent, at: 0, edit: failed},
			{id: "r-2", st: StatusRunning, tx: Sent, at: 5, alive: true},
		}, "r-1"},
		{"a live attempt does not hide a completed one", []attempt{
			{id: "r-1", st: StatusCompleted, tx: Sent, at: 0},
			{id: "r-2", st: StatusRunning, tx: MayBeSent, at: 5, alive: true},
		}, ""},
		{"a dead worker's attempt gates over an older completed one", []attempt{
			{id: "r-1", st: StatusCompleted, tx: Sent, at: 0},
			{id: "r-2", st: StatusRunning, tx: MayBeSent, at: 5},
		}, "r-2"},
		{"failed not_sent never gates", []attempt{{id: "r-1", st: StatusFailed, tx: NotSent, edit: failed}}, ""},
		{"cancelled not_sent", []attempt{{id: "r-1", st: StatusCancelled, tx: NotSent}}, ""},
		{"queued not_sent", []attempt{{id: "r-1", st: StatusQueued, tx: NotSent}}, ""},
		{"completed does not gate", []attempt{{id: "r-1", st: StatusCompleted, tx: Sent}}, ""},
		{"other fingerprint", []attempt{{id: "r-1", st: StatusFailed, tx: Sent, edit: failed, wrong: true}}, ""},
		{"latest wins: sent failure then completed", []attempt{
			{id: "r-1", st: StatusFailed, tx: Sent, at: 0, edit: failed},
			{id: "r-2", st: StatusCompleted, tx: Sent, at: 5},
		}, ""},
		{"latest wins: completed then sent failure", []attempt{
			{id: "r-1", st: StatusCompleted, tx: Sent, at: 0},
			{id: "r-2", st: StatusFailed, tx: MayBeSent, at: 5, edit: failed},
		}, "r-2"},
		{"latest by started_at, not by id", []attempt{
			{id: "r-9", st: StatusFailed, tx: Sent, at: 0, edit: failed},
			{id: "r-1", st: StatusCompleted, tx: Sent, at: 5},
		}, ""},
		{"tie on started_at: higher id is later", []attempt{
			{id: "r-a", st: StatusCompleted, tx: Sent, at: 1},
			{id: "r-b", st: StatusFailed, tx: Sent, at: 1, edit: failed},
		}, "r-b"},
		{"tie on started_at, reversed", []attempt{
			{id: "r-a", st: StatusFailed, tx: Sent, at: 1, edit: failed},
			{id: "r-b", st: StatusCompleted, tx: Sent, at: 1},
		}, ""},
		{"a not_sent retry does not hide a sent failure", []attempt{
			{id: "r-1", st: StatusFailed, tx: Sent, at: 0, edit: failed},
			{id: "r-2", st: StatusFailed, tx: NotSent, at: 5, edit: func(r *Record) { r.ErrorCode = "provider_workload_blocked" }},
			{id: "r-3", st: StatusQueued, tx: NotSent, at: 6},
		}, "r-1"},
		{"a newer sent failure on another fingerprint is irrelevant", []attempt{
			{id: "r-1", st: StatusCompleted, tx: Sent, at: 0},
			{id: "r-2", st: StatusFailed, tx: Sent, at: 5, edit: failed, wrong: true},
		}, ""},

		// Records that contradict themselves gate, even when they say not_sent.
		{"completed but not_sent", []attempt{{id: "r-1", st: StatusCompleted, tx: NotSent}}, "r-1"},
		{"completed but may_be_sent", []attempt{{id: "r-1", st: StatusCompleted, tx: MayBeSent}}, "r-1"},
		{"completed with error_code", []attempt{{id: "r-1", st: StatusCompleted, tx: Sent, edit: failed}}, "r-1"},
		{"completed without verdict", []attempt{{id: "r-1", st: StatusCompleted, tx: Sent, edit: func(r *Record) { r.Verdict = "" }}}, "r-1"},
		{"completed with unknown verdict", []attempt{{id: "r-1", st: StatusCompleted, tx: Sent, edit: func(r *Record) { r.Verdict = "lgtm" }}}, "r-1"},
		{"unknown status", []attempt{{id: "r-1", st: "done", tx: NotSent}}, "r-1"},
		{"empty status", []attempt{{id: "r-1", st: "", tx: NotSent}}, "r-1"},
		{"unknown transmission", []attempt{{id: "r-1", st: StatusFailed, tx: "maybe", edit: failed}}, "r-1"},
		{"empty transmission", []attempt{{id: "r-1", st: StatusFailed, tx: "", edit: failed}}, "r-1"},
		{"failed without error_code", []attempt{{id: "r-1", st: StatusFailed, tx: NotSent}}, "r-1"},
		{"failed with a verdict", []attempt{{id: "r-1", st: StatusFailed, tx: NotSent, edit: func(r *Record) { failed(r); r.Verdict = "approve" }}}, "r-1"},
		{"queued but sent", []attempt{{id: "r-1", st: StatusQueued, tx: Sent}}, "r-1"},
		{"running with finished_at", []attempt{{id: "r-1", st: StatusRunning, tx: NotSent, edit: func(r *Record) { r.FinishedAt = r.StartedAt }}}, "r-1"},
		{"failed without finished_at", []attempt{{id: "r-1", st: StatusFailed, tx: NotSent, edit: func(r *Record) { failed(r); r.FinishedAt = time.Time{} }}}, "r-1"},
		{"finished before started", []attempt{{id: "r-1", st: StatusCompleted, tx: Sent, edit: func(r *Record) { r.FinishedAt = r.StartedAt.Add(-time.Hour) }}}, "r-1"},
		{"no started_at", []attempt{{id: "r-1", st: StatusFailed, tx: NotSent, edit: func(r *Record) { failed(r); r.StartedAt = time.Time{} }}}, "r-1"},
		{"a contradiction is not hidden by being not_sent", []attempt{
			{id: "r-1", st: StatusFailed, tx: Sent, at: 0, edit: failed},
			{id: "r-2", st: StatusCompleted, tx: NotSent, at: 5},
		}, "r-2"},
	}
	t0 := time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			for _, a := range tt.attempts {
				r := &Record{
					JobID: a.id, Provider: "claude", Route: "subscription", Fingerprint: fp,
					Status: a.st, Transmission: a.tx, StartedAt: t0.Add(time.Duration(a.at) * time.Minute),
				}
				if a.wrong {
					r.Fingerprint = "fp-other"
				}
				if a.st == StatusCompleted {
					r.Verdict = "request_changes"
				}
				if a.st == StatusCompleted || a.st == StatusFailed || a.st == StatusCancelled {
					r.FinishedAt = r.StartedAt.Add(30 * time.Second)
				}
				if a.edit != nil {
					a.edit(r)
				}
				if a.alive {
					l, err := s.Lock(a.id)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { l.Release() })
				}
				if err := s.Put(r); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.CheckResend(fp)
			if tt.gate == "" {
				if err != nil {
					t.Fatalf("CheckResend = %v, want no gate", err)
				}
				return
			}
			var re *ResendError
			if !errors.As(err, &re) {
				t.Fatalf("CheckResend = %v, want *ResendError for %s", err, tt.gate)
			}
			if re.JobID != tt.gate || re.Code() != CodeResendConfirmationRequired {
				t.Errorf("gated by %s (%s), want %s", re.JobID, re.Code(), tt.gate)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.gate) || !strings.Contains(msg, "--confirm-resend") || strings.Contains(msg, "\n") {
				t.Errorf("message %q must be one line naming %s and --confirm-resend", msg, tt.gate)
			}
			for _, a := range tt.attempts {
				if a.id == tt.gate && a.st == StatusRunning && a.edit == nil && !strings.Contains(msg, "earlier worker died") {
					t.Errorf("a dead worker's attempt gates with %q: want it to say the earlier worker died", msg)
				}
			}
		})
	}
}

func TestCheckResendCorruptRecordGates(t *testing.T) {
	s := openStore(t)
	ok := testRecord("r-1", time.Now())
	ok.Fingerprint = "fp"
	s.Put(ok)
	if _, err := s.CheckResend("fp"); err != nil {
		t.Fatalf("completed attempt gated: %v", err)
	}
	// A later attempt with this fingerprint whose record became unreadable.
	bad := testRecord("r-2", time.Now())
	bad.Fingerprint = "fp"
	s.Put(bad)
	os.WriteFile(filepath.Join(s.Dir(), "r-2.json"), []byte("not json"), 0o600)
	// A corrupt record of another fingerprint does not concern this one.
	os.WriteFile(filepath.Join(s.Dir(), "r-3.json"), []byte("not json"), 0o600)
	_, err := s.CheckResend("fp")
	var re *ResendError
	if !errors.As(err, &re) || re.JobID != "r-2" {
		t.Fatalf("CheckResend with a corrupt record = %v, want a gate naming r-2", err)
	}
}
