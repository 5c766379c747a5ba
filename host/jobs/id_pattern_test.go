package jobs

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestValidIDMatchesItsRegexp: validID accepts exactly what
// ^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$ does.
func TestValidIDMatchesItsRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	check := func(s string) {
		if got, want := validID(s), re.MatchString(s); got != want {
			t.Errorf("%q: got %v, want %v", s, got, want)
		}
	}
	for _, s := range []string{"", "r-1", "-r", "_r", "..", "a.tmp", "a/b", NewID(), strings.Repeat("a", 128), strings.Repeat("a", 129)} {
		check(s)
	}
	const alphabet = "aZ09_-./ é"
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		b := make([]byte, rng.IntN(140))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		check(string(b))
	}
}
