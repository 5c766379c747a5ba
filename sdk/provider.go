package sdk

import (
	"context"
	"time"
)

// Provider is what a plugin author implements and passes to [Serve].
//
// Both methods must honour ctx: when it is cancelled, stop work (kill child
// processes; [Command] does that for you) and return within [CancelGrace].
// Serve ends the plugin process when a cancelled call does not return in
// time.
type Provider interface {
	// Describe reports the plugin's name, version and routes. It is called
	// once per launch; it should be cheap and must not contact a provider.
	Describe(ctx context.Context) (Description, error)

	// Review runs one review. Call ev.Transmission() immediately before the
	// source leaves the machine (before writing it to a CLI's stdin or
	// sending an HTTP request). Return a [Result], or an error: an [*Error]
	// carries a typed code; any other error is reported as
	// [CodeReviewFailed], and a cancelled or expired ctx as [CodeCancelled]
	// or [CodeTimeout].
	Review(ctx context.Context, req ReviewRequest, ev Events) (Result, error)
}

// Configurer is implemented by providers that take settings from relay.hcl.
// Providers without it accept any settings.
type Configurer interface {
	// Configure validates the settings and returns one AttributeError per
	// problem, or none. It may keep the settings for later Reviews; the host
	// still sends each route's effective settings with every Review.
	Configure(ctx context.Context, s Settings) []AttributeError
}

// Events reports progress of a Review to the host. Its methods are safe for
// concurrent use and do nothing once Review has returned.
type Events interface {
	// Progress sends a short human-readable status line.
	Progress(msg string)
	// Transmission records that the source is about to leave the machine.
	// Only the first call sends an event; later calls do nothing.
	Transmission()
}

// ReviewRequest is one review job.
type ReviewRequest struct {
	// Route is one of the routes the plugin described.
	Route string
	// Prompt is the review instruction text.
	Prompt string
	// Packet is the source packet: a unified diff plus context.
	Packet string
	// Settings are the route's effective settings (provider-level settings
	// overlaid by the route's). Keys beginning with "relay." are reserved.
	Settings map[string]string
	// Timeout is the host's deadline for the review, as a hint for child
	// processes; zero means none. ctx carries the authoritative deadline.
	Timeout time.Duration
}

// Result is a finished review.
type Result struct {
	// Review is the review text, ideally ending in a line
	// "Verdict: APPROVE" or "Verdict: REQUEST_CHANGES".
	Review string
	// Model names the model that wrote the review, when known.
	Model string
	// Usage is nil when token usage is unknown.
	Usage *Usage
}

// Usage is the token usage of one review.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
}

// Settings are a provider block's settings from relay.hcl.
type Settings struct {
	// Provider holds the provider-level attributes.
	Provider map[string]string
	// Routes holds each route block's attributes, keyed by route name.
	Routes map[string]map[string]string
}

// AttributeError is one problem with one attribute; the host turns it into
// an HCL diagnostic pointing at the attribute.
type AttributeError struct {
	// Route is empty for a provider-level attribute.
	Route     string
	Attribute string
	// Message is lower-case, one line, and says how to fix the value.
	Message string
}

func (e AttributeError) Error() string {
	if e.Route == "" {
		return e.Attribute + ": " + e.Message
	}
	return "route " + e.Route + ": " + e.Attribute + ": " + e.Message
}
