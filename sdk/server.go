package sdk

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

// CancelGrace is how long a provider call may run after its context is
// cancelled. The conformance kit allows 2 s from cancel to a quiet plugin;
// Serve enforces the same bound at run time by killing the CLIs' process
// groups and its own and so ending the plugin, because a call that outlives
// its cancellation could still send source after the host recorded the
// review as cancelled, and its helpers would outlive the lease.
const CancelGrace = 2 * time.Second

// Exit statuses of a plugin process that Serve ends itself.
const (
	exitIgnoredCancel = 3 // a provider call ignored its cancelled context
	exitTerminated    = 1 // SIGTERM or parent death
)

// server is the plugin-side gRPC service. Every provider call goes through
// call, which supplies panic recovery, the root context and the
// cancellation guard.
type server struct {
	relayv1.UnimplementedProviderServiceServer

	provider Provider
	logger   hclog.Logger
	root     context.Context // cancelled when the plugin shuts down
	grace    time.Duration
	exit     func(code int) // stopProcess (kill the groups, then exit); tests substitute it

	inflight sync.WaitGroup
}

type outcome[T any] struct {
	v   T
	err error
}

// call runs fn on its own goroutine so that a panic is recovered into a
// plugin_panic error and a call that ignores cancellation is noticed.
func call[T any](s *server, rpcCtx context.Context, method string, fn func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithCancel(withLogger(rpcCtx, s.logger))
	defer cancel()
	defer context.AfterFunc(s.root, cancel)()

	done := make(chan outcome[T], 1)
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		defer func() {
			if r := recover(); r != nil {
				// Whole, not cut: only the host can redact it, and it cuts
				// after redacting. The host reports the failure in its one
				// line; the log and the stack are for the plugin's author
				// (RELAY_LOG=debug), not for every user's terminal.
				msg := fmt.Sprintf("provider panicked in %s: %s", method, withhold("panic value", fmt.Sprint(r)))
				s.logger.Debug(msg)
				s.logger.Debug("provider panic stack", "method", method, "stack", string(debug.Stack()))
				done <- outcome[T]{err: &Error{Code: CodePluginPanic, Message: msg}}
			}
		}()
		v, err := fn(ctx)
		done <- outcome[T]{v, err}
	}()

	select {
	case o := <-done:
		return o.v, o.err
	case <-ctx.Done():
	}
	timer := time.NewTimer(s.grace)
	defer timer.Stop()
	select {
	case o := <-done:
		return o.v, o.err
	case <-timer.C:
		// Debug: the host already reports the timeout or cancellation in
		// its one line; `relay-host plugin check` is where authors see this.
		s.logger.Debug("provider ignored cancellation; killing its process groups and ending the plugin so the abandoned work cannot continue",
			"method", method, "grace", s.grace.String())
		s.exit(exitIgnoredCancel)
		var zero T
		return zero, &Error{Code: CodeInternal, Message: "provider ignored cancellation"}
	}
}

func (s *server) Describe(ctx context.Context, _ *relayv1.DescribeRequest) (*relayv1.DescribeResponse, error) {
	d, err := call(s, ctx, "Describe", s.provider.Describe)
	if err != nil {
		return nil, unaryError(err)
	}
	d.SDKVersion = Version
	if err := d.Validate(); err != nil {
		// Refuse here too, so the author sees the problem in the plugin's
		// own log, not only as a host-side refusal.
		s.logger.Error("provider described invalid facts", "error", err)
		return nil, unaryError(&Error{Code: CodeInternal, Message: "invalid description: " + err.Error()})
	}
	return descriptionToProto(d), nil
}

func (s *server) Configure(ctx context.Context, req *relayv1.ConfigureRequest) (*relayv1.ConfigureResponse, error) {
	c, ok := s.provider.(Configurer)
	if !ok {
		return &relayv1.ConfigureResponse{}, nil
	}
	settings := settingsFromProto(req)
	errs, err := call(s, ctx, "Configure", func(ctx context.Context) ([]AttributeError, error) {
		return c.Configure(ctx, settings), nil
	})
	if err != nil {
		return nil, unaryError(err)
	}
	return attributeErrorsToProto(errs), nil
}

