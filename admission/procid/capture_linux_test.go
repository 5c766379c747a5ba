//go:build linux

package procid

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

func TestParseStatStartTime(t *testing.T) {
	// Fields 3..52 after comm; field 22 (starttime) is 987654.
	tail := " S 1 2 3 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0"
	tests := []struct {
		name, stat, want string
		wantErr          bool
	}{
		{"plain comm", "42 (sleep)" + tail, "987654", false},
		{"comm with spaces", "42 (my prog name)" + tail, "987654", false},
		{"comm with ') ('", "42 (a) (b) S 9 9)" + tail, "987654", false},
		{"comm is ')'", "42 ())" + tail, "987654", false},
		{"trailing newline", "42 (x)" + tail + "\n", "987654", false},
		{"no parenthesis", "42 sleep" + tail, "", true},
		{"truncated", "42 (x) S 1 2 3", "", true},
		{"starttime not a number", "42 (x) S 1 2 3 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 abc 1", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatStartTime([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatStartTime = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCaptureSelfIsStable(t *testing.T) {
	a, err := Capture(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Capture(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("two captures differ: %+v vs %+v", a, b)
	}
	if a.PID != os.Getpid() || a.StartTime == "" || a.Argv0 != truncateArgv0(os.Args[0]) {
		t.Errorf("capture = %+v, want pid %d, a start time, argv0 %q", a, os.Getpid(), os.Args[0])
	}
	cur, err := Current()
	if err != nil || cur != a {
		t.Errorf("Current = %+v, %v; want %+v", cur, err, a)
	}
}

func TestCaptureReapedChildIsGone(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_, err := Capture(cmd.Process.Pid)
	var ce *CaptureError
	if !errors.As(err, &ce) || ce.Kind != ProcessGone {
		t.Fatalf("Capture(reaped child) error = %v, want process_gone", err)
	}
}

// identityHelperEnv turns the test binary into a process that waits for
// stdin to close, so tests can inspect a live child with a chosen argv0.
const identityHelperEnv = "RELAY_ADMISSION_IDENTITY_HELPER"

func TestIdentityHelperProcess(t *testing.T) {
	if os.Getenv(identityHelperEnv) != "1" {
		return
	}
	os.Stdout.WriteString("ready\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// startIdentityHelper re-executes the test binary under argv0 and returns its
// pid and a stop function that lets it exit and reaps it (also run at cleanup).
// It returns once the helper runs its own code: right after exec, the
// kernel can show a new process's command line empty for a moment (seen
// once in CI-like runs), which is not what these tests are about.
func startIdentityHelper(t *testing.T, argv0 string) (pid int, stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdentityHelperProcess$")
	cmd.Args[0] = argv0
	cmd.Env = append(os.Environ(), identityHelperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("identity helper did not start: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("identity helper: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return cmd.Process.Pid, stop
}

func TestCaptureChildArgv0(t *testing.T) {
	long := strings.Repeat("x", MaxArgv0+40)
	tests := []struct{ name, argv0, want string }{
		{"custom", "relay-argv0-probe with spaces", "relay-argv0-probe with spaces"},
		{"long is truncated", long, long[:MaxArgv0]},
	}
	self, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, _ := startIdentityHelper(t, tt.argv0)
			info, err := Capture(pid)
			if err != nil {
				t.Fatal(err)
			}
			if info.Argv0 != tt.want {
				t.Errorf("argv0 = %q, want %q", info.Argv0, tt.want)
			}
			if info.StartTime == "" || info.StartTime == self.StartTime && info.PID == self.PID {
				t.Errorf("child capture %+v looks like the parent's", info)
			}
		})
	}
}

// TestClassifyRealProcess runs Classify with the real capture: a live child
// is alive, and after it is reaped the same record is dead.
func TestClassifyRealProcess(t *testing.T) {
	pid, stop := startIdentityHelper(t, "relay-classify-probe")
	info, err := Capture(pid)
	if err != nil {
		t.Fatal(err)
	}
	o := Observer{Hostname: "h", BootID: "b"}
	h := Holder{PID: info.PID, StartTime: info.StartTime, Argv0: info.Argv0, Hostname: "h", BootID: "b"}
	if state, detail := Classify(h, o); state != Alive {
		t.Errorf("live child: Classify = %s (%s), want alive", state, detail)
	}
	stop()
	if state, detail := Classify(h, o); state != Dead || detail != "process_gone" {
		t.Errorf("reaped child: Classify = %s (%s), want dead (process_gone)", state, detail)
	}
}
