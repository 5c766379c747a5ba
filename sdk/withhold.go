package sdk

import "fmt"

// maxTextBytes bounds a text the SDK passes on from a provider whole: a
// progress message, a panic value, a stray output line. It is sixteen times
// the host's cap on a message (4 KiB), so an ordinary text always arrives
// whole and the host, which knows the secrets, redacts it before it cuts.
const maxTextBytes = 64 << 10

// withhold returns s when it fits in maxTextBytes and otherwise a note of
// its length, never a prefix of it. The SDK does not know the host's
// secrets: a prefix could end inside one, and what is left of it would no
// longer match the value the host redacts.
func withhold(what, s string) string {
	if len(s) <= maxTextBytes {
		return s
	}
	return fmt.Sprintf("[%s of %d bytes withheld: over the %d KiB limit]", what, len(s), maxTextBytes>>10)
}
