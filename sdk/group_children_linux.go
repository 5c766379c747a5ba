package sdk

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killChildGroups SIGKILLs the process group of every child of the plugin
// that leads a group of its own (each CLI started with [Command]), and any
// other child outside the plugin's group. It does not wait for exec's
// context watch to do it: that runs on another goroutine, after this
// process may already be gone.
//
// The children are found in /proc (a child's parent is this process until
// it is reaped, so the pid cannot belong to a stranger while it is listed).
func killChildGroups() {
	self, own := os.Getpid(), syscall.Getpgrp()
	for _, pid := range childPids(self) {
		ppid, pgrp, ok := parentAndGroup(pid)
		if !ok || ppid != self {
			continue
		}
		switch {
		case pgrp == pid:
			syscall.Kill(-pid, syscall.SIGKILL)
		case pgrp != own:
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// childPids lists the candidates: the kernel's per-thread children lists
// (/proc/self/task/*/children, a few reads), else every pid in /proc
// (a read per process on the machine: milliseconds on a busy one, paid at
// every plugin stop). Each candidate is still checked by its parent pid.
func childPids(self int) []int {
	var pids []int
	if tasks, err := os.ReadDir("/proc/self/task"); err == nil {
		listed := true
		for _, t := range tasks {
			b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
			if err != nil {
				listed = false // a kernel without CONFIG_PROC_CHILDREN
				break
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		if listed {
			return pids
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	pids = pids[:0]
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parentAndGroup reads a process's parent pid and process group from
// /proc/<pid>/stat: the fields after the ')' that ends the command name
// are state, ppid, pgrp.
func parentAndGroup(pid int) (ppid, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	return ppid, pgrp, err1 == nil && err2 == nil
}
