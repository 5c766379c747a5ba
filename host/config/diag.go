package config

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DiagError is an invalid configuration: one or more HCL diagnostics, with
// the source needed to render them as snippets.
type DiagError struct {
	Diags hcl.Diagnostics
	files map[string]*hcl.File
}

// Error returns the first error on one line, prefixed with "file:line: ",
// and how many more there are.
func (e *DiagError) Error() string {
	var first *hcl.Diagnostic
	n := 0
	for _, d := range e.Diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if first == nil {
			first = d
		}
		n++
	}
	if first == nil {
		return "invalid configuration"
	}
	var b strings.Builder
	if first.Subject != nil {
		fmt.Fprintf(&b, "%s:%d: ", first.Subject.Filename, first.Subject.Start.Line)
	}
	b.WriteString(first.Summary)
	if first.Detail != "" {
		b.WriteString(": ")
		b.WriteString(strings.Join(strings.Fields(first.Detail), " "))
	}
	if n > 1 {
		fmt.Fprintf(&b, " (and %d more)", n-1)
	}
	return b.String()
}

// Render writes every diagnostic in full, with a source snippet for each.
// color adds VT100 highlighting; use it only when w is a terminal.
func (e *DiagError) Render(w io.Writer, color bool) {
	// Width 0: no wrapping; terminals wrap and logs keep whole lines.
	_ = hcl.NewDiagnosticTextWriter(w, e.files, 0, color).WriteDiagnostics(e.Diags)
}

// Diagnostic builds an error diagnostic pointing at rng in this config's
// source, for checks the host makes later (e.g. `limit = 2` on a route whose
// plugin declares shared_state). rng is normally a DeclRange, LimitRange,
// BudgetRange or SettingRanges entry of c.
func (c *Config) Diagnostic(summary, detail string, rng hcl.Range) *DiagError {
	var files map[string]*hcl.File
	if c != nil {
		files = c.files
	}
	return &DiagError{
		Diags: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   detail,
			Subject:  rng.Ptr(),
		}},
		files: files,
	}
}

// newDiagError orders diags by position: hcl reports some of them while
// ranging over a map, and the first error must not change between runs.
func newDiagError(diags hcl.Diagnostics, files map[string]*hcl.File) *DiagError {
	sorted := append(hcl.Diagnostics(nil), diags...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Subject, sorted[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
	return &DiagError{Diags: sorted, files: files}
}
