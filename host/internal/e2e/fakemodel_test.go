package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// The provider tests run the real host, plugins and CLIs against the fake
// model server of providers/internal/fakemodel (Anthropic Messages, Gemini,
// OpenAI-compatible chat completions). Go's internal rule keeps that package
// out of this one, so the fake runs as its own process (cmd/fakemodel) and
// modelFake drives it through its control API (/_fakemodel/…). The methods
// mirror fakemodel.Server's.

// Wire formats, as in modelRequest.Format (fakemodel.Format…).
const (
	formatAnthropic = "anthropic"
	formatGemini    = "gemini"
	formatOpenAI    = "openai"
)

var modelFakeBuild struct {
	once sync.Once
	path string
	err  error
}

// modelFake is a fakemodel.Server in another process.
type modelFake struct {
	t   fataler
	URL string // "http://127.0.0.1:<port>", no trailing slash
}

// fataler is the part of testing.TB a modelFake uses, so a testscript
// command can drive one too.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// modelRequest mirrors fakemodel.Request.
type modelRequest struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
	Format, Model       string
	Stream              bool
	Prompt              string
	MaxTokens           int
}

// startModelFake starts a fake for t; it ends with the test.
func startModelFake(t testing.TB) *modelFake {
	t.Helper()
	return launchModelFake(t, t.Cleanup)
}

// launchModelFake starts a fake that ends when cleanup's function runs.
func launchModelFake(t fataler, cleanup func(func())) *modelFake {
	t.Helper()
	modelFakeBuild.once.Do(func() {
		modelFakeBuild.path = filepath.Join(binDir, "fakemodel")
		out, err := exec.Command("go", "build", "-o", modelFakeBuild.path, "github.com/relay-host/relay-host/providers/internal/fakemodel/cmd/fakemodel").CombinedOutput()
		if err != nil {
			modelFakeBuild.err = fmt.Errorf("building fakemodel: %v\n%s", err, out)
		}
	})
	if modelFakeBuild.err != nil {
		t.Fatal(modelFakeBuild.err)
	}
	cmd := exec.Command(modelFakeBuild.path)
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
	cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("fakemodel: %v", err)
	}
	return &modelFake{t: t, URL: strings.TrimSpace(line)}
}

func (f *modelFake) set(c map[string]any) {
	f.t.Helper()
	b, _ := json.Marshal(c)
	res, err := http.Post(f.URL+"/_fakemodel/set", "application/json", bytes.NewReader(b))
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		f.t.Fatalf("fakemodel set %s: HTTP %d", b, res.StatusCode)
	}
}

func (f *modelFake) get(what string, v any) {
	f.t.Helper()
	res, err := http.Get(f.URL + "/_fakemodel/" + what)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		f.t.Fatal(err)
	}
}

func (f *modelFake) SetReply(s string) { f.set(map[string]any{"reply": s}) }

// FailWith makes every request answer status with exactly body.
func (f *modelFake) FailWith(status int, body string) {
	f.set(map[string]any{"fail_status": status, "fail_body": body})
}

// FailWithRetryAfter is FailWith with a Retry-After header (seconds) on
// every failure.
func (f *modelFake) FailWithRetryAfter(status int, body string, seconds int) {
	f.set(map[string]any{"fail_status": status, "fail_body": body,
		"fail_headers": map[string]string{"Retry-After": fmt.Sprint(seconds)}})
}

// SetDelay makes every answer wait d (or until the client goes away).
func (f *modelFake) SetDelay(d time.Duration) { f.set(map[string]any{"delay_ms": d.Milliseconds()}) }
func (f *modelFake) SetKeepAlives(n int)      { f.set(map[string]any{"keep_alives": n}) }
func (f *modelFake) SetDropConnection(on bool) {
	f.set(map[string]any{"drop": on})
}
func (f *modelFake) SetReleaseAt(n int) { f.set(map[string]any{"release_at": n}) }

