package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireMCPClient is the test client (the official TypeScript SDK's
// client, pinned in testdata/mcpclient). Without node or its installed
// dependencies the test is skipped, and fails when RELAY_REQUIRE_CLIS=1
// (.ci/run installs them).
func requireMCPClient(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "mcpclient"))
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		missing = "the MCP test client's dependencies are not installed: run npm ci --prefix host/internal/e2e/testdata/mcpclient"
	}
	if missing != "" {
		if os.Getenv("RELAY_REQUIRE_CLIS") == "1" {
			t.Fatal(missing)
		}
		t.Skip(missing + " to run this test")
	}
	return filepath.Join(dir, "client.mjs")
}

// mcpLine is one line the client printed.
type mcpLine struct {
	Step   string `json:"step"`
	Error  string `json:"error"`
	Result *struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		Structured map[string]any `json:"structuredContent"`
		IsError    bool           `json:"isError"`
	} `json:"result"`
	Progress []string         `json:"progress"`
	Server   map[string]any   `json:"server"`
	Tools    []map[string]any `json:"tools"`
}

func (l mcpLine) text() string {
	if l.Result == nil {
		return l.Error
	}
	var b strings.Builder
	for _, c := range l.Result.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// str is a string field of the structured result.
func (l mcpLine) str(k string) string {
	if l.Result == nil || l.Result.Structured == nil {
		return ""
	}
	s, _ := l.Result.Structured[k].(string)
	return s
}

// stdioPlan is a plan whose server is `relay-host mcp args…` in e's repo.
func (e *env) stdioPlan(steps []map[string]any, args ...string) map[string]any {
	envm := map[string]string{}
	for _, kv := range e.environ() {
		k, v, _ := strings.Cut(kv, "=")
		envm[k] = v
	}
	return map[string]any{"command": filepath.Join(binDir, "relay-host"), "args": append([]string{"mcp"}, args...),
		"env": envm, "cwd": e.repo, "steps": steps}
}

// startClient runs the client on plan; lines yields what it prints.
func startClient(t *testing.T, client string, plan map[string]any) (cmd *exec.Cmd, lines *bufio.Scanner) {
	t.Helper()
	data, _ := json.Marshal(plan)
	cmd = exec.Command("node", client)
	cmd.Stdin = bytes.NewReader(data)
	cmd.Stderr = &prefixWriter{t: t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	return cmd, sc
}

func next(t *testing.T, sc *bufio.Scanner) mcpLine {
	t.Helper()
	if !sc.Scan() {
		t.Fatalf("the MCP client ended early: %v", sc.Err())
	}
	var l mcpLine
	if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
		t.Fatalf("client line: %v\n%s", err, sc.Bytes())
	}
	return l
}

// runClient runs the client on plan to its end and returns its lines.
func runClient(t *testing.T, client string, plan map[string]any) []mcpLine {
	t.Helper()
	cmd, sc := startClient(t, client, plan)
	var lines []mcpLine
	for sc.Scan() {
		var l mcpLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("client line: %v\n%s", err, sc.Bytes())
		}
		lines = append(lines, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the MCP client failed: %v", err)
	}
	return lines
}

type prefixWriter struct{ t *testing.T }

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("mcp stderr: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// mcpConfig: echo, a slow echo, and a limit-1 fault route that answers
// after 60 s and writes its pids.
func mcpConfig(pidfile string) string {
	return fmt.Sprintf(`
provider "echo" {}
provider "slowecho" {
  plugin = "relay-provider-echo"
  route "default" {
    settings = { delay = "3s" }
  }
}
provider "fault" {
  route "default" {
    limit    = 1
    settings = { delay = "60s", pidfile = %q }
  }
}
provider "broken" {
  plugin = "relay-provider-fault"
  route "default" {
    settings = { mode = "error", code = "quota_exceeded" }
  }
}
`, pidfile)
}

// checkTools: every tool the server lists has an object input schema that
// refuses unknown properties, and an output schema.
func checkTools(t *testing.T, l mcpLine) {
	t.Helper()
	names := map[string]bool{}
	for _, tool := range l.Tools {
		name, _ := tool["name"].(string)
		names[name] = true
		in, _ := tool["inputSchema"].(map[string]any)
		if in["type"] != "object" || in["additionalProperties"] != false {
			t.Errorf("tool %s: input schema %v, want an object with additionalProperties false", name, in)
		}
		if out, _ := tool["outputSchema"].(map[string]any); out["type"] != "object" {
			t.Errorf("tool %s: output schema %v, want an object", name, out)
		}
	}
	for _, want := range []string{"review", "review_status", "review_result", "review_cancel", "capacity", "providers"} {
		if !names[want] {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}
}

// TestMCPOverStdio drives `relay-host mcp` with the official TypeScript
// client: a review that finishes in the call, inputs the schema refuses,
// the resend guard, a slow review fetched later by job id with progress, a
// blocked route (counts only), and a cancelled review leaving no process.
func TestMCPOverStdio(t *testing.T) {
	t.Parallel()
	client := requireMCPClient(t)
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(mcpConfig(pidfile))
	steps := []map[string]any{
		{"tool": "review", "args": map[string]any{"providers": []string{"echo"}}},
		{"tool": "review", "args": map[string]any{"providers": []string{"echo"}, "config": filepath.Join(e.root, "evil.hcl")}},
		{"tool": "review", "args": map[string]any{"providers": []string{"echo"}, "plugin": "/tmp/relay-provider-evil"}},
		{"tool": "review", "args": map[string]any{"providers": []string{"echo"}, "confirm_resend": true}},
		{"tool": "review", "args": map[string]any{"providers": []string{"slowecho"}, "wait_seconds": 1}},
		{"tool": "review_result", "args": map[string]any{"job_id": "$job", "wait_seconds": 300}},
		{"tool": "review", "args": map[string]any{"providers": []string{"fault"}, "wait_seconds": 0}},
		{"waitfile": pidfile},
		{"tool": "review", "args": map[string]any{"providers": []string{"fault"}, "prompt": "Review this, briefly."}},
		{"tool": "review_status", "args": map[string]any{"job_id": "$job"}},
		{"tool": "review_cancel", "args": map[string]any{"job_id": "$job"}},
		{"tool": "capacity"},
		{"tool": "providers"},
		{"tool": "review", "args": map[string]any{"providers": []string{"broken"}}},
	}
	lines := runClient(t, client, e.stdioPlan(steps))
	if len(lines) != 2+len(steps) {
		t.Fatalf("the client printed %d lines, want %d: %+v", len(lines), 2+len(steps), lines)
	}
	if v, _ := lines[0].Server["name"].(string); v != "relay-host" || lines[0].Error != "" {
		t.Errorf("initialize: server %v, error %q", lines[0].Server, lines[0].Error)
	}
	checkTools(t, lines[1])
	l := lines[2:]

	if r := l[0]; r.Result == nil || r.Result.IsError || r.str("status") != "completed" || r.str("verdict") == "" || r.Result.Structured["findings"] == nil {
		t.Errorf("review on echo: %+v %s", r.Result, r.text())
	}
	for _, i := range []int{1, 2} {
		if r := l[i]; r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), "additional properties") {
			t.Errorf("review naming a config or plugin path was not refused by schema: %+v %s", r.Result, r.text())
		}
	}
	if r := l[3]; r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), "--allow-resend") {
		t.Errorf("confirm_resend without --allow-resend: %+v %s", r.Result, r.text())
	}
	slow := l[4]
	if slow.Result == nil || slow.str("status") != "running" || slow.str("job_id") == "" {
		t.Fatalf("slow review with wait_seconds 1: %+v %s", slow.Result, slow.text())
	}
	if r := l[5]; r.Result == nil || r.str("status") != "completed" || r.str("job_id") != slow.str("job_id") {
		t.Errorf("review_result of the slow review: %+v %s", r.Result, r.text())
	} else if !contains(append(slow.Progress, r.Progress...), "reviewing") {
		t.Errorf("no progress notification said reviewing: %v %v", slow.Progress, r.Progress)
	}
	faultJob := l[6].str("job_id")
	if faultJob == "" || l[6].str("status") != "running" {
		t.Fatalf("slow fault review: %+v %s", l[6].Result, l[6].text())
	}
	if r := l[8]; r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), "admission blocked") || !strings.Contains(r.text(), "1/1 in use") {
		t.Errorf("review on a full route: %+v %s; want an isError blocked line", r.Result, r.text())
	} else {
		host, _ := os.Hostname()
		if strings.Contains(r.text(), host) || strings.Contains(r.text(), e.state) || strings.Contains(r.text(), "pid") {
			t.Errorf("the blocked line says more than counts: %s", r.text())
		}
	}
	if r := l[9]; r.str("status") != "running" || r.str("state") != "reviewing" {
		t.Errorf("review_status of the running fault review: %+v %s", r.Result, r.text())
	}
	if r := l[10]; r.Result == nil || r.str("status") != "cancelled" || r.str("job_id") != faultJob {
		t.Errorf("review_cancel: %+v %s", r.Result, r.text())
	}
	requireGone(t, readPids(t, pidfile), 20*time.Second)
	if rec := e.job(faultJob); rec == nil || rec.Status != "cancelled" {
		t.Errorf("the cancelled job's record: %+v", rec)
	}
	if r := l[11]; r.Result == nil || r.Result.IsError || !strings.Contains(r.text(), `"active_count":0`) {
		t.Errorf("capacity after the cancel: %+v %s", r.Result, r.text())
	}
	if r := l[12]; r.Result == nil || r.Result.IsError || !strings.Contains(r.text(), `"provider":"echo"`) {
		t.Errorf("providers: %+v %s", r.Result, r.text())
	}
	if r := l[13]; r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), "broken/default: plugin sent unknown error code") || strings.Contains(r.text(), "\n") {
		t.Errorf("a review whose only reviewer failed: %+v %q; want a one-line isError naming it", r.Result, r.text())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// startHTTP starts `relay-host mcp --http addr args…` and returns its URL
// on 127.0.0.1.
func startHTTP(t *testing.T, e *env, addr string, args ...string) string {
	t.Helper()
	cmd := e.command(append([]string{"mcp", "--http", addr}, args...)...)
	errp, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(errp)
	for sc.Scan() {
		if _, url, ok := strings.Cut(sc.Text(), "MCP server on "); ok {
			go io.Copy(io.Discard, errp)
			// Listening on any address, the server prints it as such.
			return strings.NewReplacer("[::]", "127.0.0.1", "0.0.0.0", "127.0.0.1").Replace(url)
		}
		t.Logf("mcp stderr: %s", sc.Text())
	}
	t.Fatal("relay-host mcp --http printed no address")
	return ""
}

// TestMCPOverHTTP: the same client over Streamable HTTP, with the bearer
// token required; a non-loopback address needs --listen-any and a token.
func TestMCPOverHTTP(t *testing.T) {
	t.Parallel()
	client := requireMCPClient(t)
	e := newEnv(t)
	e.config(mcpConfig(filepath.Join(e.root, "pids")))
	e.extra = append(e.extra, "RELAY_MCP_TOKEN=s3cret-token-for-the-test")
	url := startHTTP(t, e, "127.0.0.1:0", "--token-env", "RELAY_MCP_TOKEN")
	steps := []map[string]any{
		{"tool": "review", "args": map[string]any{"providers": []string{"slowecho"}, "wait_seconds": 1}},
		{"tool": "review_result", "args": map[string]any{"job_id": "$job", "wait_seconds": 300}},
	}
	lines := runClient(t, client, map[string]any{"url": url, "token": "s3cret-token-for-the-test", "steps": steps})
	if len(lines) != 4 {
		t.Fatalf("client lines: %+v", lines)
	}
	checkTools(t, lines[1])
	if r := lines[2]; r.str("status") != "running" || r.str("job_id") == "" {
		t.Errorf("slow review over HTTP: %+v %s", r.Result, r.text())
	}
	if r := lines[3]; r.str("status") != "completed" || r.Result.Structured["findings"] == nil {
		t.Errorf("review_result over HTTP: %+v %s", r.Result, r.text())
	}
	if lines := runClient(t, client, map[string]any{"url": url, "token": "wrong", "steps": steps}); len(lines) != 1 || lines[0].Error == "" {
		t.Errorf("a client with the wrong token was served (%d steps)", len(lines))
	}

	// What a web page's fetch to the port looks like: refused.
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Authorization", "Bearer s3cret-token-for-the-test")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin request: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}

	// Any address, with the token: served.
	anyURL := startHTTP(t, e, "0.0.0.0:0", "--listen-any", "--token-env", "RELAY_MCP_TOKEN")
	if lines := runClient(t, client, map[string]any{"url": anyURL, "token": "s3cret-token-for-the-test", "steps": []map[string]any{{"tool": "capacity"}}}); len(lines) != 3 || lines[2].Result == nil || lines[2].Result.IsError {
		t.Errorf("--listen-any with the token: %+v", lines)
	}
	for _, args := range [][]string{{"--http", "0.0.0.0:0"}, {"--http", "0.0.0.0:0", "--listen-any"}} {
		if r := e.run(append([]string{"mcp"}, args...)...); r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("mcp %v: exit %d, want 2 with one line\n%s", args, r.code, r.stderr)
		}
	}
}

