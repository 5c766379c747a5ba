package sdk

import (
	"os"
	"time"
)

// parentPollInterval bounds how long an orphaned plugin outlives its host
// where no parent-death signal exists.
const parentPollInterval = 500 * time.Millisecond

// pollParent calls onDeath once the parent pid differs from ppid, which
// happens when the parent dies and the plugin is reparented.
func pollParent(ppid int, onDeath func()) {
	t := time.NewTicker(parentPollInterval)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			onDeath()
			return
		}
	}
}
