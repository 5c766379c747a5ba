package packet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/rand/v2"
	"strings"
	"testing"
)

// The credentials in these tests are made at run time from random bytes and
// split literals, so that this repository itself holds nothing a secret
// scanner (this one included) would flag.

const (
	alnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperNum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	base64Set = alnum + "+/"
	urlSafe   = alnum + "-_"
	hexSet    = "0123456789abcdef"
	digits    = "0123456789"
	symbols   = alnum + "!#%^&-_+"
)

// fake returns n characters of set, the same ones for the same seed.
func fake(seed uint64, n int, set string) string {
	r := rand.New(rand.NewPCG(seed, 0x5ec2e7))
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

// fakePEM is an armoured block of random bytes of the given type, with
// optional headers (as an encrypted PKCS#1 key has).
func fakePEM(typ string, headers map[string]string) string {
	r := rand.New(rand.NewPCG(uint64(len(typ)), 7))
	body := make([]byte, 400)
	for i := range body {
		body[i] = byte(r.UintN(256))
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: body}))
}

// realPEMKey is a freshly generated Ed25519 key in PKCS#8 form.
func realPEMKey(t testing.TB) string {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE" + " KEY", Bytes: der}))
}

func fakeJWT() string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc([]byte(`{"sub":"1234567890","name":"relay test","iat":1516239022}`)) + "." +
		fake(9, 43, urlSafe)
}

// scanText feeds text to a scanner as added lines.
func scanText(text string) bool {
	var s contentScanner
	for _, line := range strings.Split(text, "\n") {
		s.added([]byte(line))
	}
	return s.hit
}

func TestScanCredentialShapes(t *testing.T) {
	awsID := "AK" + "IA" + fake(1, 16, upperNum)
	awsSecret := fake(2, 40, base64Set)
	tests := []struct{ name, text string }{
		{"PKCS#8 key, generated", realPEMKey(t)},
		{"PKCS#1 RSA key", fakePEM("RSA PRIVATE"+" KEY", nil)},
		{"EC key", fakePEM("EC PRIVATE"+" KEY", nil)},
		{"OpenSSH key", fakePEM("OPENSSH PRIVATE"+" KEY", nil)},
		{"encrypted PKCS#8 key", fakePEM("ENCRYPTED PRIVATE"+" KEY", nil)},
		{"encrypted PKCS#1 key with headers", fakePEM("RSA PRIVATE"+" KEY", map[string]string{
			"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,0123456789ABCDEF0123456789ABCDEF"})},
		{"PGP private key block", fakePEM("PGP PRIVATE"+" KEY BLOCK", map[string]string{"Comment": "test"})},
		{"key in a JSON string", `  "private_key": "` + strings.ReplaceAll(realPEMKey(t), "\n", `\n`) + `",`},
		{"key in an indented Go raw string", "const k = `" + strings.ReplaceAll(realPEMKey(t), "\n", "\n\t")},
		{"AWS id and secret, ini", "[default]\naws_access_key_id = " + awsID + "\naws_secret_access_key = " + awsSecret},
		{"AWS id and secret, console CSV", "User name,Password,Access key ID,Secret access key\nci,," + awsID + "," + awsSecret},
		{"AWS secret after the id", "export AWS_SECRET=" + awsSecret + "\nexport AWS_ID=" + awsID},
		{"Anthropic", `ANTHROPIC_API_KEY="` + "sk-" + "ant-api03-" + fake(3, 93, urlSafe) + `AA"`},
		{"Anthropic in prose", "use " + "sk-" + "ant-admin01-" + fake(4, 93, urlSafe) + " for this"},
		{"OpenAI classic", "openai.api_key = '" + "sk-" + fake(5, 48, alnum) + "'"},
		{"OpenAI project", "key: " + "sk-" + "proj-" + fake(6, 124, urlSafe)},
		{"DeepSeek", "DEEPSEEK=" + "sk-" + fake(7, 32, hexSet)},
		{"GitHub classic", "git clone https://" + "gh" + "p_" + fake(8, 36, alnum) + "@github.com/o/r"},
		{"GitHub server-to-server", "token " + "gh" + "s_" + fake(10, 36, alnum)},
		{"GitHub fine-grained", "GH=" + "github" + "_pat_" + fake(11, 22, alnum) + "_" + fake(12, 59, alnum)},
		{"Slack bot", "SLACK=" + "xo" + "xb-" + fake(13, 12, digits) + "-" + fake(14, 13, digits) + "-" + fake(15, 24, alnum)},
		{"Slack user", "slack: " + "xo" + "xp-" + fake(16, 11, digits) + "-" + fake(17, 12, digits) + "-" + fake(18, 32, hexSet)},
		{"Google API key", `"key": "` + "AI" + "za" + fake(19, 35, urlSafe) + `"`},
		{"JWT", "Authorization: Bearer " + fakeJWT()},
		{"generic password, quoted", `password = "` + fake(20, 18, symbols) + `"`},
		{"generic api_key, bare", "api_key=" + fake(21, 32, alnum)},
		{"generic, JSON", `{"client_secret": "` + fake(22, 24, alnum) + `"}`},
		{"generic, Go :=", `	dbPassword := "` + fake(23, 14, symbols) + `"`},
		{"generic, YAML", "  auth_token: " + fake(24, 40, alnum)},
		{"generic, Ruby hash", `:access_key => "` + fake(25, 20, alnum) + `"`},
		{"generic, upper case", "export DB_PASSWD='" + fake(26, 12, symbols) + "'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !scanText(tt.text) {
				t.Errorf("not flagged:\n%s", tt.text)
			}
		})
	}
}