// TestMCPTwoServersOneSharedRoute: two agent sessions, each with its own
// `relay-host mcp`, review on one shared_state route at once: one runs, the
// other waits for a slot (saying so in its progress) and is refused one
// (counts only) — never both run.
func TestMCPTwoServersOneSharedRoute(t *testing.T) {
	t.Parallel()
	client := requireMCPClient(t)
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.extra = append(e.extra, "FAULT_STATE_DIR="+filepath.Join(e.root, "fault-state"))
	e.config(fmt.Sprintf(`
admission {
  wait = "2s"
}
provider "fault" {
  env = ["FAULT_STATE_DIR"]
  route "shared" {
    settings = { delay = "60s", pidfile = %q }
  }
}
`, pidfile))
	goOn := filepath.Join(e.root, "go-on")
	_, a := startClient(t, client, e.stdioPlan([]map[string]any{
		{"tool": "review", "args": map[string]any{"providers": []string{"fault/shared"}, "wait_seconds": 0}},
		{"waitfile": goOn},
		{"tool": "review_cancel", "args": map[string]any{"job_id": "$job"}},
	}))
	next(t, a) // initialize
	next(t, a) // tools
	first := next(t, a)
	if first.str("status") != "running" {
		t.Fatalf("first session's review: %+v %s", first.Result, first.text())
	}
	waitForFile(t, pidfile, 30*time.Second)

	other := runClient(t, client, e.stdioPlan([]map[string]any{
		{"tool": "review", "args": map[string]any{"providers": []string{"fault/shared"}, "prompt": "Another session's review."}},
	}))
	if r := other[2]; r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), "admission blocked") {
		t.Errorf("second session's review on the busy shared route: %+v %s; want an isError blocked line", r.Result, r.text())
	} else if !contains(r.Progress, "waiting for a slot") {
		t.Errorf("second session's review waited without saying so: progress %v", r.Progress)
	}
	if n := e.active("fault", "shared"); n != 1 {
		t.Errorf("shared route: %d reviews in flight, want 1", n)
	}
	os.WriteFile(goOn, []byte("x"), 0o600)
	next(t, a) // waitfile
	if r := next(t, a); r.str("status") != "cancelled" {
		t.Errorf("first session's cancel: %+v %s", r.Result, r.text())
	}
	requireGone(t, readPids(t, pidfile), 20*time.Second)
}

