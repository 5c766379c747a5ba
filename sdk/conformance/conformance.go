// Package conformance checks that a provider plugin binary keeps the relay
// plugin contract. Plugin authors call [Run] from a Go test; relay-host's
// `plugin check <binary>` calls [Check] and prints the [Report].
//
// Invariant: every check observes the plugin from the outside, through the
// same go-plugin launch and [sdk.ProviderClient] the host uses, and every
// check can fail; a check that cannot be decided is reported as skipped with
// the reason, never as passed.
//
// Checks, in order:
//   - handshake: the binary starts, completes go-plugin's handshake (gRPC,
//     protocol version 1, relay cookie; AutoMTLS when [Options.AutoMTLS])
//     and dispenses a provider.
//   - facts: Describe returns a valid description (names, one fact per
//     route, stateless limit >= 1, shared_state with exactly one of
//     directory/identity).
//   - configure: Configure with [Options.Settings] as the route's settings
//     completes; with no settings attribute errors are allowed,
//     with settings they fail the check (the plugin refused them).
//   - review: Review of [CannedPacket] returns a non-empty review.
//   - transmission: that review emitted a transmission event before its
//     result.
//   - panic: run only with [Options.PanicSettings], settings under which
//     the plugin under test panics (only a plugin's own test build has
//     them: a panic trigger would be a test hook on its production path,
//     so `relay-host plugin check` does not run it). The Review ends in a
//     typed plugin_panic error, and the plugin still answers Describe.
//   - cancellation: a Review made to last ([sdk.SettingHold], which the
//     SDK's Serve honours for every provider, plus [Options.CancelSettings])
//     and cancelled mid-flight returns within 2 s, every process the plugin
//     had started is gone within 2 s of the cancel (Linux), the plugin
//     still answers, and it then exits with status 0 when closed (an SDK
//     plugin whose provider ignored the cancel exits with status 3
//     instead). A review that finishes anyway is a skip: the plugin does
//     not honour sdk.SettingHold.
//   - stdout: the plugin wrote nothing to stdout after the handshake.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/relay-host/relay-host/sdk"
)

// CannedPrompt and CannedPacket are what the review checks send.
const (
	CannedPrompt = "Review this change for bugs. End with a final line " +
		"`Verdict: APPROVE` or `Verdict: REQUEST_CHANGES`."
	CannedPacket = `diff --git a/greet/greet.go b/greet/greet.go
index 3b18e51..a0f2c1d 100644
--- a/greet/greet.go
+++ b/greet/greet.go
@@ -1,5 +1,6 @@
 package greet
 
-// Hello says hi.
-func Hello() string { return "hi" }
+// Hello greets name.
+func Hello(name string) string { return "hello, " + name }
+
`
)

// CancelBound is how long a cancelled review, and everything the plugin
// started for it, may take to stop.
const CancelBound = 2 * time.Second

// Options adapt the checks to a plugin that needs a fake endpoint or
// settings to review without a real provider.
type Options struct {
	// Route is the route to review; empty means the first described route.
	Route string
	// Settings are the route settings sent with every review.
	Settings map[string]string
	// CancelSettings are merged over Settings for the cancellation review.
	// It always carries sdk.SettingHold (1m unless set here), which keeps
	// any SDK plugin's review running until it is cancelled.
	CancelSettings map[string]string
	// AutoMTLS turns on go-plugin's mutual TLS for the launches, as
	// RELAY_PLUGIN_AUTOMTLS does for relay-host's reviews (off by default,
	// as there).
	AutoMTLS bool
	// PanicSettings are merged over Settings for the panic check: settings
	// under which the plugin's Review panics, which only a test build of a
	// plugin has. Nil skips the check.
	PanicSettings map[string]string
	// Env is added to the plugin's environment (which otherwise is this
	// process's environment).
	Env []string
	// Timeout bounds starting the plugin and each call; default 30 s.
	Timeout time.Duration
	// Logger receives the plugin's logs and go-plugin's; default discards.
	Logger hclog.Logger
}

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is the outcome of one named check.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Report is the outcome of every check against one binary.
type Report struct {
	Binary  string
	Results []Result
}

