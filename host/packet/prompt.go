package packet

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// DefaultPrompt is the built-in review prompt. It asks for the findings as
// one fenced JSON block (read back by host/internal/findings, which also
// copes when a model ignores the format) and then for exactly one final
// verdict line, which ParseVerdict reads back. The two verdict forms are
// quoted mid-line so that a model echoing the prompt does not produce a
// verdict by accident; the example block's fields are placeholders, so an
// echoed prompt yields no finding that names a file of the diff.
const DefaultPrompt = `You are reviewing a code change. The unified diff below is the complete change; files that were left out for privacy are not shown.

Give a focused code review of this diff:
- Bugs: logic errors, wrong edge cases, races, resource leaks, error handling that loses or hides failures.
- Security: injection, unsafe input handling, secrets or credentials in code, missing authorization, unsafe defaults.
- Tests: behaviour the change introduces or alters that no test covers, and tests that would not fail if the code were wrong.
Point to the file and line for each finding and say why it matters. Skip style nits unless they hide a bug. If the change looks correct, say so briefly.

List every finding in one fenced JSON block, after any prose, in this shape:

` + "```json" + `
{"findings": [{"file": "path/as/in/the/diff", "line": 12, "end_line": 14, "severity": "high|medium|low|info", "title": "one line", "body": "why it matters", "suggestion": "optional replacement text for those lines"}]}
` + "```" + `

Use the path as the diff shows it, without a/ or b/, and the line numbers of the new version of the file. Write {"findings": []} when there are none.

End your answer with exactly one final line, with nothing after it: either "Verdict: APPROVE" or "Verdict: REQUEST_CHANGES".
`

// maxPromptBytes bounds a --prompt-file: a prompt is instructions, not a
// second packet, and it is not counted against the packet budget.
const maxPromptBytes = 64 << 10

// LoadPrompt returns the review prompt and the sha256 hex of its text. An
// empty path selects DefaultPrompt; otherwise the file replaces it and must
// be non-empty UTF-8 text of at most 64 KiB.
func LoadPrompt(path string) (text, hash string, err error) {
	if path == "" {
		return DefaultPrompt, hashHex(DefaultPrompt), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", "", errorf(CodeBadPromptFile, err, "cannot read prompt file %s: %v: check the --prompt-file path", path, unwrapPathError(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPromptBytes+1))
	if err != nil {
		return "", "", errorf(CodeBadPromptFile, err, "cannot read prompt file %s: %v: check the --prompt-file path", path, unwrapPathError(err))
	}
	switch {
	case len(b) > maxPromptBytes:
		return "", "", errorf(CodeBadPromptFile, nil, "prompt file %s is over 64 KiB: shorten it", path)
	case !utf8.Valid(b):
		return "", "", errorf(CodeBadPromptFile, nil, "prompt file %s is not UTF-8 text: save it as UTF-8", path)
	case strings.TrimSpace(string(b)) == "":
		return "", "", errorf(CodeBadPromptFile, nil, "prompt file %s is empty: write a review prompt in it or drop --prompt-file", path)
	}
	text = string(b)
	return text, hashHex(text), nil
}

// PromptText checks a prompt given as text (an MCP tool's argument) as
// LoadPrompt checks a file's, and returns it with the sha256 hex of it.
func PromptText(text string) (string, string, error) {
	switch {
	case len(text) > maxPromptBytes:
		return "", "", errorf(CodeBadPromptFile, nil, "the prompt is over 64 KiB: shorten it")
	case !utf8.ValidString(text):
		return "", "", errorf(CodeBadPromptFile, nil, "the prompt is not UTF-8 text")
	case strings.TrimSpace(text) == "":
		return "", "", errorf(CodeBadPromptFile, nil, "the prompt is empty: write a review prompt or leave it out")
	}
	return text, hashHex(text), nil
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// unwrapPathError drops the path from an *os.PathError, which the message
// already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
