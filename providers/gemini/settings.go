package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/relay-host/relay-host/sdk"
)

// The user's settings.json in the CLI's .gemini directory is only read
// (for the auth type the user chose), never written. What relay-host needs
// the CLI to do is written into a settings file relay-host owns: the
// workspace settings (<cwd>/.gemini/settings.json) of the scratch directory
// the CLI runs in. The CLI merges that layer over the user's, and loads it
// because the scratch directory is trusted (GEMINI_CLI_TRUST_WORKSPACE).
//
// The pinned CLI's system settings file (GEMINI_CLI_SYSTEM_SETTINGS_PATH)
// would rank higher still, but it is skipped unless the file and every
// directory above it are owned by root and not group or world writable,
// which a plugin run by a user cannot arrange.

var selectedTypePath = []string{"security", "auth", "selectedType"}

const apiKeyAuth = "gemini-api-key"

// userSettings is a parsed settings.json of the user's.
type userSettings struct {
	m map[string]any
}

// readSettings parses <stateDir>/settings.json; a missing file is empty.
// Comments are allowed, as the CLI allows them.
func readSettings(stateDir string) (*userSettings, error) {
	s := &userSettings{m: map[string]any{}}
	data, err := os.ReadFile(filepath.Join(stateDir, "settings.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, sdk.Errorf(sdk.CodeConfigInvalid, "gemini's settings.json cannot be read: %s", errors.Unwrap(err))
	}
	data = bytes.TrimSpace(stripComments(data))
	if len(data) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(data, &s.m); err != nil || s.m == nil {
		return nil, sdk.Errorf(sdk.CodeConfigInvalid, "gemini's settings.json is not a JSON object")
	}
	return s, nil
}

// selectedType is security.auth.selectedType, or "".
func (s *userSettings) selectedType() string {
	v, _ := lookup(s.m, selectedTypePath).(string)
	return v
}

// stripComments blanks // and /* */ comments outside JSON strings, keeping
// every other byte (newlines too, so offsets in errors stay meaningful).
func stripComments(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString:
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
			out = append(out, c)
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			if i < len(data) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			i += 2
			for i < len(data) && !(data[i] == '*' && i+1 < len(data) && data[i+1] == '/') {
				if data[i] == '\n' {
					out = append(out, '\n')
				}
				i++
			}
			i++ // past the '/'
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return out
}

// relaySettings is the settings layer relay-host owns for one review.
//
//   - general.maxAttempts = 1: a steady 429 fails at once (default 10
//     attempts ≈ 200 s);
//   - privacy.usageStatisticsEnabled = false: no telemetry;
//   - advanced.ignoreLocalEnv = true: no .env loaded from the working
//     directory upward;
//   - tools.core = []: an empty allowlist registers none of the built-in
//     tools (read_file, glob, grep, web search, shell, agents, …), so the
//     model is offered no tools;
//   - skills.enabled = false: no agent skills (the CLI's bundled ones
//     included) are offered or loaded;
//   - context.includeDirectoryTree = false: no listing of the scratch
//     directory in the prompt.
//
// MCP servers and extensions are turned off by flags (see args): the
// CLI's admin.* settings would do it, but the pinned CLI takes admin.*
// only from its built-in defaults and a Code Assist admin's remote
// settings, never from a settings file.
//   - security.auth.selectedType = "gemini-api-key" when apiKey: with
//     GOOGLE_GEMINI_BASE_URL set (the plugin's relay) the CLI would
//     otherwise pick the "gateway" auth type and exit 41.
func relaySettings(apiKey bool) []byte {
	m := map[string]any{
		"general":  map[string]any{"maxAttempts": 1},
		"privacy":  map[string]any{"usageStatisticsEnabled": false},
		"advanced": map[string]any{"ignoreLocalEnv": true},
		"tools":    map[string]any{"core": []string{}},
		"skills":   map[string]any{"enabled": false},
		"context":  map[string]any{"includeDirectoryTree": false},
	}
	if apiKey {
		m["security"] = map[string]any{"auth": map[string]any{"selectedType": apiKeyAuth}}
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	return append(data, '\n')
}

// writeRelaySettings writes relaySettings as the workspace settings of the
// scratch working directory work.
func writeRelaySettings(work string, apiKey bool) error {
	dir := filepath.Join(work, ".gemini")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return sdk.Errorf(sdk.CodeInternal, "creating gemini's workspace settings: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), relaySettings(apiKey), 0o600); err != nil {
		return sdk.Errorf(sdk.CodeInternal, "writing gemini's workspace settings: %v", err)
	}
	return nil
}

// lookup returns the value at path, or nil.
func lookup(m map[string]any, path []string) any {
	var cur any = m
	for _, k := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}
