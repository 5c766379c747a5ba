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

// cliResult is the part of `claude -p --output-format json`'s result
// object that the plugin reads.
type cliResult struct {
	Type           string `json:"type"`
	Subtype        string `json:"subtype"`
	IsError        bool   `json:"is_error"`
	Result         string `json:"result"`
	APIErrorStatus *int   `json:"api_error_status"`
	APIError       string `json:"api_error"` // e.g. "connection_failed"
	TerminalReason string `json:"terminal_reason"`
	Usage          *struct {
		InputTokens              int64 `json:"input_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
	} `json:"usage"`
	Model      string `json:"model"`
	ModelUsage map[string]struct {
		OutputTokens int64 `json:"outputTokens"`
	} `json:"modelUsage"`
}

// parseResult turns the CLI's stdout and exit status into a result or a
// typed error. The exit status alone says little: on an API error it is 1
// and subtype is still "success", so is_error decides.
func parseResult(stdout, stderr []byte, exitCode int) (sdk.Result, error) {
	var r cliResult
	out := bytes.TrimSpace(stdout)
	if len(out) == 0 || json.Unmarshal(out, &r) != nil || r.Type != "result" {
		if exitCode != 0 {
			return sdk.Result{}, sdk.Errorf(sdk.CodeReviewFailed, "claude exited with status %d without a result%s", exitCode, detail(firstLine(stderr)))
		}
		return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "claude printed no JSON result; is cli_path a Claude Code CLI?")
	}
	if r.IsError {
		return sdk.Result{}, apiError(r)
	}
	if strings.TrimSpace(r.Result) == "" {
		return sdk.Result{}, sdk.Errorf(sdk.CodeBadOutput, "claude returned an empty review")
	}
	if exitCode != 0 {
		return sdk.Result{}, sdk.Errorf(sdk.CodeReviewFailed, "claude exited with status %d%s", exitCode, detail(r.Result))
	}
	res := sdk.Result{Review: r.Result, Model: r.Model}
	if res.Model == "" {
		res.Model = mainModel(r.ModelUsage)
	}
	if u := r.Usage; u != nil {
		res.Usage = &sdk.Usage{InputTokens: u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens, OutputTokens: u.OutputTokens}
	}
	return res, nil
}

// mainModel is the model that wrote most output tokens (the CLI reports
// usage per model; a review normally uses one).
func mainModel(mu map[string]struct {
	OutputTokens int64 `json:"outputTokens"`
}) string {
	names := make([]string, 0, len(mu))
	for n := range mu {
		names = append(names, n)
	}
	sort.Strings(names)
	best := ""
	for _, n := range names {
		if best == "" || mu[n].OutputTokens > mu[best].OutputTokens {
			best = n
		}
	}
	return best
}

// apiError maps an is_error result. The request has been made (or tried)
// in every branch but "Not logged in", so only that one claims not sent,
// and the SDK honours it only when no transmission event preceded it.
func apiError(r cliResult) error {
	msg := detail(r.Result)
	status := 0
	if r.APIErrorStatus != nil {
		status = *r.APIErrorStatus
	}
	switch {
	case status == 429:
		return sent(sdk.CodeUsageLimited, "claude is rate limited or over its plan quota (HTTP 429): wait and retry"+msg)
	case status == 401 || status == 403:
		return sent(sdk.CodeNotAuthenticated, fmt.Sprintf("claude's credentials were rejected (HTTP %d): check ANTHROPIC_API_KEY or run `claude /login`%s", status, msg))
	case status == 402 || strings.Contains(strings.ToLower(r.Result), "credit balance is too low"):
		return sent(sdk.CodeInsufficientBalance, "the anthropic account has no credit left"+msg)
	case status >= 500:
		return sent(sdk.CodeProviderUnavailable, fmt.Sprintf("claude's API is unavailable (HTTP %d): retry later%s", status, msg))
	case status == 0 && strings.HasPrefix(r.Result, "Not logged in"):
		// With no credentials the pinned CLI prints "Not logged in"
		// and stops before any request is made (seen against the fake
		// model server: it receives nothing).
		return sdk.Errorf(sdk.CodeNotAuthenticated, "claude is not logged in: set ANTHROPIC_API_KEY (listed in the claude provider block's env) or run `claude /login`")
	case status == 0 && (r.APIError == "connection_failed" || connectionFailure(r.Result)):
		return sent(sdk.CodeProviderUnavailable, "claude could not reach its API: check the network or ANTHROPIC_BASE_URL"+msg)
	case status != 0:
		return sent(sdk.CodeReviewFailed, fmt.Sprintf("claude's API refused the request (HTTP %d)%s", status, msg))
	default:
		return sent(sdk.CodeReviewFailed, "claude reported an error"+msg)
	}
}

func connectionFailure(s string) bool {
	for _, p := range []string{"Connection refused", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "Connection error", "socket hang up", "fetch failed"} {
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

// detail renders a provider message as ": <one line, at most 200 bytes>",
// or nothing when it is empty.
func detail(s string) string {
	s = firstLine([]byte(s))
	if s == "" {
		return ""
	}
	return ": " + s
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
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
	return s
}