func (s *server) Review(req *relayv1.ReviewRequest, stream grpc.ServerStreamingServer[relayv1.ReviewResponse]) error {
	r := reviewRequestFromProto(req)
	ev := &events{stream: stream, logger: s.logger}
	res, err := call(s, stream.Context(), "Review", func(ctx context.Context) (Result, error) {
		res, err := s.provider.Review(ctx, r, ev)
		if err == nil {
			err = hold(ctx, r.Settings)
		}
		return res, err
	})
	// From here on the provider can no longer send events, even from a
	// goroutine it leaked, so the terminal event is the last one.
	transmitted := ev.close()

	var terminal *relayv1.ReviewResponse
	if err != nil {
		e := s.reviewError(stream.Context(), err)
		s.logger.Debug("review failed", "code", string(e.Code), "transmitted", transmitted)
		terminal = &relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Error{Error: errorToProto(e, transmitted)}}
	} else {
		terminal = &relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Result{Result: resultToProto(res)}}
		if n := proto.Size(terminal); n > MaxMessageBytes-1024 {
			e := &Error{Code: CodeBadOutput, Message: fmt.Sprintf("review is %d bytes, more than the %d byte message limit", n, MaxMessageBytes)}
			terminal = &relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Error{Error: errorToProto(e, transmitted)}}
		}
	}
	return stream.Send(terminal)
}

// reviewError types whatever a provider's Review returned.
func (s *server) reviewError(rpcCtx context.Context, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		return &c
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(rpcCtx.Err(), context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Message: "review deadline exceeded"}
	case errors.Is(err, context.Canceled) || rpcCtx.Err() != nil || s.root.Err() != nil:
		return &Error{Code: CodeCancelled, Message: "review cancelled"}
	}
	return &Error{Code: CodeReviewFailed, Message: err.Error()}
}

// unaryError maps a Describe/Configure failure to a gRPC status carrying a
// relay.v1.Error detail, so the client can return a typed *Error.
func unaryError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeInternal, Message: err.Error()}
	}
	st, derr := status.New(codes.Unknown, e.Error()).WithDetails(
		&relayv1.Error{Code: string(e.Code), Message: e.Message})
	if derr != nil {
		return status.Error(codes.Unknown, e.Error())
	}
	return st.Err()
}

// events implements Events on a Review stream.
type events struct {
	stream grpc.ServerStreamingServer[relayv1.ReviewResponse]
	logger hclog.Logger

	mu          sync.Mutex
	closed      bool
	transmitted bool
}

func (e *events) Progress(msg string) {
	e.send(&relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Progress{
		Progress: &relayv1.Progress{Message: withhold("progress message", msg)},
	}}, false)
}

func (e *events) Transmission() {
	e.send(&relayv1.ReviewResponse{Event: &relayv1.ReviewResponse_Transmission{
		Transmission: &relayv1.Transmission{},
	}}, true)
}

func (e *events) send(m *relayv1.ReviewResponse, transmission bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || (transmission && e.transmitted) {
		return
	}
	if transmission {
		// Recorded before sending: if the send fails the host may not know,
		// but the terminal error must still say the source was sent.
		e.transmitted = true
	}
	if err := e.stream.Send(m); err != nil {
		e.logger.Debug("review event not delivered", "error", err)
	}
}

// close stops further events and reports whether a transmission happened.
func (e *events) close() (transmitted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return e.transmitted
}

type loggerKey struct{}

func withLogger(ctx context.Context, l hclog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the plugin's logger from a context passed to a provider
// method. Its output goes to the plugin's real stderr as JSON, which
// relay-host parses and logs at the entry's level; never write logs to
// stdout. Outside a provider call it returns a logger that discards.
func Logger(ctx context.Context) hclog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(hclog.Logger); ok {
		return l
	}
	return hclog.NewNullLogger()
}