// OK reports whether no check failed.
func (r Report) OK() bool {
	for _, res := range r.Results {
		if res.Status == Fail {
			return false
		}
	}
	return len(r.Results) > 0
}

// Result returns the result of the named check, if it ran.
func (r Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// String renders one line per check.
func (r Report) String() string {
	var b strings.Builder
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s %s", res.Status, res.Name)
		if res.Detail != "" {
			fmt.Fprintf(&b, ": %s", res.Detail)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Check names, in the order they are reported.
const (
	CheckHandshake    = "handshake"
	CheckFacts        = "facts"
	CheckConfigure    = "configure"
	CheckReview       = "review"
	CheckTransmission = "transmission"
	CheckPanic        = "panic"
	CheckCancellation = "cancellation"
	CheckStdout       = "stdout"
)

var checkOrder = []string{CheckHandshake, CheckFacts, CheckConfigure, CheckReview,
	CheckTransmission, CheckPanic, CheckCancellation, CheckStdout}

// holdFor is how long the cancellation review is made to last.
const holdFor = "1m"

// Check runs every check against the plugin binary at binaryPath.
func Check(ctx context.Context, binaryPath string, opts Options) Report {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	c := &checker{ctx: ctx, binary: binaryPath, opts: opts, results: map[string]Result{}}
	c.run()
	rep := Report{Binary: binaryPath}
	for _, name := range checkOrder {
		if name == CheckPanic && opts.PanicSettings == nil {
			continue // not run without PanicSettings: see the package doc
		}
		res, ok := c.results[name]
		if !ok {
			res = Result{Name: name, Status: Skip, Detail: "not run: an earlier check failed"}
		}
		rep.Results = append(rep.Results, res)
	}
	return rep
}

// Run runs [Check] from a Go test: one subtest per check, failing on a
// failed check and skipping (with the reason) on a skipped one. Pass at most
// one Options.
func Run(t *testing.T, binaryPath string, opts ...Options) {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	rep := Check(t.Context(), binaryPath, o)
	for _, res := range rep.Results {
		t.Run(res.Name, func(t *testing.T) {
			switch res.Status {
			case Fail:
				t.Error(res.Detail)
			case Skip:
				t.Skip(res.Detail)
			default:
				if res.Detail != "" {
					t.Log(res.Detail)
				}
			}
		})
	}
}

type checker struct {
	ctx     context.Context
	binary  string
	opts    Options
	results map[string]Result
	stdout  lockedBuffer
}

func (c *checker) pass(name, format string, args ...any) {
	c.results[name] = Result{Name: name, Status: Pass, Detail: fmt.Sprintf(format, args...)}
}

func (c *checker) fail(name, format string, args ...any) {
	c.results[name] = Result{Name: name, Status: Fail, Detail: fmt.Sprintf(format, args...)}
}

func (c *checker) skip(name, format string, args ...any) {
	c.results[name] = Result{Name: name, Status: Skip, Detail: fmt.Sprintf(format, args...)}
}

func (c *checker) run() {
	inst, err := c.launch()
	if err != nil {
		c.fail(CheckHandshake, "%v", err)
		return
	}
	c.pass(CheckHandshake, "")
	route, ok := c.describe(inst)
	if ok {
		c.configure(inst, route)
		c.review(inst, route)
		c.panicCheck(inst, route)
	}
	inst.close()
	if ok {
		c.cancellation(route)
	}
	// Last, so stray output from every call above has had time to arrive;
	// go-plugin streams it separately from the RPCs.
	if out := c.stdout.String(); out != "" {
		c.fail(CheckStdout, "plugin wrote %d byte(s) to stdout after the handshake: %q", len(out), truncate(out, 200))
	} else {
		c.pass(CheckStdout, "")
	}
}

func (c *checker) describe(inst *instance) (string, bool) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer cancel()
	d, err := inst.provider.Describe(ctx)
	if err != nil {
		c.fail(CheckFacts, "%v", err)
		return "", false
	}
	route := c.opts.Route
	if route == "" {
		route = d.Routes[0].Name
	}
	found := false
	var kinds []string
	for _, r := range d.Routes {
		found = found || r.Name == route
		kinds = append(kinds, r.Name+"="+string(r.Fact.Kind))
	}
	if !found {
		c.fail(CheckFacts, "route %q is not described (routes: %s)", route, strings.Join(kinds, ", "))
		return "", false
	}
	c.pass(CheckFacts, "%s %s (sdk %s): %s", d.Name, d.Version, d.SDKVersion, strings.Join(kinds, ", "))
	return route, true
}

func (c *checker) configure(inst *instance, route string) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer cancel()
	errs, err := inst.provider.Configure(ctx, sdk.Settings{Routes: map[string]map[string]string{route: maps.Clone(c.opts.Settings)}})
	switch {
	case err != nil:
		c.fail(CheckConfigure, "%v", err)
	case len(c.opts.Settings) == 0:
		c.pass(CheckConfigure, "%d attribute error(s) for empty settings", len(errs))
	case len(errs) > 0:
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Attribute+": "+e.Message)
		}
		c.fail(CheckConfigure, "the plugin refused the settings: %s", strings.Join(msgs, "; "))
	default:
		c.pass(CheckConfigure, "%d setting(s) accepted", len(c.opts.Settings))
	}
}

