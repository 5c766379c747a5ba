//go:build darwin

package procid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// darwinSZOMB is SZOMB from <sys/proc.h>: the process has exited and waits to
// be reaped. x/sys/unix does not export it.
const darwinSZOMB = 5

func captureProcess(pid int) (Info, error) {
	procs, err := unix.SysctlKinfoProcSlice("kern.proc.pid", pid)
	if err != nil {
		return Info{}, sysctlError(pid, err)
	}
	// kern.proc.pid answers a missing pid with an empty result, not ESRCH.
	if len(procs) == 0 {
		return Info{}, &CaptureError{Kind: ProcessGone, PID: pid}
	}
	p := procs[0].Proc
	if int(p.P_pid) != pid {
		return Info{}, &CaptureError{Kind: CaptureFailed, PID: pid,
			Err: fmt.Errorf("kern.proc.pid answered for pid %d", p.P_pid)}
	}
	tv := p.P_starttime
	if tv.Sec == 0 && tv.Usec == 0 {
		return Info{}, &CaptureError{Kind: CaptureFailed, PID: pid, Err: errors.New("zero start time")}
	}
	info := Info{PID: pid, StartTime: fmt.Sprintf("%d.%06d", tv.Sec, tv.Usec)}
	// A zombie's arguments are gone (kern.procargs2 fails with EINVAL, as it
	// does for a permission problem); like Linux, report an empty argv0.
	if p.P_stat == darwinSZOMB {
		return info, nil
	}
	args, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return Info{}, sysctlError(pid, err)
	}
	argv0, err := parseProcArgs2(args)
	if err != nil {
		return Info{}, &CaptureError{Kind: CaptureFailed, PID: pid, Err: err}
	}
	info.Argv0 = truncateArgv0(argv0)
	return info, nil
}

func sysctlError(pid int, err error) error {
	kind := CaptureFailed
	if errors.Is(err, unix.ESRCH) {
		kind = ProcessGone
	}
	return &CaptureError{Kind: kind, PID: pid, Err: err}
}

// parseProcArgs2 returns argv[0] from a kern.procargs2 buffer: a native-endian
// int32 argc, the exec path, NUL padding, then argv[0..argc-1] NUL-separated.
func parseProcArgs2(buf []byte) (string, error) {
	if len(buf) < 4 {
		return "", errors.New("malformed procargs2: short buffer")
	}
	argc := int32(binary.NativeEndian.Uint32(buf[:4]))
	rest := buf[4:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return "", errors.New("malformed procargs2: unterminated exec path")
	}
	if argc <= 0 {
		return "", nil
	}
	rest = bytes.TrimLeft(rest[end:], "\x00")
	argv0, _, _ := bytes.Cut(rest, []byte{0})
	return string(argv0), nil
}
