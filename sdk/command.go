package sdk

import (
	"context"
	"os/exec"
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
	cmd := exec.CommandContext(ctx, name, args...)
	isolate(cmd)
	cmd.WaitDelay = CommandWaitDelay
	return cmd
}
