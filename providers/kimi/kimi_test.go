package main

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
	"github.com/relay-host/relay-host/sdk"
)

// standIn is the kimi stand-in (testdata/kimi), built once.
var standIn string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kimi-standin-")
	if err != nil {
		panic(err)
	}
	standIn = filepath.Join(dir, "kimi")
	if out, err := exec.Command("go", "build", "-o", standIn, "./testdata/kimi").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("building the kimi stand-in: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestKimiShareDirFact(t *testing.T) {
	home := t.TempDir()
	cwd, _ := os.Getwd()
	tests := []struct {
		env       string
		fact, abs string
	}{
		{"", "~/.kimi", filepath.Join(home, ".kimi")},
		{"/srv/kimi", "/srv/kimi", "/srv/kimi"},
		{"/srv/kimi/", "/srv/kimi", "/srv/kimi"},
		{"rel/kimi", filepath.Join(cwd, "rel/kimi"), filepath.Join(cwd, "rel/kimi")},
		{"~/k", filepath.Join(home, "k"), filepath.Join(home, "k")},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("KIMI_SHARE_DIR", tt.env)
			fact, abs, err := provider{}.shareDir()
			if err != nil || fact != tt.fact || abs != tt.abs {
				t.Errorf("shareDir() = %q, %q, %v; want %q, %q", fact, abs, err, tt.fact, tt.abs)
			}
			d, err := provider{}.Describe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := d.Routes[0].Fact; got != sdk.SharedStateDir(tt.fact) || d.Routes[0].Name != "subscription" {
				t.Errorf("route %s fact %+v; want subscription on %q", d.Routes[0].Name, got, tt.fact)
			}
		})
	}
}

func TestKimiCheckSettings(t *testing.T) {
	tests := []struct {
		s    map[string]string
		bad  []string
		desc string
	}{
		{map[string]string{}, nil, "empty"},
		{map[string]string{"cli_path": "/opt/kimi/bin/kimi", "model": "kimi-k2", "relay.conformance": "x"}, nil, "valid"},
		{map[string]string{"cli_path": "kimi"}, nil, "command name"},
		{map[string]string{"cli_path": "bin/kimi"}, []string{"cli_path"}, "relative path"},
		{map[string]string{"model": "--yolo"}, []string{"model"}, "flag as model"},
		{map[string]string{"model": "a b"}, []string{"model"}, "space in model"},
		{map[string]string{"modle": "x"}, []string{"modle"}, "typo"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var got []string
			for _, e := range (provider{}).Configure(context.Background(), sdk.Settings{Routes: map[string]map[string]string{"subscription": tt.s}}) {
				if e.Route != "subscription" || e.Message == "" {
					t.Errorf("error %+v: want route subscription and a message", e)
				}
				got = append(got, e.Attribute)
			}
			if !slices.Equal(got, tt.bad) {
				t.Errorf("errors on %v, want %v", got, tt.bad)
			}
		})
	}
}

func TestKimiArgsAndEnv(t *testing.T) {
	a := args(settings{}, "/tmp/scratch", "/tmp/agent/agent.yaml")
	if want := []string{"--print", "--output-format", "stream-json", "--max-retries-per-step", "1", "-w", "/tmp/scratch", "--agent-file", "/tmp/agent/agent.yaml"}; !slices.Equal(a, want) {
		t.Errorf("args = %q, want %q", a, want)
	}
	a = args(settings{model: "kimi-k2"}, "/tmp/s", "/tmp/a.yaml")
	if !slices.Equal(a[len(a)-2:], []string{"-m", "kimi-k2"}) {
		t.Errorf("args = %q: want -m kimi-k2", a)
	}
	env := childEnv([]string{"PATH=/bin", "KIMI_DISABLE_TELEMETRY=0", "KIMI_SHARE_DIR=rel", "KIMI_API_KEY=k"}, "/abs/share", true)
	for _, want := range []string{"PATH=/bin", "KIMI_API_KEY=k", "KIMI_DISABLE_TELEMETRY=1", "KIMI_CLI_NO_AUTO_UPDATE=1", "KIMI_SHARE_DIR=/abs/share"} {
		if !slices.Contains(env, want) {
			t.Errorf("env %q lacks %q", env, want)
		}
	}
	for _, bad := range []string{"KIMI_DISABLE_TELEMETRY=0", "KIMI_SHARE_DIR=rel"} {
		if slices.Contains(env, bad) {
			t.Errorf("env %q keeps %q", env, bad)
		}
	}
	if env := childEnv([]string{"PATH=/bin"}, "/home/u/.kimi", false); slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "KIMI_SHARE_DIR=") }) {
		t.Errorf("KIMI_SHARE_DIR set although the user did not set it: %q", env)
	}
}

