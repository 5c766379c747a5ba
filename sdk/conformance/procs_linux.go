//go:build linux

package conformance

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// descendants lists every process below root in the process tree.
func descendants(root int) procSet {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return procSet{}
	}
	children := map[int][]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ppid, _, state, ok := readStat(pid)
		if !ok || state == "Z" {
			continue
		}
		children[ppid] = append(children[ppid], p)
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return procSet{supported: true, procs: out}
}

// readStat parses /proc/<pid>/stat: the command name is parenthesised and may
// itself contain spaces and parentheses, so fields are counted from the last
// ')'.
func readStat(pid int) (p proc, ppid, pgrp int, state string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, 0, 0, "", false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return proc{}, 0, 0, "", false
	}
	fields := strings.Fields(s[end+1:])
	// fields[0] is state (field 3 of stat), [1] ppid (4), [2] pgrp (5),
	// [19] starttime (22).
	if len(fields) < 20 {
		return proc{}, 0, 0, "", false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	pgrp, err2 := strconv.Atoi(fields[2])
	start, err3 := strconv.ParseUint(fields[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return proc{}, 0, 0, "", false
	}
	return proc{pid: pid, startTime: start, comm: s[open+1 : end]}, ppid, pgrp, fields[0], true
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, _, pg, state, ok := readStat(pid); ok && pg == pgid && state != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// alive reports whether p still runs: same pid and start time, not a zombie
// (a zombie has stopped; only its exit status waits to be collected).
func (p proc) alive() bool {
	q, _, _, state, ok := readStat(p.pid)
	return ok && q.startTime == p.startTime && state != "Z"
}

func (p proc) kill() {
	if p.alive() {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}
