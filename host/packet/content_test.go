package packet

import (
	"slices"
	"strings"
	"testing"
)

// fakeAPIKey is an assignment the generic rule flags, made at run time.
func fakeAPIKey(seed uint64) string {
	return "api_key = " + fake(seed, 32, alnum) + "\n"
}

// checkSkipped fails unless each path is skipped for its reason and
// nothing of it (name or content) is in the Diff; leaks are substrings
// that must not appear anywhere in the Diff.
func checkSkipped(t *testing.T, p *Packet, want map[string]string, leaks ...string) {
	t.Helper()
	got := skippedMap(p)
	for path, reason := range want {
		if got[path] != reason {
			t.Errorf("%s: skipped = %q, want %q (all: %v)", path, got[path], reason, p.Skipped)
		}
		if slices.Contains(p.Files, path) || strings.Contains(p.Diff, "a/"+path) || strings.Contains(p.Diff, "b/"+path) {
			t.Errorf("%s is in the packet", path)
		}
	}
	for _, l := range leaks {
		if strings.Contains(p.Diff, l) {
			t.Errorf("Diff leaks %.20q…", l)
		}
	}
}

func TestBuildSecretContent(t *testing.T) {
	key := realPEMKey(t)
	keyBody := strings.Split(key, "\n")[1]
	apiKey := fakeAPIKey(40)
	ghToken := "gh" + "p_" + fake(41, 36, alnum)
	oldKey := fakeAPIKey(42)

	r := newRepo(t)
	r.write("config.go", "package config\n\nconst name = \"relay\"\n")
	r.write("removed.txt", "host = example.org\n"+oldKey+"port = 443\n")
	r.write("context.txt", "line 1\n"+oldKey+"line 3\n")
	r.write("staged.go", "package staged\n")
	r.write("clean.go", "package clean\n")
	r.commitAll("init")

	r.write("config.go", "package config\n\nconst name = \"relay\"\nconst token = \""+ghToken+"\"\n")
	r.write("removed.txt", "host = example.org\nport = 443\n")  // the key line goes: a clean-up
	r.write("context.txt", "line 1 edited\n"+oldKey+"line 3\n") // the key is only context
	r.write("staged.go", "package staged\n\nvar "+apiKey)
	r.write("staged-clean.go", "package staged\n")
	r.git("add", "staged.go", "staged-clean.go")
	r.write("notes.txt", "my deploy key:\n"+key)
	r.write("dir/settings.txt", "[service]\n"+apiKey)
	r.write("clean.go", "package clean // edited\n")

	// Removed and context lines are sent too, so they count: a key a
	// change deletes is most likely still live.
	p := r.build(Options{})
	checkSkipped(t, p, map[string]string{
		"config.go":        ReasonSecretContent,
		"staged.go":        ReasonSecretContent,
		"notes.txt":        ReasonSecretContent,
		"dir/settings.txt": ReasonSecretContent,
		"removed.txt":      ReasonSecretContent,
		"context.txt":      ReasonSecretContent,
	}, keyBody, ghToken, apiKey, oldKey)
	want := []string{"clean.go", "staged-clean.go"}
	if !slices.Equal(p.Files, want) {
		t.Errorf("Files = %q, want %q", p.Files, want)
	}

	// Staged mode scans the index's version.
	p = r.build(Options{Mode: Staged})
	checkSkipped(t, p, map[string]string{"staged.go": ReasonSecretContent}, apiKey)
	if !slices.Equal(p.Files, []string{"staged-clean.go"}) {
		t.Errorf("staged Files = %q", p.Files)
	}

	// Base mode scans what the branch adds, committed or not.
	r.git("checkout", "-q", "-b", "feature")
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "feature")
	r.write("late.txt", "late\n")
	p = r.build(Options{Mode: Base, BaseRef: "main"})
	checkSkipped(t, p, map[string]string{
		"config.go": ReasonSecretContent, "staged.go": ReasonSecretContent,
		"notes.txt": ReasonSecretContent, "dir/settings.txt": ReasonSecretContent,
	}, keyBody, ghToken, apiKey)
	if !slices.Contains(p.Files, "late.txt") {
		t.Errorf("Files = %q, want late.txt", p.Files)
	}
}

