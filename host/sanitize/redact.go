package sanitize

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

type span struct{ start, end int }

// mask replaces each maximal run covered by spans with repl. Covering the
// union (rather than replacing matches one after another) means overlapping
// secrets or paths never leave a fragment of one of them behind.
func mask(s string, spans []span, repl string) string {
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var b strings.Builder
	b.Grow(len(s))
	prev := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		b.WriteString(s[prev:start])
		b.WriteString(repl)
		prev = end
	}
	b.WriteString(s[prev:])
	return b.String()
}

// occurrences appends every occurrence of needle in s, overlapping ones
// included, merging as it goes so a long run of matches stays one span.
func occurrences(spans []span, s, needle string) []span {
	first := len(spans)
	for off := 0; ; {
		i := strings.Index(s[off:], needle)
		if i < 0 {
			return spans
		}
		sp := span{off + i, off + i + len(needle)}
		if n := len(spans); n > first && sp.start <= spans[n-1].end {
			spans[n-1].end = sp.end
		} else {
			spans = append(spans, sp)
		}
		off += i + 1
	}
}

// secretForms returns the secrets as they can appear in stripped text: each
// value stripped the same way and trimmed (a key read from a file often ends
// in a newline), plus its JSON-escaped spelling, since plugins relay raw
// JSON error bodies.
func (p Policy) secretForms(multiline bool) []string {
	var forms []string
	for _, sec := range p.Secrets {
		v := strings.TrimSpace(strip(sec, multiline))
		if len(v) < 4 {
			continue
		}
		forms = append(forms, v)
		if j, err := json.Marshal(v); err == nil {
			if js := string(j[1 : len(j)-1]); js != v {
				forms = append(forms, js)
			}
		}
	}
	return forms
}

func redactSecrets(s string, secrets []string) string {
	var spans []span
	for _, sec := range secrets {
		spans = occurrences(spans, s, sec)
		if tokenLike(sec) {
			spans = fragments(spans, s, sec)
		}
	}
	return mask(s, spans, Redacted)
}

// minFragment is the shortest piece of a token-like secret that is redacted
// on its own. A plugin (or the CLI it runs) may cut a message before the
// host sees it, leaving a key's first or last characters; the host redacts
// the whole value before it cuts, but cannot undo a cut made upstream, so
// any run of at least minFragment bytes of such a secret goes too. Twelve
// bytes of a random key do not occur in ordinary text by chance.
const minFragment = 12

// tokenLike reports whether a secret value is a credential-shaped token
// (long, no spaces, not a URL or a path), whose fragments are redacted. A
// base URL or a directory passed through env is redacted whole only:
// "https://api." must stay readable in a review.
func tokenLike(v string) bool {
	return len(v) >= 16 && !strings.ContainsAny(v, " \t\n/")
}

// fragments appends the spans of s that are runs of at least minFragment
// bytes of sec, each extended as far as it still occurs in sec.
func fragments(spans []span, s, sec string) []span {
	if len(s) < minFragment {
		return spans
	}
	windows := make(map[string]struct{}, len(sec)-minFragment+1)
	for i := 0; i+minFragment <= len(sec); i++ {
		windows[sec[i:i+minFragment]] = struct{}{}
	}
	for i := 0; i+minFragment <= len(s); i++ {
		if _, ok := windows[s[i:i+minFragment]]; !ok {
			continue
		}
		end := i + minFragment
		for end < len(s) && strings.Contains(sec, s[i:end+1]) {
			end++
		}
		spans = append(spans, span{i, end})
		i = end - 1
	}
	return spans
}

// pattern is a credential shape. Only submatch group is replaced, so
// "Authorization: Bearer [REDACTED]" still says what was there.
type pattern struct {
	re     *regexp.Regexp
	group  int
	accept func(string) bool // nil: every match
	// hints are lower-case literals one of which every match contains; a
	// text with none of them skips the regexp (most text has none, and an
	// unanchored regexp costs a pass of the NFA over every byte).
	hints []string
}

// tokenChars is what bearer tokens and key values are made of.
const tokenChars = `[A-Za-z0-9._~+/=-]`

