package sdk

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

func TestPreSend(t *testing.T) {
	pre := map[ErrorCode]bool{CodeCLINotFound: true, CodeNotAuthenticated: true, CodeConfigInvalid: true}
	for code := range knownCodes {
		if got := PreSend(code); got != pre[code] {
			t.Errorf("PreSend(%s) = %v, want %v", code, got, pre[code])
		}
		if got := Errorf(code, "x").NotSent; got != pre[code] {
			t.Errorf("Errorf(%s).NotSent = %v, want %v", code, got, pre[code])
		}
	}
	if len(knownCodes) != 12 {
		t.Errorf("%d known codes, want 12", len(knownCodes))
	}
}

// TestTransmissionClaim covers both ends of the not-sent rule: what the
// server claims and what the client accepts.
func TestTransmissionClaim(t *testing.T) {
	const (
		notSent   = relayv1.TransmissionState_TRANSMISSION_STATE_NOT_SENT
		sent      = relayv1.TransmissionState_TRANSMISSION_STATE_SENT
		maybeSent = relayv1.TransmissionState_TRANSMISSION_STATE_MAY_BE_SENT
	)
	tests := []struct {
		name        string
		err         *Error
		transmitted bool
		wantClaim   relayv1.TransmissionState
	}{
		{"pre-send not sent", Errorf(CodeCLINotFound, "no claude on PATH"), false, notSent},
		{"pre-send after transmission", Errorf(CodeNotAuthenticated, "x"), true, sent},
		{"pre-send without claim", &Error{Code: CodeConfigInvalid}, false, maybeSent},
		{"non-pre-send claiming not sent", &Error{Code: CodeUsageLimited, NotSent: true}, false, maybeSent},
		{"timeout", Errorf(CodeTimeout, "x"), false, maybeSent},
		{"bad output after transmission", Errorf(CodeBadOutput, "x"), true, sent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := errorToProto(tt.err, tt.transmitted)
			if p.GetTransmission() != tt.wantClaim {
				t.Errorf("claim = %v, want %v", p.GetTransmission(), tt.wantClaim)
			}
			got := errorFromProto(p, tt.transmitted)
			if got.Code != tt.err.Code || got.NotSent != (tt.wantClaim == notSent) {
				t.Errorf("client read %+v", got)
			}
		})
	}

	// The client does not trust a claim the server should not have made.
	lies := []struct {
		name        string
		p           *relayv1.Error
		transmitted bool
	}{
		{"not sent for a post-send code", &relayv1.Error{Code: "usage_limited", Transmission: notSent}, false},
		{"not sent after a transmission event", &relayv1.Error{Code: "cli_not_found", Transmission: notSent}, true},
	}
	for _, tt := range lies {
		if errorFromProto(tt.p, tt.transmitted).NotSent {
			t.Errorf("%s: client accepted NotSent", tt.name)
		}
	}
}

func TestUnknownCodeBecomesInternal(t *testing.T) {
	e := errorFromProto(&relayv1.Error{Code: "quota", Message: "m", Transmission: relayv1.TransmissionState_TRANSMISSION_STATE_NOT_SENT}, false)
	if e.Code != CodeInternal || e.NotSent {
		t.Fatalf("got %+v", e)
	}
}

func TestErrorIs(t *testing.T) {
	err := error(Errorf(CodeTimeout, "slow"))
	if !errors.Is(err, &Error{Code: CodeTimeout}) || errors.Is(err, &Error{Code: CodeCancelled}) {
		t.Fatal("errors.Is does not match by code")
	}
	if got := err.Error(); got != "timeout: slow" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"30", 30 * time.Second},
		{" 7 ", 7 * time.Second},
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"1.5", 0},
		{"99999999999999999999", MaxRetryAfter},
		{"86401", MaxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
	} {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestRetryAfterOverTheWire: the wait crosses the protocol in whole
// seconds (rounded up), and the client drops a negative one and caps a
// huge one, whatever the plugin sent.
func TestRetryAfterOverTheWire(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want time.Duration
	}{
		{30 * time.Second, 30 * time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{0, 0},
		{-time.Second, 0},
		{48 * time.Hour, MaxRetryAfter},
	} {
		p := errorToProto(&Error{Code: CodeUsageLimited, RetryAfter: tt.d}, true)
		if got := errorFromProto(p, true).RetryAfter; got != tt.want {
			t.Errorf("%v: got %v over the wire, want %v", tt.d, got, tt.want)
		}
	}
	for _, s := range []int64{-1, -1 << 62} {
		if got := errorFromProto(&relayv1.Error{Code: "usage_limited", RetryAfterS: s}, true).RetryAfter; got != 0 {
			t.Errorf("a plugin's retry_after_s %d became %v, want 0", s, got)
		}
	}
	if got := errorFromProto(&relayv1.Error{Code: "usage_limited", RetryAfterS: 1 << 62}, true).RetryAfter; got != MaxRetryAfter {
		t.Errorf("a plugin's huge retry_after_s became %v, want %v", got, MaxRetryAfter)
	}
}
