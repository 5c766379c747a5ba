package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relay-host/relay-host/sdk"
)

// maxAnswer bounds a chat completion body read from the tunnel.
const maxAnswer = 16 << 20

// webClient sends the web route's requests. It never retries (a retry would
// resend the source) and uses the environment's proxy settings, which Go
// skips for loopback tunnels. A plain net/http client rather than an SDK:
// SDK clients read OPENAI_* variables and always send an Authorization
// header, and grok2api with an empty key wants none.
var webClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	Stream   bool          `json:"stream"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// chatURL is the chat completions URL of a normalized endpoint.
func chatURL(endpoint string) string { return endpoint + "/v1/chat/completions" }

func reviewWeb(ctx context.Context, t webTarget, s settings, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	model := s.model
	if model == "" {
		model = defaultWebModel
	}
	body, err := json.Marshal(chatRequest{Model: model, Messages: []chatMessage{{Role: "user", Content: input(req)}}})
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "cannot encode the request: %v", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, chatURL(t.endpoint), bytes.NewReader(body))
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "the grok2api endpoint is not usable: %v", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if t.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+t.apiKey)
	}

	// Never the endpoint itself in a message: it is a value the host
	// redacts, and "[REDACTED]" tells the user less than "the endpoint".
	ev.Progress("sending the review to grok2api")
	ev.Transmission() // the request body (prompt and packet) leaves now
	resp, err := webClient.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return sdk.Result{}, ctx.Err()
		}
		return sdk.Result{}, sdk.Errorf(sdk.CodeProviderUnavailable, "cannot reach grok2api at the endpoint (GROK2API_ENDPOINT): %v; is the tunnel running?", rootCause(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		if ctx.Err() != nil {
			return sdk.Result{}, ctx.Err()
		}
		return sdk.Result{}, sdk.Errorf(sdk.CodeProviderUnavailable, "grok2api dropped the connection mid-answer: %v; retry", rootCause(err))
	}
	if resp.StatusCode != http.StatusOK {
		e := httpError(resp.StatusCode, data)
		// grok2api's own answer: it does no retry, and neither do we.
		e.RetryAfter = sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return sdk.Result{}, e
	}
	if len(data) > maxAnswer {
		return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "grok2api answered with more than %d MiB", maxAnswer>>20)
	}
	ev.Progress("grok2api answered")
	// Gateways may send blank keep-alive lines before a JSON body.
	var out chatResponse
	if err := json.Unmarshal(bytes.TrimSpace(data), &out); err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "grok2api's answer is not a chat completion: %v", err)
	}
	if msg := errorMessage(out.Error); msg != "" {
		return sdk.Result{}, sdk.Errorf(sdk.CodeReviewFailed, "grok2api reported an error with status 200: %s", msg)
	}
	if len(out.Choices) == 0 || out.Choices[0].Message.Content == nil || strings.TrimSpace(*out.Choices[0].Message.Content) == "" {
		return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "grok2api's answer has no message text")
	}
	res := sdk.Result{Review: *out.Choices[0].Message.Content, Model: out.Model}
	if res.Model == "" {
		res.Model = model
	}
	if out.Usage != nil {
		res.Usage = &sdk.Usage{InputTokens: out.Usage.PromptTokens, OutputTokens: out.Usage.CompletionTokens}
	}
	return res, nil
}

// httpError maps a non-200 answer to a typed error (all after sending).
func httpError(status int, body []byte) *sdk.Error {
	msg := errorMessage(body)
	if msg == "" {
		msg = shorten(strings.TrimSpace(string(body)))
	}
	if msg == "" {
		msg = "no body"
	}
	var e *sdk.Error
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e = sdk.Errorf(sdk.CodeNotAuthenticated, "grok2api refused the key (HTTP %d: %s); set GROK2API_API_KEY to the tunnel's app.api_key", status, msg)
	case status == http.StatusTooManyRequests:
		e = sdk.Errorf(sdk.CodeUsageLimited, "grok2api is rate limited (HTTP 429: %s); retry later", msg)
	case status == http.StatusPaymentRequired:
		e = sdk.Errorf(sdk.CodeInsufficientBalance, "grok2api: no credit left (HTTP 402: %s)", msg)
	case status >= 500:
		e = sdk.Errorf(sdk.CodeProviderUnavailable, "grok2api failed (HTTP %d: %s); retry later", status, msg)
	case status == http.StatusNotFound:
		e = sdk.Errorf(sdk.CodeReviewFailed, "grok2api has no chat completions here (HTTP 404: %s); check GROK2API_ENDPOINT and the model setting", msg)
	default:
		e = sdk.Errorf(sdk.CodeReviewFailed, "grok2api refused the review (HTTP %d: %s)", status, msg)
	}
	e.NotSent = false
	return e
}

// errorMessage finds the message in an error body: OpenAI's
// {"error":{"message":…}}, {"error":"…"}, or FastAPI's {"detail":…}.
func errorMessage(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return shorten(s)
	}
	var obj struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	switch {
	case obj.Message != "":
		return shorten(obj.Message)
	case len(obj.Error) > 0:
		return errorMessage(obj.Error)
	case len(obj.Detail) > 0:
		if m := errorMessage(obj.Detail); m != "" {
			return m
		}
		return shorten(string(obj.Detail))
	}
	return ""
}

// shorten keeps an error excerpt to one short line.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 240
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// rootCause drops net/http's `Post "<url>":` prefix, which repeats the
// endpoint the message already names.
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return shorten(err.Error())
}
