package mcpserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/relay-host/relay-host/host/sanitize"
)

const secret = "sk-live-0123456789abcdef-planted"

// connect serves b in memory and returns a client session on it.
func connect(t *testing.T, b Backend) *mcp.ClientSession {
	t.Helper()
	s := New(b)
	t.Cleanup(s.Shutdown)
	st, ct := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestEverythingReturnedIsScrubbed: a secret in a record, in a finished
// review, or in an error never reaches the client, and an error is one line.
func TestEverythingReturnedIsScrubbed(t *testing.T) {
	sc := sanitize.NewScrubber(sanitize.Policy{})
	sc.AddSecrets(secret)
	b := Backend{
		Name: "relay-host", Version: "test", Scrub: sc.Review,
		Record: func(id string) (*ReviewOutput, bool, error) {
			if id == "bad" {
				return nil, false, errors.New("cannot read job:\n" + secret)
			}
			return &ReviewOutput{JobID: id, Status: "completed", Review: "the key is " + secret,
				Reviewers: []ReviewerStatus{{Reviewer: "echo", Status: "failed", Error: "leaked " + secret}}}, true, nil
		},
		Start: func(context.Context, ReviewRequest) (*Started, error) {
			return &Started{JobID: "j1", Run: func(context.Context, func(string)) *ReviewOutput {
				return &ReviewOutput{JobID: "j1", Status: "completed", Error: secret}
			}}, nil
		},
	}
	cs := connect(t, b)
	ctx := context.Background()
	for _, call := range []*mcp.CallToolParams{
		{Name: "review_status", Arguments: map[string]any{"job_id": "j0"}},
		{Name: "review_status", Arguments: map[string]any{"job_id": "bad"}},
		{Name: "review", Arguments: map[string]any{"wait_seconds": 30}},
	} {
		res, err := cs.CallTool(ctx, call)
		if err != nil {
			t.Fatalf("%s: %v", call.Name, err)
		}
		var all strings.Builder
		for _, c := range res.Content {
			all.WriteString(c.(*mcp.TextContent).Text)
		}
		if strings.Contains(all.String(), secret) {
			t.Errorf("%s %v returned the secret: %s", call.Name, call.Arguments, all.String())
		}
		if call.Name == "review" && res.IsError {
			t.Errorf("review: %s", all.String())
		}
		if res.IsError && strings.Contains(all.String(), "\n") {
			t.Errorf("%s: the error is not one line: %q", call.Name, all.String())
		}
	}
}

// TestConfirmResendNeedsAllowResend: without --allow-resend a tool call
// cannot pass confirm_resend, and nothing starts.
func TestConfirmResendNeedsAllowResend(t *testing.T) {
	started := false
	b := Backend{Name: "relay-host", Version: "test", Scrub: func(s string) string { return s },
		Start: func(context.Context, ReviewRequest) (*Started, error) {
			started = true
			return nil, errors.New("no review here")
		}}
	res, err := connect(t, b).CallTool(context.Background(), &mcp.CallToolParams{Name: "review", Arguments: map[string]any{"confirm_resend": true}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || started || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "--allow-resend") {
		t.Errorf("confirm_resend without --allow-resend: isError %v, started %v, %v", res.IsError, started, res.Content)
	}
}
