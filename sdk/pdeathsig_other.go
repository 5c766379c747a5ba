//go:build unix && !linux

package sdk

import "syscall"

// setPdeathsig does nothing: only Linux has a parent-death signal. The
// plugin's own parent watch cancels its calls, which kills the group.
func setPdeathsig(*syscall.SysProcAttr) {}
