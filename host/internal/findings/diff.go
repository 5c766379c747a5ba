package findings

import (
	"slices"
	"strconv"
	"strings"

	"github.com/relay-host/relay-host/host/packet"
)

// Range is a span of lines, 1-based and inclusive.
type Range struct{ Start, End int }

func (r Range) overlaps(start, end int) bool { return start <= r.End && r.Start <= end }

// Diff is what findings are validated against: the files a packet's diff
// holds and, for each, the new-side line ranges of its hunks (context lines
// included, as git writes them).
type Diff struct {
	hunks map[string][]Range // by repository-relative path, sorted by Start
}

// FromPacket is the Diff of a built packet.
func FromPacket(p *packet.Packet) *Diff { return ParseDiff(p.Diff, p.Files) }

var hunkHeader = lazyRegexp(`^@@+ (?:-\d+(?:,\d+)? )+\+(\d+)(?:,(\d+))? @@`)

// ParseDiff reads a unified diff as git writes it. The files are files
// plus every file the diff has a header for. A hunk that only removes
// lines ("+c,0") stands for the line after which they went, c+1 (line 1
// when c is 0), so a finding on the removal still lands in it.
func ParseDiff(unified string, files []string) *Diff {
	d := &Diff{hunks: make(map[string][]Range, len(files))}
	for _, f := range files {
		d.hunks[f] = nil
	}
	cur, inHunks := "", false
	for line := range strings.Lines(unified) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "diff --git "):
			cur, _ = packet.HeaderPath(line[len("diff --git "):])
			inHunks = false
			if cur != "" {
				if _, ok := d.hunks[cur]; !ok {
					d.hunks[cur] = nil
				}
			}
		case !inHunks && strings.HasPrefix(line, "+++ "):
			// A diff without a parsable "diff --git" line (a rename, or
			// not git's) names the new side here.
			if p, ok := sidePath(line[len("+++ "):], "b/"); ok && cur == "" {
				cur = p
				if _, ok := d.hunks[cur]; !ok {
					d.hunks[cur] = nil
				}
			}
		case strings.HasPrefix(line, "@@"):
			m := hunkHeader().FindStringSubmatch(line)
			if m == nil || cur == "" {
				continue
			}
			inHunks = true
			start, err1 := strconv.Atoi(m[1])
			n := 1
			var err2 error
			if m[2] != "" {
				n, err2 = strconv.Atoi(m[2])
			}
			if err1 != nil || err2 != nil || start > maxLine || n > maxLine {
				continue
			}
			r := Range{start, start + n - 1}
			if n == 0 {
				r = Range{start + 1, start + 1}
			}
			d.hunks[cur] = append(d.hunks[cur], r)
		}
	}
	for f, rs := range d.hunks {
		slices.SortFunc(rs, func(a, b Range) int { return a.Start - b.Start })
		d.hunks[f] = rs
	}
	return d
}

// Has reports whether file is in the diff.
func (d *Diff) Has(file string) bool {
	_, ok := d.hunks[file]
	return ok
}

// Hunks are file's hunk ranges, sorted.
func (d *Diff) Hunks(file string) []Range { return d.hunks[file] }

// Files are the diff's files, sorted.
func (d *Diff) Files() []string {
	out := make([]string, 0, len(d.hunks))
	for f := range d.hunks {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// sidePath is the path of a "--- a/P" or "+++ b/P" line (without its
// marker), which git ends with a tab when P holds a space.
func sidePath(s, prefix string) (string, bool) {
	s = strings.TrimSuffix(s, "\t")
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return "", false
		}
		s = u
	}
	if !strings.HasPrefix(s, prefix) || len(s) == len(prefix) {
		return "", false
	}
	return s[len(prefix):], true
}
