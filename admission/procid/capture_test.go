package procid

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCaptureInvalidPID(t *testing.T) {
	for _, pid := range []int{0, -1, -12345} {
		_, err := Capture(pid)
		var ce *CaptureError
		if !errors.As(err, &ce) || ce.Kind != InvalidPID || ce.PID != pid {
			t.Errorf("Capture(%d) error = %v, want *CaptureError invalid_pid", pid, err)
		}
	}
}

func TestCaptureErrorMessage(t *testing.T) {
	cause := errors.New("permission denied")
	tests := []struct {
		err  *CaptureError
		want string
	}{
		{&CaptureError{Kind: ProcessGone, PID: 7}, "capture pid 7: process_gone"},
		{&CaptureError{Kind: CaptureFailed, PID: 8, Err: cause}, "capture pid 8: capture_error: permission denied"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(tests[1].err, cause) {
		t.Error("CaptureError does not unwrap to its cause")
	}
}

func TestTruncateArgv0(t *testing.T) {
	long := strings.Repeat("a", MaxArgv0+10)
	// "é" is 2 bytes: placed so the MaxArgv0 cut would split it.
	split2 := strings.Repeat("a", MaxArgv0-1) + "é" + "tail"
	// A 4-byte rune straddling the cut.
	split4 := strings.Repeat("a", MaxArgv0-2) + "😀" + "tail"
	// Not UTF-8: continuation bytes only around the cut.
	invalid := strings.Repeat("a", MaxArgv0-5) + strings.Repeat("\x80", 20)
	tests := []struct {
		name, in, want string
	}{
		{"short", "/usr/bin/relay-host", "/usr/bin/relay-host"},
		{"empty", "", ""},
		{"exactly max", long[:MaxArgv0], long[:MaxArgv0]},
		{"ascii cut", long, long[:MaxArgv0]},
		{"two-byte rune not split", split2, strings.Repeat("a", MaxArgv0-1)},
		{"four-byte rune not split", split4, strings.Repeat("a", MaxArgv0-2)},
		{"invalid utf-8 cut by bytes", invalid, invalid[:MaxArgv0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncateArgv0(tt.in)
			if got != tt.want {
				t.Errorf("truncateArgv0 = %q (len %d), want len %d", got, len(got), len(tt.want))
			}
			if len(got) > MaxArgv0 {
				t.Errorf("len = %d > MaxArgv0", len(got))
			}
			if utf8.ValidString(tt.in) && !utf8.ValidString(got) {
				t.Errorf("truncation split a rune: %q", got)
			}
		})
	}
}