func (c *checker) request(route string, extra map[string]string) sdk.ReviewRequest {
	settings := maps.Clone(c.opts.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	maps.Copy(settings, extra)
	return sdk.ReviewRequest{Route: route, Prompt: CannedPrompt, Packet: CannedPacket, Settings: settings, Timeout: c.opts.Timeout}
}

func (c *checker) review(inst *instance, route string) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer cancel()
	var events []sdk.Event
	res, err := inst.provider.Review(ctx, c.request(route, nil), func(e sdk.Event) { events = append(events, e) })
	if err != nil {
		c.fail(CheckReview, "review of the canned packet failed: %v", err)
		c.skip(CheckTransmission, "no result to check against")
		return
	}
	if strings.TrimSpace(res.Review) == "" {
		c.fail(CheckReview, "review of the canned packet returned empty review text")
	} else {
		c.pass(CheckReview, "%d byte review, model %q", len(res.Review), res.Model)
	}
	for _, e := range events {
		if e.Kind == sdk.EventTransmission {
			c.pass(CheckTransmission, "")
			return
		}
	}
	c.fail(CheckTransmission, "the review returned a result without a transmission event; call Events.Transmission() just before the source leaves the machine")
}

func (c *checker) panicCheck(inst *instance, route string) {
	if c.opts.PanicSettings == nil {
		return // not run: see the package doc
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer cancel()
	_, err := inst.provider.Review(ctx, c.request(route, c.opts.PanicSettings), nil)
	var e *sdk.Error
	switch {
	case err == nil:
		c.fail(CheckPanic, "the review with PanicSettings returned a result instead of panicking")
		return
	case !errors.As(err, &e):
		c.fail(CheckPanic, "panic was not reported as a typed error: %v", err)
		return
	case e.Code != sdk.CodePluginPanic:
		c.fail(CheckPanic, "panic was reported with code %s, want %s", e.Code, sdk.CodePluginPanic)
		return
	}
	if _, err := inst.provider.Describe(ctx); err != nil {
		c.fail(CheckPanic, "plugin stopped serving after the panic: %v", err)
		return
	}
	c.pass(CheckPanic, "")
}

func (c *checker) cancellation(route string) {
	inst, err := c.launch()
	if err != nil {
		c.fail(CheckCancellation, "second launch failed: %v", err)
		return
	}
	defer inst.close()

	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	started := make(chan struct{}, 1)
	type outcome struct {
		err        error
		returnedAt time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		extra := map[string]string{sdk.SettingHold: holdFor}
		maps.Copy(extra, c.opts.CancelSettings)
		_, err := inst.provider.Review(ctx, c.request(route, extra), func(sdk.Event) {
			select {
			case started <- struct{}{}:
			default:
			}
		})
		done <- outcome{err, time.Now()}
	}()

	// Cancel once the review shows it is under way, or after a moment for
	// a plugin that sends no events.
	select {
	case <-started:
	case <-time.After(250 * time.Millisecond):
	case o := <-done:
		c.skip(CheckCancellation, "the review finished (err=%v) before it could be cancelled: the plugin does not honour the %s setting (sdk.Serve does it for every SDK plugin)", o.err, sdk.SettingHold)
		return
	}
	before := descendants(inst.pid)
	cancelledAt := time.Now()
	cancel()
	deadline := cancelledAt.Add(CancelBound)

	var o outcome
	select {
	case o = <-done:
	case <-time.After(time.Until(deadline)):
		c.fail(CheckCancellation, "Review did not return within %s of cancellation", CancelBound)
		return
	}
	if o.err == nil {
		c.skip(CheckCancellation, "the review finished before the cancellation reached it: the plugin does not honour the %s setting (sdk.Serve does it for every SDK plugin)", sdk.SettingHold)
		return
	}
	// The client returns as soon as it cancels, before the plugin has even
	// seen the cancel, so only the whole bound says whether the plugin's
	// processes stop in time (and whether it starts new ones regardless).
	time.Sleep(time.Until(deadline))
	var left []proc
	if before.supported {
		left = append(waitGone(before, deadline), descendants(inst.pid).procs...)
	}
	hctx, hcancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer hcancel()
	_, healthErr := inst.provider.Describe(hctx)
	inst.close()
	// A child that is still running when the plugin exits is reparented and
	// drops out of the tree, but stays in the plugin's process group unless it
	// made its own.
	left = append(left, groupMembers(inst.pid)...)
	defer killAll(left)
	switch st := inst.cmd.ProcessState; {
	case len(left) > 0:
		c.fail(CheckCancellation, "%d process(es) started by the plugin still running %s after cancellation: %s",
			len(left), CancelBound, describeProcs(left))
	case healthErr != nil:
		c.fail(CheckCancellation, "plugin stopped serving after a cancelled review: %v", healthErr)
	case st == nil || !st.Exited() || st.ExitCode() != 0:
		state := "unknown"
		if st != nil {
			state = st.String()
		}
		c.fail(CheckCancellation, "plugin did not exit cleanly after a cancelled review (%s); an SDK plugin exits with status 3 when a provider call ignores cancellation", state)
	case !before.supported:
		c.pass(CheckCancellation, "returned, plugin healthy and exited cleanly; leftover processes not checked on this OS")
	default:
		c.pass(CheckCancellation, "returned, no process left, plugin healthy and exited cleanly")
	}
}

// instance is one launched plugin.
type instance struct {
	client   *plugin.Client
	cmd      *exec.Cmd
	pid      int
	provider sdk.ProviderClient
}

func (c *checker) launch() (*instance, error) {
	cmd := exec.Command(c.binary)
	cmd.Env = append(os.Environ(), c.opts.Env...)
	// Its own process group lets the check find children the plugin left
	// behind even after they are reparented.
	ownProcessGroup(cmd)
	cfg := sdk.NewClientConfig(cmd, c.opts.Logger)
	cfg.SyncStdout = &c.stdout
	cfg.StartTimeout = c.opts.Timeout
	cfg.AutoMTLS = c.opts.AutoMTLS
	client := plugin.NewClient(cfg)
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin did not start: %v", err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin does not serve %q: %v", sdk.PluginName, err)
	}
	p, ok := raw.(sdk.ProviderClient)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("dispensed %T, not a provider", raw)
	}
	return &instance{client: client, cmd: cmd, pid: cmd.Process.Pid, provider: p}, nil
}

// close ends the plugin the way the host does and waits for it to exit.
func (i *instance) close() { i.client.Kill() }

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
