//go:build darwin

package procid

import (
	"encoding/binary"
	"os"
	"testing"
)

func procArgs2(argc int32, rest string) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(argc))
	return append(b, rest...)
}

func TestParseProcArgs2(t *testing.T) {
	tests := []struct {
		name    string
		buf     []byte
		want    string
		wantErr bool
	}{
		{"padded", procArgs2(2, "/usr/bin/relay\x00\x00\x00\x00relay\x00--flag\x00ENV=1\x00"), "relay", false},
		{"no padding", procArgs2(1, "/bin/sleep\x00sleep\x00"), "sleep", false},
		{"argv0 differs from path", procArgs2(1, "/bin/sleep\x00\x00my name\x00"), "my name", false},
		{"argc zero", procArgs2(0, "/bin/sleep\x00\x00"), "", false},
		{"short", []byte{1, 0}, "", true},
		{"unterminated path", procArgs2(1, "/bin/sleep"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcArgs2(tt.buf)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseProcArgs2 = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCaptureSelfDarwin(t *testing.T) {
	a, err := Capture(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Capture(os.Getpid())
	if err != nil || a != b || a.StartTime == "" || a.Argv0 != truncateArgv0(os.Args[0]) {
		t.Errorf("captures %+v / %+v, %v; want equal, with argv0 %q", a, b, err, os.Args[0])
	}
}
