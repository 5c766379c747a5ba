package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// The real Kimi CLI (a Python package) cannot be installed here; these
// tests drive relay-provider-kimi against providers/kimi/testdata/kimi, a
// stand-in that mimics `kimi --print` (flags, stdin, stream-json, exit codes
// 0/1/75, its share dir) and talks to the fake model (modelFake).

var (
	kimiStandInOnce sync.Once
	kimiStandInPath string
	kimiStandInErr  error
)

// kimiStandIn builds the stand-in once per test binary.
func kimiStandIn(t *testing.T) string {
	t.Helper()
	kimiStandInOnce.Do(func() {
		kimiStandInPath = filepath.Join(binDir, "kimi-standin", "kimi")
		out, err := exec.Command("go", "build", "-o", kimiStandInPath, "../../../providers/kimi/testdata/kimi").CombinedOutput()
		if err != nil {
			kimiStandInErr = fmt.Errorf("building the kimi stand-in: %v\n%s", err, out)
		}
	})
	if kimiStandInErr != nil {
		t.Fatal(kimiStandInErr)
	}
	return kimiStandInPath
}

const kimiTestKey = "sk-kimi-e2e-secret-4242"

type kimiEnv struct {
	*env
	fm    *modelFake
	share string
}

// newKimiEnv is a relay-host user whose kimi (the stand-in) has a
// throwaway share dir and a key for the fake model.
func newKimiEnv(t *testing.T) *kimiEnv {
	t.Helper()
	ke := &kimiEnv{env: newEnv(t), fm: startModelFake(t)}
	requireOnlyPath(t, ke.fm, "/v1/chat/completions")
	ke.share = filepath.Join(ke.root, "kimi-share")
	ke.extra = []string{"KIMI_SHARE_DIR=" + ke.share, "KIMI_API_KEY=" + kimiTestKey,
		"KIMI_BASE_URL=" + ke.fm.URL + "/v1", "KIMI_MODEL_NAME=kimi-e2e", "TMPDIR=" + ke.root}
	ke.config(kimiConfig(kimiStandIn(t), ""))
	return ke
}

// kimiConfig is relay.hcl for the kimi plugin; model "" leaves -m out.
func kimiConfig(cliPath, model string) string {
	return fmt.Sprintf(`
provider "kimi" {
  env      = ["KIMI_SHARE_DIR", "KIMI_API_KEY", "KIMI_BASE_URL", "KIMI_MODEL_NAME", "KIMI_STANDIN_MODE", "KIMI_STANDIN_PIDFILE"]
  settings = { cli_path = %q, model = %q }
  route "subscription" {}
}
`, cliPath, model)
}

// runWith runs relay-host with extra environment for this run only.
func (ke *kimiEnv) runWith(extra []string, args ...string) result {
	ke.t.Helper()
	return kgRun(ke.env, extra, args...)
}

// kgRun runs relay-host in e with extra environment for this run only.
func kgRun(e *env, extra []string, args ...string) result {
	e.t.Helper()
	cmd := e.command(args...)
	cmd.Env = append(cmd.Env, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String(), pid: cmd.Process.Pid}
}

// kgStart starts relay-host in the background; wait returns its result.
func kgStart(t *testing.T, e *env, extra []string, args ...string) (wait func() result) {
	t.Helper()
	cmd := e.command(args...)
	cmd.Env = append(cmd.Env, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() {
		cmd.Wait()
		done <- result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), pid: cmd.Process.Pid}
	}()
	var once sync.Once
	var res result
	wait = func() result { once.Do(func() { res = <-done }); return res }
	t.Cleanup(func() { cmd.Process.Kill(); wait() })
	return wait
}

// noLeak checks that neither the key nor the share dir's path reaches
// stdout, stderr or a job record.
func (ke *kimiEnv) noLeak(t *testing.T, r result) {
	t.Helper()
	checkAbsent(t, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "job files": readAll(t, filepath.Join(ke.state, "relay", "jobs"))},
		[]string{kimiTestKey, ke.share, ke.home + "/"})
}

