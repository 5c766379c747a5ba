//go:build !linux

package sdk

import "github.com/hashicorp/go-hclog"

// watchParent runs onDeath when the process that launched the plugin dies.
// Without PR_SET_PDEATHSIG the only portable signal is being reparented, so
// the parent pid is polled.
func watchParent(_ hclog.Logger, ppid int, onDeath func()) {
	go pollParent(ppid, onDeath)
}
