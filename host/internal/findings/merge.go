package findings

import (
	"cmp"
	"slices"
	"strings"

	"github.com/relay-host/relay-host/host/packet"
)

// Review is one reviewer's outcome as the fan-out hands it over.
type Review struct {
	Reviewer string // "claude", "apireviewer/deepseek": provider[/route]
	Model    string // optional; shown in summaries and SARIF
	Text     string // the review text, already sanitised; ignored when Err is set
	// Err is set when the reviewer did not finish: one line saying why
	// (error code and message, as the job record has them).
	Err string
}

// Result is the merged outcome of one or more reviews of one packet.
type Result struct {
	// Verdict is request_changes if any reviewer requested changes,
	// approve if every reviewer that finished approved (and one did), else
	// missing. Failed reviewers do not vote: they are in Failures, and a
	// caller decides what an incomplete review means.
	Verdict          string   `json:"verdict"`
	RequestedChanges []string `json:"requested_changes_by,omitempty"`
	// Findings are on files of the diff; Other on files not in it, or with
	// no file, and (with OnlyChanged) on lines outside every hunk. Both are
	// merged and sorted by file, line, severity (highest first) and id.
	Findings  []Finding  `json:"findings"`
	Other     []Finding  `json:"other_remarks,omitempty"`
	Reviewers []Reviewer `json:"reviewers"`
	Failures  []Failure  `json:"failures,omitempty"`
}

// Reviewer summarises one reviewer that finished.
type Reviewer struct {
	Name     string `json:"name"`
	Model    string `json:"model,omitempty"`
	Verdict  string `json:"verdict"`
	Findings int    `json:"findings"`          // as parsed, before merging
	Note     string `json:"note,omitempty"`    // NoteUnparsed, or ""
	Skipped  int    `json:"skipped,omitempty"` // entries of its block that were not findings
	Summary  string `json:"summary,omitempty"` // its prose (Parsed.Summary)
}

// Failure is a reviewer that did not finish.
type Failure struct {
	Reviewer string `json:"reviewer"`
	Reason   string `json:"reason"`
}

// Collect parses each review, validates its findings against the diff and
// merges them. Reviews are taken in the order given, which is the order
// found_by lists reviewers in.
func Collect(reviews []Review, d *Diff, o ValidateOptions) *Result {
	res := &Result{Findings: []Finding{}, Reviewers: []Reviewer{}}
	var in, other []Finding
	finished, approved := 0, 0
	for _, r := range reviews {
		if r.Err != "" {
			res.Failures = append(res.Failures, Failure{Reviewer: r.Reviewer, Reason: oneLine(r.Err)})
			continue
		}
		p := Parse(r.Text)
		for i := range p.Findings {
			p.Findings[i].FoundBy = []string{r.Reviewer}
		}
		kept, rest := Validate(p.Findings, d, o)
		in, other = append(in, kept...), append(other, rest...)
		res.Reviewers = append(res.Reviewers, Reviewer{
			Name: r.Reviewer, Model: r.Model, Verdict: p.Verdict,
			Findings: len(p.Findings), Note: p.Note, Skipped: p.Skipped, Summary: p.Summary,
		})
		finished++
		switch p.Verdict {
		case packet.VerdictRequestChanges:
			res.RequestedChanges = append(res.RequestedChanges, r.Reviewer)
		case packet.VerdictApprove:
			approved++
		}
	}
	switch {
	case len(res.RequestedChanges) > 0:
		res.Verdict = packet.VerdictRequestChanges
	case finished > 0 && approved == finished:
		res.Verdict = packet.VerdictApprove
	default:
		res.Verdict = packet.VerdictMissing
	}
	res.Findings = append(res.Findings, Merge(in)...)
	res.Other = Merge(other)
	return res
}

// lineTolerance is how far apart two findings' line ranges may be and
// still count as the same place: models cite the line of a call, of the
// statement after it, or of the enclosing if.
const lineTolerance = 3

// similarityThreshold: titles are similar when the Jaccard index of their
// word sets (titleWords) is at least this.
const similarityThreshold = 0.4