// TestMCPServerExitCancelsItsReviews: a review still running when its
// client goes away (stdin closed) is cancelled and recorded, its plugin
// stopped and its slot released: no work outlives the server.
func TestMCPServerExitCancelsItsReviews(t *testing.T) {
	t.Parallel()
	client := requireMCPClient(t)
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(mcpConfig(pidfile))
	lines := runClient(t, client, e.stdioPlan([]map[string]any{
		{"tool": "review", "args": map[string]any{"providers": []string{"fault"}, "wait_seconds": 0}},
		{"waitfile": pidfile},
	}))
	id := lines[2].str("job_id")
	if id == "" {
		t.Fatalf("review: %+v %s", lines[2].Result, lines[2].text())
	}
	requireGone(t, readPids(t, pidfile), 20*time.Second)
	// The server records the outcome before it exits; the client does not
	// wait for it, so follow the job's lock.
	if w := e.run("jobs", "wait", id, "--timeout", "20s"); w.code != 130 {
		t.Errorf("jobs wait on the review its server left: exit %d, want 130 (cancelled)\n%s", w.code, w.stderr)
	}
	if n := e.active("fault", "default"); n != 0 {
		t.Errorf("%d reviews still hold a slot after the server exited", n)
	}
}

// TestMCPReviewsTheClientsRoot: a server started outside any repository
// reviews the one root its client declared, and without roots says the
// directory is not a repository.
func TestMCPReviewsTheClientsRoot(t *testing.T) {
	t.Parallel()
	client := requireMCPClient(t)
	e := newEnv(t)
	e.config(mcpConfig(filepath.Join(e.root, "pids")))
	steps := []map[string]any{{"tool": "review", "args": map[string]any{"providers": []string{"echo"}}}}
	plan := e.stdioPlan(steps)
	plan["cwd"] = e.home // not a repository
	plan["roots"] = []string{e.repo}
	if r := runClient(t, client, plan)[2]; r.Result == nil || r.Result.IsError || r.str("status") != "completed" {
		t.Errorf("review of the client's root: %+v %s", r.Result, r.text())
	}
	delete(plan, "roots")
	if r := runClient(t, client, plan)[2]; r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), "not inside a git work tree") {
		t.Errorf("review outside a repository without roots: %+v %s", r.Result, r.text())
	}
}

