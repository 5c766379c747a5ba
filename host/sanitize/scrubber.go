package sanitize

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/relay-host/relay-host/admission/procid"
)

// hostname is a test seam: tests plant a realistic host name.
var hostname = os.Hostname

// Scrubber is the one mutable part of this package: a Policy plus this
// host's identity (hostname, boot id, process ids), which can grow while a
// command runs (the lock root and shared-state directories are only known
// after Describe, a plugin's secrets only once its environment is built).
//
// Ownership: one Scrubber per command invocation. The CLI creates it with
// the loggers (hostlog.Logs carries it, so every log line passes through
// it), and whoever learns a value to hide during the command adds it with
// AddSecrets or AddPaths. It only grows: nothing is ever removed, so
// whatever is cleaned later is cleaned at least as strictly as before. Each
// call works on one immutable snapshot (an atomic pointer), so it is safe
// for concurrent use and an addition never tears a call in progress.
type Scrubber struct {
	p atomic.Pointer[state]
}

type state struct {
	policy   Policy
	hostname string // redacted as a whole token; "" when too short to be safe
	bootID   string
}

// NewScrubber returns a Scrubber for policy, with this host's identity added.
func NewScrubber(policy Policy) *Scrubber {
	s := &Scrubber{}
	st := &state{policy: policy, bootID: procid.BootID()}
	// A host name shorter than 4 bytes ("vm", "ci") would redact ordinary
	// words from reviews; such a name identifies little anyway.
	if h, err := hostname(); err == nil && len(h) >= 4 && h != "localhost" {
		st.hostname = h
	}
	s.p.Store(st)
	return s
}

// AddSecrets adds values to redact.
func (s *Scrubber) AddSecrets(values ...string) {
	s.update(func(p *Policy) { p.Secrets = append(p.Secrets, values...) })
}

// AddPaths adds paths (state directories, the lock root, config files)
// that are removed, with anything below them, wherever they lie: inside the
// home directory or not. Each is added as given, absolute (a relative path
// is taken from the working directory) and symlink-resolved, since a plugin
// may report any of these spellings (os.Getwd, filepath.EvalSymlinks, a
// CLI that resolves its config dir).
func (s *Scrubber) AddPaths(paths ...string) {
	var forms []string
	for _, p := range paths {
		forms = append(forms, pathForms(p)...)
	}
	s.update(func(p *Policy) {
		for _, f := range forms {
			if !slices.Contains(p.Paths, f) {
				p.Paths = append(p.Paths, f)
			}
		}
	})
}

// pathForms returns p, its absolute form and its symlink-resolved form.
func pathForms(p string) []string {
	if p == "" {
		return nil
	}
	forms := []string{p}
	abs, err := filepath.Abs(p)
	if err != nil {
		return forms
	}
	if abs != p {
		forms = append(forms, abs)
	}
	if real := resolve(abs); real != abs {
		forms = append(forms, real)
	}
	return forms
}

// resolve returns abs with its symlinks resolved. A path that does not
// exist yet (a jobs dir made later) is resolved through its nearest
// existing ancestor, so a symlinked state root still counts.
func resolve(abs string) string {
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		if dir == filepath.Dir(dir) {
			return abs
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

func (s *Scrubber) update(f func(*Policy)) {
	for {
		old := s.p.Load()
		n := *old
		n.policy.Secrets = append([]string(nil), old.policy.Secrets...)
		n.policy.Paths = append([]string(nil), old.policy.Paths...)
		f(&n.policy)
		if s.p.CompareAndSwap(old, &n) {
			return
		}
	}
}

// Policy returns the current sanitize policy (without host identity).
func (s *Scrubber) Policy() Policy { return s.p.Load().policy }

// Review cleans multi-line text.
func (s *Scrubber) Review(text string) string {
	st := s.p.Load()
	return st.policy.Review(st.identity(text))
}

// Message cleans a one-line message.
func (s *Scrubber) Message(text string) string {
	st := s.p.Load()
	return st.policy.Message(st.identity(text))
}

// Field cleans a short identifier such as a model name.
func (s *Scrubber) Field(text string) string {
	st := s.p.Load()
	return st.policy.Field(st.identity(text))
}

// pidRE matches how process ids are written in prose and logs ("pid 4242",
// "pid=4242", "PID: 4242", "ppid 1"). A bare number is left alone: reviews
// are full of line numbers.
var pidRE = regexp.MustCompile(`(?i)\b(p?pid)(["']?\s*[:=]?\s*["']?)(\d+)`)

// identity removes this host's holder identity. It runs before the policy,
// so its markers are then left alone by it.
func (st *state) identity(text string) string {
	text = pidRE.ReplaceAllString(text, "${1}${2}"+Redacted)
	if st.bootID != "" && len(st.bootID) >= 8 {
		text = strings.ReplaceAll(text, st.bootID, Redacted)
	}
	if st.hostname != "" {
		text = replaceToken(text, st.hostname)
	}
	return text
}

// replaceToken replaces whole-token occurrences of tok, case-insensitively
// (DNS names are), where a token boundary is anything that cannot be part
// of a host name.
func replaceToken(s, tok string) string {
	ls, lt := strings.ToLower(s), strings.ToLower(tok)
	if !strings.Contains(ls, lt) {
		return s
	}
	var b strings.Builder
	prev := 0
	for off := 0; ; {
		i := strings.Index(ls[off:], lt)
		if i < 0 {
			break
		}
		start, end := off+i, off+i+len(lt)
		if (start == 0 || !hostByte(s[start-1])) && (end == len(s) || !hostByte(s[end]) || s[end] == '.') {
			b.WriteString(s[prev:start])
			b.WriteString(Redacted)
			prev = end
		}
		off = end
	}
	b.WriteString(s[prev:])
	return b.String()
}

func hostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}
