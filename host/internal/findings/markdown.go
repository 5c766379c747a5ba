package findings

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// writeMarkdown is writeText's content as a PR comment
// (gh pr comment --body-file): a heading per file, a list item per
// finding, each reviewer's summary folded in <details>. Titles, paths and
// names are escaped so a model's text cannot open a link, an image or
// HTML; bodies are the reviewer's markdown as it wrote it.
func writeMarkdown(w io.Writer, r *Result) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "## relay-host review: %s\n\n", mdEscape(verdictLine(r)))
	fmt.Fprintf(b, "%d finding(s), %d other remark(s); %d reviewer(s) finished, %d failed.\n",
		len(r.Findings), len(r.Other), len(r.Reviewers), len(r.Failures))
	for _, group := range byFile(r.Findings) {
		fmt.Fprintf(b, "\n### %s\n\n", mdCode(group[0].File))
		for _, f := range group {
			mdFinding(b, &f, "")
		}
	}
	if len(r.Other) > 0 {
		fmt.Fprintf(b, "\n### Other remarks\n\n")
		for _, f := range r.Other {
			mdFinding(b, &f, mdCode(cmpOr(f.File, "(no file)"))+" ")
		}
	}
	if len(r.Reviewers) > 0 {
		fmt.Fprintf(b, "\n### Reviewers\n\n")
		for _, rv := range r.Reviewers {
			head := fmt.Sprintf("%s: %s, %d finding(s)", reviewerName(rv), rv.Verdict, rv.Findings)
			if rv.Note != "" {
				head += ", " + rv.Note
			}
			if rv.Summary == "" {
				fmt.Fprintf(b, "- %s\n", mdEscape(head))
				continue
			}
			fmt.Fprintf(b, "<details><summary>%s</summary>\n\n%s\n\n</details>\n\n", htmlEscape(head), rv.Summary)
		}
	}
	if len(r.Failures) > 0 {
		fmt.Fprintf(b, "\n### Failed\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(b, "- **%s**: %s\n", mdEscape(f.Reviewer), mdEscape(f.Reason))
		}
	}
	return b.Flush()
}

func mdFinding(b *bufio.Writer, f *Finding, where string) {
	lines := "whole file"
	if f.Line > 0 {
		lines = "line " + f.lines()
		if f.end() > f.Line {
			lines = "lines " + f.lines()
		}
	}
	if f.OutsideDiff {
		lines += ", outside the diff"
	}
	fmt.Fprintf(b, "- %s**%s** (%s): %s  \n  found by %s · `%s`\n",
		where, f.Severity, lines, mdEscape(f.Title), mdEscape(strings.Join(f.FoundBy, ", ")), f.ID)
	if f.Body != "" {
		fmt.Fprintf(b, "\n%s\n", indent(f.Body, "  "))
	}
	if f.Suggestion != "" {
		fence := mdFence(f.Suggestion)
		fmt.Fprintf(b, "\n  Suggestion:\n\n  %s\n%s\n  %s\n", fence, indent(f.Suggestion, "  "), fence)
	}
	fmt.Fprintln(b)
}

// mdEscape backslash-escapes the characters that start markdown syntax or
// HTML in inline text, and folds it onto one line.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		if strings.ContainsRune("\\`*_{}[]()<>#+-!|~&@", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode is s as an inline code span, with a fence longer than any run of
// backticks in it.
func mdCode(s string) string {
	s = oneLine(s)
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	return ticks + " " + s + " " + ticks
}

// mdFence is a code fence longer than any run of backticks in s.
func mdFence(s string) string { return strings.Repeat("`", max(3, longestRun(s, '`')+1)) }

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(oneLine(s))
}
