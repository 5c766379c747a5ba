// Package sanitize is the host's disclosure boundary for plugin output: it
// cleans everything a provider plugin returns, and every line a plugin or
// the host logs, before the host persists or prints it.
//
// It has two parts. [Policy] is the pure cleaning (a value, no state). A
// [Scrubber] is a Policy that grows during a command, plus this host's
// holder identity; the host applies every cleaning through one.
//
// Invariant: everything a plugin returns, and every line a plugin logs,
// goes through a Scrubber before it is persisted or printed, so a value of a
// variable passed to the plugin, the home directory, a state directory, or
// this host's holder identity never reaches a job record, stdout or stderr.
// Holder identity may appear only in the host's own debug log.
//
// The output of Policy's Review, Message and Field is valid UTF-8, holds no
// terminal escape sequence, no control character (Review keeps \n and \t)
// and no bidi or invisible format control (U+202A–202E, U+2066–2069,
// U+200E/F, U+2028/9, U+FEFF), contains no value of Policy.Secrets and
// nothing shaped like a bearer token or API key, shows the home directory
// as "~" and Policy.Paths as "[path]", and is at most its byte cap plus the
// truncation marker.
//
// The order of the steps is part of the contract: escape sequences are
// stripped before redaction, so an escape spliced into a secret cannot hide
// it, and redaction runs before truncation, so a cut cannot leave part of a
// secret behind.
package sanitize

import (
	"strings"
	"unicode/utf8"
)

// Default caps, used when a Policy field is zero.
const (
	DefaultMaxReview  = 1 << 20
	DefaultMaxMessage = 4 << 10
	DefaultMaxField   = 256
)

// Redacted replaces a secret or credential; Truncated marks a cut.
const (
	Redacted  = "[REDACTED]"
	PathMark  = "[path]"
	Truncated = "[truncated]"
)

// Policy says what to remove. The zero Policy still strips controls,
// redacts credential patterns and applies the default caps.
type Policy struct {
	// Secrets are the values of the environment variables passed to the
	// plugin. Values shorter than 4 bytes (after trimming spaces) are
	// ignored: they would redact ordinary words.
	Secrets []string
	// Home is the user's home directory, shown as "~".
	Home string
	// Paths are state directories, the lock root and config files: each
	// absolute path, with anything below it, becomes "[path]", inside Home
	// or not. Pass both the configured and the symlink-resolved form when
	// they differ ([Scrubber.AddPaths] does).
	Paths []string
	// Byte caps; 0 means the default.
	MaxReview, MaxMessage, MaxField int
}

// Review cleans multi-line text (a review): it keeps \n and \t and cuts at
// MaxReview bytes, appending "\n[truncated]" when it cut.
func (p Policy) Review(s string) string {
	return p.clean(s, true, capOr(p.MaxReview, DefaultMaxReview), "\n"+Truncated)
}

// Message cleans one line of text (an error message): like Review, but
// newlines and tabs become spaces, surrounding space is trimmed, and the cap
// is MaxMessage with " [truncated]" as the marker.
func (p Policy) Message(s string) string {
	return p.clean(s, false, capOr(p.MaxMessage, DefaultMaxMessage), " "+Truncated)
}

// Field cleans a short identifier (a model name) like Message, capped at
// MaxField.
func (p Policy) Field(s string) string {
	return p.clean(s, false, capOr(p.MaxField, DefaultMaxField), " "+Truncated)
}

func (p Policy) clean(s string, multiline bool, max int, marker string) string {
	s = strip(s, multiline)
	s = redactSecrets(s, p.secretForms(multiline))
	s = redactPatterns(s)
	s = replacePaths(s, p.pathForms())
	s = replaceHome(s, cleanDir(p.Home))
	if !multiline {
		s = strings.TrimSpace(s)
	}
	return truncate(s, max, marker)
}

func capOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// truncate cuts valid UTF-8 s to at most max bytes on a rune boundary.
func truncate(s string, max int, marker string) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}
