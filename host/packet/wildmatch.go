package packet

import "strings"

// wildmatch is a port of git's wildmatch.c (the matcher behind gitignore
// patterns), so .relayignore means exactly what the same line would mean in a
// .gitignore. With pathname set, '*', '?' and bracket expressions never match
// '/', and only a "**" bounded by slashes (or the pattern's ends) crosses
// directories. Matching is byte-wise and case-sensitive, like git's default.
func wildmatch(pattern, text string, pathname bool) bool {
	m, _ := wildmatchBounded(pattern, text, pathname)
	return m
}

// wildmatchBounded is wildmatch that also says when it gave up. git's
// algorithm backtracks: patterns a repository's .relayignore may hold
// ("**/**/**/…/x", "*a*a*a…b") take exponential time on a deep path, and
// .relayignore is read from the reviewed tree, trusted or not. Each result
// for a (pattern suffix, text suffix) pair is remembered once the match
// has recursed a few times, which makes it polynomial, and a step budget
// bounds even that; exhausted is set when the budget ran out (the caller
// fails closed).
func wildmatchBounded(pattern, text string, pathname bool) (matched, exhausted bool) {
	w := &wild{pathname: pathname, pl: len(pattern), tl: len(text)}
	r := w.dowild(pattern, text)
	return r == wmMatch && !w.exhausted, w.exhausted
}

// maxWildSteps bounds one match: far above any real pattern and path
// (a thousand-file change matches each path against each rule in well
// under a hundred steps), far below a noticeable stall. A variable only
// so that a test can make the budget run out.
var maxWildSteps = 1 << 20

type wild struct {
	pathname  bool
	pl, tl    int     // lengths of the whole pattern and text: suffixes are named by their lengths
	calls     int     // recursive calls so far
	steps     int     // star-loop iterations so far
	memo      []uint8 // result+1 per (len(p suffix), len(text suffix)), once calls > memoAfter
	exhausted bool
}

// memoAfter is how many recursive calls a match makes before it starts
// remembering results: most matches ("*.go") stay below it and allocate
// nothing.
const memoAfter = 32

// sub is a recursive dowild on suffixes of the original pattern and text.
func (w *wild) sub(p, text string) int {
	w.calls++
	if w.calls <= memoAfter {
		return w.dowild(p, text)
	}
	if w.memo == nil {
		w.memo = make([]uint8, (w.pl+1)*(w.tl+1))
	}
	k := len(p)*(w.tl+1) + len(text)
	if v := w.memo[k]; v != 0 {
		return int(v - 1)
	}
	r := w.dowild(p, text)
	w.memo[k] = uint8(r + 1)
	return r
}

const (
	wmMatch = iota
	wmNoMatch
	wmAbortAll
	wmAbortToStarStar
)

func isGlobSpecial(c byte) bool {
	return c == '*' || c == '?' || c == '[' || c == '\\'
}

