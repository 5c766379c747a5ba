package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

// funcProvider adapts functions to Provider for tests.
type funcProvider struct {
	describe func(context.Context) (Description, error)
	review   func(context.Context, ReviewRequest, Events) (Result, error)
}

func (p funcProvider) Describe(ctx context.Context) (Description, error) {
	if p.describe == nil {
		return Description{Name: "test", Version: "1", Routes: []Route{{Name: "default", Fact: Stateless(1, "")}}}, nil
	}
	return p.describe(ctx)
}

func (p funcProvider) Review(ctx context.Context, req ReviewRequest, ev Events) (Result, error) {
	return p.review(ctx, req, ev)
}

type configurable struct {
	funcProvider
	got Settings
}

func (c *configurable) Configure(_ context.Context, s Settings) []AttributeError {
	c.got = s
	return []AttributeError{{Route: "default", Attribute: "model", Message: "unknown model"}}
}

type harness struct {
	client ProviderClient
	srv    *server
	exits  chan int
	cancel context.CancelFunc // the plugin's root context
}

// start serves p in-process over a real gRPC connection (bufconn) through
// the same server and client code a plugin process uses.
func start(t *testing.T, p Provider, grace time.Duration) *harness {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	root, cancel := context.WithCancel(context.Background())
	h := &harness{exits: make(chan int, 1), cancel: cancel}
	h.srv = &server{provider: p, logger: hclog.NewNullLogger(), root: root, grace: grace,
		exit: func(code int) { h.exits <- code }}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
	relayv1.RegisterProviderServiceServer(gs, h.srv)
	go gs.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		append(GRPCDialOptions(),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := (&grpcPlugin{}).GRPCClient(context.Background(), nil, conn)
	if err != nil {
		t.Fatal(err)
	}
	h.client = raw.(ProviderClient)
	t.Cleanup(func() {
		cancel()
		conn.Close()
		gs.Stop()
		h.srv.inflight.Wait()
	})
	return h
}

func collect(events *[]Event) func(Event) { return func(e Event) { *events = append(*events, e) } }

func TestDescribeFillsSDKVersion(t *testing.T) {
	h := start(t, funcProvider{}, time.Second)
	d, err := h.client.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.SDKVersion != Version || d.Name != "test" || d.Routes[0].Fact != Stateless(1, "") {
		t.Fatalf("got %+v", d)
	}
}

func TestDescribeInvalidFactsRefused(t *testing.T) {
	h := start(t, funcProvider{describe: func(context.Context) (Description, error) {
		return Description{Name: "test", Version: "1", Routes: []Route{{Name: "r", Fact: SharedStateDir("relative")}}}, nil
	}}, time.Second)
	_, err := h.client.Describe(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInternal || !strings.Contains(e.Message, "absolute") {
		t.Fatalf("err = %v", err)
	}
}

func TestDescribePanicIsTyped(t *testing.T) {
	h := start(t, funcProvider{describe: func(context.Context) (Description, error) { panic("boom") }}, time.Second)
	_, err := h.client.Describe(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Code != CodePluginPanic {
		t.Fatalf("err = %v", err)
	}
	// Still serving.
	if _, err := h.client.Configure(context.Background(), Settings{}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigure(t *testing.T) {
	c := &configurable{}
	h := start(t, c, time.Second)
	errs, err := h.client.Configure(context.Background(), Settings{
		Provider: map[string]string{"api_key_env": "X"},
		Routes:   map[string]map[string]string{"default": {"model": "m"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0] != (AttributeError{Route: "default", Attribute: "model", Message: "unknown model"}) {
		t.Fatalf("errs = %+v", errs)
	}
	if c.got.Provider["api_key_env"] != "X" || c.got.Routes["default"]["model"] != "m" {
		t.Fatalf("provider got %+v", c.got)
	}
}

func TestConfigureOptional(t *testing.T) {
	h := start(t, funcProvider{}, time.Second)
	errs, err := h.client.Configure(context.Background(), Settings{Provider: map[string]string{"x": "y"}})
	if err != nil || len(errs) != 0 {
		t.Fatalf("errs = %v, err = %v", errs, err)
	}
}

func TestReviewEventsInOrder(t *testing.T) {
	var got ReviewRequest
	h := start(t, funcProvider{review: func(ctx context.Context, req ReviewRequest, ev Events) (Result, error) {
		got = req
		ev.Progress("one")
		ev.Transmission()
		ev.Transmission() // idempotent
		ev.Progress("two")
		return Result{Review: "r", Model: "m", Usage: &Usage{InputTokens: 3, OutputTokens: 4}}, nil
	}}, time.Second)
	var events []Event
	res, err := h.client.Review(context.Background(), ReviewRequest{
		Route: "default", Prompt: "p", Packet: "d", Settings: map[string]string{"k": "v"}, Timeout: 90 * time.Second,
	}, collect(&events))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{EventProgress, "one"}, {Kind: EventTransmission}, {EventProgress, "two"}}
	if len(events) != len(want) {
		t.Fatalf("events = %+v", events)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events = %+v, want %+v", events, want)
		}
	}
	if res.Review != "r" || res.Model != "m" || *res.Usage != (Usage{3, 4}) {
		t.Fatalf("result = %+v", res)
	}
	if got.Route != "default" || got.Prompt != "p" || got.Packet != "d" || got.Settings["k"] != "v" || got.Timeout != 90*time.Second {
		t.Fatalf("provider got %+v", got)
	}
}

// TestReviewErrors is the error mapping table: what a provider returns, and
// what the host sees.
func TestReviewErrors(t *testing.T) {
	tests := []struct {
		name        string
		transmit    bool
		ret         func(ctx context.Context) error
		wantCode    ErrorCode
		wantNotSent bool
	}{
		{"pre-send", false, func(context.Context) error { return Errorf(CodeCLINotFound, "claude not on PATH") }, CodeCLINotFound, true},
		{"pre-send after transmission", true, func(context.Context) error { return Errorf(CodeNotAuthenticated, "x") }, CodeNotAuthenticated, false},
		{"wrapped typed error", true, func(context.Context) error {
			return errors.Join(errors.New("context"), Errorf(CodeUsageLimited, "429"))
		}, CodeUsageLimited, false},
		{"post-send code claiming not sent", false, func(context.Context) error {
			return &Error{Code: CodeProviderUnavailable, NotSent: true}
		}, CodeProviderUnavailable, false},
		{"plain error", true, func(context.Context) error { return errors.New("exit status 1") }, CodeReviewFailed, false},
		{"deadline", true, func(context.Context) error { return context.DeadlineExceeded }, CodeTimeout, false},
		{"panic before transmission", false, func(context.Context) error { panic("nil map") }, CodePluginPanic, false},
		{"panic after transmission", true, func(context.Context) error { panic(errors.New("x")) }, CodePluginPanic, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, funcProvider{review: func(ctx context.Context, _ ReviewRequest, ev Events) (Result, error) {
				if tt.transmit {
					ev.Transmission()
				}
				return Result{}, tt.ret(ctx)
			}}, time.Second)
			var events []Event
			_, err := h.client.Review(context.Background(), ReviewRequest{Route: "default"}, collect(&events))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Code != tt.wantCode || e.NotSent != tt.wantNotSent {
				t.Fatalf("got %+v, want code %s notSent %v", e, tt.wantCode, tt.wantNotSent)
			}
			if tt.transmit != (len(events) == 1) {
				t.Fatalf("events = %+v", events)
			}
		})
	}
}

// TestReviewPanicLeavesPluginServing: a provider's panic ends only that
// call, as a typed plugin_panic error; the next call is served.
func TestReviewPanicLeavesPluginServing(t *testing.T) {
	calls := 0
	h := start(t, funcProvider{review: func(context.Context, ReviewRequest, Events) (Result, error) {
		calls++
		if calls == 1 {
			panic("boom")
		}
		return Result{Review: "r"}, nil
	}}, time.Second)
	_, err := h.client.Review(context.Background(), ReviewRequest{}, nil)
	if !errors.Is(err, &Error{Code: CodePluginPanic}) {
		t.Fatalf("err = %v", err)
	}
	if res, err := h.client.Review(context.Background(), ReviewRequest{}, nil); err != nil || res.Review != "r" {
		t.Fatalf("plugin unusable after the panic: %v", err)
	}
}

// TestReviewCancelReachesProvider: the host cancelling its context cancels
// the provider's, and the client reports the cancellation as ctx.Err().
func TestReviewCancelReachesProvider(t *testing.T) {
	providerDone := make(chan error, 1)
	h := start(t, funcProvider{review: func(ctx context.Context, _ ReviewRequest, ev Events) (Result, error) {
		ev.Progress("started")
		<-ctx.Done()
		providerDone <- ctx.Err()
		return Result{}, ctx.Err()
	}}, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := h.client.Review(ctx, ReviewRequest{}, func(Event) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if err := <-providerDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("provider ctx err = %v", err)
	}
	select {
	case code := <-h.exits:
		t.Fatalf("plugin exited with %d although the provider returned", code)
	default:
	}
}

// TestIgnoredCancellationEndsPlugin: a provider that does not return after
// cancellation makes Serve end the process (status 3).
func TestIgnoredCancellationEndsPlugin(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := start(t, funcProvider{review: func(ctx context.Context, _ ReviewRequest, ev Events) (Result, error) {
		ev.Progress("started")
		<-release // ignores ctx
		return Result{}, nil
	}}, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go h.client.Review(ctx, ReviewRequest{}, func(Event) { cancel() })
	if code := <-h.exits; code != exitIgnoredCancel {
		t.Fatalf("exit code %d, want %d", code, exitIgnoredCancel)
	}
}

// TestShutdownCancelsCalls: cancelling the plugin's root context (SIGTERM,
// parent death, host closing the plugin) cancels running provider calls.
func TestShutdownCancelsCalls(t *testing.T) {
	h := start(t, funcProvider{review: func(ctx context.Context, _ ReviewRequest, ev Events) (Result, error) {
		ev.Progress("started")
		<-ctx.Done()
		return Result{}, ctx.Err()
	}}, 5*time.Second)
	_, err := h.client.Review(context.Background(), ReviewRequest{}, func(Event) { h.cancel() })
	if !errors.Is(err, &Error{Code: CodeCancelled}) {
		t.Fatalf("err = %v", err)
	}
}

// TestEventsAfterReturnAreDropped: a goroutine the provider leaked cannot
// add events after the terminal one.
func TestEventsAfterReturnAreDropped(t *testing.T) {
	leaked := make(chan Events, 1)
	h := start(t, funcProvider{review: func(_ context.Context, _ ReviewRequest, ev Events) (Result, error) {
		leaked <- ev
		return Result{Review: "r"}, nil
	}}, time.Second)
	if _, err := h.client.Review(context.Background(), ReviewRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	ev := <-leaked
	ev.Progress("late") // must neither panic nor reach anyone
	ev.Transmission()
}

// rawReview serves canned Review streams to test the client's protocol checks.
type rawReview struct {
	relayv1.UnimplementedProviderServiceServer
	events []*relayv1.ReviewResponse
}

func (r rawReview) Review(_ *relayv1.ReviewRequest, s grpc.ServerStreamingServer[relayv1.ReviewResponse]) error {
	for _, e := range r.events {
		if err := s.Send(e); err != nil {
			return err
		}
	}
	return nil
}

func TestClientRejectsProtocolViolations(t *testing.T) {
	result := &relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Result{Result: &relayv1.Result{Review: "r"}}}
	transmission := &relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Transmission{Transmission: &relayv1.Transmission{}}}
	progress := &relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Progress{Progress: &relayv1.Progress{Message: "p"}}}
	unknown := &relayv1.ReviewResponse{}
	tests := []struct {
		name    string
		events  []*relayv1.ReviewResponse
		wantErr string
		events2 int
	}{
		{"no terminal", []*relayv1.ReviewResponse{progress}, "without a result", 1},
		{"event after result", []*relayv1.ReviewResponse{result, progress}, "after the terminal", 0},
		{"two results", []*relayv1.ReviewResponse{result, result}, "after the terminal", 0},
		{"duplicate transmission delivered once", []*relayv1.ReviewResponse{transmission, transmission, result}, "", 1},
		{"unknown event skipped", []*relayv1.ReviewResponse{unknown, result}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lis := bufconn.Listen(1 << 16)
			gs := grpc.NewServer()
			relayv1.RegisterProviderServiceServer(gs, rawReview{events: tt.events})
			go gs.Serve(lis)
			defer gs.Stop()
			conn, err := grpc.NewClient("passthrough:///bufnet",
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := &client{rpc: relayv1.NewProviderServiceClient(conn)}
			var events []Event
			_, err = c.Review(context.Background(), ReviewRequest{}, collect(&events))
			checkErr(t, err, tt.wantErr)
			var e *Error
			if errors.As(err, &e) {
				t.Errorf("protocol violation reported as a typed plugin error %v; the host must treat it as may-be-sent", e)
			}
			if len(events) != tt.events2 {
				t.Errorf("events = %+v", events)
			}
		})
	}
}

func TestStrayOutputLogsLines(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	logger := hclog.New(&hclog.LoggerOptions{Output: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, string(p))
		return len(p), nil
	}), Level: hclog.Warn})
	w := StrayOutput(logger, "stdout")
	w.Write([]byte("hel"))
	w.Write([]byte("lo\nwor"))
	w.Write([]byte("ld\n"))
	if len(lines) != 2 {
		t.Fatalf("lines = %q", lines)
	}
	if !strings.Contains(lines[0], "[WARN]") || !strings.Contains(lines[0], "plugin wrote to stdout") || !strings.Contains(lines[0], "line=hello") {
		t.Errorf("line 0 = %q", lines[0])
	}
	if !strings.Contains(lines[1], "line=world") {
		t.Errorf("lines = %q", lines)
	}
	w.Write([]byte("unterminated"))
	w.(interface{ Flush() }).Flush()
	if len(lines) != 3 || !strings.Contains(lines[2], "line=unterminated") {
		t.Errorf("Flush did not log the last line: %q", lines)
	}
}

// TestStrayLinesAreNeverCut: a stray line is logged whole, however long,
// up to the cap, and past the cap not at all, so the host's logger always
// sees a whole value to redact and never the first part of a secret.
func TestStrayLinesAreNeverCut(t *testing.T) {
	const secret = "stray-secret-0123456789abcdefghij"
	var mu sync.Mutex
	var out strings.Builder
	logger := hclog.New(&hclog.LoggerOptions{Output: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		out.Write(p)
		return len(p), nil
	}), Level: hclog.Warn})
	w := StrayOutput(logger, "stderr")
	// Straddling the old 4096-byte cut, written in pieces.
	long := strings.Repeat("a", 4090) + secret
	w.Write([]byte(long[:3000]))
	w.Write([]byte(long[3000:] + "\n"))
	if !strings.Contains(out.String(), long) {
		t.Errorf("a %d-byte line was not logged whole", len(long))
	}
	// Straddling the cap itself.
	out.Reset()
	over := strings.Repeat("b", maxStrayLine-10) + secret
	w.Write([]byte(over[:maxStrayLine-20]))
	w.Write([]byte(over[maxStrayLine-20:]))
	w.Write([]byte("\nnext\n"))
	got := out.String()
	if strings.Contains(got, "bbbb") || strings.Contains(got, secret[:10]) {
		t.Errorf("part of an over-cap line was logged: %.200q", got)
	}
	if !strings.Contains(got, "withheld") || !strings.Contains(got, fmt.Sprint(len(over))) || !strings.Contains(got, "line=next") {
		t.Errorf("log = %.300q", got)
	}
}

