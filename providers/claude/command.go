package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// Settings of the claude provider block (provider or route level).
const (
	settingCLIPath = "cli_path" // the claude binary: absolute path or a name on PATH
	settingModel   = "model"    // passed as --model; empty = the CLI's default
)

// modelPattern keeps a model name from being read as a flag or carrying
// anything but a model id or alias.
var modelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/\[\]-]{0,127}$`)

func checkSettings(route string, s map[string]string) []sdk.AttributeError {
	var errs []sdk.AttributeError
	for k, v := range s {
		switch {
		case strings.HasPrefix(k, "relay."):
		case k == settingCLIPath:
			if v != "" && !filepath.IsAbs(v) && strings.ContainsRune(v, filepath.Separator) {
				errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "must be an absolute path or a command name looked up on PATH"})
			}
		case k == settingModel:
			if v != "" && !modelPattern.MatchString(v) {
				errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "must be a model name or alias such as sonnet or claude-sonnet-4-5"})
			}
		default:
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "unknown setting: the claude provider takes cli_path and model"})
		}
	}
	return errs
}

// configDir is the CLI's state directory: $CLAUDE_CONFIG_DIR, else
// ~/.claude (the host expands "~").
func configDir(getenv func(string) string) string {
	if d := getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return d
	}
	return "~/.claude"
}

// expandHome turns the "~" of configDir into $HOME for the plugin's own
// file checks.
func expandHome(dir string, getenv func(string) string) string {
	if dir == "~" || strings.HasPrefix(dir, "~/") {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		return filepath.Join(home, strings.TrimPrefix(dir, "~"))
	}
	return dir
}

// hasKey reports whether an API key or auth token is in the environment.
// Under --bare these are the only credentials the CLI reads.
func hasKey(getenv func(string) string) bool {
	return getenv("ANTHROPIC_API_KEY") != "" || getenv("ANTHROPIC_AUTH_TOKEN") != ""
}

// provablyNoCredentials reports whether the CLI is certain to answer "Not
// logged in" without sending anything: no key in the environment, no login
// (.credentials.json) and no stored or helper-provided key in the state
// directory, no cloud-provider mode. It errs towards false (run the CLI and
// let it decide): only a sure answer may claim "not sent". On macOS the
// login lives in the keychain, which the plugin cannot see.
func provablyNoCredentials(getenv func(string) string) bool {
	if hasKey(getenv) || getenv("CLAUDE_CODE_OAUTH_TOKEN") != "" || runtime.GOOS == "darwin" {
		return false
	}
	for _, v := range []string{"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY"} {
		if getenv(v) != "" {
			return false
		}
	}
	dir := expandHome(configDir(getenv), getenv)
	if _, err := os.Lstat(filepath.Join(dir, ".credentials.json")); err == nil || !os.IsNotExist(err) {
		return false
	}
	// A key stored by `claude /login` with an API key, or a helper script
	// that prints one. Without CLAUDE_CONFIG_DIR the global config is
	// ~/.claude.json, beside the directory rather than in it.
	globalConfig := filepath.Join(dir, ".claude.json")
	if getenv("CLAUDE_CONFIG_DIR") == "" {
		globalConfig = expandHome("~/.claude.json", getenv)
	}
	for _, f := range []struct{ path, key string }{
		{globalConfig, `"primaryApiKey"`},
		{filepath.Join(dir, "settings.json"), `"apiKeyHelper"`},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil && !os.IsNotExist(err) {
			return false
		}
		if strings.Contains(string(data), f.key) {
			return false
		}
	}
	return true
}

// args builds the CLI's arguments. No tools, no session file, JSON result.
// --bare (no CLAUDE.md discovery, hooks, plugins, keychain) only when a key
// is in the environment: under --bare the CLI never reads a subscription
// login, so a logged-in user without a key would be told "Not logged in".
// Without --bare, the scratch working directory keeps the reviewed
// repository's CLAUDE.md and .claude/ settings out.
func args(settings map[string]string, bare bool) []string {
	a := []string{"-p", "--output-format", "json", "--tools", "", "--no-session-persistence"}
	if bare {
		a = append(a, "--bare")
	}
	if m := settings[settingModel]; m != "" {
		a = append(a, "--model", m)
	}
	return a
}

// childEnv is the plugin's environment (already narrowed by the host) with
// the variables that make a headless review quiet and quick to fail, and,
// when relayURL is set, the API reached through the onesend relay.
func childEnv(environ []string, tmp, relayURL string) []string {
	set := [][2]string{
		// The only switch that stops all non-model traffic (telemetry,
		// update checks, feature flags).
		{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"},
		// No retries of the model call: the default 10 (≈150 s against a
		// steady 429, and it waits out a Retry-After) resend the whole
		// source each time, and a 401 is retried too. A failure ends the
		// attempt; resending is the user's call (--confirm-resend).
		{"CLAUDE_CODE_MAX_RETRIES", "0"},
		{"TMPDIR", tmp},
	}
	if relayURL != "" {
		set = append(set, [2]string{"ANTHROPIC_BASE_URL", relayURL})
	}
	drop := map[string]bool{}
	for _, kv := range set {
		drop[kv[0]] = true
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	for _, kv := range set {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}

// defaultBaseURL is the Anthropic API, where the CLI goes when
// ANTHROPIC_BASE_URL is unset.
const defaultBaseURL = "https://api.anthropic.com"

// relayUpstream is the base URL to put the onesend relay in front of, or
// "" for none. Only where the CLI is known to send its model calls to
// ANTHROPIC_BASE_URL: with a key in the environment (--bare reads no
// login), or when the operator set the variable already. A subscription
// login against the real API goes direct; CLAUDE_CODE_MAX_RETRIES=0 still
// keeps it to one send, but its Retry-After is not seen.
func relayUpstream(getenv func(string) string) string {
	if u := getenv("ANTHROPIC_BASE_URL"); u != "" {
		return u
	}
	if hasKey(getenv) {
		return defaultBaseURL
	}
	return ""
}

// input is what the CLI reads on stdin: the prompt, then the packet.
func input(req sdk.ReviewRequest) string {
	return strings.TrimRight(req.Prompt, "\n") + "\n\n" + req.Packet
}
