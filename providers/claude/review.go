package main

import (
	"context"
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

	// The review's own CLI state directory (see state.go), and the key
	// the user's state would have given the CLI. Precedence as the CLI's
	// own: a key in the environment, then a key helper, then a login, then
	// a key stored by `claude /login`.
	u := userStateOf(getenv)
	stored := readStoredAuth(u)
	envKey := hasKey(getenv)
	re := runEnv{tmp: tmp}
	helper := ""
	if !envKey {
		helper = stored.helper
	}
	if !envKey && helper == "" && !hasLogin(getenv, u) && !cloudMode(getenv) {
		re.apiKey = stored.key
	}
	keyed := envKey || helper != "" || re.apiKey != ""
	var state *runState
	if isolated(getenv, helper) {
		if state, err = newRunState(filepath.Join(scratch, "config"), u); err != nil {
			return sdk.Result{}, err
		}
		re.configDir = state.dir
		// Runs before the scratch directory is removed.
		defer func() {
			if copied, err := state.syncBack(); err != nil {
				log.Warn("claude refreshed its login during the review, and copying it back failed: run `claude /login` if the next review is not logged in", "error", err)
			} else if copied {
				log.Debug("claude refreshed its login during the review; copied back")
			}
		}()
	}

	// The relay sees the API's answer: its Retry-After for the record,
	// and it answers any retry the CLI still makes without resending.
	var relay *onesend.Relay
	if up := relayUpstream(getenv, keyed); up != "" {
		if relay, err = onesend.Start(up); err != nil {
			return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "ANTHROPIC_BASE_URL: %v", err)
		}
		defer relay.Close()
		re.relayURL = relay.URL
	}

	cmd := sdk.Command(ctx, bin, args(req.Settings, keyed, helper)...)
	cmd.Dir = work
	cmd.Env = childEnv(os.Environ(), re)
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
	return res, relay.WithRetryAfter(err)
}
