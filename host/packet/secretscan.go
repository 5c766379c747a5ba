package packet

import (
	"bytes"
	"math"
	"regexp"
)

// The content scan looks at every line a packet would add (the '+' lines of
// each file's diff: changed lines of tracked files, whole added and
// untracked files) for credentials of well-known shapes. A file with a hit
// is left out whole (ReasonSecretContent); what matched is never recorded,
// printed or returned. Removed and context lines are not scanned: deleting
// a key is what a clean-up looks like, and flagging it would leave the
// clean-up unreviewable.
//
// The rules are hand-written rather than a detector library: gitleaks and
// trufflehog carry hundreds of rules and large dependency trees (and
// trufflehog's detectors verify keys over the network, which a packet
// builder must never do) for the dozen shapes this tool promises to catch.
// Token shapes are RE2 patterns, linear in the line length, each run only on
// lines that contain its literal prefix; the name = value rule is a byte
// loop. On ordinary code the cost is a few bytes.Contains per line
// (see BENCHMARKS.md).

// tokenRule is a credential with a recognisable literal prefix.
type tokenRule struct {
	literal string         // cheap prefilter: the line must contain it
	re      *regexp.Regexp // the whole token
	body    int            // bytes of literal prefix in a match, not counted for entropy
}

var tokenRules = []tokenRule{
	// Anthropic (sk-ant-api03-…, sk-ant-admin01-…), OpenAI (sk-…,
	// sk-proj-…, sk-svcacct-…, sk-admin-…) and DeepSeek (sk-<32 hex>).
	{"sk-", regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}`), len("sk-")},
	// GitHub: classic personal, OAuth, user-to-server, server-to-server and
	// refresh tokens, then fine-grained personal access tokens.
	{"gh", regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36}\b`), len("ghp_")},
	{"github_pat_", regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b`), len("github_pat_")},
	// Slack: xoxb-, xoxp-, xoxa-, xoxo-, xoxs-, xoxr- followed by numeric ids.
	{"xox", regexp.MustCompile(`\bxox[abposr]-[0-9]+-[0-9A-Za-z-]{10,}`), len("xoxb-")},
	// Google API keys.
	{"AIza", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`), len("AIza")},
	// JSON Web Tokens: base64url header and payload of JSON objects ("eyJ"
	// is `{"`), then a signature.
	{"eyJ", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`), 0},
}

var (
	// pemBegin is the armour line of a private key: PKCS#1 (RSA, EC, DSA),
	// PKCS#8 (plain and ENCRYPTED), OpenSSH, and PGP's "PRIVATE KEY BLOCK".
	pemBegin = regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)

	// awsKeyID is an AWS access key id. An id alone is an account
	// identifier, not a credential (and documentation is full of AWS's
	// example id): a file trips this rule only when it also adds a secret
	// access key (see hasAWSSecret).
	awsKeyID = regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`)

	// uriScheme starts a value that names where a secret is, or hashes it.
	uriScheme = regexp.MustCompile(`^(?i)[a-z][a-z0-9+.-]{1,15}:`)
)

// pemBodyWindow is how many lines after an armour line may pass
// before the key's base64 body starts: encrypted PKCS#1 keys have
// Proc-Type, DEK-Info and a blank line first, PGP blocks a comment and a
// blank line.
const pemBodyWindow = 4

// contentScanner scans the lines of one file's diff. The zero value is ready; a
// hit is final.
type contentScanner struct {
	hit       bool
	pemWindow int  // > 0: lines left in which a key body may follow an armour line
	awsID     bool // an access key id was added
	awsSecret bool // a secret access key shaped string was added
}

