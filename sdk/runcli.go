package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
)

// FindCLI resolves a provider's CLI: the path or name in setting (a
// provider's cli_path), else name on PATH. A CLI that cannot be found is a
// pre-send failure (CodeCLINotFound, not sent); install says how to get it.
func FindCLI(setting, name, install string) (string, error) {
	if setting != "" {
		name = setting
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", Errorf(CodeCLINotFound, "the %s CLI was not found: %s, or set cli_path in the provider block", name, install)
	}
	return p, nil
}

// CLIOutput is what a CLI run by [RunCLI] printed, each stream capped, and
// how it exited.
type CLIOutput struct {
	Stdout, Stderr           []byte
	StdoutBytes, StderrBytes int // bytes written, counting what the caps dropped
	ExitCode                 int
}

// RunCLI runs cmd (made with [Command], so cancelling ctx kills its whole
// process group) with input on its stdin, and waits for it. The transmission
// event is emitted after the CLI has started and immediately before input is
// written: a CLI that cannot start has been sent nothing (CodeCLINotFound,
// not sent). A non-zero exit is not an error: CLIOutput.ExitCode says it.
// Errors: ctx.Err() when ctx ended; CodeTimeout when [Command] stopped the
// CLI just before ctx's deadline; CodeReviewFailed when waiting failed.
func RunCLI(ctx context.Context, ev Events, cmd *exec.Cmd, input string, maxStdout, maxStderr int) (CLIOutput, error) {
	stdout, stderr := &capped{max: maxStdout}, &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return CLIOutput{}, Errorf(CodeInternal, "stdin pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		return CLIOutput{}, startError(ctx, cmd)
	}
	feed(ev, stdin, input)
	code, err := exitOf(ctx, cmd, cmd.Wait())
	if err != nil && code < 0 {
		return CLIOutput{}, err
	}
	out := CLIOutput{Stdout: stdout.buf, Stderr: stderr.buf, StdoutBytes: stdout.n, StderrBytes: stderr.n, ExitCode: max(code, 0)}
	return out, err
}

// startError is the failure of a CLI that could not be started: nothing
// was written to it, so nothing was sent (unless ctx ended first).
func startError(ctx context.Context, cmd *exec.Cmd) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &Error{Code: CodeCLINotFound, NotSent: true,
		Message: fmt.Sprintf("the CLI %s could not be started: reinstall it or fix cli_path in the provider block", cmd.Path)}
}

// exitOf reads how a CLI run under ctx ended from Wait's error: its exit
// code (a non-zero one is not an error), or code -1 with ctx's error, a
// timeout (see [Command]), or CodeReviewFailed when waiting itself failed
// (code 0 then, with what the CLI printed still worth keeping).
func exitOf(ctx context.Context, cmd *exec.Cmd, waitErr error) (code int, err error) {
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if stoppedForDeadline(ctx, waitErr) {
		return -1, timeoutError(cmd)
	}
	if waitErr == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return 0, Errorf(CodeReviewFailed, "running the CLI failed: %v", waitErr)
	}
	return ee.ExitCode(), nil
}

// feed hands the source to the CLI: the transmission event first, then the
// write, on its own goroutine (a large input blocks until the CLI reads it),
// closing stdin at the end. The CLI sends what it reads, so the source leaves
// the machine only after the event.
func feed(ev Events, stdin io.WriteCloser, input string) {
	ev.Transmission()
	go func() {
		// A CLI that exits early closes the pipe: the write error is
		// expected then, and the exit status tells the story.
		io.WriteString(stdin, input)
		stdin.Close()
	}()
}

// capped is an io.Writer that keeps the first max bytes and counts the rest.
type capped struct {
	buf []byte
	max int
	n   int
}

func (c *capped) Write(p []byte) (int, error) {
	c.n += len(p)
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
