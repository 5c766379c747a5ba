package findings

import (
	"fmt"
	"strings"

	"github.com/relay-host/relay-host/host/packet"
)

// FailOn is a --fail-on condition.
type FailOn string

const (
	FailOnRequestChanges FailOn = "request_changes" // the merged verdict is request_changes
	FailOnHigh           FailOn = "high"            // a finding of this severity or above
	FailOnMedium         FailOn = "medium"
	FailOnLow            FailOn = "low"
)

// ParseFailOn reads a --fail-on value.
func ParseFailOn(s string) (FailOn, error) {
	switch c := FailOn(strings.ToLower(strings.TrimSpace(s))); c {
	case FailOnRequestChanges, FailOnHigh, FailOnMedium, FailOnLow:
		return c, nil
	}
	return "", fmt.Errorf("unknown --fail-on value %q: use request_changes, high, medium or low", s)
}

// Triggered returns one line per condition that the result meets, in the
// order given; none means the run passes. Severity conditions count the
// findings on files of the diff (Result.Findings), not the other remarks.
func (r *Result) Triggered(conds []FailOn) []string {
	var out []string
	for _, c := range conds {
		if c == FailOnRequestChanges {
			if r.Verdict == packet.VerdictRequestChanges {
				out = append(out, "request_changes: requested by "+strings.Join(r.RequestedChanges, ", "))
			}
			continue
		}
		floor, ok := NormalizeSeverity(string(c))
		if !ok {
			continue
		}
		n := 0
		for _, f := range r.Findings {
			if f.Severity >= floor {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s: %d finding(s) at %s or above", c, n, floor))
		}
	}
	return out
}