// added scans one line of the diff (without its +, - or space prefix and newline).
func (s *contentScanner) added(line []byte) {
	if s.hit {
		return
	}
	if s.pemWindow > 0 {
		if longestBase64Run(line) >= 40 {
			s.hit = true
			return
		}
		s.pemWindow--
	}
	if len(line) < 16 { // shorter than every shape below
		return
	}
	if bytes.Contains(line, []byte("PRIVATE KEY")) {
		if loc := pemBegin.FindIndex(line); loc != nil {
			// The body on the same line: a key inside a JSON string
			// ("-----BEGIN PRIVATE KEY-----\nMIIE…") or a one-line blob.
			if longestBase64Run(line[loc[1]:]) >= 40 {
				s.hit = true
				return
			}
			s.pemWindow = pemBodyWindow
		}
	}
	for _, r := range tokenRules {
		if !bytes.Contains(line, []byte(r.literal)) {
			continue
		}
		for _, m := range r.re.FindAll(line, -1) {
			if !placeholderToken(m[r.body:]) {
				s.hit = true
				return
			}
		}
	}
	if !s.awsID && (bytes.Contains(line, []byte("IA")) || bytes.Contains(line, []byte("ACCA"))) {
		s.awsID = awsKeyID.Match(line)
	}
	if !s.awsSecret {
		s.awsSecret = hasAWSSecret(line)
	}
	if s.awsID && s.awsSecret {
		s.hit = true
		return
	}
	if bytes.ContainsAny(line, "=:") && assignedCredential(line) {
		s.hit = true
	}
}

// credentialNames end the name of an assignment whose value is a
// credential: password, DB_PASSWD, client_secret, auth_token, apiKey,
// AWS_ACCESS_KEY, private-key. A bare "key" is too common (map keys,
// sort keys) to count.
var credentialNames = []string{"password", "passwd", "pwd", "secret", "token",
	"apikey", "api_key", "api-key", "accesskey", "access_key", "access-key",
	"authkey", "auth_key", "auth-key", "privatekey", "private_key", "private-key"}

// assignedCredential reports whether line assigns a credential-looking
// literal to a credential name: `name = value`, also :=, =>, : and a
// quoted name, as in Go, shell, Python, Ruby, YAML, JSON and .properties.
// It is a hand-written scan rather than a case-insensitive regexp, which
// was most of the scan's cost on ordinary code.
func assignedCredential(line []byte) bool {
	for i := 0; i < len(line); i++ {
		n := nameAt(line, i)
		if n == 0 {
			continue
		}
		j := i + n
		if j < len(line) && (line[j] == '"' || line[j] == '\'') {
			j++
		}
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		switch {
		case bytes.HasPrefix(line[j:], []byte(":=")), bytes.HasPrefix(line[j:], []byte("=>")):
			j += 2
		case j < len(line) && (line[j] == '=' || line[j] == ':'):
			j++
		default:
			continue
		}
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		if credentialValue(line[j:]) {
			return true
		}
	}
	return false
}

// nameAt is the length of the credential name starting at line[i], or 0.
func nameAt(line []byte, i int) int {
	c := lower(line[i])
	switch c {
	case 'p', 's', 't', 'a': // the first letters of credentialNames
	default:
		return 0
	}
	for _, w := range credentialNames {
		if c != w[0] || len(line)-i < len(w) {
			continue
		}
		if equalFold(line[i:i+len(w)], w) {
			return len(w)
		}
	}
	return 0
}

// equalFold compares b with the lower-case ASCII word w, ignoring ASCII case.
func equalFold(b []byte, w string) bool {
	for j := range len(w) {
		if lower(b[j]) != w[j] {
			return false
		}
	}
	return true
}

