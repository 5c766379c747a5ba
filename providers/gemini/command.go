package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// Settings of the gemini provider block (provider or route level).
const (
	settingCLIPath = "cli_path" // the gemini binary: absolute path or a name on PATH
	settingModel   = "model"    // passed as -m
)

// defaultModel is always passed explicitly: without -m the CLI makes an
// extra routing call first.
const defaultModel = "gemini-2.5-pro"

// modelPattern keeps a model name from being read as a flag.
var modelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$`)

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
				errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "must be a model name such as gemini-2.5-pro"})
			}
		default:
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "unknown setting: the gemini provider takes cli_path and model"})
		}
	}
	return errs
}

// home is where the CLI keeps its state.
type home struct {
	// cliHome is the value for the child's GEMINI_CLI_HOME ("~" expanded
	// later); empty leaves the CLI on $HOME.
	cliHome string
	// stateDir is the directory the CLI writes, $cliHome/.gemini: the
	// shared_state fact. It may start with "~/".
	stateDir string
}

// resolveHome reads GEMINI_CLI_HOME and its alias GEMINI_CONFIG_DIR.
// GEMINI_CONFIG_DIR names the .gemini directory itself (the
// CLAUDE_CONFIG_DIR pattern); the CLI can only be pointed at it through its
// parent, so a GEMINI_CONFIG_DIR whose last element is not ".gemini" could
// not be the directory the CLI writes and is refused rather than locked.
func resolveHome(getenv func(string) string) (home, error) {
	cliHome, alias := getenv("GEMINI_CLI_HOME"), getenv("GEMINI_CONFIG_DIR")
	for name, v := range map[string]string{"GEMINI_CLI_HOME": cliHome, "GEMINI_CONFIG_DIR": alias} {
		if v != "" && !filepath.IsAbs(v) && v != "~" && !strings.HasPrefix(v, "~/") {
			return home{}, sdk.Errorf(sdk.CodeConfigInvalid, "%s must be an absolute path", name)
		}
	}
	if alias != "" {
		alias = filepath.Clean(alias)
		if filepath.Base(alias) != ".gemini" {
			return home{}, sdk.Errorf(sdk.CodeConfigInvalid, "GEMINI_CONFIG_DIR must name a directory called .gemini (the CLI keeps its state in <home>/.gemini): set GEMINI_CLI_HOME to the directory above it instead")
		}
		parent := filepath.Dir(alias)
		if cliHome != "" && filepath.Clean(cliHome) != parent {
			return home{}, sdk.Errorf(sdk.CodeConfigInvalid, "GEMINI_CLI_HOME and GEMINI_CONFIG_DIR name different directories: set only GEMINI_CLI_HOME")
		}
		return home{cliHome: parent, stateDir: alias}, nil
	}
	if cliHome != "" {
		cliHome = filepath.Clean(cliHome)
		return home{cliHome: cliHome, stateDir: filepath.Join(cliHome, ".gemini")}, nil
	}
	return home{stateDir: "~/.gemini"}, nil
}

// expandHome turns a leading "~" into $HOME.
func expandHome(p string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		h := getenv("HOME")
		if h == "" {
			h, _ = os.UserHomeDir()
		}
		return filepath.Join(h, strings.TrimPrefix(p, "~"))
	}
	return p
}

func model(settings map[string]string) string {
	if m := settings[settingModel]; m != "" {
		return m
	}
	return defaultModel
}

// noMCPServer is the one MCP server name the CLI is allowed to start: an
// allowlist naming only a server nobody configures starts none. (An empty
// allowlist would allow them all; admin.mcp.enabled is not read from any
// settings file.) This covers servers from every settings layer; -e none
// keeps extensions, and the servers they bring, from loading.
const noMCPServer = "relay-host-allows-no-mcp-server"

// args builds the CLI's arguments: always -m, JSON output, no extensions
// (-e none), no MCP servers; the prompt comes on stdin.
func args(settings map[string]string) []string {
	return []string{"-m", model(settings), "-o", "json", "-e", "none", "--allowed-mcp-server-names", noMCPServer}
}

// childEnv is the plugin's environment (already narrowed by the host) with
// the variables a headless run needs.
func childEnv(environ []string, h home, tmp string, getenv func(string) string) []string {
	set := [][2]string{
		// Else the CLI refuses an untrusted folder (exit 55).
		{"GEMINI_CLI_TRUST_WORKSPACE", "true"},
		// Else it relaunches itself under a bigger heap (≈1 s).
		{"GEMINI_CLI_NO_RELAUNCH", "true"},
		// Private: its gemini-client-error-*.json reports land here and
		// are removed with the scratch directory.
		{"TMPDIR", tmp},
	}
	if h.cliHome != "" {
		set = append(set, [2]string{"GEMINI_CLI_HOME", expandHome(h.cliHome, getenv)})
	}
	drop := map[string]bool{"GEMINI_CONFIG_DIR": true}
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

// input is what the CLI reads on stdin: the prompt, then the packet.
func input(req sdk.ReviewRequest) string {
	return strings.TrimRight(req.Prompt, "\n") + "\n\n" + req.Packet
}
