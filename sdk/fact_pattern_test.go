package sdk

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestNamePatternsMatchTheirRegexps: validName and validEnvVar accept
// exactly what namePattern and envVarPattern do, on edge cases and random
// strings over an alphabet around their character classes.
func TestNamePatternsMatchTheirRegexps(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		valid   func(string) bool
	}{{namePattern, validName}, {envVarPattern, validEnvVar}} {
		re := regexp.MustCompile(tt.pattern)
		check := func(s string) {
			if got, want := tt.valid(s), re.MatchString(s); got != want {
				t.Errorf("%s: %q: got %v, want %v", tt.pattern, s, got, want)
			}
		}
		for _, s := range []string{"", "a", "A", "_", "-", "0", "a-", "-a", "_a", "0a", "a.b", "a b", "é"} {
			check(s)
		}
		const alphabet = "aZz09_-.A/ é"
		rng := rand.New(rand.NewPCG(1, 2))
		for range 5000 {
			b := make([]byte, rng.IntN(140))
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			check(string(b))
		}
		for _, n := range []int{63, 64, 65, 127, 128, 129} {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a'
			}
			check(string(b))
		}
	}
}
