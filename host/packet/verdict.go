package packet

import (
	"regexp"
	"strings"
)

// Verdicts returned by ParseVerdict.
const (
	VerdictApprove        = "approve"
	VerdictRequestChanges = "request_changes"
	VerdictMissing        = "missing"
)

// verdictLine tolerates markdown bold around the label and the value
// ("**Verdict:** APPROVE", "**Verdict: REQUEST_CHANGES**").
var verdictLine = regexp.MustCompile(`(?i)^\s*\**\s*verdict\s*:\s*\**\s*(approve|request_changes)\b`)

// ParseVerdict returns "approve" or "request_changes" from the last line of
// review that states a verdict, or "missing" when no line does. The last line
// wins because reviews often quote the requested format before answering.
func ParseVerdict(review string) string {
	lines := strings.Split(review, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if m := verdictLine.FindStringSubmatch(lines[i]); m != nil {
			return strings.ToLower(m[1])
		}
	}
	return VerdictMissing
}
