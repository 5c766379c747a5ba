package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
	"github.com/relay-host/relay-host/sdk"
)

// events records a Review's events. onTransmission, when set, runs inside
// Transmission, so a test can look at the world at that instant.
type events struct {
	mu             sync.Mutex
	log            []string
	onTransmission func()
}

func (e *events) Progress(m string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, "progress: "+m)
}

func (e *events) Transmission() {
	if e.onTransmission != nil {
		e.onTransmission()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, "transmission")
}

func (e *events) sent() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Contains(e.log, "transmission")
}

var testReq = sdk.ReviewRequest{Route: "web", Prompt: "Review this diff.\n", Packet: "diff --git a/x b/x\n+hello\n"}

//lint:ignore ST1008 the recorded events come last: callers check them after the result
func webReview(t *testing.T, ctx context.Context, fm *fakemodel.Server, settings map[string]string) (sdk.Result, error, *events) {
	t.Helper()
	ev := &events{}
	if fm != nil {
		// The source leaves with the request: none may have arrived yet.
		ev.onTransmission = func() {
			if n := len(fm.Requests()); n != 0 {
				t.Errorf("transmission reported after %d request(s) reached the server", n)
			}
		}
	}
	req := testReq
	req.Settings = settings
	res, err := (&provider{}).Review(ctx, req, ev)
	return res, err, ev
}

func TestGrokwebWebSuccess(t *testing.T) {
	for _, key := range []string{"app-key-123", ""} {
		t.Run("key="+key, func(t *testing.T) {
			clearWebEnv(t)
			fm := fakemodel.New(t)
			t.Setenv("GROK2API_ENDPOINT", fm.URL+"/v1/")
			t.Setenv("GROK2API_API_KEY", key)
			fm.SetReply("Fine.\n\nVerdict: APPROVE")
			fm.SetKeepAlives(2)
			res, err, ev := webReview(t, context.Background(), fm, map[string]string{"model": "grok-4-fast"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Review != "Fine.\n\nVerdict: APPROVE" || res.Model != "grok-4-fast" || res.Usage == nil || res.Usage.InputTokens == 0 {
				t.Errorf("result %+v (usage %+v)", res, res.Usage)
			}
			if len(ev.log) != 3 || ev.log[1] != "transmission" {
				t.Errorf("events %q: want progress, transmission, progress", ev.log)
			}
			reqs := fm.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Path != "/v1/chat/completions" || r.Stream || r.Model != "grok-4-fast" || r.Prompt != "Review this diff.\n\ndiff --git a/x b/x\n+hello\n" {
				t.Errorf("request %s model %q stream %v prompt %q", r.Path, r.Model, r.Stream, r.Prompt)
			}
			auth := r.Header.Get("Authorization")
			if (key == "" && auth != "") || (key != "" && auth != "Bearer "+key) {
				t.Errorf("Authorization %q with key %q", auth, key)
			}
		})
	}
}

func TestGrokwebWebErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   sdk.ErrorCode
	}{
		{"429", 429, fakemodel.OpenAIRateLimit, sdk.CodeUsageLimited},
		{"401", 401, fakemodel.OpenAIAuth, sdk.CodeNotAuthenticated},
		{"403", 403, `{"detail":"Invalid API key"}`, sdk.CodeNotAuthenticated},
		{"402", 402, fakemodel.DeepSeekInsufficientBalance, sdk.CodeInsufficientBalance},
		{"500", 500, `{"detail":"Internal Server Error"}`, sdk.CodeProviderUnavailable},
		{"502", 502, `bad gateway`, sdk.CodeProviderUnavailable},
		{"404", 404, `{"detail":"Not Found"}`, sdk.CodeReviewFailed},
		{"400", 400, `{"error":{"message":"model grok-9 not found"}}`, sdk.CodeReviewFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearWebEnv(t)
			fm := fakemodel.New(t)
			t.Setenv("GROK2API_ENDPOINT", fm.URL)
			t.Setenv("GROK2API_API_KEY", "app-key-zzz")
			fm.FailWith(tt.status, tt.body)
			_, err, ev := webReview(t, context.Background(), fm, nil)
			var se *sdk.Error
			if !errors.As(err, &se) || se.Code != tt.want || se.NotSent || !ev.sent() {
				t.Fatalf("err %v, events %q; want %s after transmission", err, ev.log, tt.want)
			}
			if strings.Contains(se.Message, "\n") || strings.Contains(se.Message, "app-key-zzz") {
				t.Errorf("message %q: want one line without the key", se.Message)
			}
		})
	}
	t.Run("dropped connection", func(t *testing.T) {
		clearWebEnv(t)
		fm := fakemodel.New(t)
		t.Setenv("GROK2API_ENDPOINT", fm.URL)
		fm.SetDropConnection(true)
		_, err, _ := webReview(t, context.Background(), fm, nil)
		if !errors.Is(err, &sdk.Error{Code: sdk.CodeProviderUnavailable}) && !errors.Is(err, &sdk.Error{Code: sdk.CodeBadOutput}) {
			t.Errorf("err %v; want provider_unavailable or bad_output", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		clearWebEnv(t)
		t.Setenv("GROK2API_ENDPOINT", "http://127.0.0.1:1")
		_, err, ev := webReview(t, context.Background(), nil, nil)
		if !errors.Is(err, &sdk.Error{Code: sdk.CodeProviderUnavailable}) || !ev.sent() {
			t.Errorf("err %v; want provider_unavailable", err)
		}
	})
	t.Run("empty answer", func(t *testing.T) {
		clearWebEnv(t)
		fm := fakemodel.New(t)
		t.Setenv("GROK2API_ENDPOINT", fm.URL)
		fm.SetReply("")
		_, err, _ := webReview(t, context.Background(), fm, nil)
		if !errors.Is(err, &sdk.Error{Code: sdk.CodeBadOutput}) {
			t.Errorf("err %v; want bad_output", err)
		}
	})
}

func TestGrokwebWebNoTarget(t *testing.T) {
	clearWebEnv(t)
	_, err, ev := webReview(t, context.Background(), nil, nil)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeConfigInvalid || !se.NotSent || ev.sent() {
		t.Errorf("err %v, events %q; want config_invalid before transmission", err, ev.log)
	}
}

func TestGrokwebWebCancel(t *testing.T) {
	clearWebEnv(t)
	fm := fakemodel.New(t)
	t.Setenv("GROK2API_ENDPOINT", fm.URL)
	fm.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err, _ := webReview(t, ctx, fm, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the context's error", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("the review did not stop with its context")
	}
}
