package fakemodel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// sseEvent is one Server-Sent Event as a spec-following reader sees it.
type sseEvent struct{ name, data string }

// readSSE parses an SSE body by the WHATWG rules: comment lines (":") are
// skipped, an event ends at a blank line, data lines are joined. It also
// returns the number of comments seen.
func readSSE(t *testing.T, body io.Reader) (events []sseEvent, comments int) {
	t.Helper()
	sc := bufio.NewScanner(body)
	var cur sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				cur.data = strings.Join(data, "\n")
				events = append(events, cur)
			}
			cur, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
			comments++
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		default:
			t.Fatalf("line %q is not SSE", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 {
		t.Fatalf("stream ends inside an event: %q", data)
	}
	return events, comments
}

func post(t *testing.T, url string, header map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func openAIClient(base string) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	return &c
}

func chatParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("diff --git a/x b/x")},
	}
}

func TestOpenAIJSONOnEveryPath(t *testing.T) {
	s := New(t)
	for _, tc := range []struct{ base, path string }{
		{s.URL + "/v1", "/v1/chat/completions"},
		{s.URL, "/chat/completions"},
		{s.URL + "/api/paas/v4", "/api/paas/v4/chat/completions"},
	} {
		c := openAIClient(tc.base)
		res, err := c.Chat.Completions.New(context.Background(), chatParams("deepseek-v4-flash"))
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got := res.Choices[0].Message.Content; got != DefaultReply {
			t.Errorf("%s: content %q, want %q", tc.path, got, DefaultReply)
		}
		if res.Model != "deepseek-v4-flash" || res.Usage.PromptTokens == 0 || res.Usage.CompletionTokens == 0 {
			t.Errorf("%s: model %q usage %+v", tc.path, res.Model, res.Usage)
		}
		reqs := s.Requests()
		r := reqs[len(reqs)-1]
		if r.Path != tc.path || r.Format != FormatOpenAI || r.Model != "deepseek-v4-flash" || r.Stream || r.Prompt != "be brief\ndiff --git a/x b/x" {
			t.Errorf("recorded %+v", r)
		}
		if r.Header.Get("Authorization") != "Bearer sk-test" {
			t.Errorf("authorization header %q", r.Header.Get("Authorization"))
		}
	}
}

func TestOpenAIStream(t *testing.T) {
	s := New(t)
	s.SetModelName("served-model")
	s.SetReply("line one\nline two\n\nVerdict: REQUEST_CHANGES")
	c := openAIClient(s.URL + "/v1")
	p := chatParams("asked-model")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(context.Background(), p)
	var acc openai.ChatCompletionAccumulator
	deltas := 0
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			deltas++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "line one\nline two\n\nVerdict: REQUEST_CHANGES" {
		t.Errorf("content %q", got)
	}
	if deltas < 2 {
		t.Errorf("%d content deltas, want several", deltas)
	}
	if acc.Model != "served-model" || acc.Usage.TotalTokens == 0 {
		t.Errorf("model %q usage %+v", acc.Model, acc.Usage)
	}
	if r := s.Requests()[0]; !r.Stream || r.Model != "asked-model" {
		t.Errorf("recorded %+v", r)
	}

	// Framing, read raw: data-only events, a usage chunk only when asked,
	// [DONE] last.
	for _, usage := range []bool{false, true} {
		body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		if usage {
			body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		}
		res := post(t, s.URL+"/chat/completions", nil, body)
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("content type %q", ct)
		}
		events, _ := readSSE(t, res.Body)
		if last := events[len(events)-1]; last.data != "[DONE]" {
			t.Errorf("last event %q, want [DONE]", last.data)
		}
		sawUsage := false
		for _, ev := range events[:len(events)-1] {
			var ch struct {
				Object string          `json:"object"`
				Usage  json.RawMessage `json:"usage"`
			}
			if err := json.Unmarshal([]byte(ev.data), &ch); err != nil || ch.Object != "chat.completion.chunk" || ev.name != "" {
				t.Errorf("event %+v: %v", ev, err)
			}
			sawUsage = sawUsage || len(ch.Usage) > 0
		}
		if sawUsage != usage {
			t.Errorf("include_usage=%v: usage chunk present %v", usage, sawUsage)
		}
	}
}

