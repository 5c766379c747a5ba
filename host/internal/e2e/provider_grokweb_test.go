package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

const (
	grokwebAPIKey   = "gw-app-key-secret-7777"
	grokwebAdminKey = "gw-admin-key-secret-8888"
	grokwebXAIKey   = "xai-e2e-secret-9999"
)

// grokwebConfig is relay.hcl for the grokweb plugin; settings go on both
// routes' provider block.
func grokwebConfig(settings string, routeExtra ...string) string {
	return fmt.Sprintf(`
provider "grokweb" {
  env = [
    "GROK_BASE_URL", "GROK_API_KEY", "GROK_MODEL",
    "GROK2API_ENDPOINT", "GROK2API_ADMIN_KEY", "GROK2API_API_KEY", "GROK2API_HOME",
  ]
  settings = { %s }
  route "cli" {
    budget = "112KiB"
    %s
  }
  route "web" {}
}
`, settings, strings.Join(routeExtra, "\n    "))
}

type grokwebEnv struct {
	*env
	fm *modelFake
}

func newGrokwebEnv(t *testing.T) *grokwebEnv {
	t.Helper()
	g := &grokwebEnv{env: newEnv(t), fm: startModelFake(t)}
	requireOnlyPath(t, g.fm, "/v1/chat/completions")
	g.extra = []string{"TMPDIR=" + g.root}
	g.config(grokwebConfig(""))
	return g
}

// webEnv is the environment of a review through the tunnel at endpoint.
func (g *grokwebEnv) webEnv(endpoint, adminKey string) []string {
	return []string{"GROK2API_ENDPOINT=" + endpoint, "GROK2API_ADMIN_KEY=" + adminKey, "GROK2API_API_KEY=" + grokwebAPIKey}
}

func (g *grokwebEnv) noLeak(t *testing.T, r result, extra ...string) {
	t.Helper()
	checkAbsent(t, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "job files": readAll(t, filepath.Join(g.state, "relay", "jobs"))},
		append([]string{grokwebAPIKey, grokwebAdminKey, grokwebXAIKey, g.home + "/"}, extra...))
}

func TestGrokwebWebReview(t *testing.T) {
	t.Parallel()
	g := newGrokwebEnv(t)
	g.fm.SetReply("Web review.\n\nVerdict: REQUEST_CHANGES")
	r := kgRun(g.env, g.webEnv(g.fm.URL+"/v1", grokwebAdminKey), "review", "grokweb", "--route", "web")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	rec := g.latest()
	if rec.Status != jobs.StatusCompleted || rec.Transmission != jobs.Sent || rec.Verdict != "request_changes" || rec.Route != "web" || rec.Model != "grok-4" {
		t.Errorf("record: status %s, transmission %s, verdict %s, route %s, model %q", rec.Status, rec.Transmission, rec.Verdict, rec.Route, rec.Model)
	}
	reqs := g.fm.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+grokwebAPIKey || !strings.Contains(reqs[0].Prompt, `println("hi")`) {
		t.Fatalf("requests: %+v", reqs)
	}
	g.noLeak(t, r)
}

func TestGrokwebWebErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string // or canned, a fakemodel canned body's name
		canned string
		down   bool
		code   string
	}{
		{name: "rate-limited", status: 429, canned: "OpenAIRateLimit", code: "usage_limited"},
		{name: "key-refused", status: 401, canned: "OpenAIAuth", code: "not_authenticated"},
		{name: "server-error", status: 500, body: `{"detail":"Internal Server Error"}`, code: "provider_unavailable"},
		{name: "tunnel-down", down: true, code: "provider_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGrokwebEnv(t)
			endpoint := g.fm.URL
			if tt.down {
				endpoint = "http://127.0.0.1:1"
			} else if tt.canned != "" {
				g.fm.FailWith(tt.status, g.fm.Canned(tt.canned))
			} else {
				g.fm.FailWith(tt.status, tt.body)
			}
			r := kgRun(g.env, g.webEnv(endpoint, ""), "review", "grokweb", "--route", "web")
			if r.code != 3 {
				t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
			}
			rec := g.latest()
			if rec.Status != jobs.StatusFailed || rec.ErrorCode != tt.code || rec.Transmission != jobs.Sent {
				t.Errorf("record: status %s, error_code %q, transmission %s; want failed, %q, sent (%s)", rec.Status, rec.ErrorCode, rec.Transmission, tt.code, rec.ErrorMessage)
			}
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "("+tt.code+")") {
				t.Errorf("stderr: want one line naming %s:\n%s", tt.code, r.stderr)
			}
			// The endpoint is a value the host redacts: the message names
			// it in words rather than showing a redaction mark.
			if strings.Contains(r.stderr, "REDACTED") || strings.Contains(rec.ErrorMessage, "REDACTED") {
				t.Errorf("the error shows a redacted endpoint: %s", r.stderr)
			}
			if tt.down && !strings.Contains(r.stderr, "the endpoint") {
				t.Errorf("a tunnel-down error does not say which setting to check: %s", r.stderr)
			}
			g.noLeak(t, r)
		})
	}
}

// TestGrokwebWebNoTunnel: neither GROK2API_ENDPOINT nor a managed tunnel
// home: the plugin does not offer the web route (no made-up identity),
// says why in its debug log (without a tunnel that is the normal case, so
// the default level stays quiet), and relay-host refuses before anything
// is sent.
func TestGrokwebWebNoTunnel(t *testing.T) {
	t.Parallel()
	g := newGrokwebEnv(t)
	r := kgRun(g.env, []string{"RELAY_LOG=debug"}, "review", "grokweb", "--route", "web")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "GROK2API_ENDPOINT") || !strings.Contains(r.stderr, `offer route "web"`) {
		t.Errorf("stderr does not say why web is missing and what to set:\n%s", r.stderr)
	}
	rec := g.latest()
	if rec.Status != jobs.StatusFailed || rec.Transmission != jobs.NotSent {
		t.Errorf("record: status %s, transmission %s; want failed, not_sent", rec.Status, rec.Transmission)
	}
	if n := len(g.fm.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	if _, err := os.Stat(filepath.Join(g.home, ".grok2api")); !os.IsNotExist(err) {
		t.Errorf("a managed tunnel home was created: %v", err)
	}
}

// TestGrokwebWebManagedHome: with no explicit endpoint the managed tunnel's
// home is the shared state, and its endpoint file says where it listens.
func TestGrokwebWebManagedHome(t *testing.T) {
	t.Parallel()
	g := newGrokwebEnv(t)
	home := filepath.Join(g.root, "tunnel-home")
	os.MkdirAll(home, 0o700)
	os.WriteFile(filepath.Join(home, "endpoint"), []byte(g.fm.URL+"\n"), 0o600)
	extra := []string{"GROK2API_HOME=" + home}
	r := kgRun(g.env, append(extra, "RELAY_LOG=error"), "providers", "--json")
	if !strings.Contains(r.stdout, `"web"`) {
		t.Fatalf("providers does not list the web route:\n%s\n%s", r.stdout, r.stderr)
	}
	r = kgRun(g.env, extra, "review", "grokweb", "--route", "web")
	if r.code != 0 || len(g.fm.Requests()) != 1 || g.fm.Requests()[0].Header.Get("Authorization") != "" {
		t.Fatalf("exit %d, %d requests (auth %v)\nstderr: %s", r.code, len(g.fm.Requests()), g.fm.Requests(), r.stderr)
	}
	g.noLeak(t, r, home)
}

