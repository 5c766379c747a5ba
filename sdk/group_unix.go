//go:build unix

package sdk

import "syscall"

// killOwnGroup SIGKILLs the plugin's process group, itself included, when
// the plugin leads it (relay-host starts every plugin in a group of its own).
// It is the last act of a stopping plugin: children a provider started
// without [Command] share the group and must not outlive it.
func killOwnGroup() {
	if pid := syscall.Getpid(); syscall.Getpgrp() == pid {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}
