package review

import (
	"context"
	"fmt"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/sdk"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/hostlog"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/sanitize"
)

// pluginDir holds relay-provider-fault, built once.
var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "review-test-")
	if err != nil {
		panic(err)
	}
	pluginDir = dir
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "relay-provider-fault"), "github.com/relay-host/relay-host/host/internal/testplugins/fault")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the fault plugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fixture struct {
	opts  Options
	store *jobs.Store
	lock  string
}

// setup is a git repository with one change, a job store and a lock root in
// a temp dir, and relay.hcl with the fault plugin's default route at limit 1.
func setup(t *testing.T, settings string) *fixture {
	t.Helper()
	return setupWith(t, settings, nil)
}

// setupWith is setup with a hook that may mount something on the state
// directory before the job store is opened there.
func setupWith(t *testing.T, settings string, onState func(state string)) *fixture {
	t.Helper()
	root := t.TempDir()
	repo, home, state := filepath.Join(root, "repo"), filepath.Join(root, "home"), filepath.Join(root, "state")
	for _, d := range []string{repo, home, state} {
		os.MkdirAll(d, 0o700)
	}
	if onState != nil {
		onState(state)
	}
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_STATE_HOME=" + state,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1"}
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = repo, environ
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(repo, "a.go"), []byte("package a\n"), 0o600)
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "init")
	os.WriteFile(filepath.Join(repo, "a.go"), []byte("package a // changed\n"), 0o600)

	cfg, err := config.Parse([]byte(fmt.Sprintf("provider \"fault\" {\n  route \"default\" {\n    limit = 1\n    settings = { %s }\n  }\n}\n", settings)), "relay.hcl")
	if err != nil {
		t.Fatal(err)
	}
	store, err := jobs.Open(filepath.Join(state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	logs, err := hostlog.Open(hclog.Error, "", io.Discard, sanitize.NewScrubber(sanitize.Policy{Home: home}))
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		for _, kv := range environ {
			if key, v, _ := strings.Cut(kv, "="); key == k {
				return v
			}
		}
		return ""
	}
	return &fixture{
		opts: Options{Config: cfg, Provider: "fault", Dir: repo, Getenv: getenv, Environ: environ,
			SelfDir: pluginDir, Logs: logs, Store: store, ConfirmResend: true},
		store: store,
		lock:  filepath.Join(state, "relay", "locks", "v2"),
	}
}

// active counts the holders of the fault route's key from this process: a
// lease this process leaked would still be held, since the kernel only
// frees lock-backed slots when their holder exits.
func (f *fixture) active(t *testing.T) int {
	t.Helper()
	b, err := admission.OpenLocal(f.lock, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := b.Status(context.Background(), "fault.default")
	if err != nil {
		t.Fatal(err)
	}
	return c.ActiveCount
}

// TestRunReleasesTheLease: whatever the outcome, Run returns the slot, and
// the record it returns is the record it persisted.
func TestRunReleasesTheLease(t *testing.T) {
	tests := []struct {
		name, settings string
		timeout        time.Duration
		cancelOnSent   bool // cancel once the record says sent
		status         jobs.Status
		code           string
		tr             jobs.Transmission
	}{
		{name: "ok", status: jobs.StatusCompleted, tr: jobs.Sent},
		{name: "crash", settings: `mode = "crash-early"`, status: jobs.StatusFailed, code: CodePluginCrashed, tr: jobs.MayBeSent},
		{name: "error", settings: `mode = "error"`, status: jobs.StatusFailed, code: "usage_limited", tr: jobs.Sent},
		{name: "presend", settings: `mode = "presend"`, status: jobs.StatusFailed, code: "not_authenticated", tr: jobs.NotSent},
		{name: "timeout", settings: `mode = "hang"`, timeout: 500 * time.Millisecond, status: jobs.StatusFailed, code: string(sdk.CodeTimeout), tr: jobs.Sent},
		{name: "cancel", settings: `delay = "60s"`, cancelOnSent: true, status: jobs.StatusCancelled, code: string(sdk.CodeCancelled), tr: jobs.Sent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tt.settings)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelOnSent {
				// Not after a fixed time: on a loaded machine the review
				// may not have reached the plugin by then.
				go func() {
					for ctx.Err() == nil {
						if recs, _ := f.store.List(); len(recs) == 1 && recs[0].Transmission == jobs.Sent {
							cancel()
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			f.opts.Timeout = tt.timeout
			rec, err := Run(ctx, f.opts)
			if (err == nil) != (tt.code == "") {
				t.Fatalf("Run: %v", err)
			}
			if rec.Status != tt.status || rec.ErrorCode != tt.code || rec.Transmission != tt.tr {
				t.Errorf("record %s/%q/%s, want %s/%q/%s", rec.Status, rec.ErrorCode, rec.Transmission, tt.status, tt.code, tt.tr)
			}
			saved, err := f.store.Get(rec.JobID)
			if err != nil || saved.Status != rec.Status || saved.Transmission != rec.Transmission || saved.FinishedAt.IsZero() {
				t.Errorf("persisted record %+v differs from the returned one (%v)", saved, err)
			}
			if n := f.active(t); n != 0 {
				t.Errorf("%d slots still held after Run returned", n)
			}
		})
	}
}

// TestRunReleasesTheLeaseOnPanic: a panic while the lease is held (here in
// the Status callback, called once the slot is taken) still frees the slot
// and leaves an honest record, then propagates.
func TestRunReleasesTheLeaseOnPanic(t *testing.T) {
	f := setup(t, "")
	f.opts.Status = func(s string) {
		if s == "reviewing" {
			panic("boom")
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not propagate")
			}
		}()
		Run(context.Background(), f.opts)
	}()
	if n := f.active(t); n != 0 {
		t.Errorf("%d slots still held after a panic", n)
	}
	recs, _ := f.store.List()
	if len(recs) != 1 || recs[0].Status != jobs.StatusFailed || recs[0].ErrorCode != string(sdk.CodeInternal) || recs[0].Transmission != jobs.MayBeSent {
		t.Errorf("record after a panic: %+v", recs[0])
	}
}

// TestBlockedIsCountsOnly: with the only slot held, Run refuses at once with
// a counts-only diagnostic and a not_sent record.
func TestBlockedIsCountsOnly(t *testing.T) {
	f := setup(t, "")
	b, err := admission.OpenLocal(f.lock, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lease, err := b.Acquire(context.Background(), admission.Request{Key: "fault.default", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	rec, err := Run(context.Background(), f.opts)
	e, ok := err.(*Error)
	if !ok || e.Exit != exitcode.Blocked || e.Code != CodeWorkloadBlocked {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(e.Msg, "fault/default is at capacity (1/1 in use)") || !strings.Contains(e.Msg, "--wait") {
		t.Errorf("message: %s", e.Msg)
	}
	w := rec.Diagnostics.ProviderWorkload
	if rec.Status != jobs.StatusFailed || rec.Transmission != jobs.NotSent || w == nil || *w != (jobs.Workload{Reason: "at_capacity", Capacity: jobs.Capacity{ActiveCount: 1, Limit: 1}}) {
		t.Errorf("record %+v workload %+v", rec, w)
	}
}
