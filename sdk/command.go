package sdk

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"time"
)

// CommandWaitDelay is how long Wait waits for a killed child's output pipes
// to close (a grandchild that escaped the group may hold them) before
// closing them itself. It keeps a cancelled Review well inside [CancelGrace].
const CommandWaitDelay = time.Second

// Command returns an *exec.Cmd for running a provider's CLI, set up so that
// the CLI cannot outlive the review:
//   - the child runs in its own process group (Unix), so cancelling ctx kills
//     the whole group (the CLI and everything it spawned) with SIGKILL, and a
//     terminal's Ctrl-C reaches relay-host, which decides what to cancel;
//   - when ctx has a deadline (a Review call's always has: the review's
//     timeout), the group is killed a moment before it ([StopMargin]): once
//     the deadline passes the host kills the plugin at once, and then only
//     the CLI itself would die (Pdeathsig), orphaning what it spawned.
//     [RunCLI] and [StreamCLI] report such a stop as CodeTimeout;
//   - on Linux the child also gets SIGKILL if the plugin dies (Pdeathsig);
//   - Wait returns at most [CommandWaitDelay] after the kill even if an
//     escaped grandchild keeps the output pipes open.
//
// Stdin, Stdout and Stderr are left nil (the null device) for the caller to
// set; never point a child's Stdout at the plugin's own stdout. Start the
// command from an ordinary goroutine: Pdeathsig fires when the *thread* that
// started the child exits, and Go only ends a thread when a goroutine exits
// while locked to it with runtime.LockOSThread.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, stopAt(d, time.Now()))
		context.AfterFunc(ctx, cancel) // released with the command's context
	}
	cmd := exec.CommandContext(ctx, name, args...)
	isolate(cmd)
	cmd.WaitDelay = CommandWaitDelay
	return cmd
}

// StopMargin is how long before its context's deadline a [Command] is
// stopped, at most: a tenth of the time left when it is made, when that is
// shorter.
const StopMargin = 500 * time.Millisecond

// stopAt is when a command made at now stops for deadline d.
func stopAt(d, now time.Time) time.Time {
	return d.Add(-min(StopMargin, d.Sub(now)/10))
}

// stoppedForDeadline reports whether a command run under ctx ended because
// [Command] stopped it before ctx's deadline: ctx itself has not ended, its
// deadline is within StopMargin, and the CLI did not exit on its own.
func stoppedForDeadline(ctx context.Context, waitErr error) bool {
	d, ok := ctx.Deadline()
	if !ok || ctx.Err() != nil || time.Until(d) > StopMargin {
		return false
	}
	var ee *exec.ExitError
	return errors.As(waitErr, &ee) && !ee.Exited()
}

// timeoutError is the failure of a CLI stopped for the review's deadline.
func timeoutError(cmd *exec.Cmd) error {
	return Errorf(CodeTimeout, "%s did not finish within the review's timeout and was stopped; raise timeout for the route in relay.hcl or pass --timeout", filepath.Base(cmd.Path))
}
