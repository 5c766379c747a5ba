package main

import (
	"encoding/json"
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

// cloudMode reports whether the CLI is set to reach Claude through a cloud
// provider (Bedrock, Vertex, Foundry), which brings its own credentials.
func cloudMode(getenv func(string) string) bool {
	for _, v := range []string{"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY"} {
		if getenv(v) != "" {
			return true
		}
	}
	return false
}

// hasLogin reports whether a subscription login is there: a token in the
// environment or a .credentials.json in the user's state directory.
func hasLogin(getenv func(string) string, u userState) bool {
	if getenv("CLAUDE_CODE_OAUTH_TOKEN") != "" {
		return true
	}
	_, err := os.Lstat(filepath.Join(u.dir, ".credentials.json"))
	return err == nil
}

// provablyNoCredentials reports whether the CLI is certain to answer "Not
// logged in" without sending anything: no key in the environment, no login
// (.credentials.json) and no stored or helper-provided key in the state
// directory, no cloud-provider mode. It errs towards false (run the CLI and
// let it decide): only a sure answer may claim "not sent". On macOS the
// login lives in the keychain, which the plugin cannot see.
func provablyNoCredentials(getenv func(string) string) bool {
	if hasKey(getenv) || getenv("CLAUDE_CODE_OAUTH_TOKEN") != "" || runtime.GOOS == "darwin" || cloudMode(getenv) {
		return false
	}
	u := userStateOf(getenv)
	if _, err := os.Lstat(filepath.Join(u.dir, ".credentials.json")); err == nil || !os.IsNotExist(err) {
		return false
	}
	// A key stored by `claude /login` with an API key, or a helper script
	// that prints one.
	for _, f := range []struct{ path, key string }{
		{u.globalConfig, `"primaryApiKey"`},
		{filepath.Join(u.dir, "settings.json"), `"apiKeyHelper"`},
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

// args builds the CLI's arguments: print mode, JSON result, no tools, no
// session file, and nothing of the user's customisation: no MCP server
// (--strict-mcp-config with an empty --mcp-config), no user, project or
// local settings (--setting-sources ""; managed settings still apply), no
// skills or slash commands, and --safe-mode (no CLAUDE.md, plugins, hooks,
// custom agents, output styles or auto-memory). With a key (bare) also
// --bare: no keychain, no OAuth, no background prefetch. Under --bare the
// CLI never reads a subscription login, so a logged-in user without a key
// runs without it. helper is a key helper command for --settings, or "".
func args(settings map[string]string, bare bool, helper string) []string {
	a := []string{
		"-p", "--output-format", "json", "--tools", "", "--no-session-persistence",
		"--strict-mcp-config", "--mcp-config", `{"mcpServers":{}}`,
		"--setting-sources", "", "--disable-slash-commands", "--safe-mode",
	}
	if bare {
		a = append(a, "--bare")
	}
	if helper != "" {
		s, _ := json.Marshal(map[string]string{"apiKeyHelper": helper})
		a = append(a, "--settings", string(s))
	}
	if m := settings[settingModel]; m != "" {
		a = append(a, "--model", m)
	}
	return a
}

// runEnv is what childEnv sets in the CLI's environment besides the
// plugin's own.
type runEnv struct {
	tmp       string // TMPDIR
	relayURL  string // ANTHROPIC_BASE_URL when the onesend relay is used
	configDir string // CLAUDE_CONFIG_DIR when the review has its own state
	apiKey    string // ANTHROPIC_API_KEY from the user's stored key
}

// childEnv is the plugin's environment (already narrowed by the host) with
// the variables that make a headless review quiet, isolated and quick to
// fail.
func childEnv(environ []string, r runEnv) []string {
	set := [][2]string{
		// The only switch that stops all non-model traffic (telemetry,
		// update checks, feature flags).
		{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"},
		// No retries of the model call: the default 10 (≈150 s against a
		// steady 429, and it waits out a Retry-After) resend the whole
		// source each time, and a 401 is retried too. A failure ends the
		// attempt; resending is the user's call (--confirm-resend).
		{"CLAUDE_CODE_MAX_RETRIES", "0"},
		// No CLAUDE.md of any level (user, project, managed, --add-dir),
		// whatever else enables them.
		{"CLAUDE_CODE_DISABLE_CLAUDE_MDS", "1"},
		{"TMPDIR", r.tmp},
	}
	if r.relayURL != "" {
		set = append(set, [2]string{"ANTHROPIC_BASE_URL", r.relayURL})
	}
	if r.configDir != "" {
		set = append(set, [2]string{"CLAUDE_CONFIG_DIR", r.configDir})
	}
	if r.apiKey != "" {
		set = append(set, [2]string{"ANTHROPIC_API_KEY", r.apiKey})
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
// ANTHROPIC_BASE_URL: with a key (keyed: --bare reads no login), or when
// the operator set the variable already. A subscription login against the
// real API goes direct, because the CLI treats any other base URL as a
// third-party gateway; CLAUDE_CODE_MAX_RETRIES=0 still keeps it to one
// send, but its Retry-After is not seen.
func relayUpstream(getenv func(string) string, keyed bool) string {
	if u := getenv("ANTHROPIC_BASE_URL"); u != "" {
		return u
	}
	if keyed {
		return defaultBaseURL
	}
	return ""
}

// input is what the CLI reads on stdin: the prompt, then the packet.
func input(req sdk.ReviewRequest) string {
	return strings.TrimRight(req.Prompt, "\n") + "\n\n" + req.Packet
}
