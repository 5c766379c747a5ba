//go:build linux

package sdk

import (
	"os"
	"runtime"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// watchParent arranges for onDeath to run when the process that launched the
// plugin dies, so a SIGKILLed host never leaves a plugin (or, through
// [Command], its CLI) running.
//
// PR_SET_PDEATHSIG is stored per thread, is not inherited by new threads,
// and is lost when the thread that set it exits; the kernel checks every
// live thread of the child when the parent dies. Go moves goroutines between
// threads and may end a thread whose goroutine locked it, so the signal is
// armed on a thread that is locked to a goroutine which never returns: that
// thread lives as long as the process. (The signal fires when the parent
// *thread* that forked the plugin exits; a Go host never ends its threads
// unless a goroutine exits while locked to one, so hosts must not start
// plugins from such a goroutine.)
//
// SIGTERM, not SIGKILL, is the death signal so that Serve can cancel calls
// and kill child process groups before exiting.
func watchParent(logger hclog.Logger, ppid int, onDeath func()) {
	armed := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread carries the signal
		armed <- unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0)
		select {}
	}()
	if err := <-armed; err != nil {
		logger.Warn("cannot arm the parent-death signal; polling the parent pid instead", "error", err)
		go pollParent(ppid, onDeath)
		return
	}
	// The parent may have died before the signal was armed; then it never
	// fires and we have already been reparented.
	if os.Getppid() != ppid {
		go onDeath()
	}
}
