package conformance

import (
	"fmt"
	"strings"
	"time"
)

// proc identifies a process by pid and start time, so a pid reused after the
// original exited is never mistaken for it (nor killed).
type proc struct {
	pid       int
	startTime uint64
	comm      string
}

type procSet struct {
	supported bool
	procs     []proc
}

// waitGone polls until every process in s is gone or deadline passes, and
// returns those still alive.
func waitGone(s procSet, deadline time.Time) []proc {
	for {
		var alive []proc
		for _, p := range s.procs {
			if p.alive() {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killAll cleans up after a plugin that left processes behind, so the check
// itself leaves nothing running.
func killAll(ps []proc) {
	for _, p := range ps {
		p.kill()
	}
}

func describeProcs(ps []proc) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s (pid %d)", p.comm, p.pid))
	}
	return strings.Join(parts, ", ")
}