// TestGrokwebWebConcurrency: one grok2api account runs one review at a
// time. The account is the endpoint (however it is spelled) plus the admin
// key: the same endpoint without admin keys, or with one key, is one
// account (the second review exits 75 with counts only and sends nothing);
// two admin keys are two accounts and run together.
func TestGrokwebWebConcurrency(t *testing.T) {
	tests := []struct {
		name           string
		adminA, adminB string
		blocked        bool
	}{
		{"no-admin-key", "", "", true},
		{"same-admin-key", grokwebAdminKey, grokwebAdminKey, true},
		{"two-admin-keys", grokwebAdminKey, grokwebAdminKey + "-other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGrokwebEnv(t)
			g.fm.Hold() // the first review stays mid-call until Release
			first := kgStart(t, g.env, g.webEnv(g.fm.URL, tt.adminA), "review", "grokweb", "--route", "web")
			waitRequests(t, g.fm, "", 1)

			// Another spelling of the same endpoint.
			other := strings.Replace(g.fm.URL, "http://", "HTTP://", 1) + "/v1/"
			second := kgStart(t, g.env, g.webEnv(other, tt.adminB), "review", "grokweb", "--route", "web", "--confirm-resend")
			if tt.blocked {
				r := second()
				if r.code != 75 || !strings.Contains(r.stderr, "(1/1 in use)") {
					t.Errorf("second review: exit %d, want 75 with counts\n%s", r.code, r.stderr)
				}
				checkAbsent(t, map[string]string{"blocked stderr": r.stderr}, []string{grokwebAdminKey, g.fm.URL, "pid"})
				if rec := g.latest(); rec.ErrorCode != "provider_workload_blocked" || rec.Transmission != jobs.NotSent {
					t.Errorf("blocked record: %s, %s", rec.ErrorCode, rec.Transmission)
				}
				if n := len(g.fm.Requests()); n != 1 {
					t.Errorf("%d requests: the blocked review sent its packet", n)
				}
				g.fm.Release()
			} else {
				// Both in flight at once; a blocked second review ends
				// instead, and fails the test at once.
				ended := make(chan result, 1)
				go func() { ended <- second() }()
				for len(g.fm.Requests()) < 2 {
					select {
					case r := <-ended:
						g.fm.Release()
						t.Fatalf("second review ended (exit %d) while the first was in flight: it was not admitted\n%s", r.code, r.stderr)
					case <-time.After(20 * time.Millisecond):
					}
				}
				g.fm.Release()
				if r := <-ended; r.code != 0 {
					t.Errorf("second review: exit %d\n%s", r.code, r.stderr)
				}
			}
			if r := first(); r.code != 0 {
				t.Errorf("first review: exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}

// grokEnv is a review through the real grok CLI against the fake model.
func (g *grokwebEnv) grokEnv() []string {
	return []string{"GROK_BASE_URL=" + g.fm.URL + "/v1", "GROK_API_KEY=" + grokwebXAIKey, "GROK_MODEL=grok-e2e"}
}

func TestGrokwebCLIReview(t *testing.T) {
	grok := requireCLI(t, "grok")
	t.Parallel()
	g := newGrokwebEnv(t)
	g.config(grokwebConfig(fmt.Sprintf("cli_path = %q", grok)))
	g.fm.SetReply("CLI review.\n\nVerdict: APPROVE")
	before := gitStatusPorcelain(t, g.env)
	r := kgRun(g.env, g.grokEnv(), "review", "grokweb", "--route", "cli")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	rec := g.latest()
	if rec.Status != jobs.StatusCompleted || rec.Transmission != jobs.Sent || rec.Verdict != "approve" || !strings.Contains(rec.Review, "CLI review.") {
		t.Errorf("record: status %s, transmission %s, verdict %s, review %q", rec.Status, rec.Transmission, rec.Verdict, rec.Review)
	}
	reqs := g.fm.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+grokwebXAIKey || reqs[0].MaxTokens != 8192 || reqs[0].Model != "grok-e2e" || !strings.Contains(reqs[0].Prompt, `println("hi")`) {
		t.Fatalf("requests: %+v", reqs)
	}
	// grok ran in a scratch dir: nothing appeared in the repository, and no
	// key was saved in ~/.grok (it only gets keys by environment).
	if after := gitStatusPorcelain(t, g.env); after != before {
		t.Errorf("the repository changed during the review:\nbefore %q\nafter  %q", before, after)
	}
	if data, err := os.ReadFile(filepath.Join(g.home, ".grok", "user-settings.json")); err == nil && strings.Contains(string(data), grokwebXAIKey) {
		t.Errorf("grok saved the key in ~/.grok/user-settings.json")
	}
	g.noLeak(t, r)
}

func TestGrokwebCLIErrors(t *testing.T) {
	grok := requireCLI(t, "grok")
	tests := []struct {
		name   string
		status int
		canned string // a fakemodel canned body's name
		env    []string
		big    bool
		budget string
		exit   int
		code   string
		tr     jobs.Transmission
	}{
		{name: "rate-limited", status: 429, canned: "OpenAIRateLimit", exit: 3, code: "usage_limited", tr: jobs.Sent},
		{name: "key-refused", status: 401, canned: "OpenAIAuth", exit: 3, code: "not_authenticated", tr: jobs.Sent},
		{name: "no-key", env: []string{"GROK_API_KEY="}, exit: 3, code: "not_authenticated", tr: jobs.NotSent},
		{name: "over-budget", big: true, exit: 2, code: "source_packet_too_large", tr: jobs.NotSent},
		{name: "over-argv-limit", big: true, budget: `budget = "1MiB"`, exit: 3, code: "config_invalid", tr: jobs.NotSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGrokwebEnv(t)
			cfg := grokwebConfig(fmt.Sprintf("cli_path = %q", grok))
			if tt.budget != "" {
				cfg = strings.Replace(cfg, `budget = "112KiB"`, tt.budget, 1)
			}
			g.config(cfg)
			if tt.status != 0 {
				g.fm.FailWith(tt.status, g.fm.Canned(tt.canned))
			}
			if tt.big {
				g.write("big.txt", strings.Repeat("a line of text in a large change\n", 4000)) // ~130 KiB
				g.git("add", "big.txt")
			}
			r := kgRun(g.env, append(g.grokEnv(), tt.env...), "review", "grokweb", "--route", "cli")
			if r.code != tt.exit {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tt.exit, r.stderr)
			}
			rec := g.latest()
			if rec.Status != jobs.StatusFailed || rec.ErrorCode != tt.code || rec.Transmission != tt.tr {
				t.Errorf("record: status %s, error_code %q, transmission %s; want failed, %q, %s (%s)", rec.Status, rec.ErrorCode, rec.Transmission, tt.code, tt.tr, rec.ErrorMessage)
			}
			if n := len(g.fm.Requests()); (tt.tr == jobs.NotSent) != (n == 0) {
				t.Errorf("%d requests reached the model for a %s failure", n, tt.tr)
			}
			g.noLeak(t, r)
		})
	}
}

// TestGrokwebCLITimeout: at --timeout the grok CLI (node) is killed with
// its process group; nothing keeps running in its scratch dir. The timeout
// must cover grok's start-up before its one request, which takes seconds
// on a loaded machine.
func TestGrokwebCLITimeout(t *testing.T) {
	grok := requireCLI(t, "grok")
	t.Parallel()
	g := newGrokwebEnv(t)
	g.config(grokwebConfig(fmt.Sprintf("cli_path = %q", grok)))
	g.fm.Hold() // the model never answers
	wait := kgStart(t, g.env, g.grokEnv(), "review", "grokweb", "--route", "cli", "--timeout", "15s")
	waitRequests(t, g.fm, "", 1)
	pids := procsWithCwdUnder(g.root)
	if len(pids) == 0 {
		t.Fatal("no process runs in a scratch dir under TMPDIR while grok waits for the model")
	}
	r := wait()
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	if rec := g.latest(); rec.ErrorCode != "timeout" || rec.Transmission != jobs.Sent {
		t.Errorf("record: error_code %q, transmission %s; want timeout, sent", rec.ErrorCode, rec.Transmission)
	}
	requireGone(t, pids, 5*time.Second)
	if entries, _ := filepath.Glob(filepath.Join(g.root, "relay-grok-*")); len(entries) != 0 {
		t.Errorf("scratch dirs left behind: %v", entries)
	}
}

// procsWithCwdUnder lists the processes whose working directory is dir or
// below it.
func procsWithCwdUnder(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func gitStatusPorcelain(t *testing.T, e *env) string {
	t.Helper()
	cmd := exec.Command("git", "status", "--porcelain", "--ignored")
	cmd.Dir, cmd.Env = e.repo, e.environ()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// The web endpoint may come from relay.hcl's `endpoint` setting instead of
// GROK2API_ENDPOINT: relay-host configures the plugin before it asks for the
// facts, so the setting decides the admission key, and two reviews through
// the same configured tunnel share one slot.
func TestGrokwebWebEndpointSetting(t *testing.T) {
	t.Parallel()
	g := newGrokwebEnv(t)
	g.config(grokwebConfig(fmt.Sprintf("endpoint = %q", g.fm.URL+"/v1")))
	noEnvEndpoint := []string{"GROK2API_ENDPOINT=", "GROK2API_ADMIN_KEY=", "GROK2API_API_KEY=" + grokwebAPIKey}
	r := kgRun(g.env, noEnvEndpoint, "review", "grokweb", "--route", "web")
	if r.code != 0 {
		t.Fatalf("review through the configured endpoint: exit %d\nstderr: %s", r.code, r.stderr)
	}
	if n := len(g.fm.Requests()); n != 1 {
		t.Fatalf("%d requests at the configured tunnel, want 1", n)
	}
	out := kgRun(g.env, noEnvEndpoint, "providers", "--json")
	if !strings.Contains(out.stdout, `"route": "web"`) {
		t.Fatalf("providers does not offer the web route with a configured endpoint:\n%s", out.stdout)
	}

	g.fm.Hold()
	g.write("main.go", "package main\n\nfunc main() { println(\"second\") }\n")
	first := g.command("review", "grokweb", "--route", "web")
	first.Env = append(first.Env, noEnvEndpoint...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { g.fm.Release(); first.Wait() }()
	waitRequests(t, g.fm, formatOpenAI, 2)
	blocked := kgRun(g.env, noEnvEndpoint, "review", "grokweb", "--route", "web", "--confirm-resend")
	if blocked.code != 75 || !strings.Contains(blocked.stderr, "1/1 in use") {
		t.Fatalf("a second review through the same configured tunnel: exit %d, want 75 (counts only)\nstderr: %s", blocked.code, blocked.stderr)
	}
	g.noLeak(t, blocked)
}

// TestGrokwebCLIOneSend: grok's OpenAI client retries a 429 or 500 twice
// with no setting to stop it; through the onesend relay a steady 429, 500
// or 401 (each with Retry-After: 30) reaches the server once and fails the
// attempt at once, with the Retry-After in the record.
func TestGrokwebCLIOneSend(t *testing.T) {
	grok := requireCLI(t, "grok")
	t.Parallel()
	for _, c := range []oneSendCase{
		{"429", 429, `{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, "usage_limited"},
		{"500", 500, `{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`, "provider_unavailable"},
		{"401", 401, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, "not_authenticated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGrokwebEnv(t)
			g.config(grokwebConfig(fmt.Sprintf("cli_path = %q", grok)))
			checkOneSend(t, g.env, g.fm, formatOpenAI, c, oneSendRetryAfter, func() result {
				return kgRun(g.env, g.grokEnv(), "review", "grokweb", "--route", "cli")
			})
			g.noLeak(t, result{})
		})
	}
}

// TestGrokwebWebOneSend: the web route makes one request per attempt; a
// 429, 500 or 401 from the tunnel (each with Retry-After: 30) fails at
// once with the Retry-After in the record.
func TestGrokwebWebOneSend(t *testing.T) {
	t.Parallel()
	for _, c := range []oneSendCase{
		{"429", 429, `{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, "usage_limited"},
		{"500", 500, `{"detail":"Internal Server Error"}`, "provider_unavailable"},
		{"401", 401, `{"error":{"message":"Invalid API key","type":"authentication_error","param":null,"code":"invalid_api_key"}}`, "not_authenticated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGrokwebEnv(t)
			checkOneSend(t, g.env, g.fm, formatOpenAI, c, oneSendRetryAfter, func() result {
				return kgRun(g.env, g.webEnv(g.fm.URL+"/v1", grokwebAdminKey), "review", "grokweb", "--route", "web")
			})
			g.noLeak(t, result{})
		})
	}
}
