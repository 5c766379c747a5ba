// Command relay-provider-echo is a complete example provider: it "reviews" a
// packet by counting the files and lines it changes. Setting delay (a Go
// duration) makes it slow; it honours cancellation while it waits.
package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/relay-host/relay-host/sdk"
)

type echo struct{}

func (echo) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "echo", Version: "0.1.0", Routes: []sdk.Route{
		{Name: "default", Fact: sdk.Stateless(2, "RELAY_ECHO_CONCURRENCY_LIMIT")},
	}}, nil
}

func (echo) Configure(_ context.Context, s sdk.Settings) (errs []sdk.AttributeError) {
	for route, rs := range s.Routes {
		if _, err := time.ParseDuration(rs["delay"]); rs["delay"] != "" && err != nil {
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: "delay", Message: "must be a duration such as 2s"})
		}
	}
	return errs
}

func (echo) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	delay, err := time.ParseDuration(req.Settings["delay"])
	if req.Settings["delay"] != "" && err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "delay %q is not a duration", req.Settings["delay"])
	}
	ev.Progress("reading packet")
	ev.Transmission() // a real provider calls this just before sending the source
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return sdk.Result{}, ctx.Err()
	}
	files, added, removed := 0, 0, 0
	for _, line := range strings.Split(req.Packet, "\n") {
		switch {
		case strings.HasPrefix(line, "diff --git "):
			files++
		case strings.HasPrefix(line, "+") && !strings.HasPrefix(line, "+++"):
			added++
		case strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "---"):
			removed++
		}
	}
	review := fmt.Sprintf("echo review: %d file(s) changed, %d line(s) added, %d removed.\n\nVerdict: APPROVE\n", files, added, removed)
	return sdk.Result{Review: review, Model: "echo"}, nil
}

func main() { sdk.Serve(echo{}) }
