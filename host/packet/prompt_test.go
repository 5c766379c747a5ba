package packet

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVerdict(t *testing.T) {
	tests := []struct {
		name, review, want string
	}{
		{"approve", "Looks good.\nVerdict: APPROVE", VerdictApprove},
		{"request changes", "Bug on line 3.\nVerdict: REQUEST_CHANGES\n", VerdictRequestChanges},
		{"lower case", "verdict: approve", VerdictApprove},
		{"bold label", "**Verdict:** REQUEST_CHANGES", VerdictRequestChanges},
		{"bold all", "**Verdict: APPROVE**", VerdictApprove},
		{"bold value", "Verdict: **APPROVE**", VerdictApprove},
		{"indented, CRLF", "text\r\n   Verdict :  Approve\r\n", VerdictApprove},
		{"last line wins", "Reply with Verdict: APPROVE or Verdict: REQUEST_CHANGES\nVerdict: REQUEST_CHANGES\nok\nVerdict: APPROVE\n", VerdictApprove},
		{"last line wins, other order", "Verdict: APPROVE\nthen I found a bug\nVerdict: REQUEST_CHANGES", VerdictRequestChanges},
		{"missing", "No verdict here.", VerdictMissing},
		{"empty", "", VerdictMissing},
		{"mid-line mention", "I would say Verdict: APPROVE", VerdictMissing},
		{"word boundary", "Verdict: APPROVED", VerdictMissing},
		{"other value", "Verdict: REJECT", VerdictMissing},
		{"request changes with space", "Verdict: REQUEST CHANGES", VerdictMissing},
		{"trailing words", "Verdict: approve (with nits)", VerdictApprove},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseVerdict(tt.review); got != tt.want {
				t.Errorf("ParseVerdict(%q) = %q, want %q", tt.review, got, tt.want)
			}
		})
	}
}

func TestDefaultPrompt(t *testing.T) {
	for _, s := range []string{"Verdict: APPROVE", "Verdict: REQUEST_CHANGES", "Bugs", "Security", "Tests",
		"```json\n{\"findings\": [{", `"file"`, `"line"`, `"end_line"`, `"severity": "high|medium|low|info"`,
		`"title"`, `"body"`, `"suggestion"`, `{"findings": []}`} {
		if !strings.Contains(DefaultPrompt, s) {
			t.Errorf("DefaultPrompt lacks %q", s)
		}
	}
	if got := ParseVerdict(DefaultPrompt); got != VerdictMissing {
		t.Errorf("an echoed prompt parses as verdict %q, want missing", got)
	}
	// The verdict request stays the prompt's last instruction, after the
	// findings block it asks for.
	lines := strings.Split(strings.TrimSpace(DefaultPrompt), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "End your answer with exactly one final line") {
		t.Errorf("the prompt's last line is %q, want the verdict request", last)
	}
	if strings.Index(DefaultPrompt, "```json") > strings.Index(DefaultPrompt, "Verdict: APPROVE") {
		t.Errorf("the prompt asks for the verdict before the findings block")
	}
}

func TestLoadPrompt(t *testing.T) {
	text, hash, err := LoadPrompt("")
	if err != nil || text != DefaultPrompt || hash != sha(DefaultPrompt) {
		t.Fatalf(`LoadPrompt("") = %q, %q, %v`, text[:20], hash, err)
	}
	dir := t.TempDir()
	custom := filepath.Join(dir, "p.md")
	os.WriteFile(custom, []byte("Review for performance only.\n"), 0o644)
	text, hash, err = LoadPrompt(custom)
	if err != nil || text != "Review for performance only.\n" || hash != sha(text) {
		t.Fatalf("LoadPrompt(custom) = %q, %q, %v", text, hash, err)
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n\t\n"), 0o644)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, []byte(strings.Repeat("x", maxPromptBytes+1)), 0o644)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("\xff\xfe"), 0o644)
	for _, p := range []string{empty, big, bad, filepath.Join(dir, "missing")} {
		_, _, err := LoadPrompt(p)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeBadPromptFile || strings.Contains(e.Msg, "\n") {
			t.Errorf("LoadPrompt(%s) = %v, want a one-line %s", filepath.Base(p), err, CodeBadPromptFile)
		}
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
