package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
	"github.com/relay-host/relay-host/sdk"
)

const testKey = "sk-apireviewer-secret-0123456789"

// events records what a Review reported, and how many requests the fake
// had received when the transmission event came.
type events struct {
	mu            sync.Mutex
	fake          *fakemodel.Server
	progress      []string
	transmissions int
	requestsAtTx  int
}

func (e *events) Progress(msg string) {
	e.mu.Lock()
	e.progress = append(e.progress, msg)
	e.mu.Unlock()
}
func (e *events) Transmission() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.transmissions == 0 && e.fake != nil {
		e.requestsAtTx = len(e.fake.Requests())
	}
	e.transmissions++
}

// reviewAt runs one in-process review of route against fake, with the
// route's base URL pointed at it.
//
//lint:ignore ST1008 the recorded events come last: callers check them after the result
func reviewAt(t *testing.T, ctx context.Context, fake *fakemodel.Server, route string, settings map[string]string) (sdk.Result, error, *events) {
	t.Helper()
	env := map[string]string{"DEEPSEEK_API_KEY": testKey, "GLM_API_KEY": testKey, "CUSTOM_KEY": testKey}
	s := map[string]string{}
	switch route {
	case "deepseek":
		env["DEEPSEEK_BASE_URL"] = fake.URL
	case "glm":
		env["GLM_BASE_URL"] = fake.URL + "/api/paas/v4"
	case "custom":
		s = map[string]string{"base_url": fake.URL + "/v1", "model": "local-model", "api_key_env": "CUSTOM_KEY"}
	}
	for k, v := range settings {
		s[k] = v
	}
	p := &provider{getenv: func(k string) string { return env[k] }}
	ev := &events{fake: fake}
	res, err := p.Review(ctx, sdk.ReviewRequest{Route: route, Prompt: "review this", Packet: "diff --git a/x b/x\n+new line\n", Settings: s}, ev)
	return res, err, ev
}

func TestReviewSuccessPerRoute(t *testing.T) {
	for _, tc := range []struct{ route, path, model string }{
		{"deepseek", "/chat/completions", "deepseek-v4-flash"},
		{"glm", "/api/paas/v4/chat/completions", "glm-4.7"},
		{"custom", "/v1/chat/completions", "local-model"},
	} {
		t.Run(tc.route, func(t *testing.T) {
			fake := fakemodel.New(t)
			fake.SetReply("One nit.\n\nVerdict: REQUEST_CHANGES")
			res, err, ev := reviewAt(t, context.Background(), fake, tc.route, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Review != "One nit.\n\nVerdict: REQUEST_CHANGES" || res.Model != tc.model || res.Usage == nil || res.Usage.InputTokens == 0 || res.Usage.OutputTokens == 0 {
				t.Errorf("result %+v usage %+v", res, res.Usage)
			}
			reqs := fake.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Path != tc.path || r.Model != tc.model || !r.Stream || r.Header.Get("Authorization") != "Bearer "+testKey {
				t.Errorf("request %s model %q stream %v auth %q", r.Path, r.Model, r.Stream, r.Header.Get("Authorization"))
			}
			var body struct {
				Messages []struct{ Role, Content string }
			}
			if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Messages) != 2 ||
				body.Messages[0].Role != "system" || body.Messages[0].Content != "review this" ||
				body.Messages[1].Role != "user" || !strings.HasPrefix(body.Messages[1].Content, "diff --git") {
				t.Errorf("messages %+v (%v)", body.Messages, err)
			}
			if ev.transmissions == 0 || ev.requestsAtTx != 0 {
				t.Errorf("transmission events %d, requests already at the fake when the first came %d; want some, and 0", ev.transmissions, ev.requestsAtTx)
			}
		})
	}
}

func TestReviewModelFromResponse(t *testing.T) {
	fake := fakemodel.New(t)
	fake.SetModelName("deepseek-v4-flash-20260101")
	res, err, _ := reviewAt(t, context.Background(), fake, "deepseek", nil)
	if err != nil || res.Model != "deepseek-v4-flash-20260101" {
		t.Errorf("model %q, err %v", res.Model, err)
	}
}

func TestReviewSkipsKeepAlives(t *testing.T) {
	fake := fakemodel.New(t)
	fake.SetKeepAlives(3)
	res, err, _ := reviewAt(t, context.Background(), fake, "deepseek", nil)
	if err != nil || res.Review != fakemodel.DefaultReply {
		t.Fatalf("review %q, err %v", res.Review, err)
	}
}

