package cli

import "os"

// colorEnabled reports whether relay-host may colour what it writes to f
// (HCL diagnostics today): only when f is a terminal, and never when
// NO_COLOR is set to a non-empty value (https://no-color.org) or TERM is
// "dumb". A nil f (stderr is not a terminal) means no colour.
func colorEnabled(getenv func(string) string, f *os.File) bool {
	if f == nil || getenv("NO_COLOR") != "" || dumbTerminal(getenv) {
		return false
	}
	return isTerminal(f.Fd())
}

// dumbTerminal reports TERM=dumb: a terminal that understands carriage
// return but no escape sequences, neither colour nor cursor control, so the
// progress line redraws itself with spaces instead of "erase line".
// NO_COLOR alone does not make a terminal dumb: it is about colour only.
func dumbTerminal(getenv func(string) string) bool {
	return getenv("TERM") == "dumb"
}