func TestKimiStreamParse(t *testing.T) {
	var st stream
	lines := []string{
		`{"role":"assistant","content":[{"type":"think","think":"hmm"},{"type":"text","text":"Let me look."}],"tool_calls":[{"type":"function","id":"tc_1","function":{"name":"Shell","arguments":"{}"}}]}`,
		`{"role":"tool","tool_call_id":"tc_1","content":"file1.py"}`,
		`{"type":"notification","content":"background task done"}`,
		`{"role":"assistant","content":[{"type":"think","think":"SECRET THOUGHTS"},{"type":"text","text":"Looks good.\n\n"},{"type":"text","text":"Verdict: APPROVE"}]}`,
		`{"role":"meta","type":"session.resume_hint","content":"To resume this session: kimi -r s1"}`,
		`Some plain line`,
		``,
	}
	var notes []string
	for _, l := range lines {
		if n := st.line(l); n != "" {
			notes = append(notes, n)
		}
	}
	if st.final != "Looks good.\n\nVerdict: APPROVE" {
		t.Errorf("final = %q", st.final)
	}
	if !slices.Equal(notes, []string{"kimi is calling Shell", "kimi answered"}) {
		t.Errorf("progress notes %q", notes)
	}
	if st.plain.String() != "Some plain line" {
		t.Errorf("plain = %q", st.plain.String())
	}
	// String content, as --final-message-only prints it.
	var st2 stream
	st2.line(`{"role":"assistant","content":"Fine.\nVerdict: REQUEST_CHANGES"}`)
	if st2.final != "Fine.\nVerdict: REQUEST_CHANGES" {
		t.Errorf("string content: final = %q", st2.final)
	}
}

func TestKimiClassify(t *testing.T) {
	tests := []struct {
		exit int
		out  string
		want sdk.ErrorCode
	}{
		{75, "Error code: 429 - {'error': {'message': 'rate limited'}}", sdk.CodeUsageLimited},
		{75, "Error code: 429 - {'error': {'message': 'Your account org-1 is suspended', 'type': 'exceeded_current_quota_error'}}", sdk.CodeInsufficientBalance},
		{75, "Error code: 503 - service unavailable", sdk.CodeProviderUnavailable},
		{75, "Connection error.", sdk.CodeProviderUnavailable},
		{75, "Request timed out.", sdk.CodeProviderUnavailable},
		{75, "something retryable", sdk.CodeUsageLimited},
		{1, "LLM not set", sdk.CodeNotAuthenticated},
		{1, "Error code: 401 - {'error': {'message': 'Invalid Authentication'}}", sdk.CodeNotAuthenticated},
		{1, "Error code: 400 - bad request", sdk.CodeReviewFailed},
		{1, "Max steps reached: 100", sdk.CodeReviewFailed},
		{2, "Error: No such option: --bogus", sdk.CodeReviewFailed},
	}
	for _, tt := range tests {
		e := classify(tt.exit, tt.out)
		if e.Code != tt.want || e.NotSent {
			t.Errorf("classify(%d, %q) = %s (not_sent %v), want %s and sent", tt.exit, tt.out, e.Code, e.NotSent, tt.want)
		}
		if strings.Contains(e.Message, "\n") || e.Message == "" {
			t.Errorf("classify(%d, %q): message %q is not one line", tt.exit, tt.out, e.Message)
		}
	}
}

