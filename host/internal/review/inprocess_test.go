package review

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/host/internal/route/routetest"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/sdk"
)

// inproc is an in-process provider for the "fault" block of setup's
// relay.hcl: route "default" with fact, answering with review or failing
// with err (after a transmission when transmit is set).
type inproc struct {
	fact     sdk.Fact
	review   string
	err      error
	transmit bool
	reject   []sdk.AttributeError

	got sdk.ReviewRequest
}

func (p *inproc) Configure(context.Context, sdk.Settings) []sdk.AttributeError { return p.reject }

func (p *inproc) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "fault", Version: "1", Routes: []sdk.Route{{Name: "default", Fact: p.fact}}}, nil
}

func (p *inproc) Review(_ context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	p.got = req
	if p.transmit {
		ev.Transmission()
	}
	return sdk.Result{Review: p.review, Model: "m"}, p.err
}

// TestRunInProcess runs the whole pipeline against in-process providers:
// what the record says for each outcome, that the lease is handed to the
// plugin and freed, and that the plugin is stopped.
func TestRunInProcess(t *testing.T) {
	stateless := sdk.Stateless(2, "")
	tests := []struct {
		name      string
		provider  *inproc // nil: not installed
		route     string
		status    jobs.Status
		code      string
		tr        jobs.Transmission
		wantLease bool
	}{
		{name: "completed", provider: &inproc{fact: stateless, review: "looks fine\nVerdict: approve", transmit: true},
			status: jobs.StatusCompleted, tr: jobs.Sent, wantLease: true},
		{name: "pre-send failure", provider: &inproc{fact: stateless, err: &sdk.Error{Code: sdk.CodeNotAuthenticated, Message: "log in", NotSent: true}},
			status: jobs.StatusFailed, code: "not_authenticated", tr: jobs.NotSent, wantLease: true},
		{name: "not-sent claim after a transmission", provider: &inproc{fact: stateless, transmit: true, err: &sdk.Error{Code: sdk.CodeNotAuthenticated, Message: "log in", NotSent: true}},
			status: jobs.StatusFailed, code: "not_authenticated", tr: jobs.Sent, wantLease: true},
		{name: "plain error", provider: &inproc{fact: stateless, err: errors.New("boom")},
			status: jobs.StatusFailed, code: "review_failed", tr: jobs.MayBeSent, wantLease: true},
		{name: "not installed", status: jobs.StatusFailed, code: CodePluginNotFound, tr: jobs.NotSent},
		{name: "unknown route", provider: &inproc{fact: stateless}, route: "nope",
			status: jobs.StatusFailed, code: CodeUnknownRoute, tr: jobs.NotSent},
		{name: "rejected setting", provider: &inproc{fact: stateless, reject: []sdk.AttributeError{{Route: "default", Attribute: "mode", Message: "unknown mode"}}},
			status: jobs.StatusFailed, code: string(sdk.CodeConfigInvalid), tr: jobs.NotSent},
		{name: "refused fact", provider: &inproc{fact: sdk.SharedStateDir("/dev/null")},
			status: jobs.StatusFailed, code: CodePluginInvalid, tr: jobs.NotSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, `mode = "x"`)
			l := &routetest.Launcher{Providers: map[string]sdk.Provider{}}
			if tt.provider != nil {
				l.Providers["fault"] = tt.provider
			}
			f.opts.Launcher, f.opts.Route = l, tt.route
			rec, err := Run(context.Background(), f.opts)
			var e *Error
			if tt.code == "" && err != nil || tt.code != "" && (!errors.As(err, &e) || e.Code != tt.code) {
				t.Fatalf("Run: %v, want code %q", err, tt.code)
			}
			if rec.Status != tt.status || rec.ErrorCode != tt.code || rec.Transmission != tt.tr {
				t.Errorf("record %s/%q/%s, want %s/%q/%s", rec.Status, rec.ErrorCode, rec.Transmission, tt.status, tt.code, tt.tr)
			}
			if tt.code == string(sdk.CodeConfigInvalid) && (e.Diag == nil || !strings.Contains(e.Msg, "setting mode: unknown mode")) {
				t.Errorf("rejected setting: %q, diag %v", e.Msg, e.Diag)
			}
			if tt.status == jobs.StatusCompleted && (rec.Review != tt.provider.review || rec.Verdict == "" || tt.provider.got.Settings["mode"] != "x") {
				t.Errorf("completed record %+v; the plugin got %+v", rec, tt.provider.got)
			}
			for _, p := range l.Launched() {
				if !p.Stopped() {
					t.Error("the plugin was not stopped")
				}
				if p.SharedLease() != tt.wantLease {
					t.Errorf("lease handed to the plugin: %v, want %v", p.SharedLease(), tt.wantLease)
				}
			}
			if n := f.active(t); n != 0 {
				t.Errorf("%d slots still held after Run returned", n)
			}
		})
	}
}

// TestRunRedactsTheStateDirectory: a shared_state directory outside HOME
// never reaches the record, even when the plugin echoes it.
func TestRunRedactsTheStateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cli-state")
	p := &inproc{fact: sdk.SharedStateDir(dir)}
	p.review = "my state is in " + dir + "\nVerdict: approve"
	f := setup(t, "")
	f.opts.Config.Providers[0].Routes[0].Limit = 0 // shared_state takes no limit
	f.opts.Launcher = &routetest.Launcher{Providers: map[string]sdk.Provider{"fault": p}}
	rec, err := Run(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("a review did not create its state directory (%v)", err)
	}
	if strings.Contains(rec.Review, dir) || !strings.Contains(rec.Review, "my state is in") {
		t.Errorf("record text %q names the state directory", rec.Review)
	}
}
