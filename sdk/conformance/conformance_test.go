package conformance_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/relay-host/relay-host/sdk"
	"github.com/relay-host/relay-host/sdk/conformance"
	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

// The test binary doubles as a family of faulty plugins: when modeEnv is set,
// TestMain serves the plugin of that mode instead of running tests.
const modeEnv = "RELAY_SDK_TEST_PLUGIN"

var echoBin string

func TestMain(m *testing.M) {
	if mode := os.Getenv(modeEnv); mode != "" {
		serveTestPlugin(mode)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "relay-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	echoBin = filepath.Join(dir, "relay-provider-echo")
	if out, err := exec.Command("go", "build", "-o", echoBin, "github.com/relay-host/relay-host/sdk/examples/echo").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the echo example: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// slowSetting asks a test plugin to make its review run until cancelled;
// panicSetting makes it panic (the test plugins' PanicSettings).
const (
	slowSetting  = "slow"
	panicSetting = "panic"
)

var (
	echoOptions = conformance.Options{CancelSettings: map[string]string{"delay": "1m"}}
	testOptions = conformance.Options{
		CancelSettings: map[string]string{slowSetting: "1"},
		PanicSettings:  map[string]string{panicSetting: "1"},
	}
)

// TestEcho is the kit's own positive test on a production build: the
// example plugin passes every check through Run, and only the panic check,
// which needs a build that can be made to panic, is skipped.
func TestEcho(t *testing.T) {
	t.Parallel()
	conformance.Run(t, echoBin, echoOptions)
	rep := conformance.Check(t.Context(), echoBin, echoOptions)
	for _, r := range rep.Results {
		want := conformance.Pass
		if r.Name == conformance.CheckPanic {
			want = conformance.Skip
		}
		if r.Status != want {
			t.Errorf("%s: %s %s, want %s", r.Name, r.Status, r.Detail, want)
		}
	}
}

// TestPanicRecovered: an SDK plugin whose Review panics under its
// PanicSettings passes the panic check (and every other one).
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions
	opts.Env = []string{modeEnv + "=ok"}
	rep := conformance.Check(t.Context(), self, opts)
	for _, r := range rep.Results {
		if r.Status != conformance.Pass {
			t.Errorf("%s: %s %s", r.Name, r.Status, r.Detail)
		}
	}
}

// TestFaults proves each check can fail: every faulty plugin fails exactly
// the check named for its fault.
func TestFaults(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode  string
		fails string
	}{
		{"no-transmission", conformance.CheckTransmission},
		{"stdout", conformance.CheckStdout},
		{"ignore-cancel", conformance.CheckCancellation},
		{"orphan-child", conformance.CheckCancellation},
		{"raw-crash-on-panic", conformance.CheckPanic},
		{"raw-bad-facts", conformance.CheckFacts},
		{"raw-no-panic-trigger", conformance.CheckPanic},
	}
	// The checks mostly wait (the cancellation bound), so they run side by
	// side rather than under t.Parallel, which allows only GOMAXPROCS.
	reports := make([]conformance.Report, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Go(func() {
			opts := testOptions
			opts.Env = []string{modeEnv + "=" + tt.mode}
			reports[i] = conformance.Check(t.Context(), self, opts)
		})
	}
	wg.Wait()
	for i, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			rep := reports[i]
			got, ok := rep.Result(tt.fails)
			if !ok || got.Status != conformance.Fail {
				t.Fatalf("check %s did not fail for mode %s:\n%s", tt.fails, tt.mode, rep)
			}
			if rep.OK() {
				t.Errorf("report OK despite a failure:\n%s", rep)
			}
			for _, r := range rep.Results {
				if r.Name != tt.fails && r.Status == conformance.Fail {
					t.Errorf("unrelated check failed: %s: %s", r.Name, r.Detail)
				}
			}
			t.Logf("%s", rep)
		})
	}
}

func TestNotAPlugin(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "relay-provider-fake")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep := conformance.Check(t.Context(), script, conformance.Options{Timeout: 10 * time.Second})
	if got, _ := rep.Result(conformance.CheckHandshake); got.Status != conformance.Fail {
		t.Fatalf("handshake check passed for a script that is not a plugin:\n%s", rep)
	}
	if rep.OK() {
		t.Fatalf("report OK:\n%s", rep)
	}
}

// faulty is an SDK provider with one deliberate fault.
type faulty struct{ mode string }

func (f faulty) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "faulty", Version: "0.0.1", Routes: []sdk.Route{
		{Name: "default", Fact: sdk.Stateless(1, "")},
	}}, nil
}

func (f faulty) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	ev.Progress("working")
	if req.Settings[panicSetting] != "" {
		panic("deliberate test panic")
	}
	if f.mode != "no-transmission" {
		ev.Transmission()
	}
	if f.mode == "stdout" {
		fmt.Println("debug: stray line on stdout")
	}
	if req.Settings[slowSetting] != "" {
		switch f.mode {
		case "ignore-cancel":
			time.Sleep(time.Minute)
		case "orphan-child":
			// Started outside sdk.Command and without ctx: nothing kills it.
			child := exec.Command("sleep", "60")
			if err := child.Start(); err != nil {
				return sdk.Result{}, err
			}
			<-ctx.Done()
			return sdk.Result{}, ctx.Err()
		default:
			<-ctx.Done()
			return sdk.Result{}, ctx.Err()
		}
	}
	return sdk.Result{Review: "looks fine\nVerdict: APPROVE", Model: "test"}, nil
}

func serveTestPlugin(mode string) {
	if len(mode) > 4 && mode[:4] == "raw-" {
		serveRaw(mode)
		return
	}
	sdk.Serve(faulty{mode: mode})
}

// rawServer implements the protocol without the SDK, as a plugin in another
// language would, so the kit's checks can meet faults the SDK prevents.
type rawServer struct {
	relayv1.UnimplementedProviderServiceServer
	mode string
}

func (s rawServer) Describe(context.Context, *relayv1.DescribeRequest) (*relayv1.DescribeResponse, error) {
	limit := int64(1)
	if s.mode == "raw-bad-facts" {
		limit = 0
	}
	return &relayv1.DescribeResponse{PluginName: "raw", PluginVersion: "0.0.1", SdkVersion: "none", Routes: []*relayv1.Route{{
		Name: "default",
		Fact: &relayv1.Route_Stateless{Stateless: &relayv1.Stateless{DefaultLimit: limit}},
	}}}, nil
}

func (s rawServer) Configure(context.Context, *relayv1.ConfigureRequest) (*relayv1.ConfigureResponse, error) {
	return &relayv1.ConfigureResponse{}, nil
}

func (s rawServer) Review(req *relayv1.ReviewRequest, stream grpc.ServerStreamingServer[relayv1.ReviewResponse]) error {
	if req.GetSettings()[panicSetting] != "" && s.mode == "raw-crash-on-panic" {
		panic("unrecovered panic") // gRPC does not recover handler panics: the process dies
	}
	if err := stream.Send(&relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Transmission{Transmission: &relayv1.Transmission{}}}); err != nil {
		return err
	}
	if req.GetSettings()[slowSetting] != "" {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return stream.Send(&relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Result{Result: &relayv1.Result{Review: "ok\nVerdict: APPROVE"}}})
}

type rawPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	mode string
}

func (p rawPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	relayv1.RegisterProviderServiceServer(s, rawServer{mode: p.mode})
	return nil
}

func (rawPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("server only")
}

func serveRaw(mode string) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {sdk.PluginName: rawPlugin{mode: mode}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
