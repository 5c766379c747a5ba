package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
	"github.com/relay-host/relay-host/sdk"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestArgs(t *testing.T) {
	base := []string{"-p", "--output-format", "json", "--tools", "", "--no-session-persistence",
		"--strict-mcp-config", "--mcp-config", `{"mcpServers":{}}`,
		"--setting-sources", "", "--disable-slash-commands", "--safe-mode"}
	with := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	tests := []struct {
		settings map[string]string
		bare     bool
		helper   string
		want     []string
	}{
		{nil, true, "", with("--bare")},
		{map[string]string{"model": "sonnet"}, true, "", with("--bare", "--model", "sonnet")},
		// A subscription login is not read under --bare.
		{nil, false, "", base},
		{nil, true, "~/bin/key.sh", with("--bare", "--settings", `{"apiKeyHelper":"~/bin/key.sh"}`)},
	}
	for _, tt := range tests {
		if got := args(tt.settings, tt.bare, tt.helper); !slices.Equal(got, tt.want) {
			t.Errorf("args(%v, %v, %q) = %q, want %q", tt.settings, tt.bare, tt.helper, got, tt.want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	in := []string{"PATH=/bin", "ANTHROPIC_API_KEY=k", "CLAUDE_CODE_MAX_RETRIES=10", "TMPDIR=/tmp", "CLAUDE_CONFIG_DIR=/home/u/.claude"}
	got := childEnv(in, runEnv{tmp: "/scratch/tmp"})
	want := []string{"PATH=/bin", "ANTHROPIC_API_KEY=k", "CLAUDE_CONFIG_DIR=/home/u/.claude", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0", "CLAUDE_CODE_DISABLE_CLAUDE_MDS=1", "TMPDIR=/scratch/tmp"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
	got = childEnv(append(in, "ANTHROPIC_BASE_URL=https://proxy.example"), runEnv{tmp: "/scratch/tmp", relayURL: "http://127.0.0.1:9/t", configDir: "/scratch/config", apiKey: "stored"})
	want = []string{"PATH=/bin", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0", "CLAUDE_CODE_DISABLE_CLAUDE_MDS=1", "TMPDIR=/scratch/tmp",
		"ANTHROPIC_BASE_URL=http://127.0.0.1:9/t", "CLAUDE_CONFIG_DIR=/scratch/config", "ANTHROPIC_API_KEY=stored"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv with a relay and own state = %q, want %q", got, want)
	}
}

func TestRelayUpstream(t *testing.T) {
	for _, tt := range []struct {
		env   map[string]string
		keyed bool
		want  string
	}{
		{map[string]string{"ANTHROPIC_API_KEY": "k"}, true, defaultBaseURL},
		{map[string]string{"ANTHROPIC_AUTH_TOKEN": "k", "ANTHROPIC_BASE_URL": "http://gw:8080"}, true, "http://gw:8080"},
		{map[string]string{"ANTHROPIC_BASE_URL": "http://gw:8080"}, false, "http://gw:8080"},
		{map[string]string{}, true, defaultBaseURL}, // a stored key or a key helper
		{map[string]string{}, false, ""},            // a subscription login goes direct
	} {
		if got := relayUpstream(func(k string) string { return tt.env[k] }, tt.keyed); got != tt.want {
			t.Errorf("relayUpstream(%v, %v) = %q, want %q", tt.env, tt.keyed, got, tt.want)
		}
	}
}

func TestDescribeFact(t *testing.T) {
	for env, want := range map[string]string{"": "~/.claude", "/x/cfg": "/x/cfg"} {
		d, err := claude{getenv: envOf(map[string]string{"CLAUDE_CONFIG_DIR": env})}.Describe(context.Background())
		if err != nil || d.Validate() != nil {
			t.Fatal(err, d.Validate())
		}
		if r := d.Routes[0]; r.Name != "subscription" || r.Fact.Kind != sdk.FactSharedState || r.Fact.Directory != want {
			t.Errorf("CLAUDE_CONFIG_DIR=%q: route %+v, want shared_state %s", env, r, want)
		}
	}
}

func TestConfigure(t *testing.T) {
	errs := claude{}.Configure(context.Background(), sdk.Settings{
		Provider: map[string]string{"cli_path": "bin/claude", "relay.x": "y"},
		Routes:   map[string]map[string]string{"subscription": {"model": "--dangerous", "colour": "red"}},
	})
	var got []string
	for _, e := range errs {
		got = append(got, e.Route+"/"+e.Attribute)
	}
	slices.Sort(got)
	if want := []string{"/cli_path", "subscription/colour", "subscription/model"}; !slices.Equal(got, want) {
		t.Errorf("errors on %v, want %v", got, want)
	}
	if errs := (claude{}).Configure(context.Background(), sdk.Settings{Provider: map[string]string{"cli_path": "/opt/claude", "model": "claude-sonnet-4-5"}}); len(errs) != 0 {
		t.Errorf("valid settings rejected: %v", errs)
	}
}

func TestProvablyNoCredentials(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := map[string]string{"CLAUDE_CONFIG_DIR": dir, "HOME": home}
	with := func(k, v string) func(string) string {
		m := map[string]string{k: v}
		for k, v := range base {
			m[k] = v
		}
		return envOf(m)
	}
	if !provablyNoCredentials(envOf(base)) {
		t.Error("empty config dir and no key: want no credentials")
	}
	for _, k := range []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK"} {
		if provablyNoCredentials(with(k, "x")) {
			t.Errorf("%s set: want credentials possible", k)
		}
	}
	write(".claude.json", `{"numStartups":3}`)
	if !provablyNoCredentials(envOf(base)) {
		t.Error("a .claude.json without a key is no credential")
	}
	write(".claude.json", `{"primaryApiKey":"sk"}`)
	if provablyNoCredentials(envOf(base)) {
		t.Error("primaryApiKey in .claude.json: want credentials possible")
	}
	os.Remove(filepath.Join(dir, ".claude.json"))
	write(".credentials.json", `{}`)
	if provablyNoCredentials(envOf(base)) {
		t.Error(".credentials.json: want credentials possible")
	}
}

func TestParseResult(t *testing.T) {
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tests := []struct {
		name    string
		stdout  []byte
		stderr  string
		exit    int
		code    sdk.ErrorCode // "" = success
		notSent bool
		inMsg   string
	}{
		{name: "ok", stdout: read("result-ok.json")},
		{name: "429", stdout: read("result-429.json"), exit: 1, code: sdk.CodeUsageLimited, inMsg: "HTTP 429"},
		{name: "401", stdout: read("result-401.json"), exit: 1, code: sdk.CodeNotAuthenticated, inMsg: "HTTP 401"},
		{name: "529", stdout: read("result-529.json"), exit: 1, code: sdk.CodeProviderUnavailable, inMsg: "HTTP 529"},
		{name: "conn", stdout: read("result-conn.json"), exit: 1, code: sdk.CodeProviderUnavailable, inMsg: "could not reach"},
		{name: "nokey", stdout: read("result-nokey.json"), exit: 1, code: sdk.CodeNotAuthenticated, notSent: true, inMsg: "not logged in"},
		{name: "empty", exit: 0, code: sdk.CodeBadOutput},
		{name: "garbage", stdout: []byte("hello\n"), code: sdk.CodeBadOutput},
		{name: "crash", stderr: "Segmentation fault\nmore", exit: 139, code: sdk.CodeReviewFailed, inMsg: "Segmentation fault"},
		{name: "empty review", stdout: []byte(`{"type":"result","is_error":false,"result":"  "}`), code: sdk.CodeBadOutput},
		{name: "400", stdout: []byte(`{"type":"result","is_error":true,"api_error_status":400,"result":"API Error: 400 prompt is too long"}`), exit: 1, code: sdk.CodeReviewFailed, inMsg: "prompt is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := parseResult(tt.stdout, []byte(tt.stderr), tt.exit)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Review != "Looks fine.\n\nVerdict: APPROVE" || res.Model != "claude-opus-5-5" || res.Usage == nil || res.Usage.InputTokens != 12 || res.Usage.OutputTokens != 7 {
					t.Errorf("result %+v usage %+v", res, res.Usage)
				}
				return
			}
			var se *sdk.Error
			if !errors.As(err, &se) || se.Code != tt.code || se.NotSent != tt.notSent || !strings.Contains(se.Message, tt.inMsg) || strings.Contains(se.Message, "\n") {
				t.Errorf("err %#v, want code %s not_sent %v containing %q on one line", err, tt.code, tt.notSent, tt.inMsg)
			}
		})
	}
}