// Merge joins findings that are the same issue seen by different
// reviewers, and keeps all others as they are. Each input finding must have
// exactly one reviewer in FoundBy. Two findings match when they are on the
// same file, their lines are near (both whole-file, or ranges at most
// lineTolerance lines apart) and their titles are similar (Similar); a
// finding joins the first group, in input order, that has a matching
// finding and none from its reviewer, so a reviewer's own findings are
// never joined with each other. A group of several becomes one finding:
// the representative's fields (highest severity, then the first reviewer),
// lines spanning all of them, the smallest id, found_by in input order,
// every reviewer's own version in Reports, and OutsideDiff only when all
// were. Nothing is dropped and nothing is voted on.
func Merge(fs []Finding) []Finding {
	type group struct {
		members   []Finding
		words     []map[string]bool // titleWords of each member
		reviewers map[string]bool
	}
	var groups []*group
	byFile := map[string][]*group{}
	for _, f := range fs {
		who := strings.Join(f.FoundBy, ",")
		words := titleWords(f.Title)
		var into *group
	search:
		for _, g := range byFile[f.File] {
			if g.reviewers[who] {
				continue
			}
			for i := range g.members {
				if near(&g.members[i], &f) && similarWords(g.words[i], words, g.members[i].Title, f.Title) {
					into = g
					break search
				}
			}
		}
		if into == nil {
			into = &group{reviewers: map[string]bool{}}
			groups = append(groups, into)
			byFile[f.File] = append(byFile[f.File], into)
		}
		into.members = append(into.members, f)
		into.words = append(into.words, words)
		into.reviewers[who] = true
	}
	merged := make([]Finding, len(groups))
	order := make([]int, len(groups)) // sorted by index: a Finding is large to move
	for i, g := range groups {
		merged[i], order[i] = joined(g.members), i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := &merged[i], &merged[j]
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.ID, b.ID))
	})
	out := make([]Finding, len(order))
	for k, i := range order {
		out[k] = merged[i]
	}
	return out
}

func joined(ms []Finding) Finding {
	if len(ms) == 1 {
		return ms[0]
	}
	rep := ms[0]
	for _, m := range ms[1:] {
		if m.Severity > rep.Severity {
			rep = m
		}
	}
	f := rep
	f.FoundBy, f.Reports = nil, nil
	f.OutsideDiff = true
	for _, m := range ms {
		f.FoundBy = append(f.FoundBy, m.FoundBy...)
		f.ID = min(f.ID, m.ID)
		f.OutsideDiff = f.OutsideDiff && m.OutsideDiff
		if m.Line > 0 {
			f.Line, f.EndLine = min(f.Line, m.Line), max(f.end(), m.end())
		}
		f.Reports = append(f.Reports, Report{
			Reviewer: strings.Join(m.FoundBy, ","), ID: m.ID, Line: m.Line, EndLine: m.EndLine,
			Severity: m.Severity, Title: m.Title, Body: m.Body,
		})
	}
	return f
}

// near: both on the whole file, or line ranges at most lineTolerance apart.
func near(a, b *Finding) bool {
	if a.Line == 0 || b.Line == 0 {
		return a.Line == b.Line
	}
	return a.Line <= b.end()+lineTolerance && b.Line <= a.end()+lineTolerance
}

// stopWords carry no meaning of their own in a finding's title.
var stopWords = map[string]bool{
	"a": true, "an": true, "the": true, "of": true, "in": true, "on": true, "at": true,
	"to": true, "for": true, "from": true, "by": true, "with": true, "and": true, "or": true,
	"is": true, "are": true, "was": true, "be": true, "been": true, "it": true, "its": true,
	"this": true, "that": true, "when": true, "if": true, "as": true, "into": true,
	"can": true, "may": true, "might": true, "could": true, "should": true, "will": true,
}

// titleWords is the set of a title's words as Similar compares them: the
// words of normTitle without stop words, a plural "s" dropped from words
// of more than three letters ("leaks" → "leak", not "class" → "clas").
func titleWords(title string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(normTitle(title)) {
		if stopWords[w] {
			continue
		}
		if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") {
			w = w[:len(w)-1]
		}
		set[w] = true
	}
	return set
}

// Similar reports whether two titles name the same issue: the Jaccard
// index |A∩B| / |A∪B| of their word sets (titleWords) is at least 0.4.
// Titles with no words left are similar only when their normalised forms
// are equal. Deterministic and symmetric; no model involved.
func Similar(a, b string) bool { return similarWords(titleWords(a), titleWords(b), a, b) }

// similarWords is Similar on titles a and b whose word sets are wa and wb.
func similarWords(wa, wb map[string]bool, a, b string) bool {
	if len(wa) == 0 || len(wb) == 0 {
		return normTitle(a) == normTitle(b)
	}
	common := 0
	for w := range wa {
		if wb[w] {
			common++
		}
	}
	union := len(wa) + len(wb) - common
	return float64(common) >= similarityThreshold*float64(union)
}
