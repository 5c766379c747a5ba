package packet

import (
	"bytes"
	"errors"
	"strconv"
)

// section is one file's part of a unified diff as git writes it: from its
// "diff --git" line to the next one.
type section struct {
	path   string
	start  int   // buf[start:end] of its sink holds its first bytes,
	end    int   // as many as the memory cap allowed
	n      int64 // all its bytes
	binary bool  // git wrote "Binary files … differ" instead of content
	secret bool  // a line it would send holds a credential (see contentScanner)
	hunks  bool  // past the headers: lines now start with ' ', '+', '-', '\\' or "@@"
	scan   contentScanner
}

// complete reports whether all of the section's bytes are kept.
func (s *section) complete() bool { return int64(s.end-s.start) == s.n }

// sectionSink is the io.Writer git's diff output goes to. It splits the
// stream into per-file sections and runs the content scan over each line
// it would send (added, removed, context) as it passes, so the diff is produced and read once. Memory stays
// within max bytes of section text in all, as the packet budget bounds it:
// the sections' text is kept back to back in one buffer, a section found
// to hold a secret gives its memory back as soon as it ends (it is the
// last in the buffer), and a kept section that had to be cut short is only
// a problem when something is dropped later (Build then diffs again).
type sectionSink struct {
	max        int64
	buf        []byte                 // the kept sections' text, back to back
	path       string                 // when set, every section is this file's (diff --no-index); else parsed from headers
	waived     func(path string) bool // a flagged file .relayignore re-includes: kept as if clean
	line       []byte                 // an incomplete last line
	pendingLen int64                  // its bytes so far, kept or not
	long       bool                   // line outgrew max: the rest of it is counted, not kept
	cur        *section
	sections   []*section
	err        error
}

func newSectionSink(max int64) *sectionSink { return &sectionSink{max: max} }

// maxLine is the longest line the sink holds to look at: the memory cap,
// but never so little that a file header (a path of up to PATH_MAX bytes,
// twice, possibly C-quoted) cannot be read whatever the budget.
func (k *sectionSink) maxLine() int64 { return max(k.max, 64<<10) }

// Write consumes git's stdout. It never fails, so git is never cut off
// half-way; a malformed stream is reported by finish.
func (k *sectionSink) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			k.addPartial(p)
			break
		}
		chunk := p[:i+1]
		p = p[i+1:]
		if len(k.line) == 0 && !k.long {
			k.handle(chunk, int64(len(chunk)))
			continue
		}
		k.addPartial(chunk)
		k.handle(k.line, k.pendingLen)
		k.line, k.long, k.pendingLen = k.line[:0], false, 0
	}
	return n, nil
}

// addPartial keeps an incomplete line until its newline arrives. A line
// longer than maxLine cannot be kept; it is longer than the budget too, so
// the packet is over budget whatever the line holds: it is counted, and
// (not being scannable) never dropped as a secret, so Build reports the
// budget.
func (k *sectionSink) addPartial(p []byte) {
	k.pendingLen += int64(len(p))
	if k.long {
		return
	}
	if int64(len(k.line)+len(p)) > k.maxLine() {
		k.long = true
		k.line = k.line[:0]
		return
	}
	k.line = append(k.line, p...)
}

// handle takes one line (newline included; the last line of a stream may
// lack it) of n bytes, of which line holds all, or none when it was too long
// to keep.
func (k *sectionSink) handle(line []byte, n int64) {
	if k.err != nil {
		return
	}
	if bytes.HasPrefix(line, []byte("diff --git ")) {
		k.endSection()
		path := k.path
		if path == "" {
			var ok bool
			if path, ok = headerPath(line); !ok {
				k.err = errors.New("git diff: unexpected file header")
				return
			}
		}
		k.cur = &section{path: path, start: len(k.buf), end: len(k.buf)}
	} else if k.cur == nil {
		k.err = errors.New("git diff: output does not start with a file header")
		return
	}
	s := k.cur
	switch {
	case int64(len(line)) < n: // too long to keep, so not scannable either
	case !s.hunks:
		if bytes.HasPrefix(line, []byte("@@")) {
			s.hunks = true
		} else if bytes.HasPrefix(line, []byte("Binary files ")) {
			s.binary = true
		}
	case line[0] == '+' || line[0] == '-' || line[0] == ' ':
		// Removed and context lines are sent too: a key a change deletes
		// (still live, most likely) or one that merely stands near an
		// edited line would reach the provider as surely as an added one.
		s.scan.added(bytes.TrimRight(line[1:], "\r\n"))
	case line[0] == '@':
		// A hunk header carries a line of the file (the enclosing
		// function, as git guesses it).
		s.scan.added(bytes.TrimRight(line, "\r\n"))
	}
	if room := k.max - int64(len(k.buf)); room > 0 && s.complete() {
		k.buf = append(k.buf, line[:min(int64(len(line)), room)]...)
		s.end = len(k.buf)
	}
	s.n += n
}

// text is the kept part of s.
func (k *sectionSink) text(s *section) []byte { return k.buf[s.start:s.end] }

func (k *sectionSink) endSection() {
	s := k.cur
	if s == nil {
		return
	}
	k.cur = nil
	if s.scan.hit && (k.waived == nil || !k.waived(s.path)) {
		s.secret = true
		k.buf = k.buf[:s.start] // it is the last one in buf
		s.end = s.start
	}
	k.sections = append(k.sections, s)
}

// finish flushes a last line without a newline and ends the last section.
func (k *sectionSink) finish() error {
	if len(k.line) > 0 || k.long {
		k.handle(k.line, k.pendingLen)
		k.line, k.long, k.pendingLen = nil, false, 0
	}
	k.endSection()
	return k.err
}

// headerPath is HeaderPath of a whole "diff --git " line.
func headerPath(line []byte) (string, bool) {
	return HeaderPath(string(bytes.TrimSuffix(line[len("diff --git "):], []byte("\n"))))
}

// HeaderPath is P in "a/P b/P", the rest of a "diff --git" line as git
// writes it without rename detection: both sides name the same file,
// C-quoted when it holds a quote, backslash or control character
// (core.quotePath=false leaves other bytes alone). The unquoted form is
// split by length, since P may itself contain " b/". A header whose sides
// differ (a rename) is not read.
func HeaderPath(rest string) (string, bool) {
	if rest != "" && rest[0] == '"' {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", false
		}
		a, err := strconv.Unquote(q)
		if err != nil || len(a) < 3 || a[:2] != "a/" {
			return "", false
		}
		return a[2:], true
	}
	if len(rest) < 7 || (len(rest)-5)%2 != 0 || rest[:2] != "a/" {
		return "", false
	}
	n := (len(rest) - 5) / 2
	p := rest[2 : 2+n]
	if rest[2+n:5+n] != " b/" || rest[5+n:] != p {
		return "", false
	}
	return p, true
}
