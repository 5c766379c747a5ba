package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/relay-host/relay-host/providers/internal/loginsync"
	"github.com/relay-host/relay-host/sdk"
)

// A Google login runs the CLI in a scratch home too, like an API key,
// rather than in the user's home with settings that neutralise it: the
// user's state directory holds their GEMINI.md (and any other context
// file), extensions, MCP servers, commands, skills, policies and agents,
// and no setting of the pinned CLI keeps all of them out while it runs
// there. context.fileName cannot: the CLI's setGeminiMdFilename merges
// the configured names with the current ones, so ~/.gemini/GEMINI.md is
// always read. The pinned CLI finds a login only in files under
// $GEMINI_CLI_HOME/.gemini (its Storage.getOAuthCredsPath and the
// encrypted-file keychain both take the directory from GEMINI_CLI_HOME,
// and the latter's key comes from the host and user names, not the path),
// or outside it altogether (GOOGLE_APPLICATION_CREDENTIALS, the system
// keychain, GOOGLE_CLOUD_ACCESS_TOKEN), so a copy of those few files is a
// complete login.
//
// The copies live in the scratch directory (0700), which is removed after
// the run. When the CLI refreshes its access token it rewrites the copy;
// writeBack carries that refresh back so the user's own login stays as
// fresh as the CLI left it, and nothing else.

// loginFile is one file of a Google login in the CLI's state directory.
type loginFile struct {
	name string
	// writeBack: the CLI rewrites it when it refreshes the token, and the
	// refreshed copy is written back to the user's file.
	writeBack bool
}

var loginFiles = []loginFile{
	{name: "oauth_creds.json", writeBack: true},
	// The encrypted-file keychain, used with
	// GEMINI_FORCE_ENCRYPTED_FILE_STORAGE=true when no system keychain is
	// available.
	{name: "gemini-credentials.json", writeBack: true},
	// The account's e-mail: without it the CLI fetches it again (a request
	// to Google's userinfo endpoint) on every run. Only read.
	{name: "google_accounts.json"},
}

// loginCopy is a Google login copied from the user's state directory into
// a scratch one.
type loginCopy struct {
	userDir, scratchDir string
	// copied maps the name of each file to write back to its content as
	// copied.
	copied map[string][]byte
}

// copyLogin copies the user's login files from userDir into scratchDir
// (created, 0700), and the user's security.auth settings (the auth type
// chosen or enforced) into a settings.json of its own: nothing else of
// the user's settings reaches the CLI. Missing files are skipped.
func copyLogin(userDir, scratchDir string, s *userSettings) (*loginCopy, error) {
	if err := os.Mkdir(scratchDir, 0o700); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "creating a scratch directory: %v", err)
	}
	c := &loginCopy{userDir: userDir, scratchDir: scratchDir, copied: map[string][]byte{}}
	for _, f := range loginFiles {
		data, err := os.ReadFile(filepath.Join(userDir, f.name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, sdk.Errorf(sdk.CodeNotAuthenticated, "gemini's login (%s) cannot be read: %s", f.name, errors.Unwrap(err))
		}
		if err := os.WriteFile(filepath.Join(scratchDir, f.name), data, 0o600); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "copying gemini's login: %v", err)
		}
		if f.writeBack {
			c.copied[f.name] = data
		}
	}
	if auth, ok := lookup(s.m, []string{"security", "auth"}).(map[string]any); ok {
		data, _ := json.MarshalIndent(map[string]any{"security": map[string]any{"auth": auth}}, "", "  ")
		if err := os.WriteFile(filepath.Join(scratchDir, "settings.json"), append(data, '\n'), 0o600); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "writing gemini's scratch settings: %v", err)
		}
	}
	return c, nil
}

// writeBack replaces each of the user's login files with the CLI's
// rewritten copy, when all of these hold:
//   - the copy changed and still parses as a JSON object (a CLI killed in
//     the middle of its non-atomic write leaves half a file, which must
//     not replace a working login);
//   - the user's file is still a regular file with exactly the bytes that
//     were copied (else someone else, such as an interactive gemini,
//     refreshed it meanwhile, and theirs is as new as ours);
//
// A copy the CLI deleted (it clears a login it found invalid) is not
// propagated: the user's login is theirs to remove. The replacement is
// atomic (a temporary file in the same directory, renamed over it) and
// keeps the file's mode. It returns the names written back and the first
// error.
func (c *loginCopy) writeBack() (written []string, err error) {
	for _, f := range loginFiles {
		orig, ok := c.copied[f.name]
		if !ok {
			continue
		}
		replaced, werr := loginsync.CopyBack(filepath.Join(c.userDir, f.name), filepath.Join(c.scratchDir, f.name), orig, isJSONObject)
		if werr != nil && err == nil {
			err = werr
		}
		if replaced && werr == nil {
			written = append(written, f.name)
		}
	}
	return written, err
}

