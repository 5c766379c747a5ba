package findings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/host/packet"
)

func readReview(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reviews", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// brief is the part of a finding the parser tests compare.
type brief struct {
	file      string
	line, end int
	sev       Severity
	title     string
}

func briefs(fs []Finding) []brief {
	var out []brief
	for _, f := range fs {
		out = append(out, brief{f.File, f.Line, f.EndLine, f.Severity, f.Title})
	}
	return out
}

func TestParseModelOutputs(t *testing.T) {
	tests := []struct {
		file    string
		want    []brief
		note    string
		skipped int
		verdict string
		summary string // a phrase of the prose that must be kept
	}{
		{"claude.txt", []brief{
			{"server/server.go", 31, 33, High, "Token check does not return after rejecting the request"},
			{"server/server.go", 34, 34, High, "Command injection via the arg query parameter"},
			{"internal/cache/cache.go", 18, 27, High, "Put never unlocks the mutex"},
			{"server/server.go", 22, 22, Medium, "File handle leaked: defer f.Close() was removed"},
		}, "", 0, packet.VerdictRequestChanges, "the main concern"},
		// A bare fence, trailing commas, capitalised and renamed
		// severities, a/ and b/ prefixes (resolved later, by Validate).
		{"gemini.txt", []brief{
			{"b/server/server.go", 34, 34, High, "Command injection through the `arg` query parameter"},
			{"a/internal/cache/cache.go", 15, 15, Medium, "Data race: Get reads items without the lock"},
			{"server/server.go", 12, 12, Info, "Token compared with != (not constant time)"},
		}, "", 0, packet.VerdictRequestChanges, "webhook endpoint"},
		// No fence, lines as strings, "./", extra keys, an empty body.
		{"deepseek.txt", []brief{
			{"internal/cache/cache.go", 19, 19, High, "Mutex is never unlocked in Put"},
			{"server/server.go", 31, 33, High, "Missing return after token check fails"},
			{"server/handlers.go", 10, 10, Low, "Consider splitting handlers into their own file"},
			{"server/server.go", 3, 3, Info, "Group the os/exec import with a comment"},
		}, "", 0, packet.VerdictRequestChanges, "cache mutex"},
		{"grok.txt", nil, NoteUnparsed, 0, packet.VerdictRequestChanges, "remote command execution"},
		// A bare array in a ```JSON fence, other key names, entries that are
		// not findings.
		{"kimi.txt", []brief{
			{"server/server.go", 30, 36, Medium, "Hook handler ignores the exec error"},
			{"docs and notes/notes.md", 3, 3, Info, "Document the Hook setting's quoting rules"},
			{"server/server.go", 90, 90, Low, "Serve has no timeouts"},
		}, "", 2, packet.VerdictApprove, "Findings below."},
		// The quoted schema comes first; the answer's block wins.
		{"echo-then-answer.txt", nil, "", 0, packet.VerdictApprove, "looks correct"},
		{"truncated.txt", nil, NoteUnparsed, 0, packet.VerdictMissing, "Reviewing."},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := Parse(readReview(t, tt.file))
			got := briefs(p.Findings)
			if len(got) != len(tt.want) {
				t.Fatalf("%d findings, want %d:\n%+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("finding %d = %+v\n           want %+v", i, got[i], tt.want[i])
				}
			}
			if p.Note != tt.note || p.Skipped != tt.skipped || p.Verdict != tt.verdict {
				t.Errorf("note %q skipped %d verdict %q, want %q %d %q", p.Note, p.Skipped, p.Verdict, tt.note, tt.skipped, tt.verdict)
			}
			if !strings.Contains(p.Summary, tt.summary) {
				t.Errorf("summary lacks %q:\n%s", tt.summary, p.Summary)
			}
			if tt.note == "" && tt.file != "echo-then-answer.txt" && (strings.Contains(p.Summary, `"findings"`) || strings.Contains(p.Summary, "```")) {
				t.Errorf("summary still holds the block:\n%s", p.Summary)
			}
			if strings.Contains(strings.ToLower(p.Summary), "verdict:**") || strings.HasSuffix(p.Summary, "APPROVE") || strings.HasSuffix(p.Summary, "REQUEST_CHANGES") {
				t.Errorf("summary keeps the verdict line:\n%s", p.Summary)
			}
		})
	}
}

