package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
	"github.com/relay-host/relay-host/sdk"
)

// grokCall is a model call as grok 0.0.34 sends it: its tools offered, and
// live search on because the prompt says "now".
const grokCall = `{"model":"grok-code-fast-1","messages":[{"role":"user","content":"review this now"}],` +
	`"tools":[{"type":"function","function":{"name":"bash","parameters":{"type":"object"}}}],"tool_choice":"auto",` +
	`"temperature":0.7,"max_tokens":8192,"search_parameters":{"mode":"auto"}}`

// toolCallAnswer is a chat completion that calls grok's bash tool.
const toolCallAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",` +
	`"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,` +
	`"tool_calls":[{"id":"call_1","type":"function","function":{"name":"bash","arguments":"{\"command\":\"touch /tmp/x\"}"}}]}}]}`

func startGuard(t *testing.T, fake *fakemodel.Server) *toolGuard {
	t.Helper()
	g, err := startToolGuard(fake.URL + "/v1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func postCall(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	res, err := http.Post(url+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// TestGrokwebToolGuardStripsTools: what reaches the API offers no tool and asks
// for no live search; the rest of the call is as grok sent it, and a
// plain answer comes back unchanged.
func TestGrokwebToolGuardStripsTools(t *testing.T) {
	fake := fakemodel.New(t)
	g := startGuard(t, fake)
	res, body := postCall(t, g.URL, grokCall)
	if res.StatusCode != 200 || !strings.Contains(body, "Looks fine.") {
		t.Fatalf("HTTP %d %s", res.StatusCode, body)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/chat/completions" {
		t.Fatalf("upstream got %+v", reqs)
	}
	var sent map[string]json.RawMessage
	if err := json.Unmarshal(reqs[0].Body, &sent); err != nil {
		t.Fatal(err)
	}
	for _, f := range toolFields {
		if _, ok := sent[f]; ok {
			t.Errorf("the call still has %s: %s", f, reqs[0].Body)
		}
	}
	if string(sent["search_parameters"]) != `{"mode":"off"}` || reqs[0].MaxTokens != 8192 || reqs[0].Prompt != "review this now" {
		t.Errorf("upstream got %s", reqs[0].Body)
	}
	if g.Refusal() != "" {
		t.Errorf("refusal %q for a plain answer", g.Refusal())
	}
}

// TestGrokwebToolGuardRefuses: an answer that calls a tool, or that grok would
// follow elsewhere, never reaches grok: it gets a 502 it must not retry,
// and its later calls are answered by the guard, not sent.
func TestGrokwebToolGuardRefuses(t *testing.T) {
	tests := []struct {
		name   string
		status int
		answer string
		reason string
	}{
		{"tool call", 200, toolCallAnswer, "tool bash"},
		{"legacy function call", 200, `{"choices":[{"message":{"role":"assistant","function_call":{"name":"bash","arguments":"{}"}}}]}`, "called a tool"},
		{"choices as an object", 200, `{"choices":{"0":{"message":{"tool_calls":[{"function":{"name":"bash"}}]}}}}`, "not a chat completion"},
		{"redirect", 307, `{}`, "HTTP 307"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakemodel.New(t)
			fake.FailWith(tt.status, tt.answer)
			g := startGuard(t, fake)
			for i := 0; i < 2; i++ {
				res, body := postCall(t, g.URL, grokCall)
				if res.StatusCode != http.StatusBadGateway || res.Header.Get("X-Should-Retry") != "false" || strings.Contains(body, "tool_calls") || !strings.Contains(body, "relay-host refused") {
					t.Errorf("call %d: HTTP %d (x-should-retry %q) %s", i+1, res.StatusCode, res.Header.Get("X-Should-Retry"), body)
				}
			}
			if n := len(fake.Requests()); n != 1 {
				t.Errorf("%d calls reached the API; want 1 (the retry is answered by the guard)", n)
			}
			if r := g.Refusal(); !strings.Contains(r, tt.reason) {
				t.Errorf("refusal %q; want it to name %q", r, tt.reason)
			}
			var se *sdk.Error
			if err := g.Err(); !errors.As(err, &se) || se.Code != sdk.CodeReviewFailed || se.NotSent {
				t.Errorf("Err %v; want review_failed, sent", err)
			}
		})
	}
}

// TestGrokwebToolGuardBrokenAnswer: an answer that breaks off reaches grok
// as a 502 it must not retry (a plain proxy's 502 it would retry, resending
// the source), and the review fails provider_unavailable.
func TestGrokwebToolGuardBrokenAnswer(t *testing.T) {
	fake := fakemodel.New(t)
	fake.SetDropConnection(true)
	g := startGuard(t, fake)
	for i := 0; i < 2; i++ {
		if res, body := postCall(t, g.URL, grokCall); res.StatusCode != http.StatusBadGateway || res.Header.Get("X-Should-Retry") != "false" {
			t.Errorf("call %d: HTTP %d (x-should-retry %q) %s", i+1, res.StatusCode, res.Header.Get("X-Should-Retry"), body)
		}
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d calls reached the API; want 1", n)
	}
	var se *sdk.Error
	if err := g.Err(); !errors.As(err, &se) || se.Code != sdk.CodeProviderUnavailable || se.NotSent {
		t.Errorf("Err %v; want provider_unavailable, sent", err)
	}
}

// TestGrokwebToolGuardPassesErrors: an API error reaches grok as it is (grok's
// client throws on it and runs nothing; the relay behind the guard keeps
// its status and Retry-After), and the guard refuses nothing.
func TestGrokwebToolGuardPassesErrors(t *testing.T) {
	fake := fakemodel.New(t)
	fake.FailWith(429, fakemodel.OpenAIRateLimit)
	fake.SetFailHeader("Retry-After", "30")
	g := startGuard(t, fake)
	res, body := postCall(t, g.URL, grokCall)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "30" || body != fakemodel.OpenAIRateLimit || g.Err() != nil {
		t.Errorf("HTTP %d (Retry-After %q) %s; refusal %q", res.StatusCode, res.Header.Get("Retry-After"), body, g.Refusal())
	}
}

func TestGrokwebToolGuardPrefix(t *testing.T) {
	fake := fakemodel.New(t)
	g := startGuard(t, fake)
	res, _ := postCall(t, strings.TrimSuffix(g.URL, g.prefix), grokCall)
	if res.StatusCode != http.StatusNotFound || len(fake.Requests()) != 0 {
		t.Errorf("a call without the guard's token: HTTP %d, %d forwarded", res.StatusCode, len(fake.Requests()))
	}
}
