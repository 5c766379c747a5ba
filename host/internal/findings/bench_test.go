package findings

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkCollectSARIF is the host's work after a fan-out of three
// reviewers that report 200 findings each on a 50-file diff: parse the
// three reviews, validate and merge the 600 findings (a third of them
// the same issue seen by all three), and write SARIF.
func BenchmarkCollectSARIF(b *testing.B) {
	var diff strings.Builder
	var files []string
	for i := range 50 {
		f := fmt.Sprintf("pkg%02d/file%02d.go", i%7, i)
		files = append(files, f)
		fmt.Fprintf(&diff, "diff --git a/%s b/%s\n--- a/%s\n+++ b/%s\n", f, f, f, f)
		for h := range 4 {
			fmt.Fprintf(&diff, "@@ -%d,7 +%d,9 @@ func f%d() {\n", 1+h*40, 1+h*40, h)
			diff.WriteString(strings.Repeat(" ctx\n", 3) + strings.Repeat("+new\n", 3) + strings.Repeat(" ctx\n", 3))
		}
	}
	d := ParseDiff(diff.String(), files)
	words := strings.Fields("nil dereference race leak overflow injection missing check error handling close lock timeout path escape bounds")
	reviews := make([]Review, 3)
	for r := range reviews {
		var t strings.Builder
		t.WriteString("Summary of the review.\n\n```json\n{\"findings\": [\n")
		for i := range 200 {
			line := 1 + (i%4)*40 + 3 + r%2
			title := fmt.Sprintf("%s %s in f%d", words[i%len(words)], words[(i*7)%len(words)], i)
			if i%3 != 0 { // only every third finding is one all three see
				title = fmt.Sprintf("only%dx%d seen%dx%d", r, i, r, i) // no word shared
			}
			sep := ","
			if i == 199 {
				sep = ""
			}
			fmt.Fprintf(&t, `  {"file": "%s", "line": %d, "end_line": %d, "severity": "%s", "title": %q, "body": "Because of the change at this line the function can fail."}%s`+"\n",
				files[i%50], line, line+1, []string{"high", "major", "minor", "nit"}[(i+r)%4], title, sep)
		}
		t.WriteString("]}\n```\n\nVerdict: REQUEST_CHANGES\n")
		reviews[r] = Review{Reviewer: fmt.Sprintf("reviewer%d", r), Text: t.String()}
	}
	res := Collect(reviews, d, ValidateOptions{OnlyChanged: true})
	if n := len(res.Findings); n != 67+3*133 {
		b.Fatalf("%d merged findings, want 67 seen by all and 3×133 seen by one", n)
	}
	b.ResetTimer()
	for b.Loop() {
		res := Collect(reviews, d, ValidateOptions{OnlyChanged: true})
		if err := Write(io.Discard, res, FormatSARIF, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
