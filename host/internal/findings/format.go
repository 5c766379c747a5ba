package findings

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Format is an output format of a merged result.
type Format string

const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown"
	FormatSARIF    Format = "sarif"
	FormatRDJSONL  Format = "rdjsonl"
	FormatGitHub   Format = "github"
)

// Formats are the formats Write knows, in the order help lists them.
var Formats = []Format{FormatText, FormatJSON, FormatMarkdown, FormatSARIF, FormatRDJSONL, FormatGitHub}

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	if f := Format(strings.ToLower(s)); slices.Contains(Formats, f) {
		return f, nil
	}
	return "", fmt.Errorf("unknown --format %q: use text, json, markdown, sarif, rdjsonl or github", s)
}

// CI reports whether the format is one CI annotates changed lines with
// (sarif, rdjsonl, github): the ones --only-changed is on for by default.
func (f Format) CI() bool {
	return f == FormatSARIF || f == FormatRDJSONL || f == FormatGitHub
}

// WriteOptions vary Write.
type WriteOptions struct {
	ToolVersion string // relay-host's version, for SARIF's tool.driver.version
}

// Write writes r in format f. The CI formats carry r.Findings only (the
// other remarks have no changed line to be placed on) and, except for
// rdjsonl, the failures; text, markdown and json carry everything.
func Write(w io.Writer, r *Result, f Format, o WriteOptions) error {
	switch f {
	case FormatText:
		return writeText(w, r)
	case FormatMarkdown:
		return writeMarkdown(w, r)
	case FormatJSON:
		return writeJSON(w, r)
	case FormatSARIF:
		return writeSARIF(w, r, o)
	case FormatRDJSONL:
		return writeRDJSONL(w, r)
	case FormatGitHub:
		return writeGitHub(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}

func writeJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// byFile splits sorted findings into runs of one file each.
func byFile(fs []Finding) [][]Finding {
	var out [][]Finding
	for i := 0; i < len(fs); {
		j := i + 1
		for j < len(fs) && fs[j].File == fs[i].File {
			j++
		}
		out = append(out, fs[i:j])
		i = j
	}
	return out
}

func verdictLine(r *Result) string {
	s := r.Verdict
	if len(r.RequestedChanges) > 0 {
		s += " (requested by " + strings.Join(r.RequestedChanges, ", ") + ")"
	}
	return s
}

// indent prefixes every line of s with pre.
func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "\n")
}
