package findings

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/relay-host/relay-host/host/packet"
)

// NoteUnparsed is Parsed.Note when a review holds no usable findings block:
// its text and verdict still count, with zero findings.
const NoteUnparsed = "findings_unparsed"

// Parsed is what Parse reads from one review.
type Parsed struct {
	// Findings as the reviewer wrote them, tidied: File trimmed and "./"
	// dropped (Validate resolves "a/" and "b/" against the diff), Line and
	// EndLine sane, Severity normalised. ID and FoundBy are not set yet.
	Findings []Finding
	// Summary is the review's prose: its text without the findings block
	// and without the final verdict line.
	Summary string
	// Verdict is packet.ParseVerdict of the whole text.
	Verdict string
	// Note is NoteUnparsed when no block was found or none decoded.
	Note string
	// Skipped counts entries of the block that were not findings (not an
	// object, or neither title nor body).
	Skipped int
}

// maxCandidates bounds how many blocks Parse tries to decode, so that a
// review made of thousands of braces costs no more than a few decodes.
const maxCandidates = 16

// Parse reads the findings block from a review. The block is one JSON
// object {"findings":[…]}, fenced (```json or a bare ```) or not, with
// prose around it; the last block that decodes wins, since a model may
// first quote the requested format. Parse tolerates trailing commas,
// // comments, a bare array of findings in a fence, severities in other
// words (NormalizeSeverity), other key names (path, start_line, endLine,
// description, …), line numbers as strings ("12", "L12-14") and extra
// keys. It never fails: a review without a usable block yields zero
// findings and Note NoteUnparsed.
func Parse(text string) Parsed {
	p := Parsed{Verdict: packet.ParseVerdict(text)}
	start, end := -1, -1
	var entries []any
	for _, c := range candidates(text) {
		if list, ok := decodeBlock(text[c.inner[0]:c.inner[1]], c.fenced); ok {
			entries, start, end = list, c.outer[0], c.outer[1]
			break
		}
	}
	summary := text
	if start < 0 {
		p.Note = NoteUnparsed
	} else {
		summary = text[:start] + "\n" + text[end:]
		for _, e := range entries {
			f, ok := entry(e)
			if !ok {
				p.Skipped++
				continue
			}
			p.Findings = append(p.Findings, f)
		}
	}
	p.Summary = dropVerdictLine(summary)
	return p
}

// candidate is a span of text that may hold the block: inner is the JSON,
// outer what to cut from the summary (the fences too).
type candidate struct {
	inner, outer [2]int
	fenced       bool
}

// candidates lists fenced blocks whose info string is empty or JSON, last
// first, then unfenced objects that open with a "findings" key, last first.
func candidates(text string) []candidate {
	var fenced []candidate
	off := 0
	var open *candidate
	var fence string
	for off < len(text) {
		nl := strings.IndexByte(text[off:], '\n')
		lineEnd := len(text)
		if nl >= 0 {
			lineEnd = off + nl
		}
		next := min(lineEnd+1, len(text))
		line := strings.TrimRight(text[off:lineEnd], "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if open == nil {
			if f := fenceOf(trimmed); f != "" && len(line)-len(trimmed) <= 3 {
				info := strings.ToLower(strings.TrimSpace(trimmed[len(f):]))
				if word, _, _ := strings.Cut(info, " "); word == "" || strings.HasPrefix(word, "json") {
					open = &candidate{fenced: true}
					open.outer[0], open.inner[0] = off, next
					fence = f
				}
			}
		} else if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
			open.inner[1], open.outer[1] = off, next
			fenced = append(fenced, *open)
			open = nil
		}
		off = next
	}
	if open != nil { // an unclosed fence runs to the end
		open.inner[1], open.outer[1] = len(text), len(text)
		fenced = append(fenced, *open)
	}
	var out []candidate
	for i := len(fenced) - 1; i >= 0 && len(out) < maxCandidates; i-- {
		out = append(out, fenced[i])
	}
	for _, s := range findingsObjects(text, maxCandidates-len(out)) {
		out = append(out, candidate{inner: s, outer: s})
	}
	return out
}

// fenceOf is the run of ``` or ~~~ (three or more) that line opens with.
func fenceOf(line string) string {
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(line) && line[n] == c {
			n++
		}
		if n >= 3 {
			return line[:n]
		}
	}
	return ""
}

var findingsKey = lazyRegexp(`(?i)\{\s*"findings"\s*:`)

// findingsObjects are the spans of up to n balanced objects that start
// with a "findings" key, last first.
func findingsObjects(text string, n int) [][2]int {
	locs := findingsKey().FindAllStringIndex(text, -1)
	var out [][2]int
	for i := len(locs) - 1; i >= 0 && len(out) < n; i-- {
		if end := objectEnd(text, locs[i][0]); end > 0 {
			out = append(out, [2]int{locs[i][0], end})
		}
	}
	return out
}

