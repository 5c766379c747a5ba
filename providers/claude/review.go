package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/relay-host/relay-host/sdk"
)

// Output caps: a review is text, and a runaway CLI must not exhaust the
// plugin's memory. The host caps the review again.
const (
	maxStdout = 16 << 20
	maxStderr = 1 << 20
)

// review runs one review through the claude CLI.
func review(ctx context.Context, getenv func(string) string, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	log := sdk.Logger(ctx)
	bin, err := findCLI(req.Settings)
	if err != nil {
		return sdk.Result{}, err
	}
	if provablyNoCredentials(getenv) {
		return sdk.Result{}, sdk.Errorf(sdk.CodeNotAuthenticated, "claude is not logged in: set ANTHROPIC_API_KEY (listed in the claude provider block's env) or run `claude /login`")
	}

	// The CLI works in an empty scratch directory, never in the reviewed
	// repository: it must not read the repo's CLAUDE.md, .claude/ settings,
	// hooks or .env, nor write there.
	scratch, err := os.MkdirTemp("", "relay-claude-")
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "creating a scratch directory: %v", err)
	}
	defer os.RemoveAll(scratch)
	work, tmp := filepath.Join(scratch, "work"), filepath.Join(scratch, "tmp")
	for _, d := range []string{work, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "creating a scratch directory: %v", err)
		}
	}

	cmd := sdk.Command(ctx, bin, args(req.Settings, hasKey(getenv))...)
	cmd.Dir = work
	cmd.Env = childEnv(os.Environ(), tmp)
	stdout, stderr := &capped{max: maxStdout}, &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "stdin pipe: %v", err)
	}

	ev.Progress("running claude")
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return sdk.Result{}, ctx.Err()
		}
		return sdk.Result{}, sdk.Errorf(sdk.CodeCLINotFound, "the claude CLI could not be started: reinstall it or fix cli_path in the claude provider block")
	}
	feed(ev, stdin, input(req))
	err = cmd.Wait()
	if ctx.Err() != nil {
		// sdk.Command has SIGKILLed the CLI's whole process group.
		return sdk.Result{}, ctx.Err()
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return sdk.Result{}, sent(sdk.CodeReviewFailed, "running claude failed: "+err.Error())
		}
		code = ee.ExitCode()
	}
	log.Debug("claude finished", "exit", code, "stdout_bytes", stdout.n, "stderr_bytes", stderr.n)
	return parseResult(stdout.buf, stderr.buf, code)
}

// feed hands the source to the CLI: the transmission event first, then
// the write, which runs on its own goroutine (a large input blocks until the
// CLI reads it) and closes stdin at the end. The CLI sends what it reads, so
// the source leaves the machine only after the event.
func feed(ev sdk.Events, stdin io.WriteCloser, data string) {
	ev.Transmission()
	go func() {
		// A CLI that exits early closes the pipe: the write error is
		// expected then, and the exit status tells the story.
		io.WriteString(stdin, data)
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
