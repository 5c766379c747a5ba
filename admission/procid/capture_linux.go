//go:build linux

package procid

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// captureProcess reads /proc/<pid>/stat (start time) and then
// /proc/<pid>/cmdline (argv0). If the pid dies and is reused between the two
// reads, the result pairs the old start time with the new argv0; that can only
// mismatch a record, i.e. classify a holder that is in fact gone as dead.
func captureProcess(pid int) (Info, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return Info{}, procReadError(pid, err)
	}
	start, err := parseStatStartTime(stat)
	if err != nil {
		return Info{}, &CaptureError{Kind: CaptureFailed, PID: pid, Err: err}
	}
	cmdline, err := os.ReadFile(dir + "/cmdline")
	if err != nil {
		return Info{}, procReadError(pid, err)
	}
	// An empty cmdline (kernel thread, zombie) is a valid, empty argv0.
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return Info{PID: pid, StartTime: start, Argv0: truncateArgv0(string(argv0))}, nil
}

// procReadError maps a /proc read failure: only "no such process" proves the
// process gone; anything else (EACCES under hidepid, EIO, ...) proves nothing.
func procReadError(pid int, err error) error {
	kind := CaptureFailed
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		kind = ProcessGone
	}
	// The cause alone: the path (/proc/<pid>/...) only repeats the pid.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &CaptureError{Kind: kind, PID: pid, Err: err}
}

// statStartTimeField is the 1-based field of /proc/<pid>/stat holding the
// start time in clock ticks since boot (proc(5)).
const statStartTimeField = 22

// parseStatStartTime returns field 22 of a /proc/<pid>/stat line. Field 2
// (comm) is parenthesised and may itself contain spaces and parentheses, so
// fields are counted from the LAST ')': the one after it is field 3.
func parseStatStartTime(stat []byte) (string, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", errors.New("malformed stat: no comm field")
	}
	fields := strings.Fields(string(stat[i+1:]))
	const idx = statStartTimeField - 3
	if len(fields) <= idx {
		return "", fmt.Errorf("malformed stat: %d fields after comm, want more than %d", len(fields), idx)
	}
	ticks, err := strconv.ParseUint(fields[idx], 10, 64)
	if err != nil {
		return "", fmt.Errorf("malformed stat: start time %q is not a number", fields[idx])
	}
	return strconv.FormatUint(ticks, 10), nil
}
