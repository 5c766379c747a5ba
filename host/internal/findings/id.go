package findings

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ID is a finding's stable id: the first 16 hex digits of the sha256 of
// its path, its normalised title (normTitle) and its line bucket. The
// bucket is (line-1)/10, so lines 1-10 share bucket 0, 11-20 bucket 1 and
// so on; a whole-file finding (line 0) has a bucket of its own. The same
// issue reported again on a re-run, or by another reviewer, a line or two
// off, gets the same id unless the lines straddle a multiple of ten;
// Merge joins such near misses anyway, and a merged finding carries the
// smallest id of its reports. Severity, body and wording of punctuation or
// case do not enter it.
func ID(file, title string, line int) string {
	bucket := "file"
	if line > 0 {
		bucket = strconv.Itoa((line - 1) / 10)
	}
	sum := sha256.Sum256([]byte("relay-finding/v1\x00" + file + "\x00" + normTitle(title) + "\x00" + bucket))
	return hex.EncodeToString(sum[:8])
}

// severityPrefix is a severity label a model put before a title: "[HIGH]
// x", "(nit) x", "Critical: x", "major - x". A bare leading word ("Error
// handling …") is part of the title.
var severityPrefix = sync.OnceValue(func() *regexp.Regexp {
	words := make([]string, 0, len(severityWords))
	for w := range severityWords {
		words = append(words, w)
	}
	slices.Sort(words)
	alt := strings.Join(words, "|")
	return regexp.MustCompile(`(?i)^\W*(?:[\[(]\s*(?:` + alt + `)\s*[\])]\W*|(?:` + alt + `)\s*(?::|\s-|–|—)\W*)`)
})

// normTitle is a title as ids and similarity compare it: a severity label
// before it dropped, lower-cased, split into words of letters and digits,
// joined by single spaces.
func normTitle(title string) string {
	if loc := severityPrefix().FindStringIndex(title); loc != nil && loc[1] < len(title) {
		title = title[loc[1]:]
	}
	return strings.Join(normWords(title), " ")
}

// lazyRegexp compiles pattern the first time it is used: relay-host's
// core links this package for every command, and most never read findings.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