func TestScanPlaceholders(t *testing.T) {
	awsDocID := "AK" + "IA" + "IOSFODNN7" + "EXAMPLE"
	awsDocSecretValue := "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
	tests := []struct{ name, text string }{
		{"changeme", `password = "changeme"`},
		{"shell variable", "api_key=${API_KEY}"},
		{"bare variable", "API_KEY=$API_KEY"},
		{"os.Getenv", `apiKey := os.Getenv("API_KEY")`},
		{"os.environ", `api_key = os.environ["API_KEY"]`},
		{"process.env", "const password = process.env.DB_PASSWORD;"},
		{"a field", "\tToken: cfg.Token,"},
		{"a call", "secret := makeSecret(user, 42)"},
		{"an identifier", "apiKey = loadedFromConfigFile"},
		{"a call with digits", "password := hashOf(userInput2024)"},
		{"a selector with digits", "apiKey = config.Service2.Primary"},
		{"bare, low entropy", "password = hunter2hunter2hunter2"},
		{"xxx", `token = "xxx"`},
		{"many x", "secret: xxxxxxxxxxxxxxxxxxxxxxxx"},
		{"low entropy", `password = "aaaaaaaaaaaaaaaa"`},
		{"low entropy, two letters", `password = "abababababababab"`},
		{"low entropy, two classes", `password = "aaaa1111aaaa1111"`},
		{"one letter case only", `client_secret = "authorizationheader"`},
		{"short", "password: hunter2"},
		{"all lower case word", `password = "correcthorse"`},
		{"angle brackets", `api_key = "<your-api-key>"`},
		{"template", "token: {{ .Values.token }}"},
		{"ERB", "password: <%= ENV['DB_PASSWORD'] %>"},
		{"comparison", `if password == "Xk9#mQ2$LpZ7vT"`},
		{"comparison without spaces", `if password=="Xk9#mQ2$LpZ7vT" {`},
		{"map key", `case "password":`},
		{"struct tag", "Password string `json:\"password,omitempty\"`"},
		{"a path", "private_key: /etc/ssl/private/server.key"},
		{"a URL", "token_url = \"https://oauth2.example.com/token\""},
		{"prose", `secret = "Please keep this value private"`},
		{"your", `API_KEY = "your-api-key-goes-here-1234"`},
		{"placeholder sk", "OPENAI_API_KEY=" + "sk-" + strings.Repeat("x", 48)},
		{"placeholder sk with dots", "OPENAI_API_KEY=sk-..."},
		{"placeholder ghp", "gh" + "p_" + strings.Repeat("0", 36)},
		{"armour line alone, as a parser has it", `if strings.HasPrefix(s, "-----BEGIN OPENSSH PRIVATE` + ` KEY-----") {`},
		{"public key block", fakePEM("PUBLIC KEY", nil)},
		{"certificate", fakePEM("CERTIFICATE", nil)},
		{"AWS documentation example", "aws_access_key_id = " + awsDocID + "\naws_secret_access_key = " + awsDocSecretValue},
		{"AWS id alone", "aws_access_key_id = " + "AK" + "IA" + fake(27, 16, upperNum)},
		{"AWS id and a commit id", "AK" + "IA" + fake(28, 16, upperNum) + " " + fake(29, 40, hexSet)},
		{"task ids", "desk-" + fake(30, 40, alnum)},
		{"version", `secret_version: "v1.2.3-rc4"`},
		{"words with hyphens", `{"access_token":"synthetic-workload-bearer","expires_in":3600}`},
		{"a URN", "Token: `urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6`,"},
		{"an upper-case scheme", "Token: `DAV:no-lock-Held2`,"},
		{"a digest", `token: "sha256:` + fake(31, 64, hexSet) + `"`},
		{"the name inside a string", `cmd.Env = append(cmd.Env, "PWD="+dir.WorkingDir2)`},
		{"code", "for key, value := range m {\n\ttokens := strings.Fields(value)\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if scanText(tt.text) {
				t.Errorf("flagged:\n%s", tt.text)
			}
		})
	}
}

