package findings

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// writeText: the verdict; per-finding blocks grouped by file (severity,
// lines, title, who found it, body, suggestion); the other remarks; each
// reviewer's summary; the failures.
func writeText(w io.Writer, r *Result) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "verdict: %s\n", verdictLine(r))
	fmt.Fprintf(b, "%d finding(s), %d other remark(s); %d reviewer(s) finished, %d failed\n",
		len(r.Findings), len(r.Other), len(r.Reviewers), len(r.Failures))
	for _, group := range byFile(r.Findings) {
		fmt.Fprintf(b, "\n%s\n", group[0].File)
		for _, f := range group {
			textFinding(b, &f, "")
		}
	}
	if len(r.Other) > 0 {
		fmt.Fprintf(b, "\nother remarks\n")
		for _, f := range r.Other {
			textFinding(b, &f, cmpOr(f.File, "(no file)")+" ")
		}
	}
	if len(r.Reviewers) > 0 {
		fmt.Fprintf(b, "\nreviewers\n")
		for _, rv := range r.Reviewers {
			fmt.Fprintf(b, "  %s: %s, %d finding(s)", reviewerName(rv), rv.Verdict, rv.Findings)
			if rv.Note != "" {
				fmt.Fprintf(b, ", %s", rv.Note)
			}
			if rv.Skipped > 0 {
				fmt.Fprintf(b, ", %d unreadable entr(ies)", rv.Skipped)
			}
			fmt.Fprintln(b)
			if rv.Summary != "" {
				fmt.Fprintln(b, indent(rv.Summary, "    "))
			}
		}
	}
	if len(r.Failures) > 0 {
		fmt.Fprintf(b, "\nfailed\n")
		for _, f := range r.Failures {
			fmt.Fprintf(b, "  %s: %s\n", f.Reviewer, f.Reason)
		}
	}
	return b.Flush()
}

func textFinding(b *bufio.Writer, f *Finding, where string) {
	lines := f.lines()
	if lines != "" {
		lines = "lines " + lines
		if f.Line == f.end() {
			lines = "line " + f.lines()
		}
	} else {
		lines = "whole file"
	}
	fmt.Fprintf(b, "  %s[%s] %s: %s\n", where, f.Severity, lines, f.Title)
	meta := "found by " + strings.Join(f.FoundBy, ", ") + " · id " + f.ID
	if f.OutsideDiff {
		meta += " · outside the diff"
	}
	fmt.Fprintf(b, "    %s\n", meta)
	if f.Body != "" {
		fmt.Fprintln(b, indent(f.Body, "    "))
	}
	if f.Suggestion != "" {
		fmt.Fprintf(b, "    suggestion:\n%s\n", indent(f.Suggestion, "      "))
	}
}

func reviewerName(rv Reviewer) string {
	if rv.Model != "" {
		return rv.Name + " (" + rv.Model + ")"
	}
	return rv.Name
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
