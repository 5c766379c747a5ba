package findings

import (
	"strings"
)

// ValidateOptions vary Validate.
type ValidateOptions struct {
	// OnlyChanged clamps each finding's lines to the first hunk they
	// overlap; a finding that overlaps none goes to the other remarks,
	// flagged OutsideDiff, instead of pointing at lines a CI annotation
	// cannot be placed on. Whole-file findings (Line 0) stay.
	OnlyChanged bool
}

// Validate checks one reviewer's findings against the diff. A finding
// whose file resolves to a file of the diff (resolvePath) is kept, its
// File the diff's path, and flagged OutsideDiff when its lines overlap no
// hunk; any other goes to other. Each gets its ID (ID), from the lines the
// reviewer gave, so clamping does not change it. The input is not
// modified.
func Validate(fs []Finding, d *Diff, o ValidateOptions) (in, other []Finding) {
	for _, f := range fs {
		if p, ok := resolvePath(f.File, d); ok {
			f.File = p
		}
		f.ID = ID(f.File, f.Title, f.Line)
		if !d.Has(f.File) {
			other = append(other, f)
			continue
		}
		if f.Line == 0 {
			in = append(in, f)
			continue
		}
		var hit *Range
		for _, r := range d.Hunks(f.File) {
			if r.overlaps(f.Line, f.end()) {
				hit = &r
				break
			}
		}
		switch {
		case hit == nil && o.OnlyChanged:
			f.OutsideDiff = true
			other = append(other, f)
		case hit == nil:
			f.OutsideDiff = true
			in = append(in, f)
		case o.OnlyChanged:
			f.Line, f.EndLine = max(f.Line, hit.Start), min(f.end(), hit.End)
			in = append(in, f)
		default:
			in = append(in, f)
		}
	}
	return in, other
}

// resolvePath maps a path as a reviewer wrote it to a file of the diff:
// the path itself; without an "a/" or "b/" prefix (git's sides); the
// longest diff file it ends with ("/home/u/repo/x/y.go", "repo/x/y.go");
// or the one diff file that ends with it ("y.go" when only x/y.go is in the
// diff). A path that matches no file, or more than one, is not resolved.
func resolvePath(p string, d *Diff) (string, bool) {
	if p == "" {
		return "", false
	}
	if d.Has(p) {
		return p, true
	}
	for _, pre := range []string{"a/", "b/"} {
		if rest, ok := strings.CutPrefix(p, pre); ok && d.Has(rest) {
			return rest, true
		}
	}
	// The longest diff file p ends with; else the only one ending with p.
	var within, around string
	nAround := 0
	for f := range d.hunks {
		switch {
		case strings.HasSuffix(p, "/"+f):
			if len(f) > len(within) {
				within = f
			}
		case strings.HasSuffix(f, "/"+p):
			around = f
			nAround++
		}
	}
	if within != "" {
		return within, true
	}
	return around, nAround == 1
}
