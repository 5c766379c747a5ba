package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/relay-host/relay-host/sdk"
)

// maxErrorBody bounds what is read of an answer that is not an event
// stream (an error body, or a whole JSON answer from a server that ignored
// "stream": true).
const maxErrorBody = 8 << 20

// progressEvery throttles "received N characters" progress lines.
const progressEvery = 2 * time.Second

// rawAnswer is an HTTP answer that openai-go is not allowed to interpret.
//
// Why not let openai-go handle it: it reads an error only from a body of
// the form {"error":{…}} and, for anything else (an HTML gateway page, a
// FastAPI {"detail":…}), returns a JSON error that loses the HTTP status;
// and it treats any 200 as a success, while GLM reports business errors
// (rate limit 1302, no balance 1113) as {"error":{"code":"…"}} even inside an
// HTTP 200, which the SSE decoder would silently read as an empty stream.
// So the middleware hands openai-go only successful event streams and
// returns everything else, raw, for mapError to classify.
type rawAnswer struct {
	status int
	body   []byte
	// retryAfter is the answer's Retry-After; 0 when it had none.
	retryAfter time.Duration
}

func (a *rawAnswer) Error() string { return fmt.Sprintf("HTTP %d", a.status) }

// answer is what a review got back, from a stream or a JSON body.
type answer struct {
	text   string
	model  string
	finish string
	usage  *sdk.Usage
}

func (t target) review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	log := sdk.Logger(ctx).With("route", t.spec.name, "model", t.model)
	ev.Progress(fmt.Sprintf("sending %s to %s (model %s)", kib(len(req.Prompt)+len(req.Packet)), t.spec.label, t.model))

	// The middleware is the last code that runs before the transport writes
	// the request, so the transmission event is emitted exactly when the
	// source is about to leave, not before validation or client setup.
	middleware := func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		ev.Transmission()
		res, err := next(r)
		if err != nil {
			return res, err
		}
		if res.StatusCode == http.StatusOK && isEventStream(res.Header.Get("Content-Type")) {
			return res, nil
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		return nil, &rawAnswer{status: res.StatusCode, body: body, retryAfter: sdk.ParseRetryAfter(res.Header.Get("Retry-After"), time.Now())}
	}
	client := openai.NewClient(
		option.WithBaseURL(t.baseURL),
		// Always set, even empty: an empty key sends no Authorization
		// header and overrides any OPENAI_API_KEY in the environment.
		option.WithAPIKey(t.key),
		// No retries: a retry resends the source and a steady 429 must fail
		// in seconds; the host's resend guard leaves the retry to the user.
		option.WithMaxRetries(0),
		option.WithMiddleware(middleware),
	)
	params := openai.ChatCompletionNewParams{
		Model: t.model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(req.Prompt),
			openai.UserMessage(req.Packet),
		},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}

	start := time.Now()
	// Streaming keeps the connection busy with progress, and DeepSeek's
	// ": keep-alive" comments are SSE comments the decoder skips.
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	defer stream.Close()
	var text strings.Builder
	var a answer
	lastProgress := time.Now()
	for stream.Next() {
		ch := stream.Current()
		if ch.Model != "" {
			a.model = ch.Model
		}
		if ch.Usage.PromptTokens > 0 || ch.Usage.CompletionTokens > 0 {
			a.usage = &sdk.Usage{InputTokens: ch.Usage.PromptTokens, OutputTokens: ch.Usage.CompletionTokens}
		}
		for _, c := range ch.Choices {
			if c.Index != 0 {
				continue
			}
			if text.Len() == 0 && c.Delta.Content != "" {
				ev.Progress(fmt.Sprintf("%s is answering", t.spec.label))
			}
			text.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				a.finish = c.FinishReason
			}
		}
		if time.Since(lastProgress) >= progressEvery {
			ev.Progress(fmt.Sprintf("received %d characters", text.Len()))
			lastProgress = time.Now()
		}
	}
	if err := stream.Err(); err != nil {
		var raw *rawAnswer
		if errors.As(err, &raw) && raw.status == http.StatusOK {
			// A 200 that is not an event stream: a JSON answer from a server
			// that ignores "stream", or a business error (GLM).
			ja, jerr := t.parseJSONAnswer(raw.body)
			if jerr != nil {
				return sdk.Result{}, jerr
			}
			a = ja
			text.Reset()
			text.WriteString(ja.text)
		} else {
			return sdk.Result{}, t.mapError(ctx, err)
		}
	}
	a.text = text.String()
	log.Debug("answer received", "finish_reason", a.finish, "chars", len(a.text), "elapsed", time.Since(start).Round(time.Millisecond))
	return t.result(a)
}

// result turns a complete answer into a Result or a typed error.
func (t target) result(a answer) (sdk.Result, error) {
	switch a.finish {
	case "sensitive", "content_filter":
		return sdk.Result{}, sdk.Errorf(sdk.CodeReviewFailed, "%s stopped the answer with its content filter (finish_reason %s)", t.spec.label, a.finish)
	case "network_error":
		// GLM's way to say the model backend failed mid-answer.
		return sdk.Result{}, sdk.Errorf(sdk.CodeProviderUnavailable, "%s ended the answer with finish_reason network_error; try again", t.spec.label)
	}
	if strings.TrimSpace(a.text) == "" {
		return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "%s returned an empty answer (finish_reason %q)", t.spec.label, a.finish)
	}
	if a.finish == "" {
		// The stream ended cleanly but the model never said it was done:
		// a truncated answer must not pass for a review.
		return sdk.Result{}, sdk.Errorf(sdk.CodeProviderUnavailable, "%s closed the answer stream before the model finished; try again", t.spec.label)
	}
	model := a.model
	if model == "" {
		model = t.model
	}
	return sdk.Result{Review: a.text, Model: model, Usage: a.usage}, nil
}

// parseJSONAnswer reads a whole chat completion (or an error) sent as JSON
// with status 200. DeepSeek may precede it with blank keep-alive lines,
// which JSON decoding skips as whitespace.
func (t target) parseJSONAnswer(body []byte) (answer, error) {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Model   string          `json:"model"`
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(body), &v); err != nil {
		return answer{}, sdk.Errorf(sdk.CodeBadOutput, "%s answered HTTP 200 with neither an event stream nor JSON: %s", t.spec.label, snippet(body))
	}
	if len(v.Error) > 0 && string(v.Error) != "null" {
		return answer{}, t.apiError(http.StatusOK, body)
	}
	if len(v.Choices) == 0 {
		return answer{}, sdk.Errorf(sdk.CodeBadOutput, "%s answered HTTP 200 without choices", t.spec.label)
	}
	a := answer{model: v.Model, text: v.Choices[0].Message.Content, finish: v.Choices[0].FinishReason}
	if v.Usage != nil {
		a.usage = &sdk.Usage{InputTokens: v.Usage.PromptTokens, OutputTokens: v.Usage.CompletionTokens}
	}
	return a, nil
}

func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/event-stream"
}

func kib(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}
