package findings

import (
	"os"
	"path/filepath"
	"testing"
)

// scenario is five reviewers of testdata/change.diff (the realistic
// outputs in testdata/reviews) and one that failed.
func scenario(t testing.TB, o ValidateOptions) *Result {
	t.Helper()
	diff, err := os.ReadFile(filepath.Join("testdata", "change.diff"))
	if err != nil {
		t.Fatal(err)
	}
	d := ParseDiff(string(diff), []string{"docs and notes/notes.md", "internal/cache/cache.go", "server/server.go"})
	reviews := []Review{
		{Reviewer: "claude", Model: "claude-sonnet-4-5", Text: readReview(t, "claude.txt")},
		{Reviewer: "gemini", Text: readReview(t, "gemini.txt")},
		{Reviewer: "apireviewer/deepseek", Model: "deepseek-chat", Text: readReview(t, "deepseek.txt")},
		{Reviewer: "grok", Text: readReview(t, "grok.txt")},
		{Reviewer: "kimi", Text: readReview(t, "kimi.txt")},
		{Reviewer: "apireviewer/glm", Err: "provider_unavailable: the GLM API answered 500 Internal Server Error\nafter 2 attempts"},
	}
	return Collect(reviews, d, o)
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
