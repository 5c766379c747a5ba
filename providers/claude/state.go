package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"

	"github.com/relay-host/relay-host/providers/internal/loginsync"
	"github.com/relay-host/relay-host/sdk"
)

// The CLI gets a state directory of its own for each review (its
// CLAUDE_CONFIG_DIR, inside the scratch directory): the user's
// ~/.claude.json, settings.json, CLAUDE.md, MCP servers, plugins, hooks,
// agents and memory are then never read, and what the CLI writes on every
// run (.claude.json, backups/, sessions/<pid>.json, plugins/store/,
// projects/) is removed with the scratch directory instead of piling up in
// the user's. The CLI rewrites its global config on every run, so running
// it on the user's own directory could not leave ~/.claude.json
// byte-identical.
//
// What the review needs from the user's directory is copied in:
//   - .credentials.json, the subscription login (Linux; on macOS it lives
//     in the keychain, see isolated);
//   - userID and oauthAccount from the global config, so the review is
//     the same device and account the user's own CLI is.
//
// The CLI refreshes an expired login in place. A refreshed
// .credentials.json is copied back over the user's (see syncBack), or the
// next review, and the user's own CLI, would hold a spent refresh token.

// seedKeys are the only keys of the user's global config the review's
// copy starts with.
var seedKeys = []string{"userID", "oauthAccount"}

// runState is one review's CLI state directory.
type runState struct {
	dir string // CLAUDE_CONFIG_DIR for the CLI
	// userCreds is the user's .credentials.json (symlinks resolved) and
	// creds what it held when it was copied; userCreds is "" when there
	// was no login to copy.
	userCreds string
	creds     []byte
}

// userState is where the user's own CLI keeps its state.
type userState struct {
	dir          string // $CLAUDE_CONFIG_DIR, else ~/.claude
	globalConfig string // dir/.claude.json with CLAUDE_CONFIG_DIR, else ~/.claude.json
}

func userStateOf(getenv func(string) string) userState {
	dir := expandHome(configDir(getenv), getenv)
	global := filepath.Join(dir, ".claude.json")
	if getenv("CLAUDE_CONFIG_DIR") == "" {
		global = expandHome("~/.claude.json", getenv)
	}
	return userState{dir: dir, globalConfig: global}
}

// isolated reports whether the review runs on a state directory of its
// own. On macOS a login and a stored key live in the keychain under a name
// derived from the state directory, so without a key in the environment
// or a key helper the CLI must run on the user's directory (the flags of
// args still keep MCP servers, CLAUDE.md, hooks and plugins out).
func isolated(getenv func(string) string, helper string) bool {
	return runtime.GOOS != "darwin" || hasKey(getenv) || helper != ""
}

// newRunState makes dir and fills it from the user's state u.
func newRunState(dir string, u userState) (*runState, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "creating the CLI's state directory: %v", err)
	}
	s := &runState{dir: dir}
	if err := s.copyCredentials(u.dir); err != nil {
		return nil, err
	}
	seed := seedConfig(u.globalConfig)
	if err := os.WriteFile(filepath.Join(dir, ".claude.json"), seed, 0o600); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "writing the CLI's state: %v", err)
	}
	return s, nil
}

func (s *runState) copyCredentials(userDir string) error {
	path, err := filepath.EvalSymlinks(filepath.Join(userDir, ".credentials.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return sdk.Errorf(sdk.CodeNotAuthenticated, "reading claude's login: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return sdk.Errorf(sdk.CodeNotAuthenticated, "claude's login (.credentials.json) is not a regular file")
	}
	data, err := loginsync.ReadFile(path)
	if err != nil {
		return sdk.Errorf(sdk.CodeNotAuthenticated, "reading claude's login: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, ".credentials.json"), data, 0o600); err != nil {
		return sdk.Errorf(sdk.CodeInternal, "copying claude's login: %v", err)
	}
	s.userCreds, s.creds = path, data
	return nil
}

// seedConfig is the review's global config: seedKeys of the user's, when
// it is readable JSON, else an empty object.
func seedConfig(path string) []byte {
	out := map[string]json.RawMessage{}
	if data, err := loginsync.ReadFile(path); err == nil {
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) == nil {
			for _, k := range seedKeys {
				if v, ok := m[k]; ok {
					out[k] = v
				}
			}
		}
	}
	data, _ := json.Marshal(out)
	return append(data, '\n')
}

// syncBack copies a login the CLI refreshed during the review over the
// user's .credentials.json, atomically and with its mode, and only when
// the user's file still holds what was copied: a login changed meanwhile
// (the user's own CLI refreshed it, or they logged in again) is newer and
// stays. A copy the CLI removed or emptied is not propagated. It reports
// whether the user's file was replaced.
func (s *runState) syncBack() (bool, error) {
	if s.userCreds == "" {
		return false, nil
	}
	return loginsync.CopyBack(s.userCreds, filepath.Join(s.dir, ".credentials.json"), s.creds, looksLikeLogin)
}

// looksLikeLogin reports whether data is a credentials object with an
// OAuth login in it, the only content worth writing back.
func looksLikeLogin(data []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	v, ok := m["claudeAiOauth"]
	return ok && len(v) > 2
}

// storedAuth is what the user's own state offers the CLI besides a login:
// a key stored by `claude /login` with a Console account (the global
// config's primaryApiKey) and a key helper script (settings.json's
// apiKeyHelper). The review's state directory holds neither, so the
// plugin passes them on: the key in the CLI's environment, the helper in
// --settings.
type storedAuth struct {
	key    string
	helper string
}

func readStoredAuth(u userState) storedAuth {
	var a storedAuth
	if data, err := loginsync.ReadFile(u.globalConfig); err == nil {
		var m struct {
			PrimaryAPIKey string `json:"primaryApiKey"`
		}
		if json.Unmarshal(data, &m) == nil {
			a.key = m.PrimaryAPIKey
		}
	}
	if data, err := loginsync.ReadFile(filepath.Join(u.dir, "settings.json")); err == nil {
		var m struct {
			APIKeyHelper string `json:"apiKeyHelper"`
		}
		if json.Unmarshal(data, &m) == nil {
			a.helper = m.APIKeyHelper
		}
	}
	return a
}
