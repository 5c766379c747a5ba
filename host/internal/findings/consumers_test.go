package findings

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/host/packet"
)

// requireTool returns the path of a pinned consumer (sarif-multitool,
// reviewdog) installed by testdata/tools/install.sh into
// <repo>/.cache/findings-tools/bin, or into $RELAY_FINDINGS_TOOLS/bin. A
// test that needs one skips, saying why, when it is absent; .ci/run
// installs them and sets RELAY_REQUIRE_CLIS=1, so in CI it fails instead.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv("RELAY_FINDINGS_TOOLS"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if root, err := filepath.Abs(filepath.Join("..", "..", "..")); err == nil {
		dirs = append(dirs, filepath.Join(root, ".cache", "findings-tools", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("RELAY_REQUIRE_CLIS") == "1" {
		t.Fatalf("%s is not installed (looked in %v); run host/internal/findings/testdata/tools/install.sh", name, dirs)
	}
	t.Skipf("%s is not installed: run host/internal/findings/testdata/tools/install.sh to run this test", name)
	return ""
}

// TestSARIFValidates runs the SARIF output through the official validator
// and fails on any error or warning it reports (it exits 0 either way, so
// its own SARIF output is read).
func TestSARIFValidates(t *testing.T) {
	tool := requireTool(t, "sarif-multitool")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "review.sarif"), filepath.Join(dir, "validation.sarif")
	var b bytes.Buffer
	if err := Write(&b, scenario(t, ValidateOptions{OnlyChanged: true}), FormatSARIF, WriteOptions{ToolVersion: "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, "validate", in, "-o", out)
	cmd.Env = append(os.Environ(), "DOTNET_CLI_TELEMETRY_OPTOUT=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sarif-multitool validate: %v\n%s", err, msg)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					ID        string   `json:"id"`
					Arguments []string `json:"arguments"`
				} `json:"message"`
			} `json:"results"`
		} `json:"runs"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &log); err != nil || len(log.Runs) != 1 {
		t.Fatalf("validator output: %v (%d runs)", err, len(log.Runs))
	}
	for _, r := range log.Runs[0].Results {
		if r.Level != "note" && r.Level != "none" {
			t.Errorf("validator %s %s: %v", r.Level, r.RuleID, r.Message.Arguments)
		}
	}
}

// reviewRepo is a real git repository whose staged change is
// testdata/change.diff, and the result of the scenario's reviews on the
// packet built from it.
func reviewRepo(t *testing.T) (string, *Result) {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=t@relay-host.invalid", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	for name, text := range baseFiles {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	diff, _ := filepath.Abs(filepath.Join("testdata", "change.diff"))
	git("apply", "--index", diff)
	p, err := packet.Build(context.Background(), packet.Options{Dir: dir, Mode: packet.Staged})
	if err != nil {
		t.Fatal(err)
	}
	reviews := []Review{
		{Reviewer: "claude", Text: readReview(t, "claude.txt")},
		{Reviewer: "gemini", Text: readReview(t, "gemini.txt")},
		{Reviewer: "apireviewer/deepseek", Text: readReview(t, "deepseek.txt")},
	}
	return dir, Collect(reviews, FromPacket(p), ValidateOptions{OnlyChanged: true})
}

// reviewdog runs the real reviewdog in the repository on the output of
// format, with the local reporter and the staged diff, and returns what
// it printed.
func reviewdog(t *testing.T, dir string, r *Result, format Format, args ...string) string {
	t.Helper()
	tool := requireTool(t, "reviewdog")
	var in bytes.Buffer
	if err := Write(&in, r, format, WriteOptions{ToolVersion: "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, append([]string{"-reporter=local", "-diff=git diff --cached"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = &in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("reviewdog %v: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// reported is what reviewdog passed through its filter, one "path:line:
// title" per diagnostic; the local reporter echoes each one kept, as
// rdjsonl or SARIF (as read).
func reported(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var d struct {
			Message  any `json:"message"` // a string in rdjsonl, {"text": …} in SARIF
			Location struct {
				Path  string `json:"path"`
				Range struct {
					Start struct{ Line int } `json:"start"`
				} `json:"range"`
			} `json:"location"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
					Region           struct{ StartLine int } `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("reviewdog printed %q: %v", line, err)
		}
		msg, _ := d.Message.(string)
		if m, ok := d.Message.(map[string]any); ok {
			msg, _ = m["text"].(string)
		}
		path, l := d.Location.Path, d.Location.Range.Start.Line
		if len(d.Locations) > 0 {
			path, l = d.Locations[0].PhysicalLocation.ArtifactLocation.URI, d.Locations[0].PhysicalLocation.Region.StartLine
		}
		title, _, _ := strings.Cut(msg, "\n")
		got = append(got, fmt.Sprintf("%s:%d: %s", path, l, title))
	}
	slices.Sort(got)
	return got
}

// onAddedLines are the scenario's findings that start on lines the change
// adds, which reviewdog's default filter (added) keeps; the others (line
// 22, a context line; line 12, unchanged) it drops.
var onAddedLines = []string{
	"internal/cache/cache.go:15: Data race: Get reads items without the lock",
	"internal/cache/cache.go:18: Put never unlocks the mutex",
	"server/server.go:31: Token check does not return after rejecting the request",
	"server/server.go:34: Command injection via the arg query parameter",
}

func TestReviewdogRDJSONL(t *testing.T) {
	dir, r := reviewRepo(t)
	if got := reported(t, reviewdog(t, dir, r, FormatRDJSONL, "-f=rdjsonl")); !slices.Equal(got, onAddedLines) {
		t.Errorf("reviewdog -f=rdjsonl reported\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(onAddedLines, "\n"))
	}
}

func TestReviewdogSARIF(t *testing.T) {
	dir, r := reviewRepo(t)
	if got := reported(t, reviewdog(t, dir, r, FormatSARIF, "-f=sarif")); !slices.Equal(got, onAddedLines) {
		t.Errorf("reviewdog -f=sarif reported\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(onAddedLines, "\n"))
	}
}
