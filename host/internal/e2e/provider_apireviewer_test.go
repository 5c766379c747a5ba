package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// These tests run `relay-host review apireviewer` (real host, real plugin
// process, real admission) against the fake model server (modelFake).

// apiTestKey is planted in the environment; it must reach the fake and nothing
// the user sees or relay-host stores.
const apiTestKey = "sk-apireviewer-e2e-secret-7f3a9c"

// apiEnv is a relay-host user whose relay.hcl points every apireviewer route
// at fake; deepseekExtra goes into the deepseek route block.
func apiEnv(t *testing.T, fake *modelFake, deepseekExtra string) *env {
	e := newEnv(t)
	e.extra = []string{
		"DEEPSEEK_API_KEY=" + apiTestKey, "GLM_API_KEY=" + apiTestKey, "LOCAL_LLM_KEY=" + apiTestKey,
		// Empty: the settings below decide, whatever the caller's env says.
		"DEEPSEEK_BASE_URL=", "GLM_BASE_URL=",
	}
	e.config(fmt.Sprintf(`
provider "apireviewer" {
  env = ["DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "GLM_API_KEY", "GLM_BASE_URL", "LOCAL_LLM_KEY",
         "RELAY_DEEPSEEK_CONCURRENCY_LIMIT"]
  route "deepseek" {
    %s
    settings = { base_url = %q, model = "deepseek-v4-flash" }
  }
  route "glm" {
    settings = { base_url = %q, model = "glm-4.7" }
  }
  route "custom" {
    settings = { base_url = %q, model = "local-model", api_key_env = "LOCAL_LLM_KEY" }
  }
}
`, deepseekExtra, fake.URL, fake.URL+"/api/paas/v4", fake.URL+"/v1"))
	return e
}

// apiCheckNoSecrets scans stdout, stderr and every job file for the key and
// for config, home and state paths.
func apiCheckNoSecrets(t *testing.T, e *env, rs ...result) {
	t.Helper()
	where := map[string]string{"job files": readAll(t, filepath.Join(e.state, "relay", "jobs"))}
	for i, r := range rs {
		where[fmt.Sprintf("stdout %d", i)] = r.stdout
		where[fmt.Sprintf("stderr %d", i)] = r.stderr
	}
	checkAbsent(t, where, []string{apiTestKey, filepath.Join(e.home, ".config"), e.home + "/", filepath.Join(e.state, "relay")})
}

func TestAPIReviewerRoutes(t *testing.T) {
	for _, tc := range []struct{ route, path, model string }{
		{"deepseek", "/chat/completions", "deepseek-v4-flash"},
		{"glm", "/api/paas/v4/chat/completions", "glm-4.7"},
		{"custom", "/v1/chat/completions", "local-model"},
	} {
		t.Run(tc.route, func(t *testing.T) {
			t.Parallel()
			fake := startModelFake(t)
			fake.SetReply("The new println is fine but untested.\n\nVerdict: REQUEST_CHANGES")
			e := apiEnv(t, fake, "")
			r := e.run("review", "apireviewer", "--route", tc.route)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "untested") || !strings.Contains(r.stdout, "Verdict: REQUEST_CHANGES") {
				t.Errorf("stdout lacks the review:\n%s", r.stdout)
			}
			rec := e.latest()
			if rec.Status != jobs.StatusCompleted || rec.Verdict != "request_changes" || rec.Transmission != jobs.Sent || rec.Model != tc.model || rec.Route != tc.route {
				t.Errorf("record: status %s verdict %q transmission %s model %q route %s", rec.Status, rec.Verdict, rec.Transmission, rec.Model, rec.Route)
			}
			reqs := fake.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests at the fake, want 1", len(reqs))
			}
			q := reqs[0]
			if q.Path != tc.path || q.Model != tc.model || !q.Stream || q.Header.Get("Authorization") != "Bearer "+apiTestKey {
				t.Errorf("request: path %s model %q stream %v authorization set %v", q.Path, q.Model, q.Stream, q.Header.Get("Authorization") == "Bearer "+apiTestKey)
			}
			if !strings.Contains(q.Prompt, `println(\"hi\")`) && !strings.Contains(q.Prompt, `println("hi")`) {
				t.Errorf("the diff did not reach the model:\n%.500s", q.Prompt)
			}
			if !strings.Contains(q.Prompt, "Verdict: APPROVE") {
				t.Errorf("the review prompt did not reach the model:\n%.500s", q.Prompt)
			}
			apiCheckNoSecrets(t, e, r)
		})
	}
}

