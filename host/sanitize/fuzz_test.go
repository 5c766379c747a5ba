package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// markers are what the sanitizer writes itself.
var markers = []string{Redacted, PathMark, "~", "\n" + Truncated, " " + Truncated}

// overlapsMarker reports whether s could be formed with the help of a
// marker: contained in one, containing one, or sharing an edge with one.
// The sanitizer cannot keep such a "secret" out of its own markers, and no
// real credential looks like that.
func overlapsMarker(s string) bool {
	for _, m := range markers {
		if strings.Contains(m, s) || strings.Contains(s, m) {
			return true
		}
		for k := 1; k < len(m) && k < len(s); k++ {
			if s[:k] == m[len(m)-k:] || s[len(s)-k:] == m[:k] {
				return true
			}
		}
	}
	return false
}

// FuzzSanitize checks the package invariant on arbitrary input: valid
// UTF-8, no ESC, no control other than \n and \t (Review only), no planted
// secret, and the byte cap. Seeds are in testdata/fuzz/FuzzSanitize.
func FuzzSanitize(f *testing.F) {
	f.Fuzz(func(t *testing.T, in, secret, home string, max uint16) {
		n := int(max)
		p := Policy{
			Secrets:   []string{secret},
			Home:      home,
			Paths:     []string{home + "/.state"},
			MaxReview: n, MaxMessage: n, MaxField: n,
		}
		checkSecret := len(strings.TrimSpace(secret)) >= 4 && utf8.ValidString(secret) && !overlapsMarker(secret)
		for _, c := range []struct {
			name      string
			out       string
			multiline bool
			cap       int
			marker    string
		}{
			{"Review", p.Review(in), true, capOr(n, DefaultMaxReview), "\n" + Truncated},
			{"Message", p.Message(in), false, capOr(n, DefaultMaxMessage), " " + Truncated},
			{"Field", p.Field(in), false, capOr(n, DefaultMaxField), " " + Truncated},
		} {
			if !utf8.ValidString(c.out) {
				t.Fatalf("%s: invalid UTF-8 %q", c.name, c.out)
			}
			for _, r := range c.out {
				if (r < 0x20 || (r >= 0x7f && r <= 0x9f) || formatControl(r) || r == 0x2028 || r == 0x2029) && !(c.multiline && (r == '\n' || r == '\t')) {
					t.Fatalf("%s: control %U in %q", c.name, r, c.out)
				}
			}
			if len(c.out) > c.cap+len(c.marker) || (len(c.out) > c.cap && !strings.HasSuffix(c.out, c.marker)) {
				t.Fatalf("%s: %d bytes over cap %d: %q", c.name, len(c.out), c.cap, c.out)
			}
			if checkSecret && strings.Contains(c.out, secret) {
				t.Fatalf("%s: secret %q survives in %q", c.name, secret, c.out)
			}
		}
	})
}