var patterns = []pattern{
	// "Bearer <token>", "Basic <base64>". Prose such as "Bearer
	// authentication" is left alone: a token has a digit or is long.
	{re: regexp.MustCompile(`(?i)\b(?:bearer|basic)\s+(` + tokenChars + `{8,})`), group: 1, accept: looksLikeToken, hints: []string{"bearer", "basic"}},
	// Vendor key formats: Anthropic/OpenAI/DeepSeek sk-…, Google AIza…,
	// xAI xai-…, GitHub, AWS access key ids, Slack, JWTs, Zhipu id.secret.
	{re: regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{16,}`), hints: []string{"sk-"}},
	{re: regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{30,}`), hints: []string{"aiza"}},
	{re: regexp.MustCompile(`\bxai-[A-Za-z0-9_-]{16,}`), hints: []string{"xai-"}},
	{re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`), hints: []string{"gh", "github_pat_"}},
	{re: regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`), hints: []string{"akia"}},
	{re: regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`), hints: []string{"xox"}},
	{re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), hints: []string{"eyj"}},
	{re: regexp.MustCompile(`\b[0-9a-f]{32}\.[A-Za-z0-9]{16}\b`)},
	// Credentials in a URL's userinfo: "https://user:pass@host" and a bare
	// token as the user name ("https://<token>@github.com"). The whole
	// userinfo goes, up to the last "@" before the host (an unescaped "@"
	// in a password must not leave its end behind). A short user name
	// alone ("ssh://git@host") is no credential.
	{re: regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://([^\s/?#@"'<>]*:[^\s/?#"'<>]*)@`), group: 1, hints: []string{"://"}},
	{re: regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://([A-Za-z0-9._~+%-]{20,})@`), group: 1, hints: []string{"://"}},
	// Long values of key-like names: api_key=…, "api_key": "…",
	// X-Api-Key: …, ANTHROPIC_API_KEY=…, password: ….
	{re: regexp.MustCompile(`(?i)(?:api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret[_-]?key|password|passwd)["']?\s*[:=]\s*["']?(` + tokenChars + `{16,})`), group: 1,
		hints: []string{"key", "token", "secret", "passw"}},
}

func looksLikeToken(t string) bool {
	return len(t) >= 20 || strings.ContainsAny(t, "0123456789")
}

func redactPatterns(s string) string {
	var spans []span
	lower := foldASCII(s)
	for _, p := range patterns {
		if len(p.hints) > 0 && !slices.ContainsFunc(p.hints, func(h string) bool { return strings.Contains(lower, h) }) {
			continue
		}
		for _, m := range p.re.FindAllStringSubmatchIndex(s, -1) {
			start, end := m[2*p.group], m[2*p.group+1]
			if p.accept == nil || p.accept(s[start:end]) {
				spans = append(spans, span{start, end})
			}
		}
	}
	return mask(s, spans, Redacted)
}

// foldASCII lower-cases s for the hint check, mapping every rune that
// case-folds to an ASCII letter onto it (K, the Kelvin sign, to k; ſ, the
// long s, to s), as the (?i) patterns' own folding does: a hint must never
// rule out a text its regexp would match.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf {
				return unicode.ToLower(f)
			}
		}
		return r
	}, s)
}

// cleanDir returns an absolute directory without a trailing slash, or ""
// for anything that would match too much ("/", relative, empty).
func cleanDir(d string) string {
	if d == "" || !filepath.IsAbs(d) {
		return ""
	}
	if d = filepath.Clean(d); d == "/" {
		return ""
	}
	return d
}

// pathForms returns each path and, when it lies under Home, its "~/…"
// spelling too.
func (p Policy) pathForms() []string {
	home := cleanDir(p.Home)
	var forms []string
	for _, raw := range p.Paths {
		d := cleanDir(raw)
		if d == "" {
			continue
		}
		forms = append(forms, d)
		if home != "" && strings.HasPrefix(d, home+"/") {
			forms = append(forms, "~"+d[len(home):])
		}
	}
	return forms
}

// pathByte reports whether c can continue a path in prose: the rest of a
// file name below a removed directory goes with it, since below a lock root
// sits the key slug, an account-identity hash.
func pathByte(c byte) bool {
	return c > ' ' && !strings.ContainsRune("\"'`<>|()[]{},;", rune(c)) && c != 0x7f
}

func replacePaths(s string, paths []string) string {
	var found []span
	for _, p := range paths {
		found = occurrences(found, s, p)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].start < found[j].start })
	// Sweep in order, extending each run over the rest of the path. An
	// extension starts at or after the previous run's end, so each byte is
	// scanned once however many occurrences there are.
	var spans []span
	for _, sp := range found {
		if n := len(spans); n > 0 && sp.start <= spans[n-1].end {
			sp.start = spans[n-1].start
			sp.end = max(sp.end, spans[n-1].end)
			spans = spans[:n-1]
		}
		for sp.end < len(s) && pathByte(s[sp.end]) {
			sp.end++
		}
		spans = append(spans, sp)
	}
	return mask(s, spans, PathMark)
}

// replaceHome writes home as "~" where it is a whole path component:
// "/home/u/x" and "/home/u" but not "/home/u2".
func replaceHome(s, home string) string {
	if home == "" {
		return s
	}
	var spans []span
	for _, sp := range occurrences(nil, s, home) {
		if sp.end == len(s) || s[sp.end] == '/' || !pathByte(s[sp.end]) {
			spans = append(spans, sp)
		}
	}
	return mask(s, spans, "~")
}
