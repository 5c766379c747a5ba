package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/relay-host/relay-host/sdk"
)

// cliOutput is `gemini -o json`'s output: a response, or an error.
type cliOutput struct {
	Response *string `json:"response"`
	Stats    struct {
		Models map[string]struct {
			Tokens struct {
				Input      int64 `json:"input"`
				Prompt     int64 `json:"prompt"`
				Candidates int64 `json:"candidates"`
			} `json:"tokens"`
		} `json:"models"`
	} `json:"stats"`
	Error *cliError `json:"error"`
}

// cliError is {type, message, code}: code is the HTTP status for API
// errors, else the CLI's own exit code (41 auth, 52 config, 1 other).
type cliError struct {
	Type    string          `json:"type"`
	Message string          `json:"message"`
	Code    json.RawMessage `json:"code"`
}

func (e *cliError) code() int {
	var n int
	if json.Unmarshal(e.Code, &n) == nil {
		return n
	}
	return 0
}

// exitAuth is the CLI's FATAL_AUTHENTICATION_ERROR exit: its auth check
// failed, before any request was made.
const exitAuth = 41

// exitStatus maps the CLI's exit code back to an HTTP status: on API
// errors it exits with the status mod 256 (429 → 173, 401 → 145).
var exitStatus = map[int]int{173: 429, 145: 401, 147: 403, 244: 500, 246: 502, 247: 503, 248: 504}

// parseResult turns the CLI's output and exit status into a result or a
// typed error. On errors stdout is empty and the error object is the last
// JSON object on stderr, after the CLI's log lines and stack traces.
func parseResult(stdout, stderr []byte, exitCode int) (sdk.Result, error) {
	var out cliOutput
	trimmed := bytes.TrimSpace(stdout)
	if len(trimmed) > 0 && json.Unmarshal(trimmed, &out) == nil {
		if out.Error != nil {
			return sdk.Result{}, apiError(out.Error, exitCode)
		}
		if out.Response != nil {
			if strings.TrimSpace(*out.Response) == "" {
				return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "gemini returned an empty review")
			}
			if exitCode != 0 {
				return sdk.Result{}, sent(sdk.CodeReviewFailed, fmt.Sprintf("gemini exited with status %d", exitCode))
			}
			return result(out), nil
		}
	}
	if e := lastError(stderr); e != nil {
		return sdk.Result{}, apiError(e, exitCode)
	}
	if st, ok := exitStatus[exitCode]; ok {
		return sdk.Result{}, apiError(&cliError{Code: json.RawMessage(fmt.Sprint(st))}, exitCode)
	}
	if exitCode == exitAuth {
		// The auth check failed before any request, whatever stderr says.
		return sdk.Result{}, apiError(&cliError{Code: json.RawMessage(fmt.Sprint(exitAuth)), Message: lastLine(stderr)}, exitCode)
	}
	if exitCode != 0 {
		return sdk.Result{}, sent(sdk.CodeReviewFailed, fmt.Sprintf("gemini exited with status %d without a result%s", exitCode, detail(lastLine(stderr))))
	}
	return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "gemini printed no JSON result; is cli_path a Gemini CLI?")
}

func result(out cliOutput) sdk.Result {
	res := sdk.Result{Review: *out.Response}
	// The model that wrote most tokens (a run normally uses one).
	names := make([]string, 0, len(out.Stats.Models))
	for n := range out.Stats.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if res.Model == "" || out.Stats.Models[n].Tokens.Candidates > out.Stats.Models[res.Model].Tokens.Candidates {
			res.Model = n
		}
	}
	if res.Model != "" {
		t := out.Stats.Models[res.Model].Tokens
		in := t.Prompt
		if in == 0 {
			in = t.Input
		}
		res.Usage = &sdk.Usage{InputTokens: in, OutputTokens: t.Candidates}
	}
	return res
}

// lastError finds the last JSON object with an "error" member in s.
func lastError(s []byte) *cliError {
	for end := len(s); end > 0; {
		i := bytes.LastIndexByte(s[:end], '{')
		if i < 0 {
			return nil
		}
		// Only an object that starts a line is a candidate.
		if i == 0 || s[i-1] == '\n' {
			var out cliOutput
			if json.NewDecoder(bytes.NewReader(s[i:])).Decode(&out) == nil && out.Error != nil {
				return out.Error
			}
		}
		end = i
	}
	return nil
}

// apiError maps the CLI's error object. Every branch but the CLI's own
// auth check (exit 41, which stops before any request) may follow a
// request, so only that one claims not sent; the SDK honours the claim
// only when no transmission event preceded it.
func apiError(e *cliError, exitCode int) error {
	status := e.code()
	if status == 0 || status == 1 {
		if st, ok := exitStatus[exitCode]; ok {
			status = st
		} else if exitCode == exitAuth {
			status = exitAuth
		}
	}
	msg := detail(innerMessage(e.Message))
	switch {
	case status == 429:
		return sent(sdk.CodeUsageLimited, "gemini is rate limited or out of quota (HTTP 429): wait and retry"+msg)
	case status == 401 || status == 403:
		return sent(sdk.CodeNotAuthenticated, fmt.Sprintf("gemini's credentials were rejected (HTTP %d): check GEMINI_API_KEY or log in with `gemini`%s", status, msg))
	case status >= 500 && status <= 599:
		return sent(sdk.CodeProviderUnavailable, fmt.Sprintf("gemini's API is unavailable (HTTP %d): retry later%s", status, msg))
	case status == exitAuth:
		return sdk.Errorf(sdk.CodeNotAuthenticated, "gemini is not authenticated: set GEMINI_API_KEY (listed in the gemini provider block's env) or log in with `gemini`%s", msg)
	case connectionFailure(e.Message):
		return sent(sdk.CodeProviderUnavailable, "gemini could not reach its API: check the network or GOOGLE_GEMINI_BASE_URL"+msg)
	case status >= 400 && status <= 499:
		return sent(sdk.CodeReviewFailed, fmt.Sprintf("gemini's API refused the request (HTTP %d)%s", status, msg))
	default:
		return sent(sdk.CodeReviewFailed, "gemini reported an error"+msg)
	}
}

// innerMessage unwraps an API error body the CLI passed on as its message.
func innerMessage(m string) string {
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if strings.HasPrefix(strings.TrimSpace(m), "{") && json.Unmarshal([]byte(m), &body) == nil && body.Error.Message != "" {
		return body.Error.Message
	}
	return m
}

func connectionFailure(s string) bool {
	for _, p := range []string{"fetch failed", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "socket hang up"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// sent is an *sdk.Error that makes no "not sent" claim.
func sent(code sdk.ErrorCode, msg string) error {
	return &sdk.Error{Code: code, Message: msg}
}

// detail renders a provider message as ": <one line, at most 200 bytes>".
func detail(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