// objectEnd is the index just past the object opening at text[start], or
// -1 when it does not close (strings and escapes respected).
func objectEnd(text string, start int) int {
	depth, inString, escaped := 0, false, false
	for i := start; i < len(text); i++ {
		c := text[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// decodeBlock decodes a block's JSON, forgiving trailing commas and //
// comments, and returns its findings list: the "findings" array of an
// object, or, in a fence, a bare array.
func decodeBlock(s string, fenced bool) ([]any, bool) {
	var v any
	if err := json.Unmarshal([]byte(cleanJSON(s)), &v); err != nil {
		return nil, false
	}
	switch v := v.(type) {
	case map[string]any:
		for k, list := range v {
			if strings.EqualFold(k, "findings") {
				l, ok := list.([]any)
				return l, ok || list == nil
			}
		}
	case []any:
		return v, fenced
	}
	return nil, false
}

// cleanJSON drops what models add to JSON that encoding/json refuses: a
// comma before a closing bracket and // comments to the end of a line.
// Strings are left alone.
func cleanJSON(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			b.WriteByte(c)
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == ',':
			j := i + 1
			for j < len(s) && strings.IndexByte(" \t\r\n", s[j]) >= 0 {
				j++
			}
			if j < len(s) && (s[j] == '}' || s[j] == ']') {
				continue
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i-- // keep the newline
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Keys a finding's fields are read from, after lower-casing and dropping
// '_', '-' and ' ' ("end_line", "endLine" and "end-line" are one key).
var (
	fileKeys       = []string{"file", "path", "filename", "filepath", "location"}
	lineKeys       = []string{"line", "startline", "linestart", "start", "lines", "linenumber", "range"}
	endKeys        = []string{"endline", "lineend", "end"}
	severityKeys   = []string{"severity", "level", "priority", "impact"}
	titleKeys      = []string{"title", "summary", "issue", "headline", "name"}
	bodyKeys       = []string{"body", "description", "details", "detail", "explanation", "message", "rationale", "why"}
	suggestionKeys = []string{"suggestion", "replacement", "suggestedcode", "suggestedfix"}
)

var keyFold = strings.NewReplacer("_", "", "-", "", " ", "")

const (
	maxTitle = 200 // runes: a title is a line, not a body
	maxLine  = 1 << 24
)

// entry reads one element of the findings array.
func entry(e any) (Finding, bool) {
	raw, ok := e.(map[string]any)
	if !ok {
		return Finding{}, false
	}
	m := make(map[string]any, len(raw))
	for k, v := range raw {
		m[keyFold.Replace(strings.ToLower(k))] = v
	}
	f := Finding{
		File:       cleanPath(str(m, fileKeys)),
		Title:      oneLine(str(m, titleKeys)),
		Body:       strings.TrimSpace(str(m, bodyKeys)),
		Suggestion: strings.Trim(str(m, suggestionKeys), "\r\n"),
	}
	if f.Title == "" {
		f.Title = firstSentence(f.Body)
	}
	if f.Title == "" {
		return Finding{}, false
	}
	f.Title = truncateRunes(f.Title, maxTitle)
	f.Severity, _ = NormalizeSeverity(str(m, severityKeys))
	f.Line, f.EndLine = lineRange(first(m, lineKeys))
	if e, _ := lineRange(first(m, endKeys)); e > 0 {
		f.EndLine = e
	}
	if f.Line == 0 {
		// "file": "x.go:12" or "x.go#L12-L14", with no line of its own.
		if i := strings.LastIndexAny(f.File, ":#"); i > 0 {
			if l, e := lineRange(f.File[i+1:]); l > 0 {
				f.File, f.Line, f.EndLine = f.File[:i], l, e
			}
		}
	}
	switch {
	case f.Line == 0:
		f.EndLine = 0
	case f.EndLine < f.Line:
		f.EndLine = f.Line
	}
	return f, true
}

func first(m map[string]any, keys []string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != nil {
			return v
		}
	}
	return nil
}

// str is the first of keys that holds a string.
func str(m map[string]any, keys []string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

var lineText = lazyRegexp(`^\s*[Ll]?(?:ines?\s*)?(\d+)(?:\s*(?:-|–|—|:|\.\.|to)\s*[Ll]?(\d+))?`)

// lineRange reads a line as a model writes it: 12, "12", "L12", "12-14",
// "L12-L14", [12, 14]. Anything else is 0.
func lineRange(v any) (start, end int) {
	switch v := v.(type) {
	case float64:
		return lineNum(v), 0
	case string:
		m := lineText().FindStringSubmatch(v)
		if m == nil {
			return 0, 0
		}
		start, _ = strconv.Atoi(m[1])
		end, _ = strconv.Atoi(m[2])
		if start > maxLine || end > maxLine {
			return 0, 0
		}
		return start, end
	case []any:
		if len(v) == 0 || len(v) > 2 {
			return 0, 0
		}
		start, _ = lineRange(v[0])
		if len(v) == 2 {
			end, _ = lineRange(v[1])
		}
		return start, end
	case map[string]any: // {"start": 12, "end": 14}
		start, _ = lineRange(v["start"])
		end, _ = lineRange(v["end"])
		return start, end
	}
	return 0, 0
}

func lineNum(f float64) int {
	if f < 1 || f > maxLine || math.IsNaN(f) {
		return 0
	}
	return int(f)
}

// cleanPath trims what models wrap paths in (spaces, backticks, quotes) and
// a leading "./". "a/" and "b/" are resolved against the diff by Validate.
func cleanPath(p string) string {
	p = strings.Trim(strings.TrimSpace(p), "`'\"*")
	p = strings.ReplaceAll(p, `\`, "/")
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	return p
}

// firstSentence is the first line of s, cut at its first ". ".
func firstSentence(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if i := strings.Index(line, ". "); i > 0 {
		line = line[:i]
	}
	return oneLine(line)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// dropVerdictLine trims the text and removes its last line when that is a
// verdict line.
func dropVerdictLine(s string) string {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	i := strings.LastIndexByte(s, '\n')
	if packet.ParseVerdict(s[i+1:]) != packet.VerdictMissing {
		s = s[:i+1]
	}
	return strings.TrimSpace(s)
}

// normWords lower-cases s and splits it into its runs of letters and
// digits: the words titles and severities are compared by.
func normWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
