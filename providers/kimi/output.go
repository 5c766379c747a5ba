package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/relay-host/relay-host/sdk"
)

// Exit codes of `kimi --print` (kimi_cli.cli.ExitCode).
const (
	exitOK        = 0
	exitFailure   = 1
	exitRetryable = 75 // 429, 5xx, connection error, timeout, empty answer
)

// message is one line of `--output-format stream-json`: kosong's Message.
// content is a string or an array of parts ({"type":"text","text":…},
// {"type":"think","think":…}, …); other lines (tool results, notifications,
// plan displays, "meta" hints in newer builds) are read and ignored.
type message struct {
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	ToolCalls []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// text is the message's visible text: string content, or the "text" parts
// of array content joined in order. Thinking parts are not the answer.
func (m message) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// stream collects what a review needs from kimi's stdout.
type stream struct {
	// final is the text of the last assistant message that called no tool:
	// the answer. Intermediate messages ("let me look…") precede tool calls.
	final string
	// plain holds the lines that are not JSON messages: print mode writes
	// its errors ("LLM not set", "Error code: 429 - …") to stdout as text.
	plain sdk.Tail
}

// line reads one stdout line and returns a progress note for it, or "".
func (s *stream) line(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	var m message
	if !strings.HasPrefix(raw, "{") || json.Unmarshal([]byte(raw), &m) != nil {
		s.plain.Add(raw)
		return ""
	}
	if m.Role != "assistant" {
		return ""
	}
	if len(m.ToolCalls) > 0 {
		names := make([]string, 0, len(m.ToolCalls))
		for _, tc := range m.ToolCalls {
			names = append(names, tc.Function.Name)
		}
		return "kimi is calling " + strings.Join(names, ", ")
	}
	if t := m.text(); strings.TrimSpace(t) != "" {
		s.final = t
		return "kimi answered"
	}
	return ""
}

var (
	statusRE  = regexp.MustCompile(`(?i)\b(?:error code|status(?: code)?)[:= ]+(\d{3})\b`)
	authRE    = regexp.MustCompile(`(?i)llm not set|/login|not logged in|unauthori[sz]ed|invalid[_ ]authentication|incorrect api key|invalid api key|api key (?:is )?invalid`)
	limitRE   = regexp.MustCompile(`(?i)rate.?limit|too many requests|quota`)
	balanceRE = regexp.MustCompile(`(?i)insufficient.?balance|exceeded_current_quota|suspended`)
	netRE     = regexp.MustCompile(`(?i)connection error|connect(?:ion)? refused|timed? ?out|empty response|service unavailable|bad gateway|overloaded`)
)

// classify maps a failed run (exit code and what kimi printed) to a typed
// error. Every result is post-send: the packet was already on kimi's stdin.
func classify(exit int, out string) *sdk.Error {
	status := 0
	if m := statusRE.FindStringSubmatch(out); m != nil {
		fmt.Sscan(m[1], &status)
	}
	excerpt := summary(out)
	e := func(code sdk.ErrorCode, format string, args ...any) *sdk.Error {
		err := sdk.Errorf(code, format, args...)
		err.NotSent = false // the packet was written to kimi's stdin
		return err
	}
	switch exit {
	case exitRetryable:
		switch {
		case balanceRE.MatchString(out):
			return e(sdk.CodeInsufficientBalance, "kimi: the account has no balance left (%s); top it up, then retry", excerpt)
		case status == 429 || limitRE.MatchString(out):
			return e(sdk.CodeUsageLimited, "kimi is rate limited (%s); retry later", excerpt)
		case status >= 500 || netRE.MatchString(out):
			return e(sdk.CodeProviderUnavailable, "kimi could not reach its model (%s); retry later", excerpt)
		default:
			// 75 is kimi's "retryable" and its documented causes are
			// rate limits first.
			return e(sdk.CodeUsageLimited, "kimi reported a retryable failure (%s); retry later", excerpt)
		}
	case exitFailure:
		switch {
		case status == 401 || status == 403 || authRE.MatchString(out):
			return e(sdk.CodeNotAuthenticated, "kimi is not logged in or its key was refused (%s); run `kimi` and /login, or pass KIMI_API_KEY through the provider's env", excerpt)
		case status == 402 || balanceRE.MatchString(out):
			return e(sdk.CodeInsufficientBalance, "kimi: the account has no balance left (%s)", excerpt)
		default:
			return e(sdk.CodeReviewFailed, "kimi failed (%s)", excerpt)
		}
	default:
		return e(sdk.CodeReviewFailed, "kimi exited with status %d (%s)", exit, excerpt)
	}
}

// summary is the last line kimi printed, shortened: enough to say what went
// wrong without repeating its whole output.
func summary(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s := strings.TrimSpace(lines[len(lines)-1])
	for i := len(lines) - 1; i >= 0; i-- {
		// The status line is the useful one; logs may follow it.
		if l := strings.TrimSpace(lines[i]); statusRE.MatchString(l) || authRE.MatchString(l) {
			s = l
			break
		}
	}
	if s == "" {
		return "no output"
	}
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
