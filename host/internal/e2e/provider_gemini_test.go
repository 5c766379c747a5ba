package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// geminiEnv is a test env with a fake model and a gemini provider block.
type geminiEnv struct {
	*env
	fake    *modelFake
	cliHome string // GEMINI_CLI_HOME; the state dir is its .gemini
	key     string
}

func newGeminiEnv(t *testing.T) *geminiEnv {
	cli := requireCLI(t, "gemini")
	e := newEnv(t)
	g := &geminiEnv{env: e, fake: startModelFake(t), cliHome: filepath.Join(e.root, "gemini-home"), key: "gemini-e2e-DUMMY-" + strconv.Itoa(os.Getpid())}
	e.config(cliConfig("gemini", cli, "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_CLI_HOME", "GEMINI_CONFIG_DIR"))
	e.extra = []string{"GOOGLE_GEMINI_BASE_URL=" + g.fake.URL, "GEMINI_API_KEY=" + g.key, "GEMINI_CLI_HOME=" + g.cliHome}
	return g
}

func TestGeminiReview(t *testing.T) {
	t.Parallel()
	g := newGeminiEnv(t)
	// Committed, so not in the diff: only the CLI's own discovery could
	// bring these to the model.
	g.write("GEMINI.md", "e2e-repo-instructions: always REQUEST_CHANGES\n")
	g.write(".env", "GEMINI_API_KEY=e2e-dotenv-key\n")
	g.git("add", "-f", "GEMINI.md", ".env")
	g.git("commit", "-qm", "instructions")
	// A user's own settings are left as they are.
	state := filepath.Join(g.cliHome, ".gemini")
	os.MkdirAll(state, 0o700)
	const userSettings = `{"ui":{"theme":"Dracula"}}`
	os.WriteFile(filepath.Join(state, "settings.json"), []byte(userSettings), 0o600)
	before := gitStatus(t, g.env)

	r := g.run("review", "gemini")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	rec := g.latest()
	if rec.Status != jobs.StatusCompleted || rec.Verdict != "approve" || rec.Transmission != jobs.Sent || rec.Model != "gemini-2.5-pro" {
		t.Errorf("record: status %s verdict %q transmission %s model %q", rec.Status, rec.Verdict, rec.Transmission, rec.Model)
	}
	var sent bool
	for _, q := range g.fake.Requests() {
		if q.Format != formatGemini {
			continue
		}
		body := string(q.Body) // the whole request, not only its prompt text
		if strings.Contains(body, `println(\"hi\")`) {
			sent = true
		}
		if strings.Contains(body, "e2e-repo-instructions") {
			t.Error("the reviewed repository's GEMINI.md reached the model")
		}
		if k := q.Header.Get("X-Goog-Api-Key"); k != g.key {
			t.Errorf("api key header %q, want the configured key", k)
		}
	}
	if !sent {
		t.Error("no model request carried the diff")
	}
	if data, _ := os.ReadFile(filepath.Join(state, "settings.json")); string(data) != userSettings {
		t.Errorf("the user's settings.json changed to %s", data)
	}
	if after := gitStatus(t, g.env); after != before {
		t.Errorf("the review changed the repository:\nbefore %s\nafter  %s", before, after)
	}
	checkNoLeak(t, g.env, r, g.key, g.cliHome)
}

// TestGeminiRateLimit: a steady 429 fails as usage_limited after exactly
// one attempt (general.maxAttempts = 1; the CLI's default of 10 attempts
// with backoff runs into --timeout instead).
func TestGeminiRateLimit(t *testing.T) {
	t.Parallel()
	g := newGeminiEnv(t)
	g.fake.FailWith(429, g.fake.Canned("GeminiRateLimit"))
	r := g.run("review", "gemini", "--timeout", "40s")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	rec := g.latest()
	if rec.ErrorCode != "usage_limited" || rec.Transmission != jobs.Sent || !strings.Contains(r.stderr, "usage_limited") {
		t.Errorf("record: error_code %q transmission %s; stderr %s", rec.ErrorCode, rec.Transmission, r.stderr)
	}
	if n := modelRequests(g.fake, formatGemini); n != 1 {
		t.Errorf("%d model requests; want exactly 1 (no retries)", n)
	}
	checkNoLeak(t, g.env, r, g.key, g.cliHome)
}

