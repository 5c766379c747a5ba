package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	auth := authType(settings, apiKey, getenv)
	if provablyNoCredentials(settings, auth, stateDir, apiKey, getenv) {
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
	// With an API key or a Google login the CLI gets a scratch home of its
	// own: the user's GEMINI.md, mcpServers, extensions and settings are
	// not read, and the session history it always writes (tmp/<project>/
	// chats holding the prompt and the source, projects.json, history/)
	// goes into the scratch directory and is removed with it. A key needs
	// nothing from the user's state directory; a login needs its few files
	// (login.go). Vertex AI and compute ADC may take their project and key
	// from the user's ~/.gemini/.env: then the CLI runs there, and what it
	// recorded of the review is removed afterwards (cleanup.go).
	runHome := h
	switch auth {
	case apiKeyAuth, googleLoginAuth:
		runHome = home{cliHome: filepath.Join(scratch, "home")}
		if err := os.Mkdir(runHome.cliHome, 0o700); err != nil {
			return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "creating a scratch directory: %v", err)
		}
	default:
		// Runs before the scratch directory is removed (defers run last
		// first): the CLI's records of this run are found by its path.
		defer snapshotState(stateDir).cleanup(work)
	}
	if auth == googleLoginAuth {
		login, err := copyLogin(stateDir, filepath.Join(runHome.cliHome, ".gemini"), settings)
		if err != nil {
			return sdk.Result{}, err
		}
		// Runs after the CLI has exited, before the scratch directory
		// (and the copy in it) is removed.
		defer func() {
			if names, err := login.writeBack(); err != nil {
				log.Warn("gemini's refreshed login could not be written back", "error", err)
			} else if len(names) > 0 {
				log.Debug("gemini's refreshed login written back", "files", names)
			}
		}()
	}
	// relay-host's settings layer (see relaySettings): the user's
	// settings.json is left as it is.
	if err := writeRelaySettings(work, auth == apiKeyAuth); err != nil {
		return sdk.Result{}, err
	}

	// With an API key the CLI calls GOOGLE_GEMINI_BASE_URL: the relay in
	// front of it sees the answer (its Retry-After for the record) and
	// answers any retry itself. maxAttempts = 1 already stops the CLI's.
	env := childEnv(os.Environ(), runHome, tmp, getenv)
	if auth == googleLoginAuth {
		for _, kv := range loginEnv(stateDir, getenv) {
			k, v, _ := strings.Cut(kv, "=")
			env = withEnv(env, k, v)
		}
	}
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
	return res, relay.WithRetryAfter(err)
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

// googleLoginAuth is the CLI's auth type for a Google login.
const googleLoginAuth = "oauth-personal"

// authType is the auth type the CLI will use: the user's choice in their
// settings; else, with an API key, the key (relaySettings then names it,
// ahead of anything the environment implies); else the one the
// environment implies.
func authType(s *userSettings, apiKey bool, getenv func(string) string) string {
	if st := s.selectedType(); st != "" {
		return st
	}
	if apiKey {
		return apiKeyAuth
	}
	return authTypeFromEnv(getenv)
}

// provablyNoCredentials reports whether the CLI is certain to stop at its
// own auth check (exit 41) without sending anything, given the auth type
// it will use (authType). It mirrors the pinned CLI's
// validateNonInteractiveAuth and, for a Google login, its initOauthClient:
// an enforced type that differs, no type at all, or a type whose
// requirements are missing fails before any request. It errs towards
// false (run the CLI and let it decide) wherever the answer depends on
// what the plugin cannot see. An exit 41 it misses is recorded as sent,
// since the CLI had the source on its stdin.
func provablyNoCredentials(s *userSettings, auth, stateDir string, apiKey bool, getenv func(string) string) bool {
	if enforced, _ := lookup(s.m, []string{"security", "auth", "enforcedType"}).(string); enforced != "" && enforced != auth {
		return true
	}
	switch auth {
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
	case googleLoginAuth:
		// Headless, a missing or unusable login cannot be completed.
		return noGoogleLogin(stateDir, getenv, time.Now())
	}
	// Any other type ("gateway", implied by GOOGLE_GEMINI_BASE_URL alone,
	// or a name from another version): "Invalid auth method selected."
	return true
}

// authTypeFromEnv is the auth type the CLI derives from the environment
// when the settings name none and there is no API key, in the CLI's
// order.
func authTypeFromEnv(getenv func(string) string) string {
	switch {
	case getenv("GOOGLE_GENAI_USE_GCA") == "true":
		return googleLoginAuth
	case getenv("GOOGLE_GENAI_USE_VERTEXAI") == "true":
		return "vertex-ai"
	case getenv("GOOGLE_GEMINI_BASE_URL") != "":
		return "gateway"
	case getenv("CLOUD_SHELL") == "true" || getenv("GEMINI_CLI_USE_COMPUTE_ADC") == "true":
		return "compute-default-credentials"
	}
	return ""
}