// TestDoctorMCPClients: doctor says which MCP clients' configurations run
// this relay-host's mcp (Claude Code by path, Codex through PATH), which run
// another (Gemini CLI here), names only, and needs none of them.
func TestDoctorMCPClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.config("provider \"echo\" {}\n")
	e.extra = append(e.extra, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	write := func(rel, content string) {
		p := filepath.Join(e.home, rel)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(".claude.json", fmt.Sprintf(`{"mcpServers": {"relay": {"command": %q, "args": ["mcp"], "env": {"DEEPSEEK_API_KEY": "sk-planted-in-claude-json"}}}}`, filepath.Join(binDir, "relay-host")))
	write(".codex/config.toml", "model = \"o4\"\n\n[mcp_servers.relay]\ncommand = \"relay-host\"\nargs = [\"mcp\"]\n\n[mcp_servers.relay.env]\nX = \"1\"\n")
	write(".gemini/settings.json", `{"mcpServers": {"review": {"command": "/opt/old/relay-host", "args": ["mcp"]}}}`)
	r, rep := e.doctor()
	if r.code != 0 {
		t.Errorf("doctor: exit %d, want 0 (no MCP client is needed)\n%s", r.code, r.stderr)
	}
	got := map[string]bool{}
	for _, it := range rep.Items {
		if it.Check != "mcp_client" {
			continue
		}
		client, _, _ := strings.Cut(it.Detail, " (")
		got[client] = it.OK
		if it.Needed || strings.Contains(it.Detail+it.Fix, "sk-planted") {
			t.Errorf("mcp_client item: %+v", it)
		}
		if client == "Gemini CLI" && !strings.Contains(it.Detail, "review runs /opt/old/relay-host, not this relay-host") {
			t.Errorf("Gemini CLI item: %+v", it)
		}
	}
	if want := map[string]bool{"Claude Code": true, "Codex": true, "Gemini CLI": false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("mcp_client items: %v, want %v", got, want)
	}
}

// TestMCPCancelFromTheCLI: `relay-host cancel` on a review an MCP server
// runs signals that server, as it would a foreground review: the review is
// recorded cancelled and no plugin process is left.
func TestMCPCancelFromTheCLI(t *testing.T) {
	t.Parallel()
	client := requireMCPClient(t)
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(mcpConfig(pidfile))
	_, sc := startClient(t, client, e.stdioPlan([]map[string]any{
		{"tool": "review", "args": map[string]any{"providers": []string{"fault"}, "wait_seconds": 0}},
		{"waitfile": filepath.Join(e.root, "never")},
	}))
	next(t, sc)
	next(t, sc)
	id := next(t, sc).str("job_id")
	if id == "" {
		t.Fatal("review returned no job id")
	}
	waitForFile(t, pidfile, 30*time.Second)
	if r := e.run("cancel", id); r.code != 0 || !strings.Contains(r.stdout, "cancelled") {
		t.Errorf("relay-host cancel %s: exit %d\n%s%s", id, r.code, r.stdout, r.stderr)
	}
	requireGone(t, readPids(t, pidfile), 20*time.Second)
	if rec := e.job(id); rec == nil || rec.Status != "cancelled" {
		t.Errorf("the record after relay-host cancel: %+v", rec)
	}
}