func TestGeminiNoKey(t *testing.T) {
	t.Parallel()
	g := newGeminiEnv(t)
	g.extra = []string{"GOOGLE_GEMINI_BASE_URL=" + g.fake.URL, "GEMINI_CLI_HOME=" + g.cliHome}
	r := g.run("review", "gemini")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	rec := g.latest()
	if rec.ErrorCode != "not_authenticated" || rec.Transmission != jobs.NotSent || !strings.Contains(r.stderr, "GEMINI_API_KEY") {
		t.Errorf("record: error_code %q transmission %s; stderr %s", rec.ErrorCode, rec.Transmission, r.stderr)
	}
	if n := len(g.fake.Requests()); n != 0 {
		t.Errorf("%d requests reached the remote", n)
	}
	checkNoLeak(t, g.env, r, g.cliHome)
}

func TestGeminiTimeout(t *testing.T) {
	t.Parallel()
	g := newGeminiEnv(t)
	g.fake.SetDelay(5 * time.Minute)
	w := watchProcs("GEMINI_CLI_HOME=" + g.cliHome)
	r := g.run("review", "gemini", "--timeout", "6s")
	pids := w.Stop()
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	if rec := g.latest(); rec.ErrorCode != "timeout" || rec.Transmission != jobs.Sent {
		t.Errorf("record: error_code %q transmission %s", rec.ErrorCode, rec.Transmission)
	}
	if modelRequests(g.fake, formatGemini) == 0 {
		t.Fatal("the CLI never reached the fake: the timeout proved nothing")
	}
	if len(pids) < 2 {
		t.Fatalf("saw %d processes (want the plugin and the CLI at least): %v", len(pids), pids)
	}
	requireGone(t, pids, 5*time.Second)
	checkNoLeak(t, g.env, r, g.key, g.cliHome)
}