func TestAPIReviewerKeepAlives(t *testing.T) {
	t.Parallel()
	fake := startModelFake(t)
	fake.SetKeepAlives(5) // half a second of ": keep-alive" comments
	e := apiEnv(t, fake, "")
	r := e.run("review", "apireviewer", "--route", "deepseek")
	if r.code != 0 || e.latest().Verdict != "approve" {
		t.Fatalf("exit %d, verdict %q\nstderr: %s", r.code, e.latest().Verdict, r.stderr)
	}
}

// apiClosedURL is an http URL on which nothing listens.
func apiClosedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestAPIReviewerFailures: each failure class gives exit 3, one error line
// and a record with the right code and transmission state; nothing leaks.
func TestAPIReviewerFailures(t *testing.T) {
	tests := []struct {
		name   string
		route  string
		setup  func(f *modelFake, e *env)
		args   []string
		code   string
		tr     jobs.Transmission
		inErr  string
		noSend bool // the fake must see no request
	}{
		{name: "429", route: "deepseek", setup: func(f *modelFake, _ *env) { f.FailWith(429, f.Canned("OpenAIRateLimit")) },
			code: "usage_limited", tr: jobs.Sent, inErr: "Rate limit reached"},
		{name: "401", route: "deepseek", setup: func(f *modelFake, _ *env) { f.FailWith(401, f.Canned("OpenAIAuth")) },
			code: "not_authenticated", tr: jobs.Sent, inErr: "DEEPSEEK_API_KEY"},
		{name: "402", route: "deepseek", setup: func(f *modelFake, _ *env) { f.FailWith(402, f.Canned("DeepSeekInsufficientBalance")) },
			code: "insufficient_balance", tr: jobs.Sent, inErr: "Insufficient Balance"},
		{name: "503", route: "deepseek", setup: func(f *modelFake, _ *env) { f.FailWith(503, `{"error":{"message":"overloaded"}}`) },
			code: "provider_unavailable", tr: jobs.Sent, inErr: "overloaded"},
		{name: "glm 1113 in a 429", route: "glm", setup: func(f *modelFake, _ *env) { f.FailWith(429, f.Canned("GLMNoBalance")) },
			code: "insufficient_balance", tr: jobs.Sent, inErr: "1113"},
		{name: "glm 1302 in a 200", route: "glm", setup: func(f *modelFake, _ *env) { f.FailWith(200, f.Canned("GLMRateLimit")) },
			code: "usage_limited", tr: jobs.Sent, inErr: "1302"},
		{name: "dropped", route: "deepseek", setup: func(f *modelFake, _ *env) { f.SetDropConnection(true) },
			code: "provider_unavailable", tr: jobs.Sent, inErr: "dropped the connection"},
		{name: "empty answer", route: "custom", setup: func(f *modelFake, _ *env) { f.SetReply("") },
			code: "bad_output", tr: jobs.Sent, inErr: "empty answer"},
		{name: "timeout", route: "deepseek", setup: func(f *modelFake, _ *env) { f.SetDelay(time.Hour) }, args: []string{"--timeout", "2s"},
			code: "timeout", tr: jobs.Sent},
		{name: "refused", route: "deepseek", setup: func(f *modelFake, e *env) {
			e.extra = append(e.extra, "DEEPSEEK_BASE_URL="+apiClosedURL(t))
		}, code: "provider_unavailable", tr: jobs.Sent, inErr: "connection refused", noSend: true},
		{name: "no key", route: "glm", setup: func(f *modelFake, e *env) { e.extra = append(e.extra, "GLM_API_KEY=") },
			code: "not_authenticated", tr: jobs.NotSent, inErr: "GLM_API_KEY is not set", noSend: true},
		{name: "custom key not passed", route: "custom", setup: func(f *modelFake, e *env) {
			// The variable is set for relay-host but not listed in env, so
			// the plugin never gets it.
			cfg, _ := os.ReadFile(filepath.Join(e.home, ".config", "relay", "relay.hcl"))
			e.config(strings.Replace(string(cfg), `"LOCAL_LLM_KEY",`, "", 1))
		}, code: "not_authenticated", tr: jobs.NotSent, inErr: "listed in env", noSend: true},
		{name: "custom unconfigured", route: "custom", setup: func(f *modelFake, e *env) {
			cfg, _ := os.ReadFile(filepath.Join(e.home, ".config", "relay", "relay.hcl"))
			e.config(strings.Replace(string(cfg), f.URL+"/v1", "", 1))
		}, code: "config_invalid", tr: jobs.NotSent, inErr: "no base_url", noSend: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := startModelFake(t)
			e := apiEnv(t, fake, "")
			tt.setup(fake, e)
			r := e.run(append([]string{"review", "apireviewer", "--route", tt.route}, tt.args...)...)
			if r.code != 3 {
				t.Fatalf("exit %d, want 3\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			rec := e.latest()
			if rec.Status != jobs.StatusFailed || rec.ErrorCode != tt.code || rec.Transmission != tt.tr {
				t.Errorf("record: status %s, error_code %q, transmission %s; want failed, %q, %s (message %q)", rec.Status, rec.ErrorCode, rec.Transmission, tt.code, tt.tr, rec.ErrorMessage)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.inErr) {
				t.Errorf("want one error line containing %q, got:\n%s", tt.inErr, r.stderr)
			}
			if n := len(fake.Requests()); tt.noSend && n != 0 {
				t.Errorf("%d requests reached the fake; want none", n)
			} else if !tt.noSend && n != 1 {
				t.Errorf("%d requests reached the fake; want exactly one (no retries)", n)
			}
			apiCheckNoSecrets(t, e, r)
		})
	}
}

// apiBurst runs n reviews of the deepseek route at once and returns their
// results; whileRunning, if set, is called once the runs have started.
func apiBurst(e *env, n int, args []string, whileRunning func(exited *atomic.Int32)) []result {
	var wg sync.WaitGroup
	var exited atomic.Int32
	res := make([]result, n)
	for i := range res {
		wg.Go(func() {
			res[i] = e.run(append([]string{"review", "apireviewer", "--route", "deepseek", "--confirm-resend"}, args...)...)
			exited.Add(1)
		})
	}
	if whileRunning != nil {
		whileRunning(&exited)
	}
	wg.Wait()
	return res
}

// TestAPIReviewerAdmission: six reviews at once against the limit the
// route resolves to. The fake holds every request until the test has seen
// the over-limit runs exit, so the counts are exact, with no timing.
func TestAPIReviewerAdmission(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cap   string // RELAY_DEEPSEEK_CONCURRENCY_LIMIT
		limit int
	}{
		{"declared default 4", "", 4},
		{"env cap 2", "2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := startModelFake(t)
			fake.SetDelay(time.Hour)
			e := apiEnv(t, fake, "")
			if tc.cap != "" {
				e.extra = append(e.extra, "RELAY_DEEPSEEK_CONCURRENCY_LIMIT="+tc.cap)
			}
			res := apiBurst(e, 6, nil, func(exited *atomic.Int32) {
				// Wait for limit requests held at the fake and the other
				// runs refused, then let the held ones finish.
				deadline := time.Now().Add(30 * time.Second)
				for len(fake.Requests()) < tc.limit || int(exited.Load()) < 6-tc.limit {
					if time.Now().After(deadline) {
						t.Errorf("after 30s: %d requests at the fake, %d runs exited; want %d and %d", len(fake.Requests()), exited.Load(), tc.limit, 6-tc.limit)
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				fake.Release()
			})
			ok, blocked := 0, 0
			for _, r := range res {
				switch r.code {
				case 0:
					ok++
				case 75:
					blocked++
					line := strings.TrimSpace(r.stderr)
					if strings.Contains(line, "\n") || !strings.Contains(line, fmt.Sprintf("at capacity (%d/%d in use)", tc.limit, tc.limit)) {
						t.Errorf("blocked message is not one counts-only line: %q", r.stderr)
					}
				default:
					t.Errorf("exit %d: %s", r.code, r.stderr)
				}
			}
			if ok != tc.limit || blocked != 6-tc.limit {
				t.Errorf("%d completed, %d blocked; want %d and %d", ok, blocked, tc.limit, 6-tc.limit)
			}
			if got := fake.MaxInFlight(); got != tc.limit {
				t.Errorf("peak in flight at the fake %d, want %d", got, tc.limit)
			}
			if n := len(fake.Requests()); n != tc.limit {
				t.Errorf("%d requests reached the fake; the blocked runs must send nothing", n)
			}
			for _, rec := range e.records() {
				if rec.ErrorCode == "provider_workload_blocked" && rec.Transmission != jobs.NotSent {
					t.Errorf("blocked record transmission %s, want not_sent", rec.Transmission)
				}
			}
			apiCheckNoSecrets(t, e, res...)
		})
	}
}

// TestAPIReviewerWait: with --wait every one of six reviews completes, never
// more than the limit at once. With limit = 6 in relay.hcl all six overlap:
// the fake holds each request until six are in flight together (so a lower
// effective limit would show as a peak below six, not as a slow test).
func TestAPIReviewerWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra string
		limit int
	}{
		{"default 4", "", 4},
		{"relay.hcl limit 6", "limit = 6", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := startModelFake(t)
			if tc.limit == 6 {
				fake.SetDelay(20 * time.Second)
				fake.SetReleaseAt(6)
			} else {
				fake.SetDelay(300 * time.Millisecond)
			}
			e := apiEnv(t, fake, tc.extra)
			res := apiBurst(e, 6, []string{"--wait", "60s"}, nil)
			for _, r := range res {
				if r.code != 0 {
					t.Errorf("with --wait: exit %d: %s", r.code, r.stderr)
				}
			}
			peak := fake.MaxInFlight()
			if peak > tc.limit || (tc.limit == 6 && peak != 6) {
				t.Errorf("peak in flight at the fake %d; limit %d", peak, tc.limit)
			}
			if n := len(fake.Requests()); n != 6 {
				t.Errorf("%d requests at the fake, want 6", n)
			}
			if n := e.active("apireviewer", "deepseek"); n != 0 {
				t.Errorf("%d slots still held", n)
			}
			apiCheckNoSecrets(t, e, res...)
		})
	}
}

// TestAPIReviewerOneSend: a steady 429, 500 or 401 with Retry-After: 30
// fails the attempt at once with one request (openai-go's retries are
// off) and the Retry-After in the record, on every route.
func TestAPIReviewerOneSend(t *testing.T) {
	t.Parallel()
	for _, route := range []string{"deepseek", "glm", "custom"} {
		for _, c := range []oneSendCase{
			{"429", 429, `{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, "usage_limited"},
			{"500", 500, `{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`, "provider_unavailable"},
			{"401", 401, `{"error":{"message":"Authentication Fails","type":"authentication_error","param":null,"code":"invalid_request_error"}}`, "not_authenticated"},
		} {
			t.Run(route+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				fake := startModelFake(t)
				e := apiEnv(t, fake, "")
				checkOneSend(t, e, fake, formatOpenAI, c, oneSendRetryAfter, func() result {
					return e.run("review", "apireviewer", "--route", route)
				})
				apiCheckNoSecrets(t, e)
			})
		}
	}
}