// cliPath is the pinned real CLI installed by providers/install-clis.sh.
func cliPath(t *testing.T) string {
	t.Helper()
	p, _ := filepath.Abs(filepath.Join("..", "..", ".cache", "clis", "node_modules", ".bin", "claude"))
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("RELAY_REQUIRE_CLIS") == "1" {
			t.Fatalf("the claude CLI is not installed: run providers/install-clis.sh")
		}
		t.Skip("the claude CLI is not installed: run providers/install-clis.sh to run this test")
	}
	return p
}

// events records what Review reported; onTransmission runs inside the
// Transmission call.
type events struct {
	mu             sync.Mutex
	progress       []string
	transmissions  int
	onTransmission func()
}

func (e *events) Progress(m string) { e.mu.Lock(); e.progress = append(e.progress, m); e.mu.Unlock() }
func (e *events) Transmission() {
	e.mu.Lock()
	e.transmissions++
	e.mu.Unlock()
	if e.onTransmission != nil {
		e.onTransmission()
	}
}

// TestTransmissionPrecedesSending runs the real CLI against the fake model:
// when the transmission event fires, nothing has reached the remote yet,
// even given ample time; afterwards the prompt and packet arrive, with the
// key only in a header.
func TestTransmissionPrecedesSending(t *testing.T) {
	bin := cliPath(t)
	fake := fakemodel.New(t)
	cfg := t.TempDir()
	t.Setenv("ANTHROPIC_BASE_URL", fake.URL)
	t.Setenv("ANTHROPIC_API_KEY", "sk-unit-dummy")
	t.Setenv("CLAUDE_CONFIG_DIR", cfg)
	ev := &events{}
	ev.onTransmission = func() {
		// Were the source written before this event, the CLI would have
		// sent it well within this pause.
		time.Sleep(1500 * time.Millisecond)
		if n := len(fake.Requests()); n != 0 {
			t.Errorf("%d request(s) reached the remote before the transmission event", n)
		}
	}
	req := sdk.ReviewRequest{Route: "subscription", Prompt: "Review this diff.", Packet: "diff --git a/x b/x\n+unit-packet-marker\n", Settings: map[string]string{"cli_path": bin}}
	res, err := claude{getenv: os.Getenv}.Review(context.Background(), req, ev)
	if err != nil {
		t.Fatal(err)
	}
	if ev.transmissions != 1 || !slices.Contains(ev.progress, "running claude") {
		t.Errorf("transmissions %d, progress %q", ev.transmissions, ev.progress)
	}
	if !strings.Contains(res.Review, "Verdict: APPROVE") {
		t.Errorf("review %q", res.Review)
	}
	reqs := fake.Requests()
	var sawPacket bool
	for _, r := range reqs {
		if r.Format == fakemodel.FormatAnthropic && strings.Contains(r.Prompt, "unit-packet-marker") && strings.Contains(r.Prompt, "Review this diff.") {
			sawPacket = true
		}
		if r.Header.Get("X-Api-Key") != "" && r.Header.Get("X-Api-Key") != "sk-unit-dummy" {
			t.Errorf("unexpected key header %q", r.Header.Get("X-Api-Key"))
		}
	}
	if !sawPacket {
		t.Errorf("no request carried the prompt and packet: %+v", reqs)
	}
}