func TestHeaderPath(t *testing.T) {
	tests := []struct {
		line, want string
		ok         bool
	}{
		{"diff --git a/x.go b/x.go\n", "x.go", true},
		{"diff --git a/dir with space/f b/dir with space/f\n", "dir with space/f", true},
		{"diff --git a/x b/y b/x b/y\n", "x b/y", true},
		{"diff --git \"a/tab\\tx\" \"b/tab\\tx\"\n", "tab\tx", true},
		{"diff --git \"a/\\303\\274.txt\" \"b/\\303\\274.txt\"\n", "ü.txt", true},
		{"diff --git a/x b/y\n", "", false},
		{"diff --git x\n", "", false},
	}
	for _, tt := range tests {
		got, ok := headerPath([]byte(tt.line))
		if got != tt.want || ok != tt.ok {
			t.Errorf("headerPath(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

// TestSectionSinkMemory feeds a sink a line far longer than its memory cap,
// in pieces as a pipe delivers it: the sink keeps at most the cap, counts
// every byte, and knows the section is not whole.
func TestSectionSinkMemory(t *testing.T) {
	k := newSectionSink(1000)
	k.Write([]byte("diff --git a/x b/x\nnew file mode 100644\n@@ -0,0 +1 @@\n+"))
	chunk := []byte(strings.Repeat("x", 4096))
	for range 256 { // 1 MiB
		k.Write(chunk)
		if int64(len(k.line)) > k.maxLine() || len(k.buf) > 1000 {
			t.Fatalf("sink holds %d line bytes, %d stored, over its caps of %d and 1000", len(k.line), len(k.buf), k.maxLine())
		}
	}
	k.Write([]byte("\n"))
	// Many short lines: kept up to the cap, then only counted.
	k.Write([]byte("diff --git a/y b/y\n@@ -0,0 +1,100 @@\n"))
	for range 100 {
		k.Write([]byte("+" + strings.Repeat("y", 99) + "\n"))
	}
	if err := k.finish(); err != nil {
		t.Fatal(err)
	}
	if len(k.buf) > 1000 {
		t.Errorf("%d bytes stored, over the cap of 1000", len(k.buf))
	}
	if len(k.sections) != 2 || k.sections[1].complete() || k.sections[1].n != int64(len("diff --git a/y b/y\n@@ -0,0 +1,100 @@\n")+100*101) {
		t.Fatalf("sections: %d, want 2 with the second cut short (n %d, text %d, stored %d)", len(k.sections), k.sections[len(k.sections)-1].n, k.sections[len(k.sections)-1].end-k.sections[len(k.sections)-1].start, len(k.buf))
	}
	s := k.sections[0]
	if want := int64(len("diff --git a/x b/x\nnew file mode 100644\n@@ -0,0 +1 @@\n+") + 256*4096 + 1); s.n != want || s.complete() || s.path != "x" {
		t.Errorf("section %q: n = %d (want %d), complete = %v", s.path, s.n, want, s.complete())
	}
}

// TestCredentialNames keeps nameAt's first-letter shortcut in step with
// the list it guards.
func TestCredentialNames(t *testing.T) {
	for _, w := range credentialNames {
		for _, v := range []string{w, strings.ToUpper(w)} {
			if n := nameAt([]byte(v+"="), 0); n != len(w) {
				t.Errorf("nameAt(%q) = %d, want %d", v, n, len(w))
			}
		}
	}
}

// TestSectionSinkLongHeader: a file header longer than a tiny budget, cut
// across two writes, is still read; the budget is what fails, not the
// parsing of git's output.
func TestSectionSinkLongHeader(t *testing.T) {
	p := strings.Repeat("d", 300) + "/f.txt"
	header := "diff --git a/" + p + " b/" + p + "\n"
	k := newSectionSink(100)
	k.Write([]byte(header[:200]))
	k.Write([]byte(header[200:] + "@@ -0,0 +1 @@\n+x\n"))
	if err := k.finish(); err != nil || len(k.sections) != 1 || k.sections[0].path != p {
		t.Fatalf("err %v, %d sections", err, len(k.sections))
	}
}

// FuzzSectionSink: whatever bytes git writes, in whatever pieces, the sink
// does not panic, accounts for every byte once, keeps no more than its cap,
// and keeps a section's text only as a prefix of what was written.
func FuzzSectionSink(f *testing.F) {
	f.Add([]byte("diff --git a/x b/x\n@@ -1 +1 @@\n-a\n+b\n"), uint8(7), int16(100))
	f.Add([]byte("diff --git \"a/t\\tx\" \"b/t\\tx\"\nnew file mode 100644\n@@ -0,0 +1 @@\n+"+fakeAPIKey(50)), uint8(3), int16(10))
	f.Add([]byte("diff --git a/k b/k\n@@ -0,0 +1,3 @@\n+"+strings.ReplaceAll(fakePEM("RSA PRIVATE"+" KEY", nil), "\n", "\n+")), uint8(64), int16(5000))
	f.Add([]byte("garbage\n"), uint8(1), int16(1))
	f.Fuzz(func(t *testing.T, data []byte, piece uint8, max int16) {
		k := newSectionSink(int64(max) & 0x7fff)
		step := int(piece) + 1
		for i := 0; i < len(data); i += step {
			k.Write(data[i:min(i+step, len(data))])
		}
		if err := k.finish(); err != nil {
			return // not a diff git would write
		}
		var total int64
		for _, s := range k.sections {
			total += s.n
			if int64(s.end-s.start) > s.n || s.start > s.end || s.end > len(k.buf) {
				t.Fatalf("section %q: [%d:%d] of %d, n %d", s.path, s.start, s.end, len(k.buf), s.n)
			}
		}
		if total != int64(len(data)) {
			t.Fatalf("sections hold %d bytes, %d were written", total, len(data))
		}
		if int64(len(k.buf)) > k.max {
			t.Fatalf("%d bytes kept, cap %d", len(k.buf), k.max)
		}
		if len(k.sections) > 0 && !bytes.HasPrefix(data, k.text(k.sections[0])) {
			t.Fatalf("the first section's text is not what was written")
		}
	})
}
