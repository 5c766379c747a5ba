package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorCode is the typed code of a failed review. The set is closed: the
// client maps any code it does not know to [CodeInternal]. These constants
// are the one definition of each code: relay-host records them as they are
// and defines only the codes of its own failures (a full slot, a missing
// plugin) beside them.
type ErrorCode string

// Pre-send codes: the plugin found the problem before any source left the
// machine. Only these may carry a "not sent" claim (see [PreSend]).
const (
	// CodeCLINotFound: the provider's CLI is not installed or not on PATH.
	CodeCLINotFound ErrorCode = "cli_not_found"
	// CodeNotAuthenticated: no credentials (not logged in, no API key).
	CodeNotAuthenticated ErrorCode = "not_authenticated"
	// CodeConfigInvalid: the plugin's settings cannot work.
	CodeConfigInvalid ErrorCode = "config_invalid"
)

// Codes that may follow transmission; the host treats the source as sent or
// possibly sent.
const (
	// CodeUsageLimited: rate limit or plan quota (HTTP 429 and friends).
	CodeUsageLimited ErrorCode = "usage_limited"
	// CodeInsufficientBalance: the account has no credit left.
	CodeInsufficientBalance ErrorCode = "insufficient_balance"
	// CodeTimeout: the review's deadline passed.
	CodeTimeout ErrorCode = "timeout"
	// CodeProviderUnavailable: the provider could not be reached or is down
	// (5xx, connection refused, tunnel down).
	CodeProviderUnavailable ErrorCode = "provider_unavailable"
	// CodeBadOutput: the provider answered with something unparseable.
	CodeBadOutput ErrorCode = "bad_output"
	// CodeReviewFailed: any other provider failure.
	CodeReviewFailed ErrorCode = "review_failed"
	// CodeCancelled: the host cancelled the review.
	CodeCancelled ErrorCode = "cancelled"
	// CodePluginPanic: the provider panicked; Serve recovered.
	CodePluginPanic ErrorCode = "plugin_panic"
	// CodeInternal: a bug in the plugin or SDK, or a protocol violation.
	CodeInternal ErrorCode = "internal"
)

var knownCodes = map[ErrorCode]bool{
	CodeCLINotFound: true, CodeNotAuthenticated: true, CodeConfigInvalid: true,
	CodeUsageLimited: true, CodeInsufficientBalance: true, CodeTimeout: true,
	CodeProviderUnavailable: true, CodeBadOutput: true, CodeReviewFailed: true,
	CodeCancelled: true, CodePluginPanic: true, CodeInternal: true,
}

// Known reports whether c is one of the codes defined here.
func (c ErrorCode) Known() bool { return knownCodes[c] }

// PreSend reports whether c is a pre-send code: cli_not_found,
// not_authenticated or config_invalid. These are the only codes for which a
// host may accept a plugin's claim that the source was not sent; for every
// other code it must assume the source may have been sent.
func PreSend(c ErrorCode) bool {
	return c == CodeCLINotFound || c == CodeNotAuthenticated || c == CodeConfigInvalid
}

// Error is a typed review failure. Providers return it from Review; the
// client returns it from ProviderClient.Review when the plugin reported a
// failure (as opposed to a transport failure, which is a plain error).
type Error struct {
	Code ErrorCode
	// Message is lower-case, one line, without secrets; the host sanitizes
	// it again.
	Message string
	// NotSent claims the source never left the machine. It is honoured only
	// for pre-send codes and only when no transmission event was emitted;
	// Serve and the client both enforce that.
	NotSent bool
	// RetryAfter is how long the provider asked the client to wait before
	// trying again (HTTP Retry-After, or the CLI's report of it); 0 when it
	// gave none. The host records it in whole seconds, capped at
	// [MaxRetryAfter], and never waits on it: a retry resends the source,
	// which is the user's call.
	RetryAfter time.Duration
}

// MaxRetryAfter caps a provider's Retry-After as carried and recorded: a
// longer wait is reported as this one.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter parses an HTTP Retry-After value (delay-seconds or an
// HTTP-date, RFC 9110 §10.2.3) into a wait, capped at [MaxRetryAfter]. It
// returns 0 for an absent, malformed, negative or past value.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// Out of range: a huge positive or negative number of seconds.
		if n <= 0 {
			return 0
		}
		if n >= int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return clampRetryAfter(d)
}

// clampRetryAfter bounds d to [0, MaxRetryAfter].
func clampRetryAfter(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	return d
}

// Errorf returns an *Error with code and a formatted message. NotSent is set
// for pre-send codes; clear it if the source might have been sent anyway.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), NotSent: PreSend(code)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Is makes errors.Is(err, &sdk.Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