// isJSONObject accepts a refreshed login file: a JSON object.
func isJSONObject(data []byte) bool {
	var obj map[string]any
	return json.Unmarshal(data, &obj) == nil && obj != nil
}

// loginEnvVars are the variables a Google login may need from the user's
// <stateDir>/.env, which the CLI loads when it runs in the user's home
// but not in a scratch one: the Cloud project a Workspace account must
// name (the CLI's setupUser reads these two). Nothing else of that file
// is taken.
var loginEnvVars = []string{"GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT_ID"}

// loginEnv returns "NAME=value" for each of loginEnvVars set in
// <stateDir>/.env and not in the environment (which, as for the CLI,
// wins). A missing or unreadable file gives none.
func loginEnv(stateDir string, getenv func(string) string) []string {
	data, err := os.ReadFile(filepath.Join(stateDir, ".env"))
	if err != nil {
		return nil
	}
	vals := parseDotenv(data)
	var out []string
	for _, k := range loginEnvVars {
		if v, ok := vals[k]; ok && v != "" && getenv(k) == "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// dotenvLine is one NAME=value line of a .env file: the line pattern of
// the dotenv library the CLI uses ("export " and "NAME: value" allowed; a
// value quoted, or unquoted up to a "#").
var dotenvLine = regexp.MustCompile(`^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*` + "`(?:\\\\`|[^`])*`" + `|[^#\r\n]+)?\s*(?:#.*)?$`)

// parseDotenv reads a .env file's NAME=value lines as dotenv does, a
// later line winning, with the quotes of a quoted value removed. Values
// quoted across lines are not read as dotenv reads them (a project id is
// one line).
func parseDotenv(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		m := dotenvLine.FindStringSubmatch(strings.TrimSuffix(line, "\r"))
		if m == nil {
			continue
		}
		v := strings.TrimSpace(m[2])
		if len(v) >= 2 && strings.ContainsRune(`"'`+"`", rune(v[0])) && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[m[1]] = v
	}
	return out
}

// noGoogleLogin reports whether the CLI is certain to find no usable
// Google login and stop at "Manual authorization is required" (exit 41)
// without any request. It mirrors the pinned CLI's initOauthClient and
// google-auth-library's getAccessToken: the CLI reads
// <stateDir>/oauth_creds.json, skipping it when unreadable or not a JSON
// object; credentials with no refresh token and no access token, or with
// no refresh token and an access token past its expiry_date, fail before
// any request. Every other case (a refresh token, a token that may still
// be valid, ADC credentials) makes a request to Google first and may
// succeed, so the CLI decides.
func noGoogleLogin(stateDir string, getenv func(string) string, now time.Time) bool {
	switch {
	case getenv("GOOGLE_GENAI_USE_GCA") != "" && getenv("GOOGLE_CLOUD_ACCESS_TOKEN") != "":
		// A token from the environment, used as it is.
		return false
	case getenv("GOOGLE_APPLICATION_CREDENTIALS") != "", getenv("GEMINI_FORCE_ENCRYPTED_FILE_STORAGE") == "true":
		// Credentials elsewhere, or in a keychain the plugin cannot read.
		return false
	}
	data, err := os.ReadFile(filepath.Join(stateDir, "oauth_creds.json"))
	if err != nil {
		return true
	}
	var creds map[string]any
	if json.Unmarshal(data, &creds) != nil || creds == nil {
		return true
	}
	if t, ok := creds["type"].(string); ok && t != "authorized_user" {
		// ADC credentials (a service account, say): google-auth-library
		// decides.
		return false
	}
	if truthy(creds["refresh_token"]) {
		return false
	}
	if !truthy(creds["access_token"]) {
		return true
	}
	exp, ok := creds["expiry_date"].(float64)
	return ok && exp > 0 && exp <= float64(now.UnixMilli())
}

// truthy is JavaScript's truthiness for a decoded JSON value.
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0
	}
	return true
}