func TestKeepAlives(t *testing.T) {
	s := New(t)
	s.SetKeepAlives(3)
	// SSE: comments before the first event, skipped by a real client.
	res := post(t, s.URL+"/chat/completions", nil, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	raw, _ := io.ReadAll(res.Body)
	if !bytes.HasPrefix(raw, []byte(strings.Repeat(": keep-alive\n\n", 3)+"data: ")) {
		t.Errorf("stream starts %q", raw[:min(len(raw), 60)])
	}
	if _, comments := readSSE(t, bytes.NewReader(raw)); comments != 3 {
		t.Errorf("%d comments, want 3", comments)
	}
	oc := openAIClient(s.URL)
	stream := oc.Chat.Completions.NewStreaming(context.Background(), chatParams("m"))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if stream.Err() != nil || acc.Choices[0].Message.Content != DefaultReply {
		t.Errorf("openai-go stream after keep-alives: %v %+v", stream.Err(), acc.Choices)
	}
	// JSON: blank lines before the body.
	res = post(t, s.URL+"/chat/completions", nil, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	raw, _ = io.ReadAll(res.Body)
	if !bytes.HasPrefix(raw, []byte("\n\n\n{")) {
		t.Errorf("body starts %q", raw[:min(len(raw), 20)])
	}
	got, err := openAIClient(s.URL).Chat.Completions.New(context.Background(), chatParams("m"))
	if err != nil || got.Choices[0].Message.Content != DefaultReply {
		t.Errorf("openai-go after blank lines: %v", err)
	}
}

func TestAnthropic(t *testing.T) {
	s := New(t)
	s.SetReply("a\nb\n\nVerdict: APPROVE")
	body := `{"model":"claude-x","max_tokens":100,"stream":true,"system":[{"type":"text","text":"sys"}],"messages":[{"role":"user","content":[{"type":"text","text":"diff"}]}]}`
	res := post(t, s.URL+"/v1/messages?beta=true", map[string]string{"x-api-key": "k"}, body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events, _ := readSSE(t, res.Body)
	var names []string
	var text strings.Builder
	var stop string
	var outTokens int
	for _, ev := range events {
		var e struct {
			Type    string `json:"type"`
			Message struct {
				Model string `json:"model"`
			} `json:"message"`
			Delta struct {
				Type       string `json:"type"`
				Text       string `json:"text"`
				StopReason string `json:"stop_reason"`
			} `json:"delta"`
			Usage struct {
				OutputTokens int `json:"output_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil || e.Type != ev.name {
			t.Fatalf("event %+v: %v", ev, err)
		}
		switch e.Type {
		case "message_start":
			if e.Message.Model != "claude-x" {
				t.Errorf("model %q", e.Message.Model)
			}
		case "content_block_delta":
			if e.Delta.Type != "text_delta" {
				t.Errorf("delta type %q", e.Delta.Type)
			}
			text.WriteString(e.Delta.Text)
		case "message_delta":
			stop, outTokens = e.Delta.StopReason, e.Usage.OutputTokens
		}
		if e.Type != "ping" && (len(names) == 0 || names[len(names)-1] != e.Type) {
			names = append(names, e.Type)
		}
	}
	want := "message_start content_block_start content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want {
		t.Errorf("events %v, want %s", names, want)
	}
	if text.String() != "a\nb\n\nVerdict: APPROVE" || stop != "end_turn" || outTokens == 0 {
		t.Errorf("text %q stop %q tokens %d", text.String(), stop, outTokens)
	}
	r := s.Requests()[0]
	if r.Format != FormatAnthropic || r.Query != "beta=true" || !r.Stream || r.Prompt != "sys\ndiff" || r.Header.Get("x-api-key") != "k" {
		t.Errorf("recorded %+v", r)
	}

	// Non-streaming: the JSON message.
	res = post(t, s.URL+"/v1/messages", nil, `{"model":"claude-x","max_tokens":10,"system":"s","messages":[{"role":"user","content":"d"}]}`)
	var msg struct {
		Type    string `json:"type"`
		Content []struct{ Type, Text string }
		Usage   struct {
			InputTokens int `json:"input_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(res.Body).Decode(&msg); err != nil || msg.Type != "message" || msg.Content[0].Text != "a\nb\n\nVerdict: APPROVE" || msg.Usage.InputTokens == 0 {
		t.Errorf("message %+v: %v", msg, err)
	}

	req, _ := http.NewRequest(http.MethodHead, s.URL+"/", nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("HEAD /: %v %v", res, err)
	}
}

type geminiChunk struct {
	Candidates []struct {
		Content struct {
			Parts []struct{ Text string }
			Role  string
		}
		FinishReason string
	}
	UsageMetadata struct{ PromptTokenCount, CandidatesTokenCount, TotalTokenCount int }
	ModelVersion  string
}

func TestGemini(t *testing.T) {
	s := New(t)
	body := `{"systemInstruction":{"parts":[{"text":"sys"}]},"contents":[{"role":"user","parts":[{"text":"diff"}]}]}`
	res := post(t, s.URL+"/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", map[string]string{"x-goog-api-key": "gk"}, body)
	events, _ := readSSE(t, res.Body)
	var text strings.Builder
	var last geminiChunk
	for _, ev := range events {
		var c geminiChunk
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatal(err)
		}
		if c.Candidates[0].Content.Role != "model" {
			t.Errorf("role %q", c.Candidates[0].Content.Role)
		}
		text.WriteString(c.Candidates[0].Content.Parts[0].Text)
		last = c
	}
	if len(events) < 2 || text.String() != DefaultReply || last.Candidates[0].FinishReason != "STOP" || last.ModelVersion != "gemini-2.5-pro" || last.UsageMetadata.TotalTokenCount == 0 {
		t.Errorf("%d events, text %q, last %+v", len(events), text.String(), last)
	}
	r := s.Requests()[0]
	if r.Format != FormatGemini || r.Model != "gemini-2.5-pro" || !r.Stream || r.Query != "alt=sse" || r.Prompt != "sys\ndiff" || r.Header.Get("x-goog-api-key") != "gk" {
		t.Errorf("recorded %+v", r)
	}

	res = post(t, s.URL+"/v1beta/models/gemini-2.5-flash:generateContent", nil, body)
	var c geminiChunk
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil || c.Candidates[0].Content.Parts[0].Text != DefaultReply || c.Candidates[0].FinishReason != "STOP" {
		t.Errorf("generateContent: %+v %v", c, err)
	}
	if r := s.Requests()[1]; r.Stream || r.Model != "gemini-2.5-flash" {
		t.Errorf("recorded %+v", r)
	}
}

func TestFailures(t *testing.T) {
	s := New(t)
	status := func() (int, string) {
		res := post(t, s.URL+"/v1/chat/completions", nil, `{"model":"m","messages":[]}`)
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	s.FailWith(429, GLMRateLimit)
	for range 3 {
		if code, body := status(); code != 429 || body != GLMRateLimit {
			t.Fatalf("FailWith: %d %s", code, body)
		}
	}
	// openai-go reads the canned body as an API error.
	_, err := openAIClient(s.URL+"/v1").Chat.Completions.New(context.Background(), chatParams("m"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "1302" {
		t.Errorf("openai-go error %v", err)
	}
	s.Clear()
	if code, _ := status(); code != 200 {
		t.Errorf("after Clear: %d", code)
	}
	s.FailNext(2, 402, DeepSeekInsufficientBalance)
	for i, want := range []int{402, 402, 200, 200} {
		if code, body := status(); code != want || (want == 402 && body != DeepSeekInsufficientBalance) {
			t.Errorf("request %d: %d %s, want %d", i, code, body, want)
		}
	}
	for _, b := range []string{AnthropicRateLimit, AnthropicAuth, GeminiRateLimit, GeminiAuth, OpenAIRateLimit, OpenAIAuth, DeepSeekInsufficientBalance, GLMRateLimit, GLMNoBalance} {
		var v struct {
			Error map[string]any `json:"error"`
		}
		if err := json.Unmarshal([]byte(b), &v); err != nil || v.Error["message"] == nil {
			t.Errorf("canned body %s: %v", b, err)
		}
	}
}

// TestFailHeaders: a failure carries the headers set (Retry-After), through
// the control API too; a success and Clear drop them.
func TestFailHeaders(t *testing.T) {
	s := New(t)
	retryAfter := func() (int, string) {
		res := post(t, s.URL+"/v1/chat/completions", nil, `{"model":"m","messages":[]}`)
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	if res := post(t, s.URL+"/_fakemodel/set", nil, `{"fail_status":429,"fail_body":"{}","fail_headers":{"Retry-After":"30"}}`); res.StatusCode != http.StatusNoContent {
		t.Fatalf("set: HTTP %d", res.StatusCode)
	}
	if code, ra := retryAfter(); code != 429 || ra != "30" {
		t.Errorf("failure: HTTP %d, Retry-After %q; want 429 with 30", code, ra)
	}
	s.FailNext(1, 500, "{}")
	s.SetFailHeader("Retry-After", "")
	if code, ra := retryAfter(); code != 500 || ra != "" {
		t.Errorf("header removed: HTTP %d, Retry-After %q", code, ra)
	}
	s.SetFailHeader("Retry-After", "5")
	if code, ra := retryAfter(); code != 200 || ra != "" {
		t.Errorf("success: HTTP %d, Retry-After %q; want none", code, ra)
	}
	s.FailWith(429, "{}")
	s.Clear()
	s.FailWith(429, "{}")
	if _, ra := retryAfter(); ra != "" {
		t.Errorf("after Clear: Retry-After %q", ra)
	}
}

func TestDropConnection(t *testing.T) {
	s := New(t)
	s.SetDropConnection(true)
	_, err := openAIClient(s.URL).Chat.Completions.New(context.Background(), chatParams("m"))
	if err == nil {
		t.Error("JSON answer: no error from a dropped connection")
	}
	oc := openAIClient(s.URL)
	stream := oc.Chat.Completions.NewStreaming(context.Background(), chatParams("m"))
	n := 0
	for stream.Next() {
		n++
	}
	if !errors.Is(stream.Err(), io.ErrUnexpectedEOF) {
		t.Errorf("stream: %d chunks, err %v; want an unexpected EOF", n, stream.Err())
	}
	s.SetDropConnection(false)
	if _, err := openAIClient(s.URL).Chat.Completions.New(context.Background(), chatParams("m")); err != nil {
		t.Errorf("after drop off: %v", err)
	}
}

func TestDelayHonoursDisconnect(t *testing.T) {
	s := New(t)
	s.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := openAIClient(s.URL).Chat.Completions.New(ctx, chatParams("m")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	// The handler must end when the client goes away, not an hour later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := s.inFlight
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delayed handler is still running after its client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMaxInFlight(t *testing.T) {
	s := New(t)
	const n = 5
	// Held until all five are in flight together; a miscount would leave
	// them waiting for the whole minute.
	s.SetDelay(time.Minute)
	s.SetReleaseAt(n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := openAIClient(s.URL).Chat.Completions.New(context.Background(), chatParams("m"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := s.MaxInFlight(); got != n {
		t.Errorf("MaxInFlight %d, want %d", got, n)
	}
	// Sequential requests never raise the peak above one at a time.
	s2 := New(t)
	for range 3 {
		openAIClient(s2.URL).Chat.Completions.New(context.Background(), chatParams("m"))
	}
	if got := s2.MaxInFlight(); got != 1 {
		t.Errorf("sequential MaxInFlight %d, want 1", got)
	}
}

func TestUnknownPath(t *testing.T) {
	s := New(t)
	res := post(t, s.URL+"/v2/whatever", nil, `{}`)
	if res.StatusCode != 404 {
		t.Errorf("status %d", res.StatusCode)
	}
	res2, err := http.Get(s.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	var list struct {
		Data []struct{ ID string }
	}
	if json.NewDecoder(res2.Body).Decode(&list); len(list.Data) != 1 {
		t.Errorf("models %+v", list)
	}
}

func TestReleaseAndControl(t *testing.T) {
	s := New(t)
	s.SetDelay(time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := openAIClient(s.URL).Chat.Completions.New(context.Background(), chatParams("m"))
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); len(s.Requests()) < 1; {
		if time.Now().After(deadline) {
			t.Fatal("request never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Through the control API, as a test in another process drives it.
	ctl := func(body string) {
		res := post(t, s.URL+"/_fakemodel/set", nil, body)
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("set %s: %d", body, res.StatusCode)
		}
	}
	ctl(`{"release":true}`)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Release did not end the delay")
	}
	ctl(`{"fail_status":429,"fail_body":"x","fail_next":1,"reply":"r"}`)
	for i, want := range []int{429, 200} {
		if res := post(t, s.URL+"/v1/chat/completions", nil, `{"model":"m","messages":[]}`); res.StatusCode != want {
			t.Errorf("request %d: %d, want %d", i, res.StatusCode, want)
		}
	}
	var reqs []Request
	res, err := http.Get(s.URL + "/_fakemodel/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&reqs); err != nil || len(reqs) != 3 || reqs[2].Format != FormatOpenAI {
		t.Errorf("requests over the control API: %d, %v (control requests must not be recorded)", len(reqs), err)
	}
	res2, err := http.Get(s.URL + "/_fakemodel/canned")
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	var canned map[string]string
	if json.NewDecoder(res2.Body).Decode(&canned); canned["GLMNoBalance"] != GLMNoBalance {
		t.Errorf("canned %v", canned)
	}
}

// TestHold: a held request stays in flight until Release, however long;
// Hold comes through the control API too.
func TestHold(t *testing.T) {
	s := New(t)
	if res := post(t, s.URL+"/_fakemodel/set", nil, `{"hold":true}`); res.StatusCode != http.StatusNoContent {
		t.Fatalf("set hold: %d", res.StatusCode)
	}
	done := make(chan int, 1)
	go func() {
		res, err := http.Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","max_tokens":8192,"messages":[]}`))
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	for deadline := time.Now().Add(10 * time.Second); len(s.Requests()) < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("request never arrived")
		}
	}
	select {
	case code := <-done:
		t.Fatalf("a held request was answered (%d)", code)
	case <-time.After(300 * time.Millisecond):
	}
	if n := s.MaxInFlight(); n != 1 {
		t.Errorf("in flight %d, want 1", n)
	}
	s.Release()
	select {
	case code := <-done:
		if code != 200 {
			t.Errorf("after Release: status %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Release did not end the hold")
	}
	if res := post(t, s.URL+"/v1/messages", nil, `{"model":"m","max_tokens":1024,"messages":[]}`); res.StatusCode != 200 {
		t.Errorf("after Release, a new request: %d", res.StatusCode)
	}
	if r := s.Requests(); r[0].MaxTokens != 8192 || r[1].MaxTokens != 1024 {
		t.Errorf("max_tokens recorded %d, %d; want 8192, 1024", r[0].MaxTokens, r[1].MaxTokens)
	}
}
