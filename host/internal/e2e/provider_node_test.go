package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/sdk"
)

// The Node.js example (sdk/examples/node) is the proof that the plugin
// protocol is open: it is written from sdk/proto and sdk/README.md alone, and
// these tests drive it through relay-host and through go-plugin's own client.
//
// requireNodeExample returns the Node example's entry file. Like
// requireCLI, it skips, saying why, when node or the example's dependencies
// (npm ci --prefix sdk/examples/node) are missing, and fails instead when
// RELAY_REQUIRE_CLIS=1, as in CI, which installs them.
func requireNodeExample(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sdk", "examples", "node")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@grpc", "grpc-js")); err != nil {
		missing = "the Node example's dependencies are not installed: run npm ci --prefix sdk/examples/node"
	}
	if missing != "" {
		if os.Getenv("RELAY_REQUIRE_CLIS") == "1" {
			t.Fatal(missing)
		}
		t.Skip(missing + " to run this test")
	}
	return filepath.Join(dir, "relay-provider-node-echo")
}

func nodeConfig(bin, settings string) string {
	return fmt.Sprintf(`
provider "node-echo" {
  plugin = %q
  route "default" {
    settings = { %s }
  }
}
`, bin, settings)
}

// TestNodeProviderReview: a review through the Node plugin succeeds and is
// quiet: the review on stdout, only the completion line on stderr (no
// warning from go-plugin about a missing stdio service or a plugin that
// exited with an error), and a completed, sent record.
func TestNodeProviderReview(t *testing.T) {
	t.Parallel()
	bin := requireNodeExample(t)
	e := newEnv(t)
	e.extra = defaultLevel
	e.config(nodeConfig(bin, ""))
	r := e.run("review", "node-echo")
	done := regexp.MustCompile(`^relay-host: job r-\S+ completed \(node-echo/default, verdict approve\)$`)
	if lines := stderrLines(r.stderr); r.code != 0 || len(lines) != 1 || !done.MatchString(lines[0]) {
		t.Fatalf("review node-echo: exit %d, stderr:\n%s\nwant exit 0 and only the completion line", r.code, r.stderr)
	}
	if want := "node-echo review: 1 file(s) changed, 1 line(s) added, 1 removed."; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout %q; want the echo review %q", r.stdout, want)
	}
	rec := e.latest()
	if rec.Status != jobs.StatusCompleted || rec.Transmission != jobs.Sent || rec.Provider != "node-echo" || rec.Route != "default" {
		t.Errorf("record: status %s, transmission %s, %s/%s; want completed, sent, node-echo/default", rec.Status, rec.Transmission, rec.Provider, rec.Route)
	}
}

// TestNodeProviderLogWarning: a warning the Node plugin logs (its warn
// setting) is a relay-host warning at RELAY_LOG=warn, with its fields.
func TestNodeProviderLogWarning(t *testing.T) {
	t.Parallel()
	bin := requireNodeExample(t)
	e := newEnv(t)
	e.extra = []string{"RELAY_LOG=warn"}
	e.config(nodeConfig(bin, `warn = "node says hi"`))
	r := e.run("review", "node-echo")
	if r.code != 0 || !strings.Contains(r.stderr, "[WARN]  plugin.relay-provider-node-echo: node says hi: route=default") {
		t.Errorf("review node-echo: exit %d, stderr:\n%s\nwant exit 0 and the plugin's warning", r.code, r.stderr)
	}
}

// TestNodeProviderProtocol drives the Node plugin with go-plugin's own
// client and log parser, which `relay-host plugin check` uses and any
// go-plugin host would (relay-host's review path reads plugin stderr itself
// and ignores @timestamp). go-plugin takes a line as a log entry only when
// its @timestamp has exactly six fractional digits; otherwise the whole line
// is logged raw at debug level, so a plugin's warning vanishes at warn.
// It also checks that the plugin sees a cancelled Review (it logs that it
// stopped), and that without PLUGIN_UNIX_SOCKET_DIR it puts its socket in
// TMPDIR and removes it when it exits, with status 0, as the host closes it.
func TestNodeProviderProtocol(t *testing.T) {
	t.Parallel()
	bin := requireNodeExample(t)
	logs := &logTail{changed: make(chan struct{}, 1)}
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: logs})
	cmd := exec.Command(bin)
	tmp := t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp}
	cfg := sdk.NewClientConfig(cmd, logger)
	cfg.AutoMTLS = false // relay-host's default transport; the example has no TLS
	client := plugin.NewClient(cfg)
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	p := raw.(sdk.ProviderClient)
	ctx := context.Background()

	res, err := p.Review(ctx, sdk.ReviewRequest{Route: "default", Packet: "diff --git a/x b/x\n+y\n", Settings: map[string]string{"warn": "node says hi"}}, nil)
	if err != nil || !strings.Contains(res.Review, "1 file(s) changed, 1 line(s) added") {
		t.Fatalf("review: %v, %q", err, res.Review)
	}
	logs.wait(t, "[WARN]  relay-provider-node-echo: node says hi: route=default")

	cctx, cancel := context.WithCancel(ctx)
	_, err = p.Review(cctx, sdk.ReviewRequest{Route: "default", Packet: "x", Settings: map[string]string{"delay": "1m"}}, func(ev sdk.Event) {
		if ev.Kind == sdk.EventProgress {
			cancel()
		}
	})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled review returned %v; want a cancelled error", err)
	}
	logs.wait(t, "[DEBUG] relay-provider-node-echo: review cancelled")

	client.Kill()
	if st := cmd.ProcessState; st == nil || st.ExitCode() != 0 {
		t.Errorf("plugin exit status %v after Shutdown; want 0\n%s", st, logs)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the plugin left %v in TMPDIR; want its socket removed", left)
	}
}

// logTail collects log output and tells wait when it grows.
type logTail struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wait returns once the log holds want. The bound only keeps a broken
// plugin from hanging the test; it is not a speed requirement.
func (l *logTail) wait(t *testing.T, want string) {
	t.Helper()
	bound := time.After(30 * time.Second)
	for !strings.Contains(l.String(), want) {
		select {
		case <-l.changed:
		case <-bound:
			t.Fatalf("the log never showed %q:\n%s", want, l)
		}
	}
}

// TestNodeProviderPluginCheck: the Node example passes `plugin check
// --strict` on review's transport: the cancellation check can make its
// review last because it honours the reserved relay.hold setting, and
// stderr stays clean.
func TestNodeProviderPluginCheck(t *testing.T) {
	t.Parallel()
	bin := requireNodeExample(t)
	e := newEnv(t)
	r := e.run("plugin", "check", "--strict", bin)
	if r.code != 0 || strings.Contains(r.stdout, "FAIL") || strings.Contains(r.stdout, "SKIP") || r.stderr != "" {
		t.Fatalf("plugin check --strict on the Node example: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "PASS cancellation: returned") {
		t.Errorf("the cancellation check did not cancel a review mid-flight:\n%s", r.stdout)
	}
}
