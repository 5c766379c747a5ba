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

// review runs one review through the gemini CLI.
func review(ctx context.Context, getenv func(string) string, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	log := sdk.Logger(ctx)
	bin, err := findCLI(req.Settings)
	if err != nil {
		return sdk.Result{}, err
	}
	h, err := resolveHome(getenv)
	if err != nil {
		return sdk.Result{}, err
	}
	stateDir := expandHome(h.stateDir, getenv)
	settings, err := readSettings(stateDir)
	if err != nil {
		return sdk.Result{}, err
	}
	apiKey := getenv("GEMINI_API_KEY") != ""
	if provablyNoCredentials(settings, stateDir, apiKey, getenv) {
		return sdk.Result{}, sdk.Errorf(sdk.CodeNotAuthenticated, "gemini is not authenticated: set GEMINI_API_KEY (listed in the gemini provider block's env) or log in with `gemini`")
	}
	if err := settings.ensure(apiKey); err != nil {
		return sdk.Result{}, err
	}

	// The CLI works in an empty scratch directory, never in the reviewed
	// repository: it must not read the repo's GEMINI.md or .env, nor write
	// there.
	scratch, err := os.MkdirTemp("", "relay-gemini-")
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

	cmd := sdk.Command(ctx, bin, args(req.Settings)...)
	cmd.Dir = work
	cmd.Env = childEnv(os.Environ(), h, tmp, getenv)
	stdout, stderr := &capped{max: maxStdout}, &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "stdin pipe: %v", err)
	}

	ev.Progress("running gemini")
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return sdk.Result{}, ctx.Err()
		}
		return sdk.Result{}, sdk.Errorf(sdk.CodeCLINotFound, "the gemini CLI could not be started: reinstall it or fix cli_path in the gemini provider block")
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
			return sdk.Result{}, sent(sdk.CodeReviewFailed, "running gemini failed: "+err.Error())
		}
		code = ee.ExitCode()
	}
	log.Debug("gemini finished", "exit", code, "stdout_bytes", stdout.n, "stderr_bytes", stderr.n)
	return parseResult(stdout.buf, stderr.buf, code)
}

// provablyNoCredentials reports whether the CLI is certain to stop at its
// own auth check (exit 41) without sending anything. It errs towards false
// (run the CLI and let it decide): only a sure answer may claim "not sent".
func provablyNoCredentials(s *userSettings, stateDir string, apiKey bool, getenv func(string) string) bool {
	if apiKey {
		return false
	}
	// Vertex AI and Code Assist are chosen by variables too.
	for _, v := range []string{"GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA", "GOOGLE_CLOUD_PROJECT", "CLOUD_SHELL"} {
		if getenv(v) != "" {
			return false
		}
	}
	switch s.selectedType() {
	case "", apiKeyAuth:
		// No auth type and no key: "Invalid auth method selected"; the
		// API key type without a key: "must specify GEMINI_API_KEY".
		return true
	case "oauth-personal":
		// Headless, a missing login cannot be completed.
		_, err := os.Lstat(filepath.Join(stateDir, "oauth_creds.json"))
		return errors.Is(err, os.ErrNotExist)
	}
	return false
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