func TestReviewJSONAnswerToStreamRequest(t *testing.T) {
	// A server that ignores "stream": true, answering JSON after DeepSeek's
	// blank keep-alive lines.
	fake := fakemodel.New(t)
	fake.FailWith(200, "\n\n"+`{"id":"x","object":"chat.completion","model":"m-json","choices":[{"index":0,"message":{"role":"assistant","content":"ok\n\nVerdict: APPROVE"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3}}`)
	res, err, _ := reviewAt(t, context.Background(), fake, "custom", nil)
	if err != nil || res.Review != "ok\n\nVerdict: APPROVE" || res.Model != "m-json" || res.Usage == nil || res.Usage.InputTokens != 5 {
		t.Fatalf("result %+v, err %v", res, err)
	}
}

func TestReviewCustomWithoutKey(t *testing.T) {
	fake := fakemodel.New(t)
	_, err, _ := reviewAt(t, context.Background(), fake, "custom", map[string]string{"api_key_env": ""})
	if err != nil {
		t.Fatal(err)
	}
	if h := fake.Requests()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization %q sent without a key configured", h)
	}
}

func TestReviewErrorMapping(t *testing.T) {
	html := "<html><body><h1>502 Bad Gateway</h1></body></html>"
	tests := []struct {
		name, route string
		status      int
		body        string
		code        sdk.ErrorCode
		inMessage   string
	}{
		{"deepseek 429", "deepseek", 429, fakemodel.OpenAIRateLimit, sdk.CodeUsageLimited, "Rate limit reached"},
		{"deepseek 401", "deepseek", 401, fakemodel.OpenAIAuth, sdk.CodeNotAuthenticated, "DEEPSEEK_API_KEY"},
		{"deepseek 403", "deepseek", 403, `{"error":{"message":"forbidden"}}`, sdk.CodeNotAuthenticated, "forbidden"},
		{"deepseek 402", "deepseek", 402, fakemodel.DeepSeekInsufficientBalance, sdk.CodeInsufficientBalance, "Insufficient Balance"},
		{"deepseek 500", "deepseek", 500, `{"error":{"message":"internal"}}`, sdk.CodeProviderUnavailable, "HTTP 500"},
		{"deepseek 503", "deepseek", 503, `{"error":{"message":"Server overloaded"}}`, sdk.CodeProviderUnavailable, "Server overloaded"},
		{"deepseek 400", "deepseek", 400, `{"error":{"message":"Model Not Exist","type":"invalid_request_error"}}`, sdk.CodeReviewFailed, "Model Not Exist"},
		{"glm 429 rate limit", "glm", 429, fakemodel.GLMRateLimit, sdk.CodeUsageLimited, "1302"},
		// The HTTP status alone would say usage_limited: the code decides.
		{"glm 429 no balance", "glm", 429, fakemodel.GLMNoBalance, sdk.CodeInsufficientBalance, "1113"},
		{"glm 200 rate limit", "glm", 200, fakemodel.GLMRateLimit, sdk.CodeUsageLimited, "1302"},
		{"glm 200 no balance", "glm", 200, fakemodel.GLMNoBalance, sdk.CodeInsufficientBalance, "1113"},
		{"glm 429 1303", "glm", 429, `{"error":{"code":"1303","message":"too frequent"}}`, sdk.CodeUsageLimited, "too frequent"},
		{"glm 429 1305", "glm", 429, `{"error":{"code":"1305","message":"overloaded"}}`, sdk.CodeUsageLimited, "1305"},
		{"glm 400 other 1xxx", "glm", 400, `{"error":{"code":"1214","message":"invalid messages"}}`, sdk.CodeReviewFailed, "1214"},
		{"glm 200 other 1xxx", "glm", 200, `{"error":{"code":"1301","message":"unsafe content"}}`, sdk.CodeReviewFailed, "unsafe content"},
		{"glm 401 auth code", "glm", 401, `{"error":{"code":"1002","message":"invalid token"}}`, sdk.CodeNotAuthenticated, "GLM_API_KEY"},
		{"glm 500 no code", "glm", 500, `{"error":{"message":"boom"}}`, sdk.CodeProviderUnavailable, "boom"},
		{"custom 502 html", "custom", 502, html, sdk.CodeProviderUnavailable, "502 Bad Gateway"},
		{"custom 422 detail", "custom", 422, `{"detail":"field required"}`, sdk.CodeReviewFailed, "field required"},
		{"custom 404", "custom", 404, `{"error":{"message":"no such model"}}`, sdk.CodeReviewFailed, "check base_url"},
		{"custom numeric code", "custom", 429, `{"error":{"code":429,"message":"slow down"}}`, sdk.CodeUsageLimited, "slow down"},
		{"echoed key", "deepseek", 401, `{"error":{"message":"bad key ` + testKey + `"}}`, sdk.CodeNotAuthenticated, "[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakemodel.New(t)
			fake.FailWith(tt.status, tt.body)
			_, err, ev := reviewAt(t, context.Background(), fake, tt.route, nil)
			checkErr(t, err, tt.code, tt.inMessage)
			if ev.transmissions == 0 || ev.requestsAtTx != 0 {
				t.Errorf("transmission events %d (requests at the fake then: %d); want one before the request", ev.transmissions, ev.requestsAtTx)
			}
			if n := len(fake.Requests()); n != 1 {
				t.Errorf("%d requests: want exactly one (no retries)", n)
			}
		})
	}
}

