package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/relay-host/relay-host/providers/internal/onesend"
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
	bin, err := sdk.FindCLI(req.Settings[settingCLIPath], "claude", "install it (npm install -g @anthropic-ai/claude-code)")
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

	// The relay sees the API's answer: its Retry-After for the record,
	// and it answers any retry the CLI still makes without resending.
	var relay *onesend.Relay
	if up := relayUpstream(getenv); up != "" {
		if relay, err = onesend.Start(up); err != nil {
			return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "ANTHROPIC_BASE_URL: %v", err)
		}
		defer relay.Close()
	}
	relayURL := ""
	if relay != nil {
		relayURL = relay.URL
	}

	cmd := sdk.Command(ctx, bin, args(req.Settings, hasKey(getenv))...)
	cmd.Dir = work
	cmd.Env = childEnv(os.Environ(), tmp, relayURL)
	if relay != nil {
		cmd.Env = onesend.NoProxy(cmd.Env)
	}
	ev.Progress("running claude")
	out, err := sdk.RunCLI(ctx, ev, cmd, input(req), maxStdout, maxStderr)
	if err != nil {
		return sdk.Result{}, err
	}
	log.Debug("claude finished", "exit", out.ExitCode, "stdout_bytes", out.StdoutBytes, "stderr_bytes", out.StderrBytes)
	res, err := parseResult(out.Stdout, out.Stderr, out.ExitCode)
	var e *sdk.Error
	if relay != nil && errors.As(err, &e) {
		if f := relay.Failure(); f != nil {
			e.RetryAfter = f.RetryAfter
		}
	}
	return res, err
}