func (w *wild) dowild(p, text string) int {
	if w.exhausted {
		return wmAbortAll
	}
	pathname := w.pathname
	pi, ti := 0, 0
	for ; pi < len(p); pi, ti = pi+1, ti+1 {
		pch := p[pi]
		if ti >= len(text) && pch != '*' {
			return wmAbortAll
		}
		var tch byte
		if ti < len(text) {
			tch = text[ti]
		}
		switch pch {
		case '\\':
			// A backslash makes the next pattern byte literal; a trailing
			// backslash matches nothing.
			pi++
			if pi >= len(p) || tch != p[pi] {
				return wmNoMatch
			}
		case '?':
			if pathname && tch == '/' {
				return wmNoMatch
			}
		case '*':
			var matchSlash bool
			pi++
			if pi < len(p) && p[pi] == '*' {
				prev := pi - 2
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if !pathname {
					matchSlash = true // without pathname, '*' == '**'
				} else if (prev < 0 || p[prev] == '/') &&
					(pi == len(p) || p[pi] == '/' || (p[pi] == '\\' && pi+1 < len(p) && p[pi+1] == '/')) {
					// "**/" may match zero directories: try the rest of
					// the pattern right here first.
					if pi < len(p) && p[pi] == '/' && w.sub(p[pi+1:], text[ti:]) == wmMatch {
						return wmMatch
					}
					matchSlash = true
				} else {
					matchSlash = false
				}
			} else {
				matchSlash = !pathname
			}
			if pi == len(p) {
				// A trailing "**" matches everything; a trailing "*" only
				// what has no further slash.
				if !matchSlash && strings.IndexByte(text[ti:], '/') >= 0 {
					return wmNoMatch
				}
				return wmMatch
			}
			if !matchSlash && p[pi] == '/' {
				// One '*' followed by '/' matches the rest of this path
				// component; the loop's increment consumes both slashes.
				slash := strings.IndexByte(text[ti:], '/')
				if slash < 0 {
					return wmNoMatch
				}
				ti += slash
				continue
			}
			for ti < len(text) {
				if w.steps++; w.steps > maxWildSteps {
					w.exhausted = true
					return wmAbortAll
				}
				if !isGlobSpecial(p[pi]) {
					// Skip ahead to the next occurrence of the literal
					// that follows the star.
					c := p[pi]
					for ti < len(text) && (matchSlash || text[ti] != '/') && text[ti] != c {
						ti++
					}
					if ti >= len(text) || text[ti] != c {
						return wmNoMatch
					}
				}
				m := w.sub(p[pi:], text[ti:])
				if m != wmNoMatch {
					if !matchSlash || m != wmAbortToStarStar {
						return m
					}
				} else if !matchSlash && text[ti] == '/' {
					return wmAbortToStarStar
				}
				ti++
			}
			return wmAbortAll
		case '[':
			pi++
			if pi >= len(p) {
				return wmAbortAll
			}
			negated := p[pi] == '!' || p[pi] == '^'
			if negated {
				pi++
			}
			var prev byte
			matched := false
			for {
				if pi >= len(p) {
					return wmAbortAll
				}
				c := p[pi]
				switch {
				case c == '\\':
					pi++
					if pi >= len(p) {
						return wmAbortAll
					}
					c = p[pi]
					if tch == c {
						matched = true
					}
				case c == '-' && prev != 0 && pi+1 < len(p) && p[pi+1] != ']':
					pi++
					c = p[pi]
					if c == '\\' {
						pi++
						if pi >= len(p) {
							return wmAbortAll
						}
						c = p[pi]
					}
					if tch <= c && tch >= prev {
						matched = true
					}
					c = 0 // a range cannot start another range
				case c == '[' && pi+1 < len(p) && p[pi+1] == ':':
					j := pi + 2
					for j < len(p) && p[j] != ']' {
						j++
					}
					if j >= len(p) {
						return wmAbortAll
					}
					if j-(pi+2)-1 < 0 || p[j-1] != ':' {
						// Not a "[:class:]": a literal '['.
						if tch == '[' {
							matched = true
						}
						break
					}
					in, ok := inClass(p[pi+2:j-1], tch)
					if !ok {
						return wmAbortAll // malformed class name
					}
					if in {
						matched = true
					}
					pi = j
					c = 0
				default:
					if tch == c {
						matched = true
					}
				}
				prev = c
				pi++
				if pi < len(p) && p[pi] == ']' {
					break
				}
			}
			if matched == negated || (pathname && tch == '/') {
				return wmNoMatch
			}
		default:
			if tch != pch {
				return wmNoMatch
			}
		}
	}
	if ti < len(text) {
		return wmNoMatch
	}
	return wmMatch
}

func inClass(name string, c byte) (in, ok bool) {
	isUpper := c >= 'A' && c <= 'Z'
	isLower := c >= 'a' && c <= 'z'
	isDigit := c >= '0' && c <= '9'
	isPrint := c >= 0x20 && c < 0x7f
	switch name {
	case "alnum":
		return isUpper || isLower || isDigit, true
	case "alpha":
		return isUpper || isLower, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < 0x20 || c == 0x7f, true
	case "digit":
		return isDigit, true
	case "graph":
		return isPrint && c != ' ', true
	case "lower":
		return isLower, true
	case "print":
		return isPrint, true
	case "punct":
		return isPrint && c != ' ' && !isUpper && !isLower && !isDigit, true
	case "space":
		return c == ' ' || (c >= '\t' && c <= '\r'), true
	case "upper":
		return isUpper, true
	case "xdigit":
		return isDigit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'), true
	}
	return false, false
}