func TestKimiReview(t *testing.T) {
	t.Parallel()
	ke := newKimiEnv(t)
	ke.config(kimiConfig(kimiStandIn(t), "kimi-k2-e2e"))
	ke.fm.SetReply("The println is fine.\n\nVerdict: APPROVE")
	r := ke.run("review", "kimi")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "The println is fine.") {
		t.Errorf("stdout lacks the review:\n%s", r.stdout)
	}
	rec := ke.latest()
	if rec.Status != jobs.StatusCompleted || rec.Transmission != jobs.Sent || rec.Verdict != "approve" || rec.Model != "kimi-k2-e2e" || rec.Route != "subscription" {
		t.Errorf("record: status %s, transmission %s, verdict %s, model %q, route %s", rec.Status, rec.Transmission, rec.Verdict, rec.Model, rec.Route)
	}
	reqs := ke.fm.Requests()
	if len(reqs) != 1 || reqs[0].Model != "kimi-k2-e2e" || !strings.Contains(reqs[0].Prompt, `println("hi")`) || !strings.Contains(reqs[0].Prompt, "Verdict: APPROVE") {
		t.Fatalf("the model did not get prompt and diff: %d requests", len(reqs))
	}
	// The agent kimi runs has no tools (the plugin's --agent-file), so the
	// model is offered none; print mode would approve any call by itself.
	var offer struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(reqs[0].Body, &offer); err != nil || len(offer.Tools) != 0 {
		t.Errorf("the model was offered %d tool(s) (%v)", len(offer.Tools), err)
	}
	if _, err := os.Stat(filepath.Join(ke.share, "logs", "kimi.log")); err != nil {
		t.Errorf("kimi did not run on the configured share dir: %v", err)
	}
	ke.noLeak(t, r)
}

func TestKimiErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(ke *kimiEnv) []string // returns per-run environment
		code  string
		tr    jobs.Transmission
	}{
		{"rate-limited", func(ke *kimiEnv) []string { ke.fm.FailWith(429, ke.fm.Canned("OpenAIRateLimit")); return nil }, "usage_limited", jobs.Sent},
		{"key-refused", func(ke *kimiEnv) []string { ke.fm.FailWith(401, ke.fm.Canned("OpenAIAuth")); return nil }, "not_authenticated", jobs.Sent},
		{"unavailable", func(ke *kimiEnv) []string { ke.fm.FailWith(503, `{"error":{"message":"overloaded"}}`); return nil }, "provider_unavailable", jobs.Sent},
		{"failed", func(ke *kimiEnv) []string { ke.fm.FailWith(400, `{"error":{"message":"bad request"}}`); return nil }, "review_failed", jobs.Sent},
		{"never-set-up", func(ke *kimiEnv) []string { return []string{"KIMI_API_KEY="} }, "not_authenticated", jobs.NotSent},
		// Set up once (kimi's first run wrote its empty config.toml), no key
		// now: kimi would stop at "LLM not set", so nothing is sent.
		{"set-up-once-no-key", func(ke *kimiEnv) []string {
			if err := os.MkdirAll(ke.share, 0o700); err != nil {
				ke.t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ke.share, "config.toml"), []byte("default_model = \"\"\n\n[providers]\n\n[models]\n"), 0o600); err != nil {
				ke.t.Fatal(err)
			}
			return []string{"KIMI_API_KEY="}
		}, "not_authenticated", jobs.NotSent},
		{"no-cli", func(ke *kimiEnv) []string {
			ke.config(kimiConfig(filepath.Join(ke.root, "no-such-kimi"), ""))
			return nil
		}, "cli_not_found", jobs.NotSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ke := newKimiEnv(t)
			r := ke.runWith(tt.setup(ke), "review", "kimi")
			if r.code != 3 {
				t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
			}
			rec := ke.latest()
			if rec.Status != jobs.StatusFailed || rec.ErrorCode != tt.code || rec.Transmission != tt.tr {
				t.Errorf("record: status %s, error_code %q, transmission %s; want failed, %q, %s (%s)", rec.Status, rec.ErrorCode, rec.Transmission, tt.code, tt.tr, rec.ErrorMessage)
			}
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "("+tt.code+")") {
				t.Errorf("stderr: want one line naming %s:\n%s", tt.code, r.stderr)
			}
			if n := len(ke.fm.Requests()); (tt.tr == jobs.NotSent) != (n == 0) {
				t.Errorf("%d requests reached the model for a %s failure", n, tt.tr)
			}
			ke.noLeak(t, r)
		})
	}
}

