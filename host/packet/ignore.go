package packet

import (
	"path"
	"strings"
)

// ignoreRule is one parsed .relayignore line. The parsing follows git's
// dir.c (parse_path_pattern) so that a line means what it means in a
// .gitignore at the repository root.
type ignoreRule struct {
	pattern  string
	negate   bool // "!pat": re-include
	dirOnly  bool // "pat/": matches directories only
	basename bool // no slash in the pattern: match the base name at any depth
}

// ignoreRules is a .relayignore file. The last matching rule decides, and a
// path under an excluded directory stays excluded whatever later rules say,
// because git never looks inside a directory it has excluded.
type ignoreRules []ignoreRule

// We match .relayignore ourselves instead of using
// github.com/sabhiram/go-gitignore: that library treats '?' as a literal,
// does not anchor patterns with a middle slash ("docs/x.md" also matches
// "a/docs/x.md"), passes other regexp metacharacters through unescaped, and
// lets "!" re-include files inside an excluded directory, which git does not.
// wildmatch.go is a direct port of git's matcher, and ignore_test.go checks
// this file against git itself.
func parseIgnore(text string) ignoreRules {
	var rules ignoreRules
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r") // tolerate CRLF files
		if line == "" || line[0] == '#' {
			continue
		}
		line = trimTrailingSpaces(line)
		if line == "" {
			continue
		}
		var r ignoreRule
		if line[0] == '!' {
			r.negate = true
			line = line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = line[:len(line)-1]
		}
		if line == "" {
			continue
		}
		if !strings.Contains(line, "/") {
			r.basename = true
		} else {
			line = strings.TrimPrefix(line, "/") // anchored either way
		}
		r.pattern = line
		rules = append(rules, r)
	}
	return rules
}

// trimTrailingSpaces drops trailing spaces unless backslash-escaped, as git does.
func trimTrailingSpaces(s string) string {
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		// Count the backslashes before this space.
		n := 0
		for i := end - 2; i >= 0 && s[i] == '\\'; i-- {
			n++
		}
		if n%2 == 1 {
			break // escaped space: keep it
		}
		end--
	}
	return s[:end]
}

// match reports whether the last rule matching p (a slash-separated,
// repository-relative path) excludes it; ok is false when no rule matches.
func (rs ignoreRules) match(p string, isDir bool) (excluded, ok bool) {
	base := path.Base(p)
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if r.dirOnly && !isDir {
			continue
		}
		var m, exhausted bool
		if r.basename {
			m, exhausted = wildmatchBounded(r.pattern, base, false)
		} else {
			m, exhausted = wildmatchBounded(r.pattern, p, true)
		}
		if exhausted {
			// A pattern too costly to decide fails closed: an exclusion
			// excludes, a "!" re-inclusion does not re-include.
			m = !r.negate
		}
		if m {
			return !r.negate, true
		}
	}
	return false, false
}

// excludes reports whether the file at p is excluded: either one of its
// parent directories is excluded, or the file itself is.
func (rs ignoreRules) excludes(p string) bool {
	if len(rs) == 0 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if ex, _ := rs.match(p[:i], true); ex {
				return true
			}
		}
	}
	ex, _ := rs.match(p, false)
	return ex
}

// reincludes reports whether the last .relayignore rule matching the file
// at p itself is a negation ("!p", "!*.txt"): the user's explicit word that
// the file may be sent although the content scan flagged it. A negation
// cannot reach into an excluded directory, as in git, and it does not
// override a built-in secret name pattern (see isSecretPath) or a relay.hcl
// exclusion.
func (rs ignoreRules) reincludes(p string) bool {
	if len(rs) == 0 || rs.excludes(p) {
		return false
	}
	ex, ok := rs.match(p, false)
	return ok && !ex
}

// parseExclude parses Options.Exclude, one gitignore-style pattern per
// entry. Exclusions from relay.hcl may only add to what is left out, so a
// negation is refused rather than ignored: silently dropping it would send
// nothing the user did not expect, but would hide that the pattern did
// nothing.
func parseExclude(patterns []string) (ignoreRules, error) {
	var rules ignoreRules
	for _, p := range patterns {
		rs := parseIgnore(p)
		for _, r := range rs {
			if r.negate {
				return nil, errorf(CodeBadExclude, nil,
					"exclude pattern %q would re-include files, which relay.hcl exclusions cannot do: remove it (a file the content scan flagged is sent with !path in .relayignore)", p)
			}
		}
		rules = append(rules, rs...)
	}
	return rules, nil
}
