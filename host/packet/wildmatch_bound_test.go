package packet

import (
	"strings"
	"testing"
)

// A repository's .relayignore is read whether or not the repository is
// trusted, so no pattern may stall a review: git's backtracking matcher
// takes exponential time on these; ours answers at once.
func TestWildmatchPathologicalPatterns(t *testing.T) {
	deep := strings.Repeat("a/", 30) + "b"
	for _, c := range []struct {
		pattern, text string
		pathname      bool
		want          bool
	}{
		{strings.Repeat("**/", 20) + "x", deep, true, false},
		{strings.Repeat("**/", 20) + "b", deep, true, true},
		{strings.Repeat("*a", 20) + "b", strings.Repeat("a", 60), false, false},
		{strings.Repeat("*a", 20), strings.Repeat("a", 60), false, true},
		{strings.Repeat("a*", 30) + "[!a]", strings.Repeat("a", 200), false, false},
	} {
		m, exhausted := wildmatchBounded(c.pattern, c.text, c.pathname)
		if exhausted {
			t.Errorf("%.30q…: gave up", c.pattern)
		} else if m != c.want {
			t.Errorf("%.30q… on %.30q…: %v, want %v", c.pattern, c.text, m, c.want)
		}
	}
	// What the budget stops fails closed: an exclusion excludes, a
	// re-inclusion does not re-include.
	defer func(n int) { maxWildSteps = n }(maxWildSteps)
	maxWildSteps = 50
	costly := strings.Repeat("*a", 40) + "b"
	long := strings.Repeat("a", 100)
	if _, exhausted := wildmatchBounded(costly, long, false); !exhausted {
		t.Fatal("the budget never ran out; the fail-closed path below is not exercised")
	}
	if excluded, ok := (ignoreRules{{pattern: costly, basename: true}}).match(long, false); !ok || !excluded {
		t.Errorf("a costly exclusion: excluded %v, ok %v; want excluded", excluded, ok)
	}
	if excluded, ok := (ignoreRules{{pattern: "*"}, {pattern: costly, basename: true, negate: true}}).match(long, false); !ok || !excluded {
		t.Errorf("a costly re-inclusion: excluded %v, ok %v; want still excluded", excluded, ok)
	}
}
