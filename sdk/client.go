package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/status"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

// ProviderClient is the host's view of a running plugin, dispensed by
// go-plugin under [PluginName]:
//
//	raw, err := rpcClient.Dispense(sdk.PluginName)
//	provider := raw.(sdk.ProviderClient)
type ProviderClient interface {
	// Describe returns the plugin's validated description; a plugin whose
	// facts are invalid yields an error, never a Description.
	Describe(ctx context.Context) (Description, error)

	// Configure sends settings and returns the plugin's attribute errors.
	// The error result is for failures of the call itself.
	Configure(ctx context.Context, s Settings) ([]AttributeError, error)

	// Review runs a review, delivering progress and transmission events to
	// onEvent in order on the calling goroutine (transmission at most once).
	// It returns the result; or an [*Error] when the plugin reported a
	// typed failure (NotSent already checked against the pre-send rule and
	// the events seen); or another error for a transport or protocol
	// failure, after which the source may have been sent. A cancelled or
	// expired ctx yields an error matching ctx.Err() with errors.Is.
	Review(ctx context.Context, req ReviewRequest, onEvent func(Event)) (Result, error)
}

// EventKind is the kind of a non-terminal review event.
type EventKind string

const (
	EventProgress     EventKind = "progress"
	EventTransmission EventKind = "transmission"
)

// Event is a non-terminal review event. Message is set for progress.
type Event struct {
	Kind    EventKind
	Message string
}

// client implements ProviderClient over the generated gRPC client.
type client struct {
	rpc relayv1.ProviderServiceClient
}

func (c *client) Describe(ctx context.Context) (Description, error) {
	resp, err := c.rpc.Describe(ctx, &relayv1.DescribeRequest{})
	if err != nil {
		return Description{}, rpcError(ctx, "describe", err)
	}
	d, err := descriptionFromProto(resp)
	if err != nil {
		return Description{}, fmt.Errorf("plugin described invalid facts: %w", err)
	}
	return d, nil
}

func (c *client) Configure(ctx context.Context, s Settings) ([]AttributeError, error) {
	resp, err := c.rpc.Configure(ctx, settingsToProto(s))
	if err != nil {
		return nil, rpcError(ctx, "configure", err)
	}
	return attributeErrorsFromProto(resp), nil
}

func (c *client) Review(ctx context.Context, req ReviewRequest, onEvent func(Event)) (Result, error) {
	if onEvent == nil {
		onEvent = func(Event) {}
	}
	// Cancelling the call is how the host cancels the review; make sure the
	// stream is torn down on every return path.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Review(ctx, reviewRequestToProto(req))
	if err != nil {
		return Result{}, rpcError(ctx, "review", err)
	}
	transmitted := false
	var terminal *relayv1.ReviewResponse
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Result{}, rpcError(ctx, "review", err)
		}
		if terminal != nil {
			return Result{}, errors.New("plugin protocol violation: review event after the terminal event")
		}
		switch e := msg.GetEvent().(type) {
		case *relayv1.ReviewResponse_Progress:
			onEvent(Event{Kind: EventProgress, Message: e.Progress.GetMessage()})
		case *relayv1.ReviewResponse_Transmission:
			if !transmitted {
				transmitted = true
				onEvent(Event{Kind: EventTransmission})
			}
		case *relayv1.ReviewResponse_Result, *relayv1.ReviewResponse_Error:
			terminal = msg
		default:
			// An event kind from a newer protocol revision: skipping it is
			// safe because a terminal event is still required below.
		}
	}
	switch e := terminal.GetEvent().(type) {
	case *relayv1.ReviewResponse_Result:
		return resultFromProto(e.Result), nil
	case *relayv1.ReviewResponse_Error:
		return Result{}, errorFromProto(e.Error, transmitted)
	}
	return Result{}, errors.New("plugin protocol violation: review stream ended without a result or error")
}

// rpcError turns a failed call into the error the host sees: the caller's
// own cancellation as ctx.Err(), a typed plugin failure (status detail) as
// *Error, anything else as a transport error.
func rpcError(ctx context.Context, method string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", method, ctxErr)
	}
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if pe, ok := d.(*relayv1.Error); ok {
				return errorFromProto(pe, true)
			}
		}
	}
	return fmt.Errorf("%s rpc: %w", method, err)
}
