package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/relay-host/relay-host/sdk"
)

// mapError classifies a failure that happened once the request was under
// way. None of these errors may claim the source was not sent.
func (t target) mapError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		// The host's deadline or cancellation, whatever the transport made
		// of it.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return sent(sdk.Errorf(sdk.CodeTimeout, "%s did not finish answering before the review's deadline; raise the route's timeout or try again", t.spec.label))
		}
		return ctx.Err()
	}
	var raw *rawAnswer
	var streamErr *ssestream.StreamError
	var apiErr *openai.Error
	var urlErr *url.Error
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &raw):
		e := t.apiError(raw.status, raw.body)
		var se *sdk.Error
		if errors.As(e, &se) {
			se.RetryAfter = raw.retryAfter
		}
		return e
	case errors.As(err, &streamErr):
		// An {"error":…} event inside a 200 stream.
		return t.apiError(http.StatusOK, streamErr.Event.Data)
	case errors.As(err, &apiErr):
		// Not reached while the middleware intercepts every error status;
		// kept so a change in openai-go cannot turn errors into review_failed.
		return t.apiError(apiErr.StatusCode, []byte(`{"error":`+apiErr.RawJSON()+`}`))
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return sent(sdk.Errorf(sdk.CodeBadOutput, "%s sent an answer chunk that is not valid JSON: %s", t.spec.label, oneLine(err.Error(), t.key)))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.As(err, &urlErr), isNetError(err):
		return sent(sdk.Errorf(sdk.CodeProviderUnavailable, "%s at %s could not be reached or dropped the connection: %s; check base_url or try again",
			t.spec.label, t.host(), oneLine(innermost(err).Error(), t.key)))
	default:
		return sent(sdk.Errorf(sdk.CodeReviewFailed, "%s request failed: %s", t.spec.label, oneLine(err.Error(), t.key)))
	}
}

// apiError classifies an error answer from the service.
func (t target) apiError(status int, body []byte) error {
	info := parseErrorBody(body)
	msg := oneLine(info.message, t.key)
	if msg == "" {
		msg = oneLine(snippet(body), t.key)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if t.spec.glmCodes {
		// GLM puts the meaning in error.code: HTTP 429 carries both a
		// retryable rate limit (1302) and a final "no balance" (1113), and
		// a business error can even arrive with HTTP 200.
		if n, err := strconv.Atoi(info.code); err == nil && n >= 1000 && n < 2000 {
			what := fmt.Sprintf("%s error %s (HTTP %d): %s", t.spec.label, info.code, status, msg)
			switch {
			case n == 1302 || n == 1303 || n == 1305:
				return sent(sdk.Errorf(sdk.CodeUsageLimited, "%s; wait and retry, or lower %s", what, t.spec.capVar))
			case n == 1113:
				return sent(sdk.Errorf(sdk.CodeInsufficientBalance, "%s; top up the account", what))
			case n >= 1000 && n <= 1004:
				// Documented GLM authentication codes (missing, invalid or
				// expired token).
				return sent(sdk.Errorf(sdk.CodeNotAuthenticated, "%s; check %s", what, t.keyName()))
			default:
				return sent(sdk.Errorf(sdk.CodeReviewFailed, "%s", what))
			}
		}
	}
	what := fmt.Sprintf("%s answered HTTP %d: %s", t.spec.label, status, msg)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return sent(sdk.Errorf(sdk.CodeNotAuthenticated, "%s; check %s", what, t.keyName()))
	case status == http.StatusPaymentRequired:
		return sent(sdk.Errorf(sdk.CodeInsufficientBalance, "%s; top up the account", what))
	case status == http.StatusTooManyRequests:
		return sent(sdk.Errorf(sdk.CodeUsageLimited, "%s; wait and retry, or lower %s", what, t.spec.capVar))
	case status == http.StatusRequestTimeout:
		return sent(sdk.Errorf(sdk.CodeTimeout, "%s", what))
	case status >= 500:
		return sent(sdk.Errorf(sdk.CodeProviderUnavailable, "%s; try again later", what))
	case status == http.StatusNotFound:
		return sent(sdk.Errorf(sdk.CodeReviewFailed, "%s; check base_url and model", what))
	case status < 300:
		return sent(sdk.Errorf(sdk.CodeReviewFailed, "%s answered with an error: %s", t.spec.label, msg))
	default:
		return sent(sdk.Errorf(sdk.CodeReviewFailed, "%s", what))
	}
}

// sent clears the not-sent claim: every error here follows transmission,
// including not_authenticated from a 401 (the source went out with the
// rejected request).
func sent(e *sdk.Error) *sdk.Error {
	e.NotSent = false
	return e
}

type errorInfo struct{ code, message string }

// parseErrorBody reads {"error":{"code":…,"message":…}} where code may be a
// string (GLM, OpenAI) or a number, {"error":"text"}, {"message":…} or
// {"detail":…}. Anything else yields empty fields.
func parseErrorBody(body []byte) errorInfo {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) != nil {
		return errorInfo{}
	}
	var info errorInfo
	var obj struct {
		Code    json.RawMessage `json:"code"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(v.Error, &obj) == nil && (obj.Code != nil || obj.Message != nil) {
		info.code = scalar(obj.Code)
		info.message = scalar(obj.Message)
	} else if s := scalar(v.Error); s != "" {
		info.message = s
	}
	if info.message == "" {
		info.message = scalar(v.Message)
	}
	if info.message == "" {
		info.message = scalar(v.Detail)
	}
	return info
}

// scalar renders a JSON string or number as text; other values as compact
// JSON; null or absent as "".
func scalar(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// oneLine makes provider text fit a one-line error message: control
// characters and runs of space become one space, the key (should a service
// echo it) is removed, and the length is capped.
func oneLine(s, key string) string {
	if len(key) >= 8 {
		s = strings.ReplaceAll(s, key, "[REDACTED]")
	}
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	const max = 300
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// snippet is the start of a non-JSON body (an HTML error page, plain text).
func snippet(body []byte) string {
	s := string(body)
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.ToValidUTF8(s, "")
}

func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

// host is the service's host:port, for messages (never a path or query).
func (t target) host() string {
	if u, err := url.Parse(t.baseURL); err == nil {
		return u.Host
	}
	return "the configured base_url"
}

// keyName names the variable holding the route's key, for messages.
func (t target) keyName() string {
	if t.spec.keyEnv != "" {
		return t.spec.keyEnv
	}
	return "the variable named by api_key_env"
}