// TestTextsArriveWhole: a panic value, a progress message and an unknown
// error code reach the host whole, past where the SDK used to cut them
// (512, 4096 and 64 bytes), so the host redacts before it cuts; a text
// over the SDK's own cap arrives as a note, with no part of it.
func TestTextsArriveWhole(t *testing.T) {
	const secret = "whole-secret-0123456789abcdefghij"
	panicValue := strings.Repeat("p", 500) + secret
	progress := strings.Repeat("g", 4080) + secret
	huge := strings.Repeat("h", maxTextBytes) + secret
	code := "bogus_" + strings.Repeat("c", 50) + secret
	var logs strings.Builder
	var mu sync.Mutex
	h := start(t, funcProvider{review: func(_ context.Context, req ReviewRequest, ev Events) (Result, error) {
		ev.Progress(progress)
		ev.Progress(huge)
		switch req.Route {
		case "panic":
			panic(panicValue)
		case "code":
			return Result{}, &Error{Code: ErrorCode(code), Message: "m"}
		}
		panic(huge)
	}}, time.Second)
	h.srv.logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		logs.Write(p)
		return len(p), nil
	})})

	var events []Event
	_, err := h.client.Review(context.Background(), ReviewRequest{Route: "panic"}, collect(&events))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodePluginPanic || e.Message != "provider panicked in Review: "+panicValue {
		t.Errorf("panic error = %.100v… (%d bytes)", err, len(fmt.Sprint(err)))
	}
	if len(events) != 2 || events[0].Message != progress {
		t.Fatalf("progress was not delivered whole: %d events", len(events))
	}
	if m := events[1].Message; strings.Contains(m, "hhhh") || !strings.Contains(m, "withheld") {
		t.Errorf("over-cap progress = %.100q", m)
	}

	_, err = h.client.Review(context.Background(), ReviewRequest{Route: "code"}, nil)
	if !errors.As(err, &e) || e.Code != CodeInternal || !strings.Contains(e.Message, `unknown error code "`+code+`"`) {
		t.Errorf("unknown code error = %v", err)
	}

	_, err = h.client.Review(context.Background(), ReviewRequest{Route: "huge"}, nil)
	if !errors.As(err, &e) || strings.Contains(e.Message, "hhhh") || !strings.Contains(e.Message, "provider panicked in Review: [panic value of") {
		t.Errorf("over-cap panic = %.200v", err)
	}

	// The panic is logged at debug level only (the host reports it in its
	// one line), the message on one line and the stack on its own.
	mu.Lock()
	defer mu.Unlock()
	var errLines, stack int
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "[ERROR]") || strings.Contains(l, "[WARN]") {
			t.Errorf("a panic is logged above debug level: %.200q", l)
		}
		if strings.Contains(l, "[DEBUG]") && strings.Contains(l, "provider panicked in Review: pppp") {
			errLines++
			if strings.Contains(l, "goroutine") {
				t.Errorf("the error line carries the stack: %.200q", l)
			}
		}
		if strings.Contains(l, "[DEBUG]") && strings.Contains(l, "provider panic stack") {
			stack++
		}
	}
	if errLines != 1 || stack != 2 {
		t.Errorf("%d panic lines and %d debug stacks, want 1 and 2:\n%.2000s", errLines, stack, logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