// events records what a Review reports, in order.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) Progress(m string) {
	e.mu.Lock()
	e.log = append(e.log, "progress: "+m)
	e.mu.Unlock()
}
func (e *events) Transmission() { e.mu.Lock(); e.log = append(e.log, "transmission"); e.mu.Unlock() }
func (e *events) sent() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Contains(e.log, "transmission")
}

// setup points the stand-in at a fake model with a throwaway share dir.
func setup(t *testing.T) (*fakemodel.Server, string) {
	t.Helper()
	fm := fakemodel.New(t)
	share := filepath.Join(t.TempDir(), "kimi-share")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("KIMI_SHARE_DIR", share)
	t.Setenv("KIMI_BASE_URL", fm.URL+"/v1")
	t.Setenv("KIMI_API_KEY", "sk-kimi-test-0000")
	t.Setenv("KIMI_MODEL_NAME", "kimi-test")
	t.Setenv("KIMI_STANDIN_MODE", "")
	return fm, share
}

//lint:ignore ST1008 the recorded events come last: callers check them after the result
func review(t *testing.T, ctx context.Context, s map[string]string) (sdk.Result, error, *events) {
	t.Helper()
	if s == nil {
		s = map[string]string{"cli_path": standIn}
	}
	ev := &events{}
	res, err := provider{}.Review(ctx, sdk.ReviewRequest{Route: "subscription", Prompt: "Review this.\n", Packet: "diff --git a/x b/x\n+hello\n", Settings: s}, ev)
	return res, err, ev
}

