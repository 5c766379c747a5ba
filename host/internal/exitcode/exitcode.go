// Package exitcode is relay-host's one table of process exit codes, shared
// by both binaries (the lean front's `admission run` and every command of
// relay-host-core).
//
// Invariant: every way a relay-host command ends is one of these codes, or
// the exit status of the command `admission run` ran for the user, passed
// through unchanged. The README's exit codes are OK through Blocked; the
// rest follow the conventions of the tools relay-host stands in for.
package exitcode

// Code is a process exit status.
type Code int

const (
	// OK: done.
	OK Code = 0
	// RequestChanges: `review --fail-on request_changes` got that verdict.
	RequestChanges Code = 1
	// Failure: a command other than review failed for a reason that is
	// neither usage nor the provider (a job store that cannot be read, a
	// worker that cannot be signalled, a plugin that fails its contract).
	Failure Code = 1
	// Usage: a usage or configuration error; nothing was sent.
	Usage Code = 2
	// Provider: the plugin or the provider failed.
	Provider Code = 3
	// IOErr: the job record could not be saved (EX_IOERR: a full disk).
	IOErr Code = 74
	// Blocked: admission refused a slot (EX_TEMPFAIL: retry later, or
	// pass --wait to queue).
	Blocked Code = 75
	// WaitTimeout: `jobs wait --timeout` ran out with the job still
	// running, as timeout(1) exits.
	WaitTimeout Code = 124
	// NoExec: `admission run` could not execute its command, as the shell
	// exits.
	NoExec Code = 126
	// NotFound: `admission run`'s command does not exist, as the shell
	// exits.
	NotFound Code = 127
	// Cancelled: the review was cancelled (128 + SIGINT, as the shell
	// reports a process ended by Ctrl-C).
	Cancelled Code = 130
)

// Signaled is the exit code of a process ended by signal sig, as the shell
// reports it: 128 + the signal number.
func Signaled(sig int) Code { return Code(128 + sig) }
