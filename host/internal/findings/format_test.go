package findings

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// TestGolden writes the scenario in every format and compares it with
// testdata/golden/scenario.<format> (go test -run Golden -update rewrites
// them; read the diff before committing it).
func TestGolden(t *testing.T) {
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			r := scenario(t, ValidateOptions{OnlyChanged: f.CI()})
			var out bytes.Buffer
			if err := Write(&out, r, f, WriteOptions{ToolVersion: "1.2.3"}); err != nil {
				t.Fatal(err)
			}
			if f == FormatSARIF { // written compact; the golden file is indented to be read
				var ind bytes.Buffer
				if err := json.Indent(&ind, out.Bytes(), "", "  "); err != nil {
					t.Fatal(err)
				}
				out = ind
			}
			path := filepath.Join("testdata", "golden", "scenario."+string(f))
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s output differs from %s:\n%s", f, path, out.String())
			}
		})
	}
}

func TestGitHubEscaping(t *testing.T) {
	r := &Result{Findings: []Finding{{
		ID: "0123456789abcdef", File: "dir,with:odd%name.go", Line: 3, EndLine: 4, Severity: High,
		Title: "a, b: 100% wrong", Body: "line one\r\nline two: 50%, done\n::error::injected",
		FoundBy: []string{"claude", "apireviewer/deepseek"},
	}}, Failures: []Failure{{Reviewer: "grok", Reason: "exit 1: a,b: c%"}}}
	var out bytes.Buffer
	if err := Write(&out, r, FormatGitHub, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "::error file=dir%2Cwith%3Aodd%25name.go,line=3,endLine=4,title=[high] a%2C b%3A 100%25 wrong::" +
		"line one%0D%0Aline two: 50%25, done%0A::error::injected%0A%0Afound by claude, apireviewer/deepseek (0123456789abcdef)\n" +
		"::error title=reviewer grok failed::exit 1: a,b: c%25\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("%d lines, want one command per line", n)
	}
}

func TestFailOn(t *testing.T) {
	r := scenario(t, ValidateOptions{})
	for _, tt := range []struct {
		conds []FailOn
		n     int
	}{
		{nil, 0},
		{[]FailOn{FailOnRequestChanges}, 1},
		{[]FailOn{FailOnHigh, FailOnLow}, 2},
	} {
		if got := r.Triggered(tt.conds); len(got) != tt.n {
			t.Errorf("Triggered(%v) = %q, want %d reasons", tt.conds, got, tt.n)
		}
	}
	if got := r.Triggered([]FailOn{FailOnRequestChanges}); !strings.Contains(got[0], "claude, gemini, apireviewer/deepseek, grok") {
		t.Errorf("reason %q does not say who", got[0])
	}
	// A severity floor counts that severity and above, on diff files only.
	only := &Result{Verdict: "approve", Findings: []Finding{{Severity: Low}}, Other: []Finding{{Severity: High}}}
	if got := only.Triggered([]FailOn{FailOnMedium}); len(got) != 0 {
		t.Errorf("medium triggered by a low finding or an other remark: %q", got)
	}
	if got := only.Triggered([]FailOn{FailOnLow}); len(got) != 1 {
		t.Errorf("low not triggered by a low finding")
	}
	for _, s := range []string{"request_changes", "HIGH", " medium ", "low"} {
		if _, err := ParseFailOn(s); err != nil {
			t.Errorf("ParseFailOn(%q): %v", s, err)
		}
	}
	if _, err := ParseFailOn("info"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("ParseFailOn(info) = %v, want a one-line error", err)
	}
	if f, err := ParseFormat("SARIF"); err != nil || f != FormatSARIF || !slices.Contains(Formats, f) {
		t.Errorf("ParseFormat(SARIF) = %v, %v", f, err)
	}
}