// containsFoldAny reports whether s contains one of the lower-case ASCII
// words, ignoring ASCII case, without allocating.
func containsFoldAny(s []byte, words []string) bool {
	for i := range s {
		c := lower(s[i])
		for _, w := range words {
			if c == w[0] && len(s)-i >= len(w) && equalFold(s[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// credentialValue reports whether the text after an assignment operator
// starts with a value that looks like a real credential: a literal, long
// and random enough, and not one of the placeholders that configuration
// examples and code are full of.
func credentialValue(rest []byte) bool {
	if len(rest) == 0 || rest[0] == '=' { // "==": a comparison
		return false
	}
	quoted := false
	var v []byte
	if q := rest[0]; q == '"' || q == '\'' || q == '`' {
		quoted = true
		end := bytes.IndexByte(rest[1:], q)
		if end < 0 {
			// Not a literal on this line: more often the quote closes the
			// string the name was in ("PWD=" + dir) than a secret spans
			// lines.
			return false
		}
		v = rest[1 : 1+end]
	} else {
		v = rest
		if end := bytes.IndexAny(v, " \t,;)}]"); end >= 0 {
			v = v[:end]
		}
	}
	if len(v) < 10 || bytes.ContainsAny(v, " \t") || placeholderValue(v) {
		return false
	}
	if !quoted {
		// Unquoted, a value is as likely an expression as a literal:
		// os.Getenv("X"), cfg.Token, args[1], someOtherName. Only a long
		// token with letters and digits and no call, index or selector
		// counts.
		if bytes.ContainsAny(v, "([.") || len(v) < 16 || !hasLetterAndDigit(v) {
			return false
		}
		return entropy(v) >= 3.5
	}
	// Random strings mix cases or letters and digits; words joined by
	// hyphens or dots (synthetic-subject, first-branch) do not.
	if alnumClasses(v) < 2 {
		return false
	}
	return entropy(v) >= 3.2
}

// placeholderWords are what examples put where a credential goes; a value
// containing one (case-insensitively) is not a credential.
var placeholderWords = []string{
	"changeme", "change_me", "change-me", "example", "placeholder", "dummy", "sample", "your",
	"xxx", "***", "...", "redacted", "replace", "insert", "fixme", "todo", "fake", "mock", "test",
	"password", "passwd", "secret", "token", "key", "getenv", "environ", "process.env", "env(", "env.",
	"null", "none", "undefined",
}

func placeholderValue(v []byte) bool {
	switch v[0] {
	case '$', '/', '.', '~', '<', '%', '{', '@', '!', '&', '*': // variables, paths, templates, YAML tags and anchors
		return true
	}
	for _, t := range []string{"${", "$(", "{{", "<%", "%(", "://"} {
		if bytes.Contains(v, []byte(t)) {
			return true
		}
	}
	if uriScheme.Match(v) { // urn:uuid:…, sha256:…, vault:…: a reference, not the secret
		return true
	}
	return containsFoldAny(v, placeholderWords)
}

// placeholderToken reports whether the variable part of a token-shaped
// match is filler: sk-xxxxxxxx…, AIza000…, or a template's repeated letters.
func placeholderToken(body []byte) bool {
	return entropy(body) < 3.0 || containsFoldAny(body, []string{"xxxx", "example", "your"})
}

// entropy is the Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// alnumClasses counts which of lower case, upper case and digits occur in b.
func alnumClasses(b []byte) int {
	var lower, upper, digit int
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			lower = 1
		case 'A' <= c && c <= 'Z':
			upper = 1
		case '0' <= c && c <= '9':
			digit = 1
		}
	}
	return lower + upper + digit
}

func hasLetterAndDigit(b []byte) bool {
	letter, digit := false, false
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9':
			digit = true
		}
	}
	return letter && digit
}

func isBase64(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// longestBase64Run is the length of the longest run of base64 characters
// in b.
func longestBase64Run(b []byte) int {
	longest, run := 0, 0
	for _, c := range b {
		if isBase64(c) {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// hasAWSSecret reports whether b holds a run of exactly 40 base64
// characters with lower case, upper case and digits, the shape of an AWS
// secret access key (a git object id is 40 lower-case hex digits, so it
// does not count), that is not AWS's documentation example.
func hasAWSSecret(b []byte) bool {
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && isBase64(b[i]) {
			continue
		}
		if run := b[start:i]; len(run) == 40 && (i == len(b) || b[i] != '=') &&
			hasClasses(run) && !bytes.Contains(run, []byte("EXAMPLE")) {
			return true
		}
		start = i + 1
	}
	return false
}

func hasClasses(run []byte) bool {
	var lower, upper, digit bool
	for _, c := range run {
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		}
	}
	return lower && upper && digit
}
