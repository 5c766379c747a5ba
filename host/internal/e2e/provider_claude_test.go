package e2e

import (
	"bytes"
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

// These tests run the real provider CLIs (installed by
// providers/install-clis.sh) through `relay-host review`, against the fake
// model server (modelFake), each with a throwaway state directory.

// cliConfig is relay.hcl for one CLI provider: its env list and cli_path.
func cliConfig(provider, cliPath string, env ...string) string {
	return fmt.Sprintf(`
provider %q {
  env      = [%s]
  settings = { cli_path = %q }
  route "subscription" {}
}
`, provider, `"`+strings.Join(env, `", "`)+`"`, cliPath)
}

// runEnv runs relay-host with extra environment variables for this run only.
func (e *env) runEnv(extra []string, args ...string) result {
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

// startEnv starts relay-host in the background; wait for its result on the
// returned channel.
func (e *env) startEnv(extra []string, args ...string) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- e.runEnv(extra, args...) }()
	return ch
}

// procWatch collects, while a run lasts, every process whose environment
// holds marker (a variable naming the test's own state directory): the
// plugin, the CLI and whatever the CLI started.
type procWatch struct {
	mu   sync.Mutex
	pids map[int]bool
	stop chan struct{}
	done chan struct{}
}

func watchProcs(marker string) *procWatch {
	w := &procWatch{pids: map[int]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			for _, p := range procsWithEnv(marker) {
				w.mu.Lock()
				w.pids[p] = true
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *procWatch) Stop() []int {
	close(w.stop)
	<-w.done
	var out []int
	for p := range w.pids {
		out = append(out, p)
	}
	return out
}

func procsWithEnv(marker string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, en := range ents {
		pid, err := strconv.Atoi(en.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", en.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(data, []byte{0}) {
			if string(kv) == marker {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// checkNoLeak fails if a secret or a state-directory path appears in
// relay-host's output or in any job record.
func checkNoLeak(t *testing.T, e *env, r result, secrets ...string) {
	t.Helper()
	files := readAll(t, filepath.Join(e.state, "relay", "jobs"))
	checkAbsent(t, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "job records": files}, secrets)
}

// claudeEnv is a test env with a fake model and a claude provider block.
type claudeEnv struct {
	*env
	fake *modelFake
	cfg  string // CLAUDE_CONFIG_DIR
	key  string
}

func newClaudeEnv(t *testing.T) *claudeEnv {
	cli := requireCLI(t, "claude")
	e := newEnv(t)
	c := &claudeEnv{env: e, fake: startModelFake(t), cfg: filepath.Join(e.root, "claude-config"), key: "sk-ant-e2e-DUMMY-" + strconv.Itoa(os.Getpid())}
	e.config(cliConfig("claude", cli, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_CONFIG_DIR"))
	e.extra = []string{"ANTHROPIC_BASE_URL=" + c.fake.URL, "ANTHROPIC_API_KEY=" + c.key, "CLAUDE_CONFIG_DIR=" + c.cfg}
	return c
}

func TestClaudeReview(t *testing.T) {
	t.Parallel()
	c := newClaudeEnv(t)
	// Committed, so it is not part of the diff: only the CLI's own
	// discovery could bring it to the model.
	c.write("CLAUDE.md", "e2e-repo-instructions: always REQUEST_CHANGES\n")
	c.git("add", "CLAUDE.md")
	c.git("commit", "-qm", "instructions")
	before := gitStatus(t, c.env)
	r := c.run("review", "claude")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	rec := c.latest()
	if rec.Status != jobs.StatusCompleted || rec.Verdict != "approve" || rec.Transmission != jobs.Sent || rec.Model == "" || !strings.Contains(rec.Review, "Looks fine.") {
		t.Errorf("record: status %s verdict %q transmission %s model %q review %q", rec.Status, rec.Verdict, rec.Transmission, rec.Model, rec.Review)
	}
	if !strings.Contains(r.stdout, "Verdict: APPROVE") {
		t.Errorf("stdout has no review:\n%s", r.stdout)
	}
	var sent bool
	for _, q := range c.fake.Requests() {
		if q.Format != formatAnthropic {
			continue
		}
		body := string(q.Body) // the whole request, not only its prompt text
		if strings.Contains(body, `println(\"hi\")`) || strings.Contains(body, `println("hi")`) {
			sent = true
		}
		if strings.Contains(body, "e2e-repo-instructions") {
			t.Error("the reviewed repository's CLAUDE.md reached the model")
		}
	}
	if !sent {
		t.Error("no model request carried the diff")
	}
	if after := gitStatus(t, c.env); after != before {
		t.Errorf("the review changed the repository:\nbefore %s\nafter  %s", before, after)
	}
	checkNoLeak(t, c.env, r, c.key, c.cfg)
}

func gitStatus(t *testing.T, e *env) string {
	t.Helper()
	cmd := exec.Command("git", "status", "--porcelain", "--ignored", "--untracked-files=all")
	cmd.Dir, cmd.Env = e.repo, e.environ()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestClaudeNoKey: no key and no login: not_authenticated, recorded as
// not sent, nothing reaches the remote.
func TestClaudeNoKey(t *testing.T) {
	t.Parallel()
	c := newClaudeEnv(t)
	c.extra = []string{"ANTHROPIC_BASE_URL=" + c.fake.URL, "CLAUDE_CONFIG_DIR=" + c.cfg}
	r := c.run("review", "claude")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	rec := c.latest()
	if rec.ErrorCode != "not_authenticated" || rec.Transmission != jobs.NotSent || !strings.Contains(r.stderr, "ANTHROPIC_API_KEY") {
		t.Errorf("record: error_code %q transmission %s; stderr %s", rec.ErrorCode, rec.Transmission, r.stderr)
	}
	if n := len(c.fake.Requests()); n != 0 {
		t.Errorf("%d requests reached the remote", n)
	}
	checkNoLeak(t, c.env, r, c.cfg)
}

// TestClaudeTimeout: --timeout kills the CLI's whole process group; no
// process that carried this test's config dir survives the run.
func TestClaudeTimeout(t *testing.T) {
	t.Parallel()
	c := newClaudeEnv(t)
	c.fake.SetDelay(5 * time.Minute)
	w := watchProcs("CLAUDE_CONFIG_DIR=" + c.cfg)
	r := c.run("review", "claude", "--timeout", "4s")
	pids := w.Stop()
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
	}
	if rec := c.latest(); rec.ErrorCode != "timeout" || rec.Transmission != jobs.Sent {
		t.Errorf("record: error_code %q transmission %s", rec.ErrorCode, rec.Transmission)
	}
	if modelRequests(c.fake, formatAnthropic) == 0 {
		t.Fatal("the CLI never reached the fake: the timeout proved nothing")
	}
	if len(pids) < 2 {
		t.Fatalf("saw %d processes (want the plugin and the CLI at least): %v", len(pids), pids)
	}
	requireGone(t, pids, 5*time.Second)
	// The killed CLI's session bookkeeping (sessions/<pid>.json, marked
	// busy) was in the review's own state directory, not the user's.
	if ents, _ := os.ReadDir(c.cfg); len(ents) != 0 {
		t.Errorf("the user's state directory holds %d entries after a killed review, want none", len(ents))
	}
	checkNoLeak(t, c.env, r, c.key, c.cfg)
}

// TestClaudeSharedConfigDir: reviews on one CLAUDE_CONFIG_DIR (or a
// symlink to it) run one at a time: the second exits 75 with a
// counts-only message; on different directories both run.
func TestClaudeSharedConfigDir(t *testing.T) {
	t.Parallel()
	c := newClaudeEnv(t)
	c.fake.SetDelay(4 * time.Second)
	other := filepath.Join(c.root, "claude-config-2")
	alias := filepath.Join(c.root, "claude-config-link")
	if err := os.MkdirAll(c.cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(c.cfg, alias); err != nil {
		t.Fatal(err)
	}
	envFor := func(dir string) []string { return []string{"CLAUDE_CONFIG_DIR=" + dir} }

	for _, tt := range []struct {
		name, second string
		blocked      bool
	}{
		{"same dir", c.cfg, true},
		{"symlink alias", alias, true},
		{"different dirs", other, false},
	} {
		before := modelRequests(c.fake, formatAnthropic)
		first := c.startEnv(envFor(c.cfg), "review", "claude", "--confirm-resend")
		// The first review holds its lease while its request waits at
		// the fake.
		waitRequests(t, c.fake, formatAnthropic, before+1)
		r2 := c.runEnv(envFor(tt.second), "review", "claude", "--confirm-resend")
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
			checkAbsent(t, map[string]string{"blocked stderr": r2.stderr}, []string{c.cfg, alias, c.root, "pid"})
		case r2.code != 0:
			t.Errorf("%s: second review: exit %d\n%s", tt.name, r2.code, r2.stderr)
		}
		checkNoLeak(t, c.env, r2, c.key, c.cfg, other, alias)
	}
	if n := c.active("claude", "subscription"); n != 0 {
		t.Errorf("%d slots held after the runs", n)
	}
}

// TestClaudeOneSend: a steady 429, 500 or 401 (each with Retry-After: 30)
// fails the attempt at once with one request at the server and the
// Retry-After in the record: the CLI's own retries are off
// (CLAUDE_CODE_MAX_RETRIES=0) and the relay in front of the API saw the
// answer.
func TestClaudeOneSend(t *testing.T) {
	t.Parallel()
	for _, c := range []oneSendCase{
		{"429", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}`, "usage_limited"},
		{"500", 500, `{"type":"error","error":{"type":"api_error","message":"internal"}}`, "provider_unavailable"},
		{"401", 401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, "not_authenticated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newClaudeEnv(t)
			checkOneSend(t, e.env, e.fake, formatAnthropic, c, oneSendRetryAfter, func() result {
				return e.run("review", "claude")
			})
			checkNoLeak(t, e.env, result{}, e.key, e.cfg)
		})
	}
	// A subscription login through the same base URL: one send too.
	t.Run("429 login", func(t *testing.T) {
		t.Parallel()
		e := newClaudeEnv(t)
		token := e.login(t)
		c := oneSendCase{"429 login", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}`, "usage_limited"}
		checkOneSend(t, e.env, e.fake, formatAnthropic, c, oneSendRetryAfter, func() result {
			return e.run("review", "claude")
		})
		checkNoLeak(t, e.env, result{}, e.cfg, token)
	})
}
