package sdk

import (
	"errors"
	"testing"

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
