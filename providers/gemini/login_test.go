package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
	"github.com/relay-host/relay-host/sdk"
)

// fakeCLI is a stand-in for the gemini CLI with a Google login: it
// records what its home holds, refreshes the login in it the way the CLI
// does (rewriting oauth_creds.json), records the session there, and
// answers.
const fakeCLI = `#!/bin/sh
rec="$RELAY_TEST_RECORD"
g="$GEMINI_CLI_HOME/.gemini"
echo "$GEMINI_CLI_HOME" > "$rec/home"
ls -A "$g" > "$rec/files"
cat "$g/settings.json" > "$rec/settings" 2>/dev/null
cat "$g/oauth_creds.json" > "$rec/creds" 2>/dev/null
echo "$GOOGLE_CLOUD_PROJECT/$GOOGLE_CLOUD_PROJECT_ID/$UNIT_OTHER" > "$rec/env"
mkdir -p "$g/tmp/work/chats"
cat > "$g/tmp/work/chats/session.jsonl"
printf '%s' "$RELAY_TEST_REFRESHED" > "$g/oauth_creds.json"
printf '%s\n' '{"response": "Fine.\n\nVerdict: APPROVE"}'
`

// userLogin writes a user's state directory with a Google login, a
// GEMINI.md, an MCP server and a commented settings.json, and returns the
// directory and what it holds.
func userLogin(t *testing.T, home string) (state string, before map[string]string) {
	t.Helper()
	state = filepath.Join(home, ".gemini")
	files := map[string]string{
		"settings.json":        "// mine\n{\n  \"security\": {\"auth\": {\"selectedType\": \"oauth-personal\", \"enforcedType\": \"oauth-personal\"}}, /* login */\n  \"mcpServers\": {\"m\": {\"command\": \"true\"}},\n  \"context\": {\"fileName\": [\"GEMINI.md\", \"AGENTS.md\"]},\n  \"ui\": {\"theme\": \"Dracula\"}\n}\n",
		"oauth_creds.json":     `{"access_token":"old","refresh_token":"r","expiry_date":1,"token_type":"Bearer"}`,
		"google_accounts.json": `{"active":"u@example.com","old":[]}`,
		"GEMINI.md":            "unit-user-memory\n",
		"AGENTS.md":            "unit-user-agents\n",
		// A Workspace login's project: taken; nothing else is.
		".env":                               "GOOGLE_CLOUD_PROJECT=\"unit-project\" # work\nUNIT_OTHER=x\n",
		"extensions/x/gemini-extension.json": `{"name":"x"}`,
	}
	for name, content := range files {
		p := filepath.Join(state, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The user's own mode is kept by the write-back.
	os.Chmod(filepath.Join(state, "oauth_creds.json"), 0o640)
	return state, readTree(t, state)
}

// TestGoogleLoginScratchHome: with a Google login the CLI runs in a
// scratch home holding only the login (oauth_creds.json,
// google_accounts.json and the security.auth settings); the token it
// refreshes there is written back, and nothing else of the user's state
// directory is read or changed.
func TestGoogleLoginScratchHome(t *testing.T) {
	dir := t.TempDir()
	bin, rec := filepath.Join(dir, "gemini"), filepath.Join(dir, "rec")
	os.WriteFile(bin, []byte(fakeCLI), 0o700)
	os.Mkdir(rec, 0o700)
	home := filepath.Join(dir, "user")
	state, before := userLogin(t, home)
	const refreshed = "{\n  \"access_token\": \"new\",\n  \"refresh_token\": \"r\",\n  \"expiry_date\": 4102444800000\n}"
	env := map[string]string{"GEMINI_CLI_HOME": home, "RELAY_TEST_RECORD": rec, "RELAY_TEST_REFRESHED": refreshed}
	for k, v := range env {
		t.Setenv(k, v)
	}
	req := sdk.ReviewRequest{Prompt: "Review.", Packet: "+unit-login-diff-marker\n", Settings: map[string]string{"cli_path": bin}}
	res, err := review(context.Background(), envOf(env), req, &events{})
	if err != nil || !strings.Contains(res.Review, "APPROVE") {
		t.Fatalf("review: %+v, %v", res, err)
	}
	read := func(name string) string {
		data, _ := os.ReadFile(filepath.Join(rec, name))
		return strings.TrimSpace(string(data))
	}
	ranIn := read("home")
	if ranIn == home || strings.HasPrefix(ranIn, home) || ranIn == "" {
		t.Errorf("the CLI ran in %q, want a scratch home", ranIn)
	}
	if files := strings.Fields(read("files")); !slices.Equal(files, []string{"google_accounts.json", "oauth_creds.json", "settings.json"}) {
		t.Errorf("the scratch home held %q, want only the login", files)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(read("settings")), &got); err != nil {
		t.Fatalf("scratch settings.json: %v", err)
	}
	if want := map[string]any{"security": map[string]any{"auth": map[string]any{"selectedType": "oauth-personal", "enforcedType": "oauth-personal"}}}; !jsonEqual(got, want) {
		t.Errorf("scratch settings.json = %v, want only the user's security.auth", got)
	}
	if got := read("env"); got != "unit-project//" {
		t.Errorf("the CLI's GOOGLE_CLOUD_PROJECT/GOOGLE_CLOUD_PROJECT_ID/UNIT_OTHER = %q, want only the project from the user's .env", got)
	}
	if read("creds") != before["oauth_creds.json"] {
		t.Errorf("the CLI saw the login %q, want the user's", read("creds"))
	}
	if _, err := os.Stat(ranIn); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the scratch home (and its copy of the login) is left behind: %v", err)
	}
	after := readTree(t, state)
	for name, content := range after {
		want := before[name]
		if name == "oauth_creds.json" {
			want = refreshed
		}
		if content != want {
			t.Errorf("the user's %s is %q, want %q", name, content, want)
		}
	}
	if len(after) != len(before) {
		t.Errorf("the user's state directory holds %d files, had %d", len(after), len(before))
	}
	if fi, err := os.Stat(filepath.Join(state, "oauth_creds.json")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("oauth_creds.json mode %v (%v), want 0640 kept", fi.Mode().Perm(), err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestLoginWriteBack: the refreshed copy replaces the user's file only
// when it is a whole JSON object and the user's file is still the regular
// file that was copied; a deletion is never propagated and the read-only
// files are never written.
func TestLoginWriteBack(t *testing.T) {
	const orig, fresh = `{"access_token":"old","refresh_token":"r"}`, `{"access_token":"new","refresh_token":"r"}`
	for _, tt := range []struct {
		name    string
		cli     func(scratch string) // what the CLI did to its copy
		user    func(userDir string) // what happened to the user's file meanwhile
		want    string               // the user's oauth_creds.json afterwards
		written []string
		symlink bool
	}{
		{name: "refreshed", cli: func(s string) { write(s, "oauth_creds.json", fresh) }, want: fresh, written: []string{"oauth_creds.json"}},
		{name: "untouched", cli: func(string) {}, want: orig},
		{name: "deleted by the CLI", cli: func(s string) { os.Remove(filepath.Join(s, "oauth_creds.json")) }, want: orig},
		{name: "half written", cli: func(s string) { write(s, "oauth_creds.json", `{"access_tok`) }, want: orig},
		{name: "not an object", cli: func(s string) { write(s, "oauth_creds.json", `null`) }, want: orig},
		{name: "user refreshed meanwhile", cli: func(s string) { write(s, "oauth_creds.json", fresh) }, user: func(u string) { write(u, "oauth_creds.json", `{"access_token":"theirs"}`) }, want: `{"access_token":"theirs"}`},
		{name: "user logged out meanwhile", cli: func(s string) { write(s, "oauth_creds.json", fresh) }, user: func(u string) { os.Remove(filepath.Join(u, "oauth_creds.json")) }},
		{name: "user file became a symlink", cli: func(s string) { write(s, "oauth_creds.json", fresh) }, symlink: true, want: orig},
		{name: "encrypted keychain file refreshed too", cli: func(s string) {
			write(s, "oauth_creds.json", fresh)
			write(s, "gemini-credentials.json", `{"k":"new"}`)
			write(s, "google_accounts.json", `{"active":"other@example.com"}`)
		}, want: fresh, written: []string{"oauth_creds.json", "gemini-credentials.json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			userDir, scratch := t.TempDir(), filepath.Join(t.TempDir(), "home", ".gemini")
			os.MkdirAll(filepath.Dir(scratch), 0o700)
			write(userDir, "oauth_creds.json", orig)
			write(userDir, "gemini-credentials.json", `{"k":"old"}`)
			write(userDir, "google_accounts.json", `{"active":"u@example.com"}`)
			c, err := copyLogin(userDir, scratch, &userSettings{m: map[string]any{}})
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(scratch); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("scratch state dir %v, %v; want 0700", fi.Mode(), err)
			}
			if _, err := os.Stat(filepath.Join(scratch, "settings.json")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("settings.json written without any auth settings: %v", err)
			}
			tt.cli(scratch)
			if tt.user != nil {
				tt.user(userDir)
			}
			if tt.symlink {
				real := filepath.Join(t.TempDir(), "creds")
				write(filepath.Dir(real), "creds", orig)
				os.Remove(filepath.Join(userDir, "oauth_creds.json"))
				os.Symlink(real, filepath.Join(userDir, "oauth_creds.json"))
			}
			written, err := c.writeBack()
			if err != nil || !slices.Equal(written, tt.written) {
				t.Errorf("writeBack = %q, %v; want %q", written, err, tt.written)
			}
			data, err := os.ReadFile(filepath.Join(userDir, "oauth_creds.json"))
			if tt.want == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a login removed meanwhile was recreated: %q", data)
				}
			} else if string(data) != tt.want {
				t.Errorf("oauth_creds.json = %q, want %q", data, tt.want)
			}
			if data, _ := os.ReadFile(filepath.Join(userDir, "google_accounts.json")); string(data) != `{"active":"u@example.com"}` {
				t.Errorf("google_accounts.json written back: %q", data)
			}
			ents, _ := os.ReadDir(userDir)
			for _, e := range ents {
				if strings.Contains(e.Name(), "relay-host") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

// TestLoginNotCreated: a login file the user does not have is neither
// copied nor created by the write-back, even when the CLI wrote one.
func TestLoginNotCreated(t *testing.T) {
	userDir, scratch := t.TempDir(), filepath.Join(t.TempDir(), ".gemini")
	c, err := copyLogin(userDir, scratch, &userSettings{m: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	write(scratch, "oauth_creds.json", `{"access_token":"new"}`)
	if written, err := c.writeBack(); len(written) != 0 || err != nil {
		t.Errorf("writeBack = %q, %v", written, err)
	}
	if ents, _ := os.ReadDir(userDir); len(ents) != 0 {
		t.Errorf("the user's state directory got %v", ents)
	}
}

func write(dir, name, content string) {
	os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
}

// TestNoGoogleLogin: the logins the CLI is certain to reject before any
// request (its exit 41), as the real CLI showed: a missing, unparsable or
// empty oauth_creds.json, or one with neither a refresh token nor an
// unexpired access token. With a refresh token the CLI asks Google first.
func TestNoGoogleLogin(t *testing.T) {
	now := time.UnixMilli(2_000_000_000_000)
	for _, tt := range []struct {
		name  string
		creds string // "" = no file
		env   map[string]string
		want  bool
	}{
		{"no file", "", nil, true},
		{"garbage", "not json", nil, true},
		{"empty object", "{}", nil, true},
		{"null", "null", nil, true},
		{"an array", "[]", nil, true},
		{"empty tokens", `{"access_token":"","refresh_token":""}`, nil, true},
		{"expired, no refresh token", `{"access_token":"a","expiry_date":1000}`, nil, true},
		{"refresh token only", `{"refresh_token":"r"}`, nil, false},
		{"expired with a refresh token", `{"access_token":"a","refresh_token":"r","expiry_date":1000}`, nil, false},
		{"unexpired access token", `{"access_token":"a","expiry_date":2000000060000}`, nil, false},
		{"access token with no expiry", `{"access_token":"a"}`, nil, false},
		{"zero expiry (never expiring)", `{"access_token":"a","expiry_date":0}`, nil, false},
		{"ADC credentials", `{"type":"service_account"}`, nil, false},
		{"authorized_user type, empty", `{"type":"authorized_user"}`, nil, true},
		{"token from the environment", "", map[string]string{"GOOGLE_GENAI_USE_GCA": "true", "GOOGLE_CLOUD_ACCESS_TOKEN": "t"}, false},
		{"GOOGLE_APPLICATION_CREDENTIALS", "{}", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/x.json"}, false},
		{"keychain", "", map[string]string{"GEMINI_FORCE_ENCRYPTED_FILE_STORAGE": "true"}, false},
	} {
		dir := t.TempDir()
		if tt.creds != "" {
			write(dir, "oauth_creds.json", tt.creds)
		}
		if got := noGoogleLogin(dir, envOf(tt.env), now); got != tt.want {
			t.Errorf("%s: noGoogleLogin = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRealCLIGoogleLogin runs the real CLI with a Google login against
// fakes of the Code Assist API and Google's OAuth endpoints
// (fakemodel.GoogleLogin): the user's GEMINI.md and AGENTS.md reach no
// request, their MCP server is not started, no tools are offered, their
// settings.json is byte-identical, the token the CLI refreshed is written
// back to their oauth_creds.json, and nothing else in their state
// directory changes or holds the packet.
func TestRealCLIGoogleLogin(t *testing.T) {
	bin := cliPath(t)
	g := fakemodel.NewGoogleLogin(t)
	home := t.TempDir()
	state, before := userLogin(t, home)
	marker := filepath.Join(t.TempDir(), "mcp-started")
	settings := "// mine\n{\n  \"security\": {\"auth\": {\"selectedType\": \"oauth-personal\"}}, /* login */\n  \"mcpServers\": {\"unit-marker\": {\"command\": \"sh\", \"args\": [\"-c\", \"echo started > " + marker + "\"]}},\n  \"context\": {\"fileName\": [\"GEMINI.md\", \"AGENTS.md\"]}\n}\n"
	write(state, "settings.json", settings)
	before["settings.json"] = settings
	for k, v := range map[string]string{
		"GEMINI_CLI_HOME": home, "GEMINI_CONFIG_DIR": "", "GEMINI_API_KEY": "", "GOOGLE_GEMINI_BASE_URL": "",
		"CODE_ASSIST_ENDPOINT": g.URL, "HTTPS_PROXY": g.ProxyURL, "NO_PROXY": "127.0.0.1", "NODE_EXTRA_CA_CERTS": g.CAFile,
	} {
		t.Setenv(k, v)
	}
	req := sdk.ReviewRequest{Prompt: "Review this diff.", Packet: "diff --git a/x b/x\n+unit-login-packet-marker\n", Settings: map[string]string{"cli_path": bin}}
	res, err := gemini{getenv: os.Getenv}.Review(context.Background(), req, &events{})
	if err != nil {
		for _, r := range g.Requests() {
			t.Logf("%s %s", r.Method, r.Path)
		}
		t.Fatal(err)
	}
	if !strings.Contains(res.Review, "Verdict: APPROVE") {
		t.Errorf("review %q", res.Review)
	}
	var sent bool
	for _, r := range g.Requests() {
		body := string(r.Body)
		if r.Format == fakemodel.FormatCodeAssist {
			sent = sent || strings.Contains(r.Prompt, "unit-login-packet-marker")
			var env struct{ Request json.RawMessage }
			json.Unmarshal(r.Body, &env)
			if names := offeredTools(env.Request); len(names) != 0 {
				t.Errorf("the model was offered tools %v", names)
			}
		}
		if strings.Contains(body, "unit-user-memory") || strings.Contains(body, "unit-user-agents") {
			t.Errorf("the user's GEMINI.md or AGENTS.md reached %s", r.Path)
		}
	}
	if !sent {
		t.Fatal("no request carried the packet: the checks proved nothing")
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the user's MCP server was started (%v)", err)
	}
	after := readTree(t, state)
	for name, content := range after {
		if strings.Contains(content, "unit-login-packet-marker") {
			t.Errorf("the user's %s holds the packet", name)
		}
		if name != "oauth_creds.json" && content != before[name] {
			t.Errorf("the user's %s was created or changed:\n%s", name, content)
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			t.Errorf("the user's %s was removed", name)
		}
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(after["oauth_creds.json"]), &creds); err != nil || creds["access_token"] != g.AccessToken || creds["refresh_token"] != "r" {
		t.Errorf("the user's oauth_creds.json is %s (%v); want the refreshed token, refresh token kept", after["oauth_creds.json"], err)
	}
}

// TestLoginEnv: of the user's .env only the Cloud project is taken, as
// dotenv reads it, and the environment wins.
func TestLoginEnv(t *testing.T) {
	dir := t.TempDir()
	write(dir, ".env", "# mine\nexport GOOGLE_CLOUD_PROJECT='p-1'\r\nGOOGLE_CLOUD_PROJECT_ID=p-2 # id\nGEMINI_API_KEY=k\nGEMINI_CLI_HOME=/elsewhere\n")
	if got, want := loginEnv(dir, envOf(nil)), []string{"GOOGLE_CLOUD_PROJECT=p-1", "GOOGLE_CLOUD_PROJECT_ID=p-2"}; !slices.Equal(got, want) {
		t.Errorf("loginEnv = %q, want %q", got, want)
	}
	if got, want := loginEnv(dir, envOf(map[string]string{"GOOGLE_CLOUD_PROJECT": "env"})), []string{"GOOGLE_CLOUD_PROJECT_ID=p-2"}; !slices.Equal(got, want) {
		t.Errorf("with the variable set: loginEnv = %q, want %q", got, want)
	}
	for in, want := range map[string]string{
		`A=plain`: "plain", `A = "quoted # kept"`: "quoted # kept", "A=`tick`": "tick", `A=x #c`: "x", `A=#c`: "", `A: colon`: "colon", `A=x#y`: "x", `A="x" # c`: "x",
	} {
		if got, ok := parseDotenv([]byte(in))["A"]; !ok || got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
	if got := loginEnv(t.TempDir(), envOf(nil)); got != nil {
		t.Errorf("no .env: %q", got)
	}
}
