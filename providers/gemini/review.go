package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/relay-host/relay-host/providers/internal/onesend"
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
	bin, err := sdk.FindCLI(req.Settings[settingCLIPath], "gemini", "install it (npm install -g @google/gemini-cli)")
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
	// With an API key (and no other auth type chosen) the CLI needs nothing
	// from the user's state directory, so it gets a scratch home of its own:
	// the user's GEMINI.md, mcpServers, extensions and settings are not
	// read, and the session history it always writes (tmp/<project>/chats
	// holding the prompt and the source, projects.json, history/) goes
	// into the scratch directory and is removed with it. A login (oauth)
	// lives in the user's state directory: then the CLI runs there.
	runHome := h
	st := settings.selectedType()
	ownHome := apiKey && (st == "" || st == apiKeyAuth)
	if ownHome {
		runHome = home{cliHome: filepath.Join(scratch, "home")}
		if err := os.Mkdir(runHome.cliHome, 0o700); err != nil {
			return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "creating a scratch directory: %v", err)
		}
	}
	if !ownHome {
		// Runs before the scratch directory is removed (defers run last
		// first): the CLI's records of this run are found by its path.
		defer snapshotState(stateDir).cleanup(work)
	}
	// relay-host's settings layer (see relaySettings): the user's
	// settings.json is left as it is.
	if err := writeRelaySettings(work, ownHome); err != nil {
		return sdk.Result{}, err
	}

	// With an API key the CLI calls GOOGLE_GEMINI_BASE_URL: the relay in
	// front of it sees the answer (its Retry-After for the record) and
	// answers any retry itself. maxAttempts = 1 already stops the CLI's.
	env := childEnv(os.Environ(), runHome, tmp, getenv)
	var relay *onesend.Relay
	if apiKey {
		up := getenv("GOOGLE_GEMINI_BASE_URL")
		if up == "" {
			up = defaultBaseURL
		}
		if relay, err = onesend.Start(up); err != nil {
			return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "GOOGLE_GEMINI_BASE_URL: %v", err)
		}
		defer relay.Close()
		env = onesend.NoProxy(withEnv(env, "GOOGLE_GEMINI_BASE_URL", relay.URL))
	}

	cmd := sdk.Command(ctx, bin, args(req.Settings)...)
	cmd.Dir = work
	cmd.Env = env
	ev.Progress("running gemini")
	out, err := sdk.RunCLI(ctx, ev, cmd, input(req), maxStdout, maxStderr)
	if err != nil {
		return sdk.Result{}, err
	}
	log.Debug("gemini finished", "exit", out.ExitCode, "stdout_bytes", out.StdoutBytes, "stderr_bytes", out.StderrBytes)
	res, err := parseResult(out.Stdout, out.Stderr, out.ExitCode)
	var e *sdk.Error
	if relay != nil && errors.As(err, &e) {
		if f := relay.Failure(); f != nil {
			e.RetryAfter = f.RetryAfter
		}
	}
	return res, err
}

// defaultBaseURL is the Gemini API, where the CLI goes with an API key
// when GOOGLE_GEMINI_BASE_URL is unset.
const defaultBaseURL = "https://generativelanguage.googleapis.com"

// withEnv is environ with k set to v, replacing any earlier value.
func withEnv(environ []string, k, v string) []string {
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); name != k {
			out = append(out, kv)
		}
	}
	return append(out, k+"="+v)
}

// provablyNoCredentials reports whether the CLI is certain to stop at its
// own auth check (exit 41) without sending anything. It mirrors the pinned
// CLI's validateNonInteractiveAuth: the auth type is the settings' or, when
// none is set, the one the environment implies; an enforced type that
// differs, no type at all, or a type whose requirements are missing fails
// before any request. It errs towards false (run the CLI and let it
// decide) wherever the answer depends on what the plugin cannot see.
func provablyNoCredentials(s *userSettings, stateDir string, apiKey bool, getenv func(string) string) bool {
	authType := s.selectedType()
	if authType == "" {
		authType = authTypeFromEnv(apiKey, getenv)
	}
	if enforced, _ := lookup(s.m, []string{"security", "auth", "enforcedType"}).(string); enforced != "" && enforced != authType {
		return true
	}
	switch authType {
	case "":
		// "Please set an Auth method": no type and none implied.
		return true
	case apiKeyAuth:
		// Without a key: "must specify the GEMINI_API_KEY".
		return !apiKey
	case "vertex-ai", "compute-default-credentials":
		// Vertex's project and key may come from a .env file the CLI
		// loads; the metadata server decides ADC at request time.
		return false
	case "oauth-personal":
		// Headless, a missing login cannot be completed.
		_, err := os.Lstat(filepath.Join(stateDir, "oauth_creds.json"))
		return errors.Is(err, os.ErrNotExist)
	}
	// Any other type ("gateway", implied by GOOGLE_GEMINI_BASE_URL alone,
	// or a name from another version): "Invalid auth method selected."
	return true
}

// authTypeFromEnv is the auth type the CLI derives from the environment
// when the settings name none, in the CLI's order.
func authTypeFromEnv(apiKey bool, getenv func(string) string) string {
	switch {
	case getenv("GOOGLE_GENAI_USE_GCA") == "true":
		return "oauth-personal"
	case getenv("GOOGLE_GENAI_USE_VERTEXAI") == "true":
		return "vertex-ai"
	case getenv("GOOGLE_GEMINI_BASE_URL") != "" && !apiKey:
		// With a key the plugin's settings layer sets selectedType =
		// gemini-api-key (relaySettings) before the CLI runs.
		return "gateway"
	case apiKey:
		return apiKeyAuth
	case getenv("CLOUD_SHELL") == "true" || getenv("GEMINI_CLI_USE_COMPUTE_ADC") == "true":
		return "compute-default-credentials"
	}
	return ""
}