// Hold keeps every request in flight (after recording it) until Release:
// a review is provably mid-call while a test looks at the others.
func (f *modelFake) Hold() { f.set(map[string]any{"hold": true}) }

// Release lets every held or delayed request go and ends Hold and SetDelay.
func (f *modelFake) Release()                     { f.set(map[string]any{"release": true}) }
func (f *modelFake) Requests() (r []modelRequest) { f.get("requests", &r); return r }
func (f *modelFake) MaxInFlight() (n int)         { f.get("max_in_flight", &n); return n }

// Canned is one of fakemodel's canned error bodies, by its Go name.
func (f *modelFake) Canned(name string) (b string) {
	var m map[string]string
	f.get("canned", &m)
	if m[name] == "" {
		f.t.Fatalf("no canned body %s", name)
	}
	return m[name]
}

// modelRequests counts the fake's requests in one wire format ("" counts
// every request; the CLIs also send HEAD / and such).
func modelRequests(fake *modelFake, format string) int {
	n := 0
	for _, r := range fake.Requests() {
		if format == "" || r.Format == format {
			n++
		}
	}
	return n
}

// waitRequests waits until the fake has received n requests in format (""
// for any; a bound, not a timing assertion).
func waitRequests(t *testing.T, fake *modelFake, format string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for modelRequests(fake, format) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the fake received %d %s requests, want %d", modelRequests(fake, format), format, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireOnlyPath fails t, when it ends, if the fake received a request on
// any other path: for clients that must call exactly one endpoint.
func requireOnlyPath(t *testing.T, fake *modelFake, path string) {
	t.Cleanup(func() {
		for _, r := range fake.Requests() {
			if r.Path != path {
				t.Errorf("a request reached the fake on %s %s; want only %s", r.Method, r.Path, path)
			}
		}
	})
}

// oneSendCase is a failure the fake gives every model call, for the
// one-send tests: each review makes exactly one call, fails at once with
// code, and records the fake's Retry-After.
type oneSendCase struct {
	name   string
	status int
	body   string
	code   string
}

// oneSendRetryAfter is the Retry-After every one-send failure carries. A
// CLI that waited on it would take longer than oneSendBound.
const oneSendRetryAfter = 30

// oneSendBound bounds a one-send review's wall time well under the
// Retry-After, so a client that waits it out (or retries) fails the test.
// A bound on a behaviour, not a benchmark: the reviews take 1–4 s here.
const oneSendBound = 20 * time.Second

// checkOneSend runs review (a relay-host run) against fake failing with
// c, and checks exit 3, the code, one model call in format and
// retry_after_s (0 where the route cannot see it).
func checkOneSend(t *testing.T, e *env, fake *modelFake, format string, c oneSendCase, wantRetryAfter int64, review func() result) {
	t.Helper()
	fake.FailWithRetryAfter(c.status, c.body, oneSendRetryAfter)
	start := time.Now()
	r := review()
	took := time.Since(start)
	t.Logf("%s: exit %d after %s", c.name, r.code, took.Round(10*time.Millisecond))
	if r.code != 3 {
		t.Fatalf("%s: exit %d, want 3\nstderr: %s", c.name, r.code, r.stderr)
	}
	rec := e.latest()
	if rec.ErrorCode != c.code || rec.Transmission != jobs.Sent {
		t.Errorf("%s: record: error_code %q transmission %s, want %q sent (%s)", c.name, rec.ErrorCode, rec.Transmission, c.code, rec.ErrorMessage)
	}
	if rec.Diagnostics.RetryAfterS != wantRetryAfter {
		t.Errorf("%s: diagnostics.retry_after_s = %d, want %d", c.name, rec.Diagnostics.RetryAfterS, wantRetryAfter)
	}
	if n := modelRequests(fake, format); n != 1 {
		t.Errorf("%s: %d model requests reached the fake, want exactly 1 (no resend)", c.name, n)
	}
	if took > oneSendBound {
		t.Errorf("%s: the review took %s, over %s: the client waited on the Retry-After", c.name, took, oneSendBound)
	}
}