func TestBuildSecretContentOnlyFlaggedFilesGo(t *testing.T) {
	r := newRepo(t)
	r.commitAll("init")
	r.write("settings.txt", "[service]\n"+fakeAPIKey(43))
	e := r.buildErr(Options{})
	if e.Code != CodeEmptyPacket || !strings.Contains(e.Msg, ReasonSecretContent) || strings.Contains(e.Msg, "api_key") {
		t.Errorf("only a flagged file changed: %s: %s", e.Code, e.Msg)
	}
}

func TestBuildSecretContentRenamed(t *testing.T) {
	apiKey := fakeAPIKey(44)
	plain := strings.Repeat("plain text, enough of it for git to see a rename\n", 20)
	tests := []struct {
		name    string
		act     func(r *repo)
		skipped map[string]string
		files   []string
	}{
		{"plain mv of a committed file with a key", func(r *repo) {
			r.write("moved.txt", "[service]\n"+apiKey)
			r.remove("keys.txt")
		}, map[string]string{"keys.txt": ReasonSecretContent, "moved.txt": ReasonSecretContent}, []string{"app.go"}},
		{"git mv and a key added", func(r *repo) {
			r.git("mv", "plain.txt", "renamed.txt")
			r.write("renamed.txt", plain+apiKey)
			r.git("add", "renamed.txt")
		}, map[string]string{"plain.txt": ReasonSecretContent, "renamed.txt": ReasonSecretContent}, []string{"app.go"}},
		{"a key removed is flagged: the removal would show it", func(r *repo) {
			r.write("keys.txt", "[service]\n")
		}, map[string]string{"keys.txt": ReasonSecretContent}, []string{"app.go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			r.write("keys.txt", "[service]\n"+apiKey)
			r.write("plain.txt", plain)
			r.write("app.go", "package app\n")
			r.commitAll("init")
			r.write("app.go", "package app // changed\n")
			tt.act(r)
			p := r.build(Options{})
			checkSkipped(t, p, tt.skipped, apiKey)
			if !slices.Equal(p.Files, tt.files) {
				t.Errorf("Files = %q, want %q", p.Files, tt.files)
			}
		})
	}
}

func TestBuildRelayignoreReinclude(t *testing.T) {
	apiKey := fakeAPIKey(45)
	r := newRepo(t)
	r.commitAll("init")
	r.write("fixtures/a.txt", "a\n"+apiKey) // not .env's content: a copy of that would be tainted
	r.write("fixtures/b.txt", apiKey+"more\n")
	r.write("notes.txt", "[x]\n"+apiKey)
	r.write("other.txt", "[y]\n"+apiKey)
	r.write(".env", apiKey)
	r.write(".relayignore", "!notes.txt\n!fixtures/*.txt\n!.env\n")

	p := r.build(Options{})
	for _, f := range []string{"notes.txt", "fixtures/a.txt", "fixtures/b.txt"} {
		if !slices.Contains(p.Files, f) {
			t.Errorf("%s is re-included by .relayignore but not in Files %q (skipped %v)", f, p.Files, p.Skipped)
		}
	}
	if !strings.Contains(p.Diff, apiKey) {
		t.Errorf("the re-included content is not in the Diff")
	}
	// Only an explicit negation re-includes; a name pattern stays excluded.
	checkSkipped(t, p, map[string]string{"other.txt": ReasonSecretContent, ".env": ReasonSecret})

	// A later rule that excludes the file again wins, as in git.
	r.write(".relayignore", "!notes.txt\nnotes.txt\n")
	p = r.build(Options{})
	checkSkipped(t, p, map[string]string{"notes.txt": ReasonRelayignore})
}