func TestParseTolerance(t *testing.T) {
	tests := []struct {
		name, text string
		want       []brief
		note       string
	}{
		{"trailing commas everywhere",
			"```json\n{\"findings\": [{\"file\": \"x.go\", \"line\": 2, \"title\": \"t\",},],}\n```",
			[]brief{{"x.go", 2, 2, Medium, "t"}}, ""},
		{"comments in the block",
			"```json\n{\"findings\": [ // one\n{\"file\": \"x.go\", \"title\": \"http://x // y\"}]}\n```",
			[]brief{{"x.go", 0, 0, Medium, "http://x // y"}}, ""},
		{"a comma inside a string is kept",
			"{\"findings\": [{\"file\": \"x.go\", \"title\": \"a ,]\"}]}",
			[]brief{{"x.go", 0, 0, Medium, "a ,]"}}, ""},
		{"line as a range string", `{"findings":[{"file":"x.go","line":"12-14","title":"t"}]}`,
			[]brief{{"x.go", 12, 14, Medium, "t"}}, ""},
		{"line as a pair", `{"findings":[{"file":"x.go","lines":[5,7],"title":"t"}]}`,
			[]brief{{"x.go", 5, 7, Medium, "t"}}, ""},
		{"line in the path", `{"findings":[{"file":"x.go:12","title":"t"}]}`,
			[]brief{{"x.go", 12, 12, Medium, "t"}}, ""},
		{"line in a GitHub anchor", `{"findings":[{"file":"` + "`./x.go#L3-L4`" + `","title":"t"}]}`,
			[]brief{{"x.go", 3, 4, Medium, "t"}}, ""},
		{"end before start", `{"findings":[{"file":"x.go","line":9,"end_line":2,"title":"t"}]}`,
			[]brief{{"x.go", 9, 9, Medium, "t"}}, ""},
		{"negative and huge lines", `{"findings":[{"file":"x.go","line":-3,"title":"a"},{"file":"x.go","line":1e300,"title":"b"}]}`,
			[]brief{{"x.go", 0, 0, Medium, "a"}, {"x.go", 0, 0, Medium, "b"}}, ""},
		{"title from the body", `{"findings":[{"file":"x.go","body":"Leaks the fd. Close it."}]}`,
			[]brief{{"x.go", 0, 0, Medium, "Leaks the fd"}}, ""},
		{"camelCase and kebab keys", `{"findings":[{"File-Path":"x.go","Start_Line":4,"lineEnd":6,"Severity":"**Minor**","Title":"t"}]}`,
			[]brief{{"x.go", 4, 6, Low, "t"}}, ""},
		{"Findings key in capitals", `{"Findings":[{"file":"x.go","title":"t"}]}`,
			[]brief{{"x.go", 0, 0, Medium, "t"}}, ""},
		{"null findings is an empty list", "```json\n{\"findings\": null}\n```", nil, ""},
		{"a JSON fence wins over an earlier unfenced object",
			"{\"findings\": [{\"file\": \"a.go\", \"title\": \"a\"}]}\n```json\n{\"findings\": [{\"file\": \"b.go\", \"title\": \"b\"}]}\n```",
			[]brief{{"b.go", 0, 0, Medium, "b"}}, ""},
		{"an object without findings", "```json\n{\"issues\": []}\n```", nil, NoteUnparsed},
		{"an unfenced bare array is not read", `[{"file":"x.go","title":"t"}]`, nil, NoteUnparsed},
		{"prose only", "All good.\nVerdict: APPROVE", nil, NoteUnparsed},
		{"empty", "", nil, NoteUnparsed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parse(tt.text)
			got := briefs(p.Findings)
			if len(got) != len(tt.want) || p.Note != tt.note {
				t.Fatalf("got %+v note %q, want %+v note %q", got, p.Note, tt.want, tt.note)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("finding %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestNormalizeSeverity(t *testing.T) {
	tests := []struct {
		in   string
		want Severity
		ok   bool
	}{
		{"high", High, true}, {"CRITICAL", High, true}, {"blocker", High, true}, {"error", High, true},
		{"🔴 High", High, true}, {"**P1**", High, true},
		{"major", Medium, true}, {"Warning", Medium, true}, {"medium", Medium, true}, {"moderate", Medium, true},
		{"minor", Low, true}, {"low", Low, true}, {"Low priority", Low, true},
		{"nit", Info, true}, {"nitpick", Info, true}, {"suggestion", Info, true}, {"info", Info, true},
		{"", Medium, false}, {"whatever", Medium, false}, {"highest", Medium, false},
	}
	for _, tt := range tests {
		got, ok := NormalizeSeverity(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeSeverity(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "reviews"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("testdata", "reviews", e.Name()))
		f.Add(string(b))
	}
	f.Add("```json\n{\"findings\":[{\"file\":\"a/x\",\"line\":\"L1-2\",\"title\":\"t\",},]}\n")
	f.Add(`{"findings":[{"file":"x:99999999999999999999","lines":[1,[2]],"range":{"start":"x"}}]}`)
	diff, _ := os.ReadFile(filepath.Join("testdata", "change.diff"))
	d := ParseDiff(string(diff), nil)
	f.Fuzz(func(t *testing.T, text string) {
		p := Parse(text)
		if p.Note != "" && len(p.Findings) > 0 {
			t.Fatalf("unparsed yet %d findings", len(p.Findings))
		}
		for _, o := range []ValidateOptions{{}, {OnlyChanged: true}} {
			in, other := Validate(p.Findings, d, o)
			if len(in)+len(other) != len(p.Findings) {
				t.Fatalf("validate lost findings: %d+%d of %d", len(in), len(other), len(p.Findings))
			}
			for _, f := range append(in, other...) {
				if f.Line < 0 || (f.Line == 0 && f.EndLine != 0) || (f.Line > 0 && f.EndLine < f.Line) || f.ID == "" {
					t.Fatalf("bad finding %+v", f)
				}
			}
		}
		// The diff parser gets the same bytes: it must not panic either.
		ParseDiff(text, nil)
	})
}

// TestEchoedPrompt: a model that only repeats the built-in prompt yields
// no verdict and no finding on a file of the diff; its one placeholder
// finding is an other remark.
func TestEchoedPrompt(t *testing.T) {
	p := Parse(packet.DefaultPrompt)
	if p.Verdict != packet.VerdictMissing || len(p.Findings) != 1 || p.Findings[0].File != "path/as/in/the/diff" {
		t.Fatalf("Parse(DefaultPrompt) = verdict %s, %+v", p.Verdict, p.Findings)
	}
	d := ParseDiff(readFile(t, "testdata/change.diff"), nil)
	r := Collect([]Review{{Reviewer: "echo", Text: packet.DefaultPrompt}}, d, ValidateOptions{})
	if len(r.Findings) != 0 || len(r.Other) != 1 || r.Verdict != packet.VerdictMissing {
		t.Errorf("an echoed prompt: %d findings, %d other, verdict %s", len(r.Findings), len(r.Other), r.Verdict)
	}
}
