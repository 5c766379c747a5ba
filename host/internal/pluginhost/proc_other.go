//go:build !linux

package pluginhost

import "syscall"

// procAttr: no parent-death signal outside Linux; the SDK's parent watch
// ends the plugin when the host goes away.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }

func terminate(pid int) { syscall.Kill(pid, syscall.SIGTERM) }