func TestKimiReviewSuccess(t *testing.T) {
	fm, share := setup(t)
	record := filepath.Join(t.TempDir(), "record")
	t.Setenv("KIMI_STANDIN_RECORD", record)
	t.Setenv("KIMI_STANDIN_MODE", "tool")
	fm.SetReply("One nit.\n\nVerdict: REQUEST_CHANGES")
	res, err, ev := review(t, context.Background(), map[string]string{"cli_path": standIn, "model": "kimi-k2"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Review != "One nit.\n\nVerdict: REQUEST_CHANGES" || res.Model != "kimi-k2" {
		t.Errorf("result %+v", res)
	}
	want := []string{"progress: starting kimi", "transmission", "progress: kimi is calling Shell", "progress: kimi answered"}
	if !slices.Equal(ev.log, want) {
		t.Errorf("events %q, want %q", ev.log, want)
	}
	reqs := fm.Requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Prompt, "Review this.\n\ndiff --git a/x b/x\n+hello") || reqs[0].Model != "kimi-k2" {
		t.Fatalf("requests %+v", reqs)
	}
	var rec struct {
		Args          []string `json:"args"`
		Cwd           string   `json:"cwd"`
		WorkDir       string   `json:"work_dir"`
		TelemetryOff  bool     `json:"telemetry_off"`
		AutoUpdateOff bool     `json:"auto_update_off"`
		ShareDir      string   `json:"share_dir"`
		StdinBytes    int      `json:"stdin_bytes"`
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(rec.Args, func(a string) bool { return strings.Contains(a, "hello") }) || rec.StdinBytes == 0 {
		t.Errorf("the packet must travel on stdin, not argv: args %q, stdin %d bytes", rec.Args, rec.StdinBytes)
	}
	cwd, _ := os.Getwd()
	if rec.WorkDir == cwd || rec.Cwd != rec.WorkDir || !strings.HasPrefix(filepath.Base(rec.WorkDir), "relay-kimi-") {
		t.Errorf("kimi ran in %q with -w %q; want a scratch dir for both", rec.Cwd, rec.WorkDir)
	}
	if _, err := os.Stat(rec.WorkDir); !os.IsNotExist(err) {
		t.Errorf("scratch dir %s left behind", rec.WorkDir)
	}
	if !rec.TelemetryOff || !rec.AutoUpdateOff || rec.ShareDir != share {
		t.Errorf("telemetry off %v, auto update off %v, share dir %q (want %q)", rec.TelemetryOff, rec.AutoUpdateOff, rec.ShareDir, share)
	}
	if _, err := os.Stat(filepath.Join(share, "logs", "kimi.log")); err != nil {
		t.Errorf("kimi did not use the share dir: %v", err)
	}
}

func TestKimiReviewErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		mode   string
		want   sdk.ErrorCode
	}{
		{name: "429", status: 429, body: fakemodel.OpenAIRateLimit, want: sdk.CodeUsageLimited},
		{name: "401", status: 401, body: fakemodel.OpenAIAuth, want: sdk.CodeNotAuthenticated},
		{name: "500", status: 500, body: `{"error":{"message":"boom"}}`, want: sdk.CodeProviderUnavailable},
		{name: "400", status: 400, body: `{"error":{"message":"bad"}}`, want: sdk.CodeReviewFailed},
		{name: "llm-not-set", mode: "unauth", want: sdk.CodeNotAuthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm, _ := setup(t)
			t.Setenv("KIMI_STANDIN_MODE", tt.mode)
			if tt.status != 0 {
				fm.FailWith(tt.status, tt.body)
			}
			_, err, ev := review(t, context.Background(), nil)
			var se *sdk.Error
			if !asError(err, &se) || se.Code != tt.want || se.NotSent || !ev.sent() {
				t.Errorf("err %v (%#v), events %q; want %s after transmission", err, se, ev.log, tt.want)
			}
			if strings.Contains(err.Error(), "sk-kimi-test") {
				t.Errorf("error carries the key: %v", err)
			}
		})
	}
	t.Run("connection-refused", func(t *testing.T) {
		setup(t)
		t.Setenv("KIMI_BASE_URL", "http://127.0.0.1:1/v1")
		_, err, _ := review(t, context.Background(), nil)
		var se *sdk.Error
		if !asError(err, &se) || se.Code != sdk.CodeProviderUnavailable {
			t.Errorf("err %v, want provider_unavailable", err)
		}
	})
}

func TestKimiReviewPreSend(t *testing.T) {
	t.Run("no-cli", func(t *testing.T) {
		setup(t)
		t.Setenv("PATH", t.TempDir())
		_, err, ev := review(t, context.Background(), map[string]string{})
		var se *sdk.Error
		if !asError(err, &se) || se.Code != sdk.CodeCLINotFound || !se.NotSent || ev.sent() {
			t.Errorf("err %v, events %q; want cli_not_found before transmission", err, ev.log)
		}
	})
	t.Run("never-set-up", func(t *testing.T) {
		fm, _ := setup(t)
		t.Setenv("KIMI_API_KEY", "")
		_, err, ev := review(t, context.Background(), nil)
		var se *sdk.Error
		if !asError(err, &se) || se.Code != sdk.CodeNotAuthenticated || !se.NotSent || ev.sent() || len(fm.Requests()) != 0 {
			t.Errorf("err %v, events %q; want not_authenticated before transmission", err, ev.log)
		}
	})
	t.Run("bad-setting", func(t *testing.T) {
		setup(t)
		_, err, ev := review(t, context.Background(), map[string]string{"cli_path": standIn, "model": "-x"})
		var se *sdk.Error
		if !asError(err, &se) || se.Code != sdk.CodeConfigInvalid || ev.sent() {
			t.Errorf("err %v; want config_invalid before transmission", err)
		}
	})
}