// checkErr asserts a typed error with code, a one-line message containing
// want, no key value, and no not-sent claim unless the code is pre-send.
func checkErr(t *testing.T, err error, code sdk.ErrorCode, want string) {
	t.Helper()
	var se *sdk.Error
	if !errors.As(err, &se) {
		t.Fatalf("err %v (%T), want an *sdk.Error %s", err, err, code)
	}
	if se.Code != code || !strings.Contains(se.Message, want) || strings.Contains(se.Message, "\n") || strings.Contains(se.Message, testKey) {
		t.Errorf("got %s %q; want %s containing %q, one line, no key", se.Code, se.Message, code, want)
	}
	if se.NotSent {
		t.Errorf("%s claims not sent after the request went out", se.Code)
	}
}

func TestReviewTransportFailures(t *testing.T) {
	t.Run("empty answer", func(t *testing.T) {
		fake := fakemodel.New(t)
		fake.SetReply("")
		_, err, _ := reviewAt(t, context.Background(), fake, "deepseek", nil)
		checkErr(t, err, sdk.CodeBadOutput, "empty answer")
	})
	t.Run("dropped connection", func(t *testing.T) {
		fake := fakemodel.New(t)
		fake.SetDropConnection(true)
		_, err, _ := reviewAt(t, context.Background(), fake, "deepseek", nil)
		checkErr(t, err, sdk.CodeProviderUnavailable, "dropped the connection")
	})
	t.Run("connection refused", func(t *testing.T) {
		fake := fakemodel.New(t)
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close() // its port now refuses connections
		_, err, ev := reviewAt(t, context.Background(), fake, "custom", map[string]string{"base_url": srv.URL + "/v1"})
		checkErr(t, err, sdk.CodeProviderUnavailable, "connection refused")
		if ev.transmissions == 0 {
			t.Error("no transmission event before the attempt")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		fake := fakemodel.New(t)
		fake.SetDelay(time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err, _ := reviewAt(t, ctx, fake, "deepseek", nil)
		checkErr(t, err, sdk.CodeTimeout, "deadline")
	})
	t.Run("cancelled", func(t *testing.T) {
		fake := fakemodel.New(t)
		fake.SetDelay(time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err, _ := reviewAt(t, ctx, fake, "deepseek", nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
	t.Run("error event in stream", func(t *testing.T) {
		tg := target{spec: mustRoute("glm"), baseURL: "https://x", model: "m", key: testKey}
		err := tg.mapError(context.Background(), &ssestream.StreamError{Message: "x", Event: ssestream.Event{Data: []byte(fakemodel.GLMNoBalance)}})
		checkErr(t, err, sdk.CodeInsufficientBalance, "1113")
	})
	t.Run("content filter", func(t *testing.T) {
		tg := target{spec: mustRoute("glm"), model: "m"}
		_, err := tg.result(answer{text: "partial", finish: "sensitive"})
		checkErr(t, err, sdk.CodeReviewFailed, "content filter")
		_, err = tg.result(answer{text: "partial"})
		checkErr(t, err, sdk.CodeProviderUnavailable, "before the model finished")
	})
}

func mustRoute(name string) routeSpec {
	r, ok := lookupRoute(name)
	if !ok {
		panic(name)
	}
	return r
}