// TestKimiTimeoutKillsCLI: at --timeout the plugin kills kimi and the
// helper it started (its process group); the record says timeout/sent and
// the slot is free.
func TestKimiTimeoutKillsCLI(t *testing.T) {
	t.Parallel()
	ke := newKimiEnv(t)
	pidfile := filepath.Join(ke.root, "kimi-pids")
	r := ke.runWith([]string{"KIMI_STANDIN_MODE=hang", "KIMI_STANDIN_PIDFILE=" + pidfile}, "review", "kimi", "--timeout", "2s")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	rec := ke.latest()
	if rec.ErrorCode != "timeout" || rec.Transmission != jobs.Sent {
		t.Errorf("record: error_code %q, transmission %s; want timeout, sent", rec.ErrorCode, rec.Transmission)
	}
	pids := readPids(t, pidfile)
	if len(pids) != 2 {
		t.Fatalf("pidfile: %v, want kimi and its helper", pids)
	}
	requireGone(t, pids, 5*time.Second)
	if n := ke.active("kimi", "subscription"); n != 0 {
		t.Errorf("%d slots held after the timeout", n)
	}
}

// TestKimiSharedShareDir: two reviews on one KIMI_SHARE_DIR run one at a
// time (the second exits 75 with counts only and sends nothing); a review
// on another share dir is not held up; the slot frees when the first ends.
func TestKimiSharedShareDir(t *testing.T) {
	t.Parallel()
	ke := newKimiEnv(t)
	pidfile := filepath.Join(ke.root, "kimi-pids")
	first := ke.command("review", "kimi")
	first.Env = append(first.Env, "KIMI_STANDIN_MODE=hang", "KIMI_STANDIN_PIDFILE="+pidfile)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	// The first review is inside its lease once kimi is running.
	waitForFile(t, pidfile, 30*time.Second)

	r := ke.run("review", "kimi", "--confirm-resend")
	if r.code != 75 {
		t.Fatalf("second review on the same share dir: exit %d, want 75\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "(1/1 in use)") {
		t.Errorf("blocked message without counts: %s", r.stderr)
	}
	checkAbsent(t, map[string]string{"blocked stderr": r.stderr}, []string{ke.share, "pid", fmt.Sprint(first.Process.Pid)})
	rec := ke.latest()
	if rec.ErrorCode != "provider_workload_blocked" || rec.Transmission != jobs.NotSent || rec.Diagnostics.ProviderWorkload == nil ||
		rec.Diagnostics.ProviderWorkload.Capacity.ActiveCount != 1 || rec.Diagnostics.ProviderWorkload.Capacity.Limit != 1 {
		t.Errorf("blocked record: %+v", rec)
	}
	if n := len(ke.fm.Requests()); n != 0 {
		t.Errorf("%d requests reached the model while the first review hangs before its call", n)
	}

	// Another share dir is another account: not blocked.
	other := ke.runWith([]string{"KIMI_SHARE_DIR=" + filepath.Join(ke.root, "other-share")}, "review", "kimi", "--confirm-resend")
	if other.code != 0 {
		t.Errorf("review on another share dir: exit %d\n%s", other.code, other.stderr)
	}

	first.Process.Signal(syscall.SIGINT)
	first.Wait()
	if code := first.ProcessState.ExitCode(); code != 130 {
		t.Errorf("first review after SIGINT: exit %d, want 130\n%s", code, firstErr.String())
	}
	// On SIGINT relay-host SIGKILLs the plugin as soon as its Review call
	// returns, so only kimi itself (Pdeathsig) is sure to die; a helper kimi
	// started can outlive it. That is a host-side gap (TestKimiTimeoutKillsCLI
	// covers the path the plugin controls); here leftovers are only cleaned.
	for _, pid := range readPids(t, pidfile) {
		if alive(pid) {
			t.Logf("pid %d outlived the interrupted review (host kills the plugin before it can stop kimi's group)", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if r := ke.run("review", "kimi", "--confirm-resend"); r.code != 0 {
		t.Errorf("after the first review ended: exit %d\n%s", r.code, r.stderr)
	}
}

// TestKimiOneSend: a steady 429, 500 or 401 reaches the server once and
// fails the attempt at once with the right code: --max-retries-per-step 1
// turns off kimi's retries of the model call (three attempts by default,
// which the stand-in mimics). Kimi's print mode reports an API error as
// text without its headers, so the record carries no retry_after_s.
func TestKimiOneSend(t *testing.T) {
	t.Parallel()
	for _, c := range []oneSendCase{
		{"429", 429, `{"error":{"message":"Your account is rate limited","type":"rate_limit_reached_error"}}`, "usage_limited"},
		{"500", 500, `{"error":{"message":"internal error","type":"server_error"}}`, "provider_unavailable"},
		{"401", 401, `{"error":{"message":"Invalid Authentication","type":"invalid_authentication_error"}}`, "not_authenticated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ke := newKimiEnv(t)
			checkOneSend(t, ke.env, ke.fm, formatOpenAI, c, 0, func() result {
				return ke.runWith(nil, "review", "kimi")
			})
		})
	}
}

// TestKimiLeavesNoSession: kimi records each conversation, prompt and diff
// included, under sessions/<md5 of the work dir>/ in its share dir; that
// directory belongs to the review's scratch dir alone and is removed after
// the review, so nothing in the share dir holds the diff; the user's own
// sessions stay. What kimi keeps of its own (kimi.json naming the work
// dir, logs/kimi.log) stays too.
func TestKimiLeavesNoSession(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"", "fail"} {
		name := "review"
		if mode != "" {
			name = mode
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ke := newKimiEnv(t)
			const diffMarker = "e2e-kimi-diff-marker"
			ke.write("main.go", "package main\n\nfunc main() { println(\""+diffMarker+"\") }\n")
			own := filepath.Join(ke.share, "sessions", "0123456789abcdef0123456789abcdef", "s1", "context.jsonl")
			os.MkdirAll(filepath.Dir(own), 0o700)
			os.WriteFile(own, []byte(`{"role":"user","content":"the user's own session"}`+"\n"), 0o600)
			r := ke.runWith([]string{"KIMI_STANDIN_MODE=" + mode}, "review", "kimi")
			if want := map[string]int{"": 0, "fail": 3}[mode]; r.code != want {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, want, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(ke.share, "kimi.json")); err != nil {
				t.Fatalf("kimi did not run on the share dir: %v", err)
			}
			for name, content := range readTree(t, ke.share) {
				if strings.Contains(content, diffMarker) {
					t.Errorf("%s in kimi's share dir holds the diff", name)
				}
			}
			if left, _ := os.ReadDir(filepath.Join(ke.share, "sessions")); len(left) != 1 {
				t.Errorf("sessions in kimi's share dir: %v; want only the user's own", left)
			}
			if _, err := os.Stat(own); err != nil {
				t.Errorf("the user's own session is gone: %v", err)
			}
			ke.noLeak(t, r)
		})
	}
}
