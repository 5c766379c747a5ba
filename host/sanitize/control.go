package sanitize

import (
	"strings"
	"unicode/utf8"
)

// strip returns s as valid UTF-8 (each invalid byte becomes U+FFFD) with
// every terminal escape sequence and control character removed. \n and \t
// are kept when multiline, else they become spaces; \r is dropped (CRLF
// becomes LF, and a lone CR cannot overwrite a line on a terminal).
//
// Unicode format controls that reorder or hide text are dropped too: the
// bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069), the
// marks U+200E/U+200F and the byte order mark U+FEFF. With them a review can
// show a reader other text than it holds ("Trojan Source"). The line and
// paragraph separators U+2028/U+2029 are handled as \n, so they cannot end a
// line where the terminal shows none.
//
// Sequences recognised: ESC with CSI (ESC [ … final), string sequences
// (OSC ESC ], DCS ESC P, SOS ESC X, PM ESC ^, APC ESC _) ended by BEL or ST
// (ESC \ or U+009C), nF (ESC intermediates final) and two-byte Fp/Fe/Fs
// escapes; the C1 forms U+009B (CSI) and U+0090/98/9D/9E/9F (string
// sequences); a bare ESC is dropped alone. A malformed sequence ends at the
// first byte that cannot continue it, and that byte is then handled as text,
// so stripping never swallows more than one line of an unterminated string.
func strip(s string, multiline bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		next := i + size
		switch {
		case r == '\n' || r == '\t' || r == 0x2028 || r == 0x2029:
			if r != '\t' {
				r = '\n'
			}
			if multiline {
				b.WriteRune(r)
			} else {
				b.WriteByte(' ')
			}
		case r == 0x1b:
			next = skipEscape(s, next)
		case r == 0x9b:
			next = skipCSI(s, next)
		case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f:
			next = skipString(s, next)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			// other C0 and C1 controls and DEL: dropped
		case formatControl(r):
			// dropped
		default:
			// r is utf8.RuneError for an invalid byte: written as U+FFFD.
			b.WriteRune(r)
		}
		i = next
	}
	return b.String()
}

// formatControl reports whether r is a bidi or invisible format control
// that strip drops.
func formatControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0xfeff
}

// skipEscape returns the index just past the sequence whose ESC ends at j.
func skipEscape(s string, j int) int {
	if j >= len(s) {
		return j
	}
	switch c := s[j]; {
	case c == '[':
		return skipCSI(s, j+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipString(s, j+1)
	case c >= 0x20 && c <= 0x2f: // nF: intermediates, then one final byte
		k := j
		for k < len(s) && s[k] >= 0x20 && s[k] <= 0x2f {
			k++
		}
		if k < len(s) && s[k] >= 0x30 && s[k] <= 0x7e {
			k++
		}
		return k
	case c >= 0x30 && c <= 0x7e: // Fp, Fe, Fs: ESC 7, ESC =, ESC c, ESC M, …
		return j + 1
	default: // bare ESC
		return j
	}
}

// skipCSI skips parameter and intermediate bytes and one final byte.
func skipCSI(s string, j int) int {
	for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
		j++
	}
	if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
		j++
	}
	return j
}

// skipString skips a string sequence's payload (an OSC 8 hyperlink's URL, a
// window title) up to and including its terminator: BEL, ESC \ or U+009C.
// It also ends, without consuming it, at another ESC (which aborts the
// string on real terminals), CAN, SUB or a newline, so an unterminated
// sequence costs at most the rest of its line.
func skipString(s string, j int) int {
	for ; j < len(s); j++ {
		switch s[j] {
		case 0x07:
			return j + 1
		case 0x1b:
			if j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
			return j
		case 0x18, 0x1a, '\n':
			return j
		case 0xc2:
			if j+1 < len(s) && s[j+1] == 0x9c {
				return j + 2
			}
		}
	}
	return j
}
