//go:build unix

package sdk

import (
	"os"
	"syscall"
)

// stopProcess ends a plugin whose work must not go on (SIGTERM, parent
// death, a call that ignored its cancellation). It kills before it exits,
// in this order: the process group of every child that leads one (the CLIs
// started with [Command]), then the plugin's own group, itself included,
// which takes every helper started with plain os/exec. Only then does the
// plugin die, and with it its copy of the lease descriptor (see
// holdLease): the host's slot stays held until no process of either kind
// can run.
func stopProcess(code int) {
	killChildGroups()
	killOwnGroup()
	os.Exit(code)
}

// killOwnGroup SIGKILLs the plugin's process group, itself included, when
// the plugin leads it (relay-host starts every plugin in a group of its own).
// It is the last act of a stopping plugin: children a provider started
// without [Command] share the group and must not outlive it.
func killOwnGroup() {
	if pid := syscall.Getpid(); syscall.Getpgrp() == pid {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}
