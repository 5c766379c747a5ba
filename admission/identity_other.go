//go:build !linux && !darwin

package admission

import (
	"errors"
	"io/fs"
)

// captureProcess has no implementation here. It reports CaptureFailed, never
// ProcessGone, so every holder on this platform classifies as unverifiable
// (occupied) instead of dead (reclaimed).
func captureProcess(pid int) (ProcessInfo, error) {
	return ProcessInfo{}, &CaptureError{Kind: CaptureFailed, PID: pid, Err: errors.ErrUnsupported}
}

// fileIdentity is unavailable: shared_state directories cannot be keyed here.
func fileIdentity(fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }
