package procid

import (
	"fmt"
	"os"
	"sync"
	"unicode/utf8"
)

// MaxArgv0 bounds argv0 in bytes. Argv0 is truncated to it (on a UTF-8
// boundary) everywhere it is stored or compared, so a record written with a
// long argv0 still matches the live process that wrote it.
const MaxArgv0 = 256

// Info identifies one process instance: a pid alone is reused by the
// kernel, pid + start time + argv0 is not (in practice).
type Info struct {
	PID int
	// StartTime is opaque and stable for the life of the process; compare it
	// only for equality, and only with values captured on the same host.
	StartTime string
	// Argv0 is at most MaxArgv0 bytes; "" for a process without a command
	// line (a kernel thread or a zombie).
	Argv0 string
}

// CaptureErrorKind says what a failed capture proves about the process.
type CaptureErrorKind string

const (
	// ProcessGone: the process does not exist (proven).
	ProcessGone CaptureErrorKind = "process_gone"
	// InvalidPID: the pid can never name a process (<= 0).
	InvalidPID CaptureErrorKind = "invalid_pid"
	// CaptureFailed: the process could not be inspected (permission, parse
	// failure, unsupported platform). This proves nothing about liveness.
	CaptureFailed CaptureErrorKind = "capture_error"
)

// CaptureError is the only error type Capture returns.
type CaptureError struct {
	Kind CaptureErrorKind
	PID  int
	Err  error
}

// Error is meant for debug logs: it names the pid, which is holder identity
// and must not reach a user-facing message.
func (e *CaptureError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("capture pid %d: %s", e.PID, e.Kind)
	}
	return fmt.Sprintf("capture pid %d: %s: %v", e.PID, e.Kind, e.Err)
}

func (e *CaptureError) Unwrap() error { return e.Err }

// Capture reads the identity of process pid. Its errors are always
// *CaptureError. Platforms without an implementation report CaptureFailed,
// never ProcessGone: "cannot inspect" must not read as "proven gone".
func Capture(pid int) (Info, error) {
	if pid <= 0 {
		return Info{}, &CaptureError{Kind: InvalidPID, PID: pid}
	}
	return captureProcess(pid)
}

// currentProcess caches Current after its first success: the calling
// process's identity cannot change while it runs.
var currentProcess struct {
	sync.Mutex
	info Info
	ok   bool
}

// Current is Capture(os.Getpid()), cached after the first
// success (a failure is retried on the next call).
func Current() (Info, error) {
	currentProcess.Lock()
	defer currentProcess.Unlock()
	if currentProcess.ok {
		return currentProcess.info, nil
	}
	info, err := Capture(os.Getpid())
	if err != nil {
		return Info{}, err
	}
	currentProcess.info, currentProcess.ok = info, true
	return info, nil
}

// truncateArgv0 cuts s to at most MaxArgv0 bytes without splitting a UTF-8
// sequence. Bytes that are not valid UTF-8 are kept as they are; the cut then
// backs off at most utf8.UTFMax-1 bytes, so it is deterministic either way.
func truncateArgv0(s string) string {
	if len(s) <= MaxArgv0 {
		return s
	}
	n := MaxArgv0
	for back := 0; back < utf8.UTFMax-1 && !utf8.RuneStart(s[n]); back++ {
		n--
	}
	if !utf8.RuneStart(s[n]) {
		n = MaxArgv0 // not UTF-8 here: a plain byte cut is the only stable choice
	}
	return s[:n]
}