// TestReviewCancelKillsGroup: cancelling the review kills kimi and the
// helper it started (its process group), and Review returns promptly.
func TestKimiReviewCancelKillsGroup(t *testing.T) {
	setup(t)
	pidfile := filepath.Join(t.TempDir(), "pids")
	t.Setenv("KIMI_STANDIN_MODE", "hang")
	t.Setenv("KIMI_STANDIN_PIDFILE", pidfile)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err, _ := review(t, ctx, nil); done <- err }()
	var pids []int
	for deadline := time.Now().Add(20 * time.Second); len(pids) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stand-in never wrote its pids")
		}
		data, _ := os.ReadFile(pidfile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(data)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("err %v, want context.Canceled", err)
		}
	case <-time.After(sdk.CancelGrace + 5*time.Second):
		t.Fatal("Review did not return after cancel")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var left []int
		for _, p := range pids {
			if syscall.Kill(p, 0) == nil && !zombie(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatalf("processes %v outlived the cancelled review", left)
		}
	}
}

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func asError(err error, target **sdk.Error) bool { return errors.As(err, target) }

// TestMayBeLoggedIn: without KIMI_API_KEY, kimi is provably not set up
// (it would say "LLM not set" before any request) only when its share dir
// has no config, or a config.toml that names no model and no provider,
// as its first run writes it.
func TestMayBeLoggedIn(t *testing.T) {
	t.Setenv("KIMI_API_KEY", "")
	for _, tt := range []struct {
		name, file, content string
		want                bool
	}{
		{"no config", "", "", false},
		{"first run", "config.toml", "default_model = \"\"\n\n[providers]\n\n[models]\n", false},
		{"comments only", "config.toml", "# kimi\ndefault_model = ''  # none yet\n", false},
		{"logged in", "config.toml", "default_model = \"kimi-for-coding\"\n\n[providers.\"managed:kimi-code\"]\ntype = \"kimi\"\nbase_url = \"https://api.kimi.com/coding/v1\"\napi_key = \"\"\n\n[models.kimi-for-coding]\nprovider = \"managed:kimi-code\"\nmodel = \"kimi-for-coding\"\n", true},
		{"a provider only", "config.toml", "default_model = \"\"\n[providers.moonshot]\ntype = \"kimi\"\n", true},
		{"a model only", "config.toml", "[models]\nk2 = { provider = \"p\", model = \"k2\" }\n", true},
		{"inline providers", "config.toml", "providers = { p = { type = \"kimi\" } }\n", true},
		{"default model", "config.toml", "default_model = \"k2\"\n", true},
		{"unparsed line", "config.toml", "default_model = \"\"\n\"\"\"\nsomething\n", true},
		{"older config.json", "config.json", "{}", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := (provider{}).mayBeLoggedIn(dir); got != tt.want {
				t.Errorf("mayBeLoggedIn = %v, want %v", got, tt.want)
			}
		})
	}
	t.Setenv("KIMI_API_KEY", "sk-k")
	if !(provider{}).mayBeLoggedIn(t.TempDir()) {
		t.Error("a key in the environment is a credential")
	}
}

// TestKimiSessionDirs: kimi names a work dir's session directory after the
// md5 of its path; through a symlink both spellings are covered.
func TestKimiSessionDirs(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(root, "real")
	os.Mkdir(real, 0o700)
	link := filepath.Join(root, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	got := sessionDirs("/share", link)
	want := []string{
		"/share/sessions/" + fmt.Sprintf("%x", md5.Sum([]byte(link))),
		"/share/sessions/" + fmt.Sprintf("%x", md5.Sum([]byte(real))),
	}
	if !slices.Equal(got, want) {
		t.Errorf("sessionDirs %q, want %q", got, want)
	}
	if got := sessionDirs("/share", real); !slices.Equal(got, want[1:]) {
		t.Errorf("sessionDirs without a symlink %q, want %q", got, want[1:])
	}
}