// TestNoCredentialsIsNotSent: without any credential the plugin refuses
// before starting the CLI, so the source is provably not sent.
func TestNoCredentialsIsNotSent(t *testing.T) {
	bin := cliPath(t)
	fake := fakemodel.New(t)
	t.Setenv("ANTHROPIC_BASE_URL", fake.URL)
	t.Setenv("ANTHROPIC_API_KEY", "")
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "")
	t.Setenv("CLAUDE_CONFIG_DIR", t.TempDir())
	ev := &events{}
	_, err := claude{getenv: os.Getenv}.Review(context.Background(), sdk.ReviewRequest{Prompt: "p", Packet: "d", Settings: map[string]string{"cli_path": bin}}, ev)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeNotAuthenticated || !se.NotSent || ev.transmissions != 0 {
		t.Errorf("err %#v, transmissions %d; want not_authenticated, not sent, no transmission", err, ev.transmissions)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestMissingCLI(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "x")
	_, err := claude{getenv: os.Getenv}.Review(context.Background(), sdk.ReviewRequest{Settings: map[string]string{"cli_path": filepath.Join(t.TempDir(), "claude")}}, &events{})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeCLINotFound || !se.NotSent {
		t.Errorf("err %#v, want cli_not_found, not sent", err)
	}
}
