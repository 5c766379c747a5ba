package sanitize

import (
	"strings"
	"testing"
)

func TestStrip(t *testing.T) {
	tests := []struct {
		name, in, review, message string
	}{
		{"plain", "hello, world", "hello, world", "hello, world"},
		{"SGR color", "a\x1b[31mred\x1b[0m", "ared", "ared"},
		{"CSI cursor and erase", "x\x1b[2J\x1b[1;1Hy\x1b[?25l", "xy", "xy"},
		{"OSC 8 hyperlink, BEL", "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", "click", "click"},
		{"OSC title, ST", "\x1b]0;pwned\x1b\\text", "text", "text"},
		{"OSC unterminated stops at newline", "a\x1b]0;title\nb", "a\nb", "a b"},
		{"OSC aborted by ESC", "\x1b]0;t\x1b[1mz", "z", "z"},
		{"DCS", "\x1bPq#0;2;0;0;0\x1b\\x", "x", "x"},
		{"APC, PM, SOS", "\x1b_a\x1b\\\x1b^b\x1b\\\x1bXc\x1b\\d", "d", "d"},
		{"nF charset", "\x1b(Bx", "x", "x"},
		{"Fs reset and Fp save", "\x1bcx\x1b7y", "xy", "xy"},
		{"bare ESC", "a\x1b", "a", "a"},
		{"ESC before non-ASCII", "\x1bé", "é", "é"},
		{"double ESC", "\x1b\x1b[31mx", "x", "x"},
		{"C1 CSI", "\u009b31mx", "x", "x"},
		{"C1 OSC with C1 ST", "\u009d0;t\u009cx", "x", "x"},
		{"other C1", "a\u0085b\u008dc", "abc", "abc"},
		{"8-bit CSI byte is invalid UTF-8", "\x9b31m", "\uFFFD31m", "\uFFFD31m"},
		{"C0 controls and DEL", "a\x00b\x07c\x08d\x7fe\x0cf", "abcdef", "abcdef"},
		{"CR", "a\r\nb\rc", "a\nbc", "a bc"},
		{"tabs and newlines", "a\tb\nc", "a\tb\nc", "a b c"},
		{"invalid UTF-8", "a\xffb\xc3", "a\uFFFDb\uFFFD", "a\uFFFDb\uFFFD"},
		{"unicode kept", "naïve 日本 🙂", "naïve 日本 🙂", "naïve 日本 🙂"},
		{"bidi override and isolate (Trojan Source)", "if a\u202e } \u2066{\u2069\u202c b", "if a } { b", "if a } { b"},
		{"bidi embeddings and marks", "\u202aa\u202bb\u202dc\u200ed\u200fe\u202c", "abcde", "abcde"},
		{"byte order mark", "\ufeffstart", "start", "start"},
		{"line and paragraph separators are newlines", "a\u2028b\u2029c", "a\nb\nc", "a b c"},
		{"other format characters kept", "zero\u200bwidth a\u00adb", "zero\u200bwidth a\u00adb", "zero\u200bwidth a\u00adb"},
	}
	var p Policy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Review(tt.in); got != tt.review {
				t.Errorf("Review(%q) = %q, want %q", tt.in, got, tt.review)
			}
			if got := p.Message(tt.in); got != tt.message {
				t.Errorf("Message(%q) = %q, want %q", tt.in, got, tt.message)
			}
			if got := p.Field(tt.in); got != tt.message {
				t.Errorf("Field(%q) = %q, want %q", tt.in, got, tt.message)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"value", []string{"hunter2hunter2"}, "pw=hunter2hunter2 ok", "pw=[REDACTED] ok"},
		{"every occurrence", []string{"s3cr3t"}, "s3cr3t and s3cr3t", "[REDACTED] and [REDACTED]"},
		{"split by SGR", []string{"hunter2hunter2"}, "pw hunter2\x1b[31mhunter2 end", "pw [REDACTED] end"},
		{"split by hyperlink", []string{"hunter2hunter2"}, "hunter\x1b]8;;x\x07\x1b]8;;\x072hunter2", "[REDACTED]"},
		{"split by C1 CSI and NUL", []string{"hunter2hunter2"}, "hun\u009b0mter2\x00hunter2", "[REDACTED]"},
		{"shorter than 4 ignored", []string{"abc", ""}, "abc abc", "abc abc"},
		{"trimmed", []string{"  tok-value-1\n"}, "got tok-value-1.", "got [REDACTED]."},
		{"overlapping secrets leave no fragment", []string{"abcdef12", "ef12ghij"}, "xabcdef12ghijx", "x[REDACTED]x"},
		{"nested secrets", []string{"abcd", "xxabcdxx"}, "xxabcdxx abcd", "[REDACTED] [REDACTED]"},
		{"JSON-escaped", []string{`pa"ss\word`}, `{"key":"pa\"ss\\word"}`, `{"key":"[REDACTED]"}`},
		{"multi-line secret", []string{"line-one\nline-two"}, "k: line-one\nline-two", "k: [REDACTED]"},
		{"split by a bidi control", []string{"hunter2hunter2"}, "pw hunter2\u202ehunter2", "pw [REDACTED]"},
		// A plugin cut the message before the host saw it: what is left of
		// a token-like key is still a key.
		{"head of a token cut upstream", []string{"sk-test-0123456789abcdefghijklmnopqrstuvwxyz"}, "bad key sk-test-0123456789ab…", "bad key [REDACTED]…"},
		{"tail of a token", []string{"sk-test-0123456789abcdefghijklmnopqrstuvwxyz"}, "…ghijklmnopqrstuvwxyz.", "…[REDACTED]."},
		{"middle of a token", []string{"sk-test-0123456789abcdefghijklmnopqrstuvwxyz"}, "(56789abcdefghij)", "([REDACTED])"},
		{"11 bytes are not a fragment", []string{"sk-test-0123456789abcdefghijklmnopqrstuvwxyz"}, "0123456789a", "0123456789a"},
		// A URL or a path passed through env is redacted whole, never in
		// pieces: a review may mention the same host.
		{"no fragments of a URL", []string{"https://api.deepseek.com/v1"}, "call https://api.deepseek.com/chat", "call https://api.deepseek.com/chat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Secrets: tt.secrets}
			if got := p.Review(tt.in); got != tt.want {
				t.Errorf("Review(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// A newline inside a secret becomes a space in a message, in the text
	// and in the secret alike.
	p := Policy{Secrets: []string{"line-one\nline-two"}}
	if got := p.Message("k: line-one\nline-two"); got != "k: [REDACTED]" {
		t.Errorf("Message = %q", got)
	}
}

// TestRedactBeforeTruncate: a cut through a secret must not leave its
// first half in the output.
func TestRedactBeforeTruncate(t *testing.T) {
	p := Policy{Secrets: []string{"supersecretvalue"}, MaxReview: 12, MaxMessage: 12, MaxField: 12}
	in := "xxxx supersecretvalue yyy"
	for name, got := range map[string]string{"Review": p.Review(in), "Message": p.Message(in), "Field": p.Field(in)} {
		if strings.Contains(got, "supers") {
			t.Errorf("%s = %q keeps part of the secret", name, got)
		}
	}
	if got := p.Review(in); got != "xxxx [REDACT\n[truncated]" {
		t.Errorf("Review = %q", got)
	}
}

func TestPatterns(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Authorization: Bearer abc123def456ghi", "Authorization: Bearer [REDACTED]"},
		{"authorization: bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3g", "authorization: bearer [REDACTED]"},
		{"Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED]"},
		{"key sk-ant-api03-AbCdEf0123456789_-xyz end", "key [REDACTED] end"},
		{"OPENAI sk-proj-abcdefghijklmnop0123", "OPENAI [REDACTED]"},
		{"deepseek sk-0123456789abcdef0123456789abcdef", "deepseek [REDACTED]"},
		{"gemini AIzaSyA-1234567890abcdefghijklmnopqrstu", "gemini [REDACTED]"},
		{"grok xai-AbCdEfGhIjKlMnOpQrStUv0123", "grok [REDACTED]"},
		{"gh ghp_0123456789abcdefghijABCDEFGHIJ0123", "gh [REDACTED]"},
		{"aws AKIAIOSFODNN7EXAMPLE.", "aws [REDACTED]."},
		{"glm 0123456789abcdef0123456789abcdef.AbCdEfGh01234567", "glm [REDACTED]"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3g", "jwt [REDACTED]"},
		{"api_key=0123456789abcdefXYZ&x=1", "api_key=[REDACTED]&x=1"},
		{`{"api_key": "0123456789abcdefXYZ"}`, `{"api_key": "[REDACTED]"}`},
		{"X-Api-Key: abcdefghijklmnopqrstuvwxyz", "X-Api-Key: [REDACTED]"},
		{"GLM_API_KEY=abcdefghijklmnop.qrstuvwxyz", "GLM_API_KEY=[REDACTED]"},
		{"password: correct-horse-battery-staple", "password: [REDACTED]"},
		{"proxy http://alice:s3cr3t-pw@proxy.example:3128 down", "proxy http://[REDACTED]@proxy.example:3128 down"},
		{"clone https://x-access-token:ghs_abc@github.com/o/r.git", "clone https://[REDACTED]@github.com/o/r.git"},
		{"dsn postgres://app:p@ss:w0rd@db:5432/x", "dsn postgres://[REDACTED]@db:5432/x"},
		{`"url":"https://u:pw@h.example/x?a=b@c"`, `"url":"https://[REDACTED]@h.example/x?a=b@c"`},
		{"HTTPS://USER:PW@H", "HTTPS://[REDACTED]@H"},
		{"token https://0123456789abcdefghij0123@github.com/o", "token https://[REDACTED]@github.com/o"},
		{"two http://a:b@h1 and http://c:d@h2", "two http://[REDACTED]@h1 and http://[REDACTED]@h2"},
		// Prose and code are not credentials.
		{"Bearer authentication is fine", "Bearer authentication is fine"},
		{"the task-force-abcdefghijklmnopqrst", "the task-force-abcdefghijklmnopqrst"},
		{"api_key = get_key()", "api_key = get_key()"},
		{"password: short", "password: short"},
		{"AIza is a prefix", "AIza is a prefix"},
		{"ssh://git@github.com/o/r and mail a@b.example", "ssh://git@github.com/o/r and mail a@b.example"},
		{"see https://example.com/a:b@c and http://host:8080/x", "see https://example.com/a:b@c and http://host:8080/x"},
	}
	var p Policy
	for _, tt := range tests {
		if got := p.Review(tt.in); got != tt.want {
			t.Errorf("Review(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// The hints that let most text skip a pattern's regexp must never skip a
// text the regexp matches, whatever the case folding.
func TestPatternHintsNeverHideAMatch(t *testing.T) {
	for _, in := range []string{
		"Authorization: BEARER abcdef0123456789",
		"PASSWORD=0123456789abcdefXYZ",
		"pa\u017f\u017fword=0123456789abcdefXYZ", // long s: (?i) folds it to s
		"API_\u212aEY: 0123456789abcdefXYZ",      // Kelvin sign: folds to k
		"see https://user:hunter2@example.com/x",
		"sk-" + strings.Repeat("a", 20),
	} {
		lower := foldASCII(in)
		for _, p := range patterns {
			if !p.re.MatchString(in) || len(p.hints) == 0 {
				continue
			}
			found := false
			for _, h := range p.hints {
				found = found || strings.Contains(lower, h)
			}
			if !found {
				t.Errorf("%q matches %s but its hints %q rule it out", in, p.re, p.hints)
			}
		}
		if redactPatterns(in) == in {
			t.Errorf("%q: nothing redacted", in)
		}
	}
}

func TestHomeAndPaths(t *testing.T) {
	p := Policy{
		Home:  "/home/u/",
		Paths: []string{"/home/u/.local/state/relay/locks/v2", "/var/relay/jobs", "/", "relative", ""},
	}
	tests := []struct{ in, want string }{
		{"see /home/u/src/x.go:12", "see ~/src/x.go:12"},
		{"cwd /home/u", "cwd ~"},
		{"other /home/u2/x and /home/user", "other /home/u2/x and /home/user"},
		{"slot /home/u/.local/state/relay/locks/v2/ab12cd/slot-0.json busy", "slot [path] busy"},
		{"slot ~/.local/state/relay/locks/v2/ab12cd busy", "slot [path] busy"},
		{`{"dir":"/var/relay/jobs/j-1.json"}`, `{"dir":"[path]"}`},
		{"(/var/relay/jobs)", "([path])"},
		{"relative stays relative", "relative stays relative"},
	}
	for _, tt := range tests {
		if got := p.Review(tt.in); got != tt.want {
			t.Errorf("Review(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (Policy{Home: "/"}).Review("/etc/passwd"); got != "/etc/passwd" {
		t.Errorf("home / rewrote %q", got)
	}
}

func TestCaps(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"review under cap", Policy{MaxReview: 5}.Review("abcde"), "abcde"},
		{"review cut on rune boundary", Policy{MaxReview: 5}.Review("ééééé"), "éé\n[truncated]"},
		{"message marker stays on one line", Policy{MaxMessage: 4}.Message("abcdefgh"), "abcd [truncated]"},
		{"field", Policy{MaxField: 3}.Field("gpt-4o"), "gpt [truncated]"},
		{"message trimmed", Policy{}.Message("  boom \n"), "boom"},
		{"field default cap", Policy{}.Field(strings.Repeat("m", 300)), strings.Repeat("m", 256) + " [truncated]"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if got := (Policy{}).Review(strings.Repeat("a", 2<<20)); len(got) != DefaultMaxReview+len("\n[truncated]") {
		t.Errorf("default review cap: len %d", len(got))
	}
	if got := (Policy{MaxMessage: -1}).Message(strings.Repeat("a", 5000)); len(got) != DefaultMaxMessage+len(" [truncated]") {
		t.Errorf("default message cap: len %d", len(got))
	}
}

func BenchmarkReviewWithSecrets(b *testing.B) {
	p := Policy{Secrets: []string{"sk-bench-0123456789abcdefghijklmnop", "glm-bench-0123456789abcdefghijklmnop", "xoxb-bench-0123456789abcdefghijkl"}}
	text := strings.Repeat("func main() { println(\"a line of review text\") } // ok\n", 512<<10/56)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		p.Review(text)
	}
}