func TestBuildExclude(t *testing.T) {
	r := newRepo(t)
	r.write("app.go", "package app\n")
	r.write("api.gen.go", "package app // generated\n")
	r.commitAll("init")
	r.write("app.go", "package app // changed\n")
	r.write("api.gen.go", "package app // regenerated GENERATED-CONTENT\n")
	r.write("docs/guide.md", "DOCS-CONTENT\n")
	r.write("docs/keep.md", "DOCS-CONTENT\n")
	r.write("sub/x.gen.go", "GENERATED-CONTENT\n")
	// .relayignore cannot re-include what relay.hcl excludes.
	r.write(".relayignore", "!api.gen.go\n!docs/keep.md\n")

	p := r.build(Options{Exclude: []string{"*.gen.go", "/docs/"}})
	checkSkipped(t, p, map[string]string{
		"api.gen.go": ReasonExcluded, "sub/x.gen.go": ReasonExcluded,
		"docs/guide.md": ReasonExcluded, "docs/keep.md": ReasonExcluded,
	}, "GENERATED-CONTENT", "DOCS-CONTENT")
	if want := []string{".relayignore", "app.go"}; !slices.Equal(p.Files, want) {
		t.Errorf("Files = %q, want %q", p.Files, want)
	}

	for _, bad := range [][]string{{"!app.go"}, {"*.log", "!keep.log"}, {"ok\n!sneaky"}} {
		e := r.buildErr(Options{Exclude: bad})
		if e.Code != CodeBadExclude || strings.Contains(e.Msg, "\n") || !strings.Contains(e.Msg, "re-include") {
			t.Errorf("Exclude %q: %s: %q, want one line with %s", bad, e.Code, e.Msg, CodeBadExclude)
		}
	}
	// A "!" that is escaped names a file; it re-includes nothing.
	r.write("!important.txt", "BANG\n")
	p = r.build(Options{Exclude: []string{`\!important.txt`}})
	checkSkipped(t, p, map[string]string{"!important.txt": ReasonExcluded}, "BANG")
}

// TestBuildSecretContentRediff covers a flagged file that makes an
// already read file excluded too (a deletion of the same content, read
// first) after that file's text crowded a kept file's text out of the
// memory the budget allows: the kept files are diffed again, and the
// packet is whole.
func TestBuildSecretContentRediff(t *testing.T) {
	apiKey := fakeAPIKey(46)
	big := "[service]\n" + apiKey + strings.Repeat("filler line of the key file\n", 60)
	r := newRepo(t)
	r.write("a-keys.txt", big)
	r.write("z.txt", "z\n")
	r.commitAll("init")
	r.remove("a-keys.txt")                                      // tracked: diffed first, all removed lines
	r.write("new-keys.txt", big)                                // untracked copy: flagged
	r.write("z.txt", "z\n"+strings.Repeat("kept change\n", 40)) // kept, diffed after a-keys.txt
	p := r.build(Options{Budget: int64(len(big)) + 100})
	checkSkipped(t, p, map[string]string{"a-keys.txt": ReasonSecretContent, "new-keys.txt": ReasonSecretContent}, apiKey)
	if !slices.Equal(p.Files, []string{"z.txt"}) || strings.Count(p.Diff, "+kept change\n") != 40 {
		t.Errorf("Files = %q; Diff:\n%s", p.Files, p.Diff)
	}
}

func TestBuildLongLine(t *testing.T) {
	r := newRepo(t)
	r.commitAll("init")
	r.write("min.js", strings.Repeat("x", 100<<10)+"\n")
	if e := r.buildErr(Options{Budget: 1000}); e.Code != CodeSourcePacketTooLarge {
		t.Errorf("a line longer than the budget: %s: %s", e.Code, e.Msg)
	}
	p := r.build(Options{Budget: 200 << 10})
	if !strings.Contains(p.Diff, "+"+strings.Repeat("x", 100<<10)+"\n") {
		t.Errorf("the long line is not whole in the Diff")
	}
}
