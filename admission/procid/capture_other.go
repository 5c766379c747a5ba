//go:build !linux && !darwin

package procid

import "errors"

// captureProcess has no implementation here. It reports CaptureFailed, never
// ProcessGone, so every holder on this platform classifies as unverifiable
// (occupied) instead of dead (reclaimed).
func captureProcess(pid int) (Info, error) {
	return Info{}, &CaptureError{Kind: CaptureFailed, PID: pid, Err: errors.ErrUnsupported}
}
