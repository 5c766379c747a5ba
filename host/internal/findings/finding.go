package findings

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity orders findings: High > Medium > Low > Info.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
)

var severityNames = [...]string{Info: "info", Low: "low", Medium: "medium", High: "high"}

func (s Severity) String() string {
	if s < Info || s > High {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a name as NormalizeSeverity does; a result written by
// MarshalJSON reads back unchanged.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	v, ok := NormalizeSeverity(name)
	if !ok {
		return fmt.Errorf("unknown severity %q", name)
	}
	*s = v
	return nil
}

// severityWords maps what models write for a severity to the four levels.
// The issue names critical/major/minor/nit; the rest are what reviews and
// linters commonly say.
var severityWords = map[string]Severity{
	"critical": High, "blocker": High, "blocking": High, "high": High, "severe": High,
	"error": High, "fatal": High, "urgent": High, "p0": High, "p1": High,
	"major": Medium, "medium": Medium, "moderate": Medium, "warning": Medium, "warn": Medium,
	"important": Medium, "normal": Medium, "p2": Medium,
	"minor": Low, "low": Low, "trivial": Low, "p3": Low,
	"nit": Info, "nitpick": Info, "info": Info, "informational": Info, "note": Info,
	"suggestion": Info, "style": Info, "hint": Info, "question": Info, "praise": Info, "optional": Info,
}

// NormalizeSeverity maps a severity as a model wrote it ("Critical",
// "**major**", "🔴 high", "nit") to a level. Only the first word counts,
// case and surrounding punctuation ignored; ok is false for an unknown word.
func NormalizeSeverity(s string) (sev Severity, ok bool) {
	words := normWords(s)
	if len(words) == 0 {
		return Medium, false
	}
	sev, ok = severityWords[words[0]]
	if !ok {
		return Medium, false
	}
	return sev, true
}

// Finding is one remark of one reviewer, or, after Merge, of several.
//
// Line and EndLine are 1-based, inclusive lines of the file's new side;
// Line 0 is a remark on the whole file. EndLine is never below Line.
type Finding struct {
	ID         string   `json:"id"`
	File       string   `json:"file"`
	Line       int      `json:"line,omitempty"`
	EndLine    int      `json:"end_line,omitempty"`
	Severity   Severity `json:"severity"`
	Title      string   `json:"title"`
	Body       string   `json:"body,omitempty"`
	Suggestion string   `json:"suggestion,omitempty"`
	// OutsideDiff: the lines are not in any of the file's hunks (the file
	// is in the diff). Kept: a reviewer may rightly point at an unchanged
	// caller the change breaks.
	OutsideDiff bool `json:"outside_diff,omitempty"`
	// FoundBy names the reviewers that reported it, in reviewer order.
	FoundBy []string `json:"found_by"`
	// Reports are the reviewers' own versions of a merged finding, one per
	// reviewer, when there is more than one; the fields above are the
	// representative's (the highest severity, then the first reviewer) with
	// the union of the lines.
	Reports []Report `json:"reports,omitempty"`
}

// Report is one reviewer's version of a merged finding.
type Report struct {
	Reviewer string   `json:"reviewer"`
	ID       string   `json:"id"`
	Line     int      `json:"line,omitempty"`
	EndLine  int      `json:"end_line,omitempty"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Body     string   `json:"body,omitempty"`
}

// lines is the finding's range for display: "12", "12-14", or "" for the
// whole file.
func (f *Finding) lines() string {
	switch {
	case f.Line == 0:
		return ""
	case f.EndLine > f.Line:
		return fmt.Sprintf("%d-%d", f.Line, f.EndLine)
	}
	return fmt.Sprint(f.Line)
}

// end is EndLine, or Line when EndLine is unset.
func (f *Finding) end() int { return max(f.EndLine, f.Line) }

// oneLine folds s onto one line for the line-oriented formats.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
