package packet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestIgnoreMatchesGit checks the .relayignore matcher against git itself:
// the same lines used as an exclude file must exclude the same files that
// `git ls-files --others --ignored` reports.
func TestIgnoreMatchesGit(t *testing.T) {
	patterns := []string{
		"# comment",
		`\#hash.txt`,
		"*.log",
		"!important.log",
		"docs/",
		"/rootonly",
		"/rootdir",
		"a/**/b.txt",
		"**/deep",
		"x?z.txt",
		"[abc]1.txt",
		"[!abc]2.txt",
		"[[:digit:]]3.txt",
		`lit\*star`,
		"build/**",
		"!build/keep.txt",
		"vendor/",
		"!vendor/keep.go",
		`sp\ ace `,
		"trailing.txt   ",
		"foo/*.md",
		"dir1/dir2/",
		"node_modules",
		"!node_modules/ok.js",
		"*.tmp/",
		"cache/*",
		"!cache/keep/",
		"odd(1)+x.txt",
	}
	files := []string{
		"#hash.txt", "sub/#hash.txt", "hash.txt",
		"a.log", "x/y/a.log", "important.log", "x/important.log",
		"docs/a.md", "x/docs/b.md", "docs.md",
		"rootonly", "sub/rootonly", "rootdir/inner.txt", "sub/rootdir/inner.txt",
		"a/b.txt", "a/x/b.txt", "a/x/y/b.txt", "z/a/b.txt", "b.txt",
		"deep", "x/deep", "y/deep/file", "deeper",
		"xyz.txt", "x/z.txt", "xaz.txt", "x/xyz.txt",
		"a1.txt", "d1.txt", "a2.txt", "d2.txt", "73.txt", "x3.txt",
		"lit*star", "litXstar",
		"build/out.o", "build/keep.txt", "build/sub/keep.txt",
		"vendor/lib.go", "vendor/keep.go", "src/vendor/keep.go",
		"sp ace", "sp", "trailing.txt",
		"foo/a.md", "foo/bar/a.md", "x/foo/a.md",
		"dir1/dir2/f", "dir1/f", "x/dir1/dir2/f",
		"node_modules/ok.js", "node_modules/bad.js", "web/node_modules/ok.js",
		"t.tmp/f", "t.tmp2",
		"cache/a", "cache/keep/b", "cache/sub/c",
		"odd(1)+x.txt", "odd1x.txt",
		"plain.go",
	}
	r := newRepo(t)
	for _, f := range files {
		r.write(f, "x\n")
	}
	excludeFile := filepath.Join(t.TempDir(), "exclude")
	if err := os.WriteFile(excludeFile, []byte(strings.Join(patterns, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := r.git("ls-files", "-z", "--others", "--ignored", "--exclude-from="+excludeFile)
	gitIgnored := map[string]bool{}
	for _, p := range splitNUL([]byte(out)) {
		gitIgnored[p] = true
	}
	if len(gitIgnored) == 0 {
		t.Fatal("git reported nothing ignored; the test is not testing anything")
	}
	rules := parseIgnore(strings.Join(patterns, "\n"))
	for _, f := range files {
		if got := rules.excludes(f); got != gitIgnored[f] {
			t.Errorf("%q: excluded = %v, git says %v", f, got, gitIgnored[f])
		}
	}
}

func TestWildmatch(t *testing.T) {
	tests := []struct {
		pat, text string
		pathname  bool
		want      bool
	}{
		{"*.go", "a.go", true, true},
		{"*.go", "x/a.go", true, false},
		{"*.go", "x/a.go", false, true},
		{"**/a.go", "a.go", true, true},
		{"**/a.go", "x/y/a.go", true, true},
		{"x/**", "x/y/z", true, true},
		{"x/**", "x", true, false},
		{"a/**/b", "a/b", true, true},
		{"a/**/b", "a/x/y/b", true, true},
		{"a**b", "a/b", true, false},
		{"?", "/", true, false},
		{"[a-c]", "b", true, true},
		{"[]]", "]", true, true},
		{"[!a]", "a", true, false},
		{"[^a]", "b", true, true},
		{"[[:upper:]]", "Q", true, true},
		{"[[:bogus:]]", "a", true, false},
		{`\*`, "*", true, true},
		{`\*`, "a", true, false},
		{"[a", "a", true, false},
	}
	for _, tt := range tests {
		if got := wildmatch(tt.pat, tt.text, tt.pathname); got != tt.want {
			t.Errorf("wildmatch(%q, %q, %v) = %v, want %v", tt.pat, tt.text, tt.pathname, got, tt.want)
		}
	}
}

func TestIsSecretPath(t *testing.T) {
	for _, p := range []string{".env", "a/b/.env.test", "x/server.PEM", "home/.ssh/id_ed25519", "infra/prod.tfstate", "k8s/secrets.yaml"} {
		if !isSecretPath(p) {
			t.Errorf("isSecretPath(%q) = false", p)
		}
	}
	for _, p := range []string{"env.go", "a/.env/readme", "keys.go", "secrets.go", "id.go", "credentials.yaml"} {
		if isSecretPath(p) {
			t.Errorf("isSecretPath(%q) = true", p)
		}
	}
	if slices.Contains(secretPatterns, "") {
		t.Error("empty secret pattern")
	}
}