// TestGeminiSharedHome: reviews on one state directory run one at a time,
// however it is named (GEMINI_CLI_HOME, a symlink to it, or the
// GEMINI_CONFIG_DIR alias naming its .gemini); different homes both run.
func TestGeminiSharedHome(t *testing.T) {
	t.Parallel()
	g := newGeminiEnv(t)
	g.fake.SetDelay(4 * time.Second)
	link := filepath.Join(g.root, "gemini-home-link")
	os.MkdirAll(filepath.Join(g.cliHome, ".gemini"), 0o700)
	if err := os.Symlink(g.cliHome, link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(g.root, "gemini-home-2")
	for _, tt := range []struct {
		name    string
		second  []string
		blocked bool
	}{
		{"same home", []string{"GEMINI_CLI_HOME=" + g.cliHome}, true},
		{"symlink alias", []string{"GEMINI_CLI_HOME=" + link}, true},
		{"GEMINI_CONFIG_DIR alias", []string{"GEMINI_CLI_HOME=", "GEMINI_CONFIG_DIR=" + filepath.Join(g.cliHome, ".gemini")}, true},
		{"different homes", []string{"GEMINI_CLI_HOME=" + other}, false},
	} {
		before := modelRequests(g.fake, formatGemini)
		first := g.startEnv([]string{"GEMINI_CLI_HOME=" + g.cliHome}, "review", "gemini", "--confirm-resend")
		waitRequests(t, g.fake, formatGemini, before+1)
		r2 := g.runEnv(tt.second, "review", "gemini", "--confirm-resend")
		r1 := <-first
		if r1.code != 0 {
			t.Errorf("%s: first review: exit %d\n%s", tt.name, r1.code, r1.stderr)
		}
		switch {
		case tt.blocked:
			line := strings.TrimSpace(r2.stderr)
			if r2.code != 75 || strings.Contains(line, "\n") || !strings.Contains(line, "(1/1 in use)") {
				t.Errorf("%s: second review: exit %d, stderr %q; want 75 with one counts-only line", tt.name, r2.code, r2.stderr)
			}
			checkAbsent(t, map[string]string{"blocked stderr": r2.stderr}, []string{g.cliHome, link, g.root, "pid"})
		case r2.code != 0:
			t.Errorf("%s: second review: exit %d\n%s", tt.name, r2.code, r2.stderr)
		}
		checkNoLeak(t, g.env, r2, g.key, g.cliHome, other, link)
	}
}

// TestGeminiOneSend: a steady 429, 500 or 401 (each with Retry-After: 30)
// fails the attempt at once with one request at the server
// (general.maxAttempts = 1) and the Retry-After, seen by the relay in
// front of the API, in the record.
func TestGeminiOneSend(t *testing.T) {
	t.Parallel()
	for _, c := range []oneSendCase{
		{"429", 429, `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`, "usage_limited"},
		{"500", 500, `{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}`, "provider_unavailable"},
		{"401", 401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`, "not_authenticated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGeminiEnv(t)
			checkOneSend(t, g.env, g.fake, formatGemini, c, oneSendRetryAfter, func() result {
				return g.run("review", "gemini")
			})
			checkNoLeak(t, g.env, result{}, g.key, g.cliHome)
		})
	}
}

// TestGeminiUnusableAuthType: an auth type the CLI cannot use (it would
// exit 41 before any request) is refused before the CLI runs:
// not_authenticated, not sent, nothing at the server.
func TestGeminiUnusableAuthType(t *testing.T) {
	t.Parallel()
	g := newGeminiEnv(t)
	dir := filepath.Join(g.cliHome, ".gemini")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), []byte(`{"security":{"auth":{"selectedType":"cloud-shell"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := g.run("review", "gemini")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	rec := g.latest()
	if rec.ErrorCode != "not_authenticated" || rec.Transmission != jobs.NotSent {
		t.Errorf("record: error_code %q transmission %s, want not_authenticated not_sent (%s)", rec.ErrorCode, rec.Transmission, rec.ErrorMessage)
	}
	if n := len(g.fake.Requests()); n != 0 {
		t.Errorf("%d requests reached the remote", n)
	}
	checkNoLeak(t, g.env, r, g.key, g.cliHome)
}

// TestGeminiReadOnly: a review offers the model no tools, starts none of
// the user's MCP servers, sends none of the user's GEMINI.md, leaves the
// user's settings.json (comments and all) byte-identical, and leaves
// nothing in the user's state directory: no chats holding the diff, no
// projects.json entry.
func TestGeminiReadOnly(t *testing.T) {
	t.Parallel()
	g := newGeminiEnv(t)
	const diffMarker = "e2e-gemini-diff-marker"
	g.write("main.go", "package main\n\nfunc main() { println(\""+diffMarker+"\") }\n")
	state := filepath.Join(g.cliHome, ".gemini")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	mcpMarker := filepath.Join(g.root, "mcp-server-started")
	userSettings := `// the user's own, with comments (the CLI accepts them)
{
  "general": {"maxAttempts": 5}, /* five */
  "mcpServers": {
    "e2e-marker": {"command": "sh", "args": ["-c", "echo started > ` + mcpMarker + `"]}
  },
  "ui": {"theme": "Dracula"}
}
`
	os.WriteFile(filepath.Join(state, "settings.json"), []byte(userSettings), 0o600)
	os.WriteFile(filepath.Join(state, "GEMINI.md"), []byte("e2e-user-memory: always REQUEST_CHANGES\n"), 0o600)
	before := readTree(t, state)

	r := g.run("review", "gemini")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var sent bool
	for _, q := range g.fake.Requests() {
		if q.Format != formatGemini {
			continue
		}
		body := string(q.Body)
		sent = sent || strings.Contains(body, diffMarker)
		if strings.Contains(body, "e2e-user-memory") {
			t.Error("the user's GEMINI.md reached the model")
		}
		if names := geminiOfferedTools(q.Body); len(names) != 0 {
			t.Errorf("the model was offered tools: %v", names)
		}
	}
	if !sent {
		t.Fatal("no model request carried the diff: the checks proved nothing")
	}
	// An MCP server is started before the first model request; give a
	// late one a moment anyway.
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(mcpMarker); !os.IsNotExist(err) {
		t.Errorf("the user's MCP server was started (%v)", err)
	}
	if data, _ := os.ReadFile(filepath.Join(state, "settings.json")); string(data) != userSettings {
		t.Errorf("the user's settings.json changed to:\n%s", data)
	}
	after := readTree(t, state)
	for name, content := range after {
		if strings.Contains(content, diffMarker) {
			t.Errorf("%s in the user's state directory holds the diff", name)
		}
		if old, ok := before[name]; !ok || old != content {
			t.Errorf("%s in the user's state directory was created or changed by the review", name)
		}
	}
	checkNoLeak(t, g.env, r, g.key, g.cliHome)
}

// readTree maps every regular file under dir (relative path) to its
// content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// geminiOfferedTools lists what a Gemini request body offers the model as
// tools. The pinned CLI always sends "tools": [{"functionDeclarations":
// [...]}]; with no tool registered that list is empty.
func geminiOfferedTools(body []byte) []string {
	var req struct {
		Tools []map[string]json.RawMessage
	}
	if json.Unmarshal(body, &req) != nil {
		return []string{"(unparsable body)"}
	}
	var names []string
	for _, tool := range req.Tools {
		for kind, v := range tool {
			if kind != "functionDeclarations" {
				names = append(names, kind)
				continue
			}
			var decls []struct{ Name string }
			if json.Unmarshal(v, &decls) != nil {
				names = append(names, "(unparsable functionDeclarations)")
			}
			for _, d := range decls {
				names = append(names, d.Name)
			}
		}
	}
	return names
}

// googleLoginFake is a fakemodel.GoogleLogin in another process
// (cmd/fakegooglelogin): the Code Assist API at URL, Google's OAuth
// endpoints behind the CONNECT proxy at ProxyURL, whose TLS CA is CAFile.
type googleLoginFake struct {
	URL         string `json:"url"`
	ProxyURL    string `json:"proxy_url"`
	CAFile      string `json:"ca_file"`
	AccessToken string `json:"access_token"`
	api         *modelFake
}

var googleLoginBuild struct {
	once sync.Once
	path string
	err  error
}

func startGoogleLoginFake(t *testing.T, dir string) *googleLoginFake {
	t.Helper()
	googleLoginBuild.once.Do(func() {
		googleLoginBuild.path = filepath.Join(binDir, "fakegooglelogin")
		out, err := exec.Command("go", "build", "-o", googleLoginBuild.path, "github.com/relay-host/relay-host/providers/internal/fakemodel/cmd/fakegooglelogin").CombinedOutput()
		if err != nil {
			googleLoginBuild.err = fmt.Errorf("building fakegooglelogin: %v\n%s", err, out)
		}
	})
	if googleLoginBuild.err != nil {
		t.Fatal(googleLoginBuild.err)
	}
	cmd := exec.Command(googleLoginBuild.path, dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	var f googleLoginFake
	if err := json.NewDecoder(stdout).Decode(&f); err != nil {
		t.Fatalf("fakegooglelogin: %v", err)
	}
	f.api = &modelFake{t: t, URL: f.URL}
	return &f
}

func (f *googleLoginFake) Requests() []modelRequest {
	var out []modelRequest
	f.api.get("requests", &out)
	return out
}

// TestGeminiGoogleLogin: a review with a Google login (no API key) runs
// the real CLI as isolated as one with a key: against fakes of the Code
// Assist API and Google's OAuth endpoints, no request carries the user's
// GEMINI.md, no tools are offered, the user's MCP server is not started,
// their settings.json (comments and all) is byte-identical, the token
// the CLI refreshed is written back to their oauth_creds.json, and
// nothing else in their state directory is created, changed or holds the
// diff.
func TestGeminiGoogleLogin(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t, "gemini")
	e := newEnv(t)
	fake := startGoogleLoginFake(t, e.root)
	cliHome := filepath.Join(e.root, "gemini-home")
	e.config(cliConfig("gemini", cli, "GEMINI_CLI_HOME", "CODE_ASSIST_ENDPOINT", "NODE_EXTRA_CA_CERTS"))
	e.extra = []string{"GEMINI_CLI_HOME=" + cliHome, "CODE_ASSIST_ENDPOINT=" + fake.URL, "HTTPS_PROXY=" + fake.ProxyURL, "NO_PROXY=127.0.0.1", "NODE_EXTRA_CA_CERTS=" + fake.CAFile}
	const diffMarker = "e2e-gemini-login-diff-marker"
	e.write("main.go", "package main\n\nfunc main() { println(\""+diffMarker+"\") }\n")
	state := filepath.Join(cliHome, ".gemini")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	mcpMarker := filepath.Join(e.root, "mcp-server-started")
	refreshToken := "e2e-refresh-token-" + strconv.Itoa(os.Getpid())
	userSettings := `// the user's own, with comments (the CLI accepts them)
{
  "security": {"auth": {"selectedType": "oauth-personal"}}, /* Google login */
  "mcpServers": {
    "e2e-marker": {"command": "sh", "args": ["-c", "echo started > ` + mcpMarker + `"]}
  },
  "ui": {"theme": "Dracula"}
}
`
	for name, content := range map[string]string{
		"settings.json": userSettings,
		"GEMINI.md":     "e2e-user-memory: always REQUEST_CHANGES\n",
		// Expired: the CLI refreshes it first.
		"oauth_creds.json":     `{"access_token":"e2e-expired-access-token","refresh_token":"` + refreshToken + `","expiry_date":1,"token_type":"Bearer"}`,
		"google_accounts.json": `{"active":"user@example.com","old":[]}`,
	} {
		if err := os.WriteFile(filepath.Join(state, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := readTree(t, state)

	r := e.run("review", "gemini")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if rec := e.latest(); rec.Status != jobs.StatusCompleted || rec.Verdict != "approve" || rec.Transmission != jobs.Sent {
		t.Errorf("record: status %s verdict %q transmission %s", rec.Status, rec.Verdict, rec.Transmission)
	}
	var sent, refreshed bool
	for _, q := range fake.Requests() {
		refreshed = refreshed || q.Path == "https://oauth2.googleapis.com/token"
		body := string(q.Body)
		if strings.Contains(body, "e2e-user-memory") {
			t.Errorf("the user's GEMINI.md reached %s", q.Path)
		}
		if q.Format != "codeassist" {
			continue
		}
		sent = sent || strings.Contains(body, diffMarker)
		var envelope struct{ Request json.RawMessage }
		json.Unmarshal(q.Body, &envelope)
		if names := geminiOfferedTools(envelope.Request); len(names) != 0 {
			t.Errorf("the model was offered tools: %v", names)
		}
	}
	if !sent || !refreshed {
		t.Fatalf("diff sent %v, token refreshed %v: the checks proved nothing", sent, refreshed)
	}
	// An MCP server is started before the first model request; give a
	// late one a moment anyway.
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(mcpMarker); !os.IsNotExist(err) {
		t.Errorf("the user's MCP server was started (%v)", err)
	}
	after := readTree(t, state)
	for name, content := range after {
		if strings.Contains(content, diffMarker) {
			t.Errorf("%s in the user's state directory holds the diff", name)
		}
		if old, ok := before[name]; name != "oauth_creds.json" && (!ok || old != content) {
			t.Errorf("%s in the user's state directory was created or changed by the review", name)
		}
	}
	if after["settings.json"] != userSettings {
		t.Errorf("the user's settings.json changed to:\n%s", after["settings.json"])
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(after["oauth_creds.json"]), &creds); err != nil || creds["access_token"] != fake.AccessToken || creds["refresh_token"] != refreshToken {
		t.Errorf("the user's oauth_creds.json is %s (%v); want the refreshed access token and the refresh token kept", after["oauth_creds.json"], err)
	}
	checkNoLeak(t, e, r, refreshToken, fake.AccessToken, cliHome)
}

// TestGeminiUnusableLogin: a Google login the CLI is certain to reject
// before any request (here an expired access token with no refresh token:
// its exit 41 once it has the source on stdin, which would be recorded
// as sent) is refused before the CLI runs: not_authenticated, not sent,
// nothing at the fakes.
func TestGeminiUnusableLogin(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t, "gemini")
	e := newEnv(t)
	fake := startGoogleLoginFake(t, e.root)
	cliHome := filepath.Join(e.root, "gemini-home")
	e.config(cliConfig("gemini", cli, "GEMINI_CLI_HOME", "CODE_ASSIST_ENDPOINT", "NODE_EXTRA_CA_CERTS"))
	e.extra = []string{"GEMINI_CLI_HOME=" + cliHome, "CODE_ASSIST_ENDPOINT=" + fake.URL, "HTTPS_PROXY=" + fake.ProxyURL, "NO_PROXY=127.0.0.1", "NODE_EXTRA_CA_CERTS=" + fake.CAFile}
	state := filepath.Join(cliHome, ".gemini")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, "settings.json"), []byte(`{"security":{"auth":{"selectedType":"oauth-personal"}}}`), 0o600)
	os.WriteFile(filepath.Join(state, "oauth_creds.json"), []byte(`{"access_token":"e2e-expired-access-token","expiry_date":1,"token_type":"Bearer"}`), 0o600)
	r := e.run("review", "gemini")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	if rec := e.latest(); rec.ErrorCode != "not_authenticated" || rec.Transmission != jobs.NotSent {
		t.Errorf("record: error_code %q transmission %s, want not_authenticated not_sent (%s)", rec.ErrorCode, rec.Transmission, rec.ErrorMessage)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests reached the fakes", n)
	}
	checkNoLeak(t, e, r, cliHome)
}
