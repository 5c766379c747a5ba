package findings

import (
	"slices"
	"testing"

	"github.com/relay-host/relay-host/host/packet"
)

func TestSimilar(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Put never unlocks the mutex", "Mutex is never unlocked in Put", true},                                     // {put never unlock mutex} vs {mutex never unlocked put}: 3/5
		{"Token check does not return after rejecting the request", "Missing return after token check fails", true}, // 4/10
		{"Command injection via the arg query parameter", "Command injection through the `arg` query parameter", true},
		{"[HIGH] Nil dereference", "nil dereference!", true},                   // severity label, case, punctuation
		{"Memory leaks", "memory leak", true},                                  // plural
		{"Data race in Get", "Hook handler ignores the exec error", false},     // nothing shared
		{"Missing error check", "Missing unit test for the error path", false}, // 2/6
		{"Serve has no timeouts", "Handler has no timeouts", true},             // {serve, ha, no, timeout} vs {handler, ha, no, timeout}: 3/5
		{"the of and", "the of and", true},                                     // stop words only: equal normalised text
		{"the of and", "in on at", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := Similar(tt.a, tt.b); got != tt.want {
			t.Errorf("Similar(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Similar(tt.b, tt.a); got != tt.want {
			t.Errorf("Similar is not symmetric for %q, %q", tt.b, tt.a)
		}
	}
}

func TestID(t *testing.T) {
	base := ID("x.go", "Nil dereference in Load", 12)
	same := []struct {
		file, title string
		line        int
	}{
		{"x.go", "nil   DEREFERENCE in load.", 12}, // case, punctuation, spaces
		{"x.go", "[critical] Nil dereference in Load", 12},
		{"x.go", "Minor: Nil dereference in Load", 12},
		{"x.go", "Nil dereference in Load", 11}, // bucket 11-20
		{"x.go", "Nil dereference in Load", 20},
	}
	for _, s := range same {
		if got := ID(s.file, s.title, s.line); got != base {
			t.Errorf("ID(%q, %q, %d) = %s, want %s", s.file, s.title, s.line, got, base)
		}
	}
	differ := []struct {
		file, title string
		line        int
	}{
		{"y.go", "Nil dereference in Load", 12},
		{"x.go", "Nil dereference in Save", 12},
		{"x.go", "Nil dereference in Load", 10}, // bucket 1-10
		{"x.go", "Nil dereference in Load", 21},
		{"x.go", "Nil dereference in Load", 0}, // whole file
		{"x.go", "Error handling is missing", 12},
	}
	for _, d := range differ {
		if got := ID(d.file, d.title, d.line); got == base {
			t.Errorf("ID(%q, %q, %d) = the base id", d.file, d.title, d.line)
		}
	}
	// "Error" as the first word is the title, not a severity label.
	if ID("x.go", "Error handling is missing", 1) == ID("x.go", "handling is missing", 1) {
		t.Errorf("a leading word that is a severity name was dropped from the title")
	}
	if len(base) != 16 {
		t.Errorf("id %q: want 16 hex digits", base)
	}
}

func by(f Finding, who string) Finding {
	f.FoundBy = []string{who}
	f.ID = ID(f.File, f.Title, f.Line)
	return f
}

func TestMerge(t *testing.T) {
	race := Finding{File: "c.go", Line: 15, Severity: Medium, Title: "Data race: Get reads items without the lock"}
	type want struct {
		file      string
		line, end int
		sev       Severity
		foundBy   []string
	}
	tests := []struct {
		name string
		in   []Finding
		want []want
	}{
		{"same issue, overlapping lines: one finding, both names, highest severity", []Finding{
			by(Finding{File: "c.go", Line: 18, EndLine: 27, Severity: Medium, Title: "Put never unlocks the mutex"}, "claude"),
			by(Finding{File: "c.go", Line: 19, Severity: High, Title: "Mutex is never unlocked in Put"}, "apireviewer/deepseek"),
		}, []want{{"c.go", 18, 27, High, []string{"claude", "apireviewer/deepseek"}}}},
		{"near lines: 3 apart merge", []Finding{
			by(Finding{File: "c.go", Line: 10, Severity: Low, Title: "Memory leak"}, "a"),
			by(Finding{File: "c.go", Line: 13, EndLine: 14, Severity: Low, Title: "memory leaks"}, "b"),
		}, []want{{"c.go", 10, 14, Low, []string{"a", "b"}}}},
		{"4 apart stay apart", []Finding{
			by(Finding{File: "c.go", Line: 10, Severity: Low, Title: "Memory leak"}, "a"),
			by(Finding{File: "c.go", Line: 14, Severity: Low, Title: "memory leak"}, "b"),
		}, []want{{"c.go", 10, 10, Low, []string{"a"}}, {"c.go", 14, 14, Low, []string{"b"}}}},
		{"other file stays apart", []Finding{
			by(race, "a"), by(Finding{File: "d.go", Line: 15, Title: race.Title}, "b"),
		}, []want{{"c.go", 15, 15, Medium, []string{"a"}}, {"d.go", 15, 15, Info, []string{"b"}}}},
		{"different titles on the same lines stay apart", []Finding{
			by(Finding{File: "s.go", Line: 30, EndLine: 36, Severity: Medium, Title: "Hook handler ignores the exec error"}, "kimi"),
			by(Finding{File: "s.go", Line: 34, Severity: High, Title: "Command injection via the arg query parameter"}, "claude"),
		}, []want{{"s.go", 30, 36, Medium, []string{"kimi"}}, {"s.go", 34, 34, High, []string{"claude"}}}},
		{"one reviewer's duplicates are not merged", []Finding{
			by(race, "a"), by(race, "a"),
		}, []want{{"c.go", 15, 15, Medium, []string{"a"}}, {"c.go", 15, 15, Medium, []string{"a"}}}},
		{"three reviewers, one group; a fourth's other issue alone", []Finding{
			by(race, "a"), by(race, "b"), by(Finding{File: "c.go", Line: 16, Severity: High, Title: "Get reads items without lock"}, "c"),
			by(Finding{File: "c.go", Line: 15, Severity: Info, Title: "Rename items to entries"}, "d"),
		}, []want{{"c.go", 15, 16, High, []string{"a", "b", "c"}}, {"c.go", 15, 15, Info, []string{"d"}}}},
		{"whole-file findings merge only with whole-file findings", []Finding{
			by(Finding{File: "c.go", Title: "No tests for the cache"}, "a"),
			by(Finding{File: "c.go", Line: 1, Title: "No tests for the cache"}, "b"),
			by(Finding{File: "c.go", Title: "The cache has no tests"}, "c"),
		}, []want{{"c.go", 0, 0, Info, []string{"a", "c"}}, {"c.go", 1, 1, Info, []string{"b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("%d findings, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.File != w.file || g.Line != w.line || g.end() != w.end || g.Severity != w.sev || !slices.Equal(g.FoundBy, w.foundBy) {
					t.Errorf("finding %d = %s:%d-%d %s %v, want %s:%d-%d %s %v", i,
						g.File, g.Line, g.end(), g.Severity, g.FoundBy, w.file, w.line, w.end, w.sev, w.foundBy)
				}
				if n := len(w.foundBy); n > 1 && len(g.Reports) != n {
					t.Errorf("finding %d has %d reports, want %d", i, len(g.Reports), n)
				}
			}
		})
	}
}

func TestCollectScenario(t *testing.T) {
	r := scenario(t, ValidateOptions{})
	if r.Verdict != packet.VerdictRequestChanges ||
		!slices.Equal(r.RequestedChanges, []string{"claude", "gemini", "apireviewer/deepseek", "grok"}) {
		t.Errorf("verdict %s by %v", r.Verdict, r.RequestedChanges)
	}
	if len(r.Failures) != 1 || r.Failures[0].Reviewer != "apireviewer/glm" ||
		r.Failures[0].Reason != "provider_unavailable: the GLM API answered 500 Internal Server Error after 2 attempts" {
		t.Errorf("failures %+v, want glm's, on one line", r.Failures)
	}
	if len(r.Reviewers) != 5 || r.Reviewers[3].Note != NoteUnparsed || r.Reviewers[4].Skipped != 2 {
		t.Errorf("reviewers %+v", r.Reviewers)
	}
	found := map[string][]string{}
	for _, f := range r.Findings {
		found[f.Title] = f.FoundBy
	}
	for title, who := range map[string][]string{
		"Command injection via the arg query parameter":           {"claude", "gemini"},
		"Token check does not return after rejecting the request": {"claude", "apireviewer/deepseek"},
		"Put never unlocks the mutex":                             {"claude", "apireviewer/deepseek"},
		"Data race: Get reads items without the lock":             {"gemini"}, // a/ prefix resolved
		"Hook handler ignores the exec error":                     {"kimi"},
	} {
		if !slices.Equal(found[title], who) {
			t.Errorf("%q found by %v, want %v", title, found[title], who)
		}
	}
	if len(r.Findings) != 10 || len(r.Other) != 1 || r.Other[0].File != "server/handlers.go" {
		t.Errorf("%d findings, other %+v: want 10 and server/handlers.go", len(r.Findings), r.Other)
	}
	for _, f := range r.Findings {
		if f.OutsideDiff != (f.Line == 90) {
			t.Errorf("%s:%d outside_diff = %v", f.File, f.Line, f.OutsideDiff)
		}
	}
}

func TestValidate(t *testing.T) {
	d := ParseDiff(readFile(t, "testdata/change.diff"), nil)
	if got := d.Hunks("server/server.go"); !slices.Equal(got, []Range{{3, 9}, {11, 17}, {19, 24}, {27, 39}}) {
		t.Fatalf("hunks of server.go = %v", got)
	}
	if !d.Has("docs and notes/notes.md") || !slices.Equal(d.Hunks("internal/cache/cache.go"), []Range{{1, 27}}) {
		t.Fatalf("files %v", d.Files())
	}
	in := []Finding{
		{File: "b/server/server.go", Line: 8, EndLine: 12, Title: "spans two hunks"},
		{File: "server/server.go", Line: 25, EndLine: 26, Title: "between hunks"},
		{File: "/home/u/repo/internal/cache/cache.go", Line: 3, Title: "absolute path"},
		{File: "notes.md", Line: 2, Title: "bare name of a diff file"},
		{File: "server.go", Title: "bare name, whole file"},
		{File: "README.md", Line: 1, Title: "not in the diff"},
		{File: "", Title: "no file"},
	}
	kept, other := Validate(in, d, ValidateOptions{})
	type fl struct {
		file      string
		line, end int
		out       bool
	}
	got := func(fs []Finding) []fl {
		var out []fl
		for _, f := range fs {
			out = append(out, fl{f.File, f.Line, f.end(), f.OutsideDiff})
		}
		return out
	}
	if w := []fl{{"server/server.go", 8, 12, false}, {"server/server.go", 25, 26, true},
		{"internal/cache/cache.go", 3, 3, false}, {"docs and notes/notes.md", 2, 2, false}, {"server/server.go", 0, 0, false}}; !slices.Equal(got(kept), w) {
		t.Errorf("kept %v\nwant %v", got(kept), w)
	}
	if w := []fl{{"README.md", 1, 1, false}, {"", 0, 0, false}}; !slices.Equal(got(other), w) {
		t.Errorf("other %v, want %v", got(other), w)
	}
	// OnlyChanged clamps to the first hunk overlapped and moves the rest
	// to the other remarks; the ids stay those of the reported lines.
	kept2, other2 := Validate(in, d, ValidateOptions{OnlyChanged: true})
	if w := []fl{{"server/server.go", 8, 9, false}, {"internal/cache/cache.go", 3, 3, false},
		{"docs and notes/notes.md", 2, 2, false}, {"server/server.go", 0, 0, false}}; !slices.Equal(got(kept2), w) {
		t.Errorf("only-changed kept %v\nwant %v", got(kept2), w)
	}
	if len(other2) != 3 || other2[0].Line != 25 || !other2[0].OutsideDiff || other2[0].ID != kept[1].ID {
		t.Errorf("only-changed other %+v", other2)
	}
	if kept2[0].ID != kept[0].ID {
		t.Errorf("clamping changed the id")
	}
}

func TestParseDiffEdgeCases(t *testing.T) {
	diff := "diff --git \"a/tab\\there\" \"b/tab\\there\"\n--- \"a/tab\\there\"\n+++ \"b/tab\\there\"\n@@ -1,2 +1 @@\n-x\n--- not a header\n" +
		"diff --git a/gone.go b/gone.go\ndeleted file mode 100644\n--- a/gone.go\n+++ /dev/null\n@@ -1,3 +0,0 @@\n-a\n-b\n-c\n" +
		"diff --git a/old.go b/new.go\nsimilarity index 90%\n--- a/old.go\n+++ b/new.go\n@@ -5,0 +6,2 @@\n+y\n+z\n" +
		"diff --git a/del.go b/del.go\n--- a/del.go\n+++ b/del.go\n@@ -4,2 +3,0 @@\n-p\n-q\n"
	d := ParseDiff(diff, nil)
	for file, want := range map[string][]Range{
		"tab\there": {{1, 1}}, "gone.go": {{1, 1}}, "new.go": {{6, 7}}, "del.go": {{4, 4}},
	} {
		if !d.Has(file) || !slices.Equal(d.Hunks(file), want) {
			t.Errorf("%q: has %v hunks %v, want %v (files %q)", file, d.Has(file), d.Hunks(file), want, d.Files())
		}
	}
}
