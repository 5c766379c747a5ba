package packet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBuildUncommitted(t *testing.T) {
	r := newRepo(t)
	r.write("mod.txt", "old line\n")
	r.write("del.txt", "deleted line\n")
	r.write("keep.txt", "unchanged\n")
	r.commitAll("init")
	r.write("mod.txt", "new line\n")
	r.remove("del.txt")
	r.write("staged.txt", "staged line\n")
	r.git("add", "staged.txt")
	r.write("untracked.txt", "untracked line\n")
	r.write(".gitignore", "*.tmp\n")
	r.write("junk.tmp", "ignored by git\n")

	p := r.build(Options{})
	want := []string{".gitignore", "del.txt", "mod.txt", "staged.txt", "untracked.txt"}
	if !slices.Equal(p.Files, want) {
		t.Errorf("Files = %q, want %q", p.Files, want)
	}
	for _, s := range []string{"-old line", "+new line", "-deleted line", "+staged line", "+untracked line", "deleted file mode", "new file mode"} {
		if !strings.Contains(p.Diff, s) {
			t.Errorf("Diff lacks %q:\n%s", s, p.Diff)
		}
	}
	for _, s := range []string{"unchanged", "ignored by git"} {
		if strings.Contains(p.Diff, s) {
			t.Errorf("Diff contains %q", s)
		}
	}
	sum := sha256.Sum256([]byte(p.Diff))
	if p.Hash != hex.EncodeToString(sum[:]) || p.Bytes != int64(len(p.Diff)) {
		t.Errorf("Hash/Bytes = %s/%d, do not describe Diff", p.Hash, p.Bytes)
	}
	root, _ := filepath.EvalSymlinks(r.dir)
	if got, _ := filepath.EvalSymlinks(p.Root); got != root {
		t.Errorf("Root = %q, want %q", p.Root, root)
	}
	if len(p.Skipped) != 0 {
		t.Errorf("Skipped = %v, want none", p.Skipped)
	}
	// Same tree, same packet: the hash is what the resend guard keys on.
	if again := r.build(Options{}); again.Hash != p.Hash {
		t.Errorf("rebuilding changed the hash")
	}
}

func TestBuildStaged(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a0\n")
	r.write("b.txt", "b0\n")
	r.commitAll("init")
	r.write("a.txt", "a-staged\n")
	r.git("add", "a.txt")
	r.write("a.txt", "a-unstaged\n")
	r.write("b.txt", "b-unstaged\n")
	r.write("c.txt", "c-untracked\n")

	p := r.build(Options{Mode: Staged})
	if !slices.Equal(p.Files, []string{"a.txt"}) {
		t.Errorf("Files = %q, want [a.txt]", p.Files)
	}
	if !strings.Contains(p.Diff, "+a-staged") {
		t.Errorf("Diff lacks the staged change:\n%s", p.Diff)
	}
	for _, s := range []string{"a-unstaged", "b-unstaged", "c-untracked"} {
		if strings.Contains(p.Diff, s) {
			t.Errorf("staged Diff contains %q", s)
		}
	}
}

func TestBuildBase(t *testing.T) {
	r := newRepo(t)
	r.write("base.txt", "base\n")
	r.commitAll("init")
	r.git("checkout", "-q", "-b", "feature")
	r.write("feature.txt", "feature commit\n")
	r.commitAll("feature")
	r.git("checkout", "-q", "main")
	r.write("main-only.txt", "landed on main later\n")
	r.commitAll("main moves on")
	r.git("checkout", "-q", "feature")
	r.write("base.txt", "base edited, uncommitted\n")
	r.write("wip.txt", "untracked wip\n")

	p := r.build(Options{Mode: Base, BaseRef: "main"})
	want := []string{"base.txt", "feature.txt", "wip.txt"}
	if !slices.Equal(p.Files, want) {
		t.Errorf("Files = %q, want %q", p.Files, want)
	}
	if strings.Contains(p.Diff, "main-only") {
		t.Errorf("Diff contains a commit made on main after the branch point:\n%s", p.Diff)
	}
	for _, s := range []string{"+feature commit", "+base edited, uncommitted", "+untracked wip"} {
		if !strings.Contains(p.Diff, s) {
			t.Errorf("Diff lacks %q", s)
		}
	}
}

func TestBuildPaths(t *testing.T) {
	r := newRepo(t)
	r.write("src/a.go", "package a\n")
	r.write("src/b.go", "package b\n")
	r.write("docs/readme.md", "docs\n")
	r.write("top.txt", "top\n")
	r.commitAll("init")
	r.write("src/a.go", "package a // edited\n")
	r.write("src/b.go", "package b // edited\n")
	r.write("docs/readme.md", "docs edited\n")
	r.write("top.txt", "top edited\n")
	r.write("src/new.go", "package a // new\n")

	tests := []struct {
		name  string
		dir   string
		paths []string
		want  []string
	}{
		{"from root", "", []string{"src"}, []string{"src/a.go", "src/b.go", "src/new.go"}},
		{"two paths", "", []string{"src/a.go", "top.txt"}, []string{"src/a.go", "top.txt"}},
		{"relative to Dir", "src", []string{"b.go", "../docs"}, []string{"docs/readme.md", "src/b.go"}},
		{"glob like git", "", []string{"*.go"}, []string{"src/a.go", "src/b.go", "src/new.go"}},
		{"no paths from a subdirectory means the whole tree", "src", nil,
			[]string{"docs/readme.md", "src/a.go", "src/b.go", "src/new.go", "top.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := r.build(Options{Dir: filepath.Join(r.dir, tt.dir), Paths: tt.paths})
			if !slices.Equal(p.Files, tt.want) {
				t.Errorf("Files = %q, want %q", p.Files, tt.want)
			}
		})
	}
	e := r.buildErr(Options{Paths: []string{"nothing-here"}})
	if e.Code != CodeEmptyPacket || !strings.Contains(e.Msg, "--path") {
		t.Errorf("unmatched path: %s: %s", e.Code, e.Msg)
	}
}

func TestBuildRelayignore(t *testing.T) {
	r := newRepo(t)
	r.write(".relayignore", strings.Join([]string{
		"# generated code",
		"*.log",
		"!keep.log",
		"docs/",
		"/rootonly.txt",
		"vendor/",
		"!vendor/keep.go", // cannot re-include: vendor/ itself is excluded
		"build/**",
		"!build/keep.txt", // can: build/** excludes the contents, not the directory
		"gen/**/*.pb.go",
		"",
	}, "\n"))
	files := map[string]bool{ // path → excluded
		"app.go":            false,
		"debug.log":         true,
		"sub/trace.log":     true,
		"keep.log":          false,
		"docs/guide.md":     true,
		"src/docs/x.md":     true,
		"rootonly.txt":      true,
		"sub/rootonly.txt":  false,
		"vendor/lib.go":     true,
		"vendor/keep.go":    true,
		"build/out.bin":     true,
		"build/keep.txt":    false,
		"gen/a/b/api.pb.go": true,
		"gen/api.pb.go":     true,
		"gen/a/api.go":      false,
		"other/gen/x.pb.go": false,
	}
	for f := range files {
		r.write(f, "CONTENT-OF "+f+"\n")
	}
	p := r.build(Options{})
	skipped := skippedMap(p)
	for f, ex := range files {
		inDiff := strings.Contains(p.Diff, "CONTENT-OF "+f+"\n")
		switch {
		case ex && (inDiff || skipped[f] != ReasonRelayignore):
			t.Errorf("%s: excluded by .relayignore, but inDiff=%v skipped=%q", f, inDiff, skipped[f])
		case ex && strings.Contains(p.Diff, " b/"+f):
			t.Errorf("%s: excluded, but its name is in a diff header", f)
		case !ex && (!inDiff || skipped[f] != ""):
			t.Errorf("%s: kept, but inDiff=%v skipped=%q", f, inDiff, skipped[f])
		}
	}
}

func TestBuildSecretPatterns(t *testing.T) {
	secrets := []string{
		".env", ".env.local", ".env.production", ".envrc", "server.pem", "tls.key",
		"id_rsa", "id_rsa.pub", "id_ed25519", "id_ed25519.pub", "id_ecdsa", "id_dsa", "cert.p12", "cert.pfx",
		"app.jks", "release.keystore", ".npmrc", ".pypirc", ".netrc", ".git-credentials",
		"credentials.json", "terraform.tfstate", "terraform.tfstate.backup", "secrets.yaml", "secrets.yml",
		"ID_RSA", "Server.PEM",
	}
	lookalikes := []string{"env.go", "environment.md", "keys.go", "key.txt", "pem.go", "credentials.go", "secrets.md"}

	check := func(t *testing.T, p *Packet, paths []string) {
		t.Helper()
		skipped := skippedMap(p)
		for i, name := range paths {
			if skipped[name] != ReasonSecret {
				t.Errorf("%s: skipped = %q, want %q", name, skipped[name], ReasonSecret)
			}
			if slices.Contains(p.Files, name) {
				t.Errorf("%s is in Files", name)
			}
			if strings.Contains(p.Diff, fmt.Sprintf("SECRET-%d-", i)) || strings.Contains(p.Diff, "a/"+name) || strings.Contains(p.Diff, "b/"+name) {
				t.Errorf("%s: its content or name is in the Diff", name)
			}
		}
		for _, name := range lookalikes {
			if !slices.Contains(p.Files, name) {
				t.Errorf("%s is not a secret but is missing from Files %q", name, p.Files)
			}
		}
	}
	var paths []string
	for _, s := range secrets {
		paths = append(paths, s, "deep/dir/"+s)
	}

	t.Run("untracked", func(t *testing.T) {
		r := newRepo(t)
		r.commitAll("init")
		for i, name := range paths {
			r.write(name, fmt.Sprintf("SECRET-%d-\n", i))
		}
		for _, name := range lookalikes {
			r.write(name, "fine\n")
		}
		check(t, r.build(Options{}), paths)
	})
	t.Run("tracked, modified or deleted", func(t *testing.T) {
		r := newRepo(t)
		for i, name := range paths {
			r.write(name, fmt.Sprintf("SECRET-%d-old\n", i))
		}
		r.commitAll("init")
		for i, name := range paths {
			if i%3 == 0 {
				r.remove(name)
			} else {
				r.write(name, fmt.Sprintf("SECRET-%d-new\n", i))
			}
		}
		for _, name := range lookalikes {
			r.write(name, "fine\n")
		}
		check(t, r.build(Options{}), paths)
		r.git("add", "-A")
		check(t, r.build(Options{Mode: Staged}), paths)
	})
}

func TestBuildSecretRenamed(t *testing.T) {
	const secret = "API_TOKEN=sk-live-0123456789abcdef\nDB_PASSWORD=hunter2\n"
	tests := []struct {
		name     string
		mode     Mode
		act      func(r *repo)
		skipped  map[string]string
		mustKeep string
	}{
		{"git mv to a safe name", Uncommitted, func(r *repo) { r.git("mv", ".env", "notes.txt") },
			map[string]string{".env": ReasonSecret, "notes.txt": ReasonSecret}, ""},
		{"git mv, staged mode", Staged, func(r *repo) { r.git("mv", ".env", "notes.txt") },
			map[string]string{".env": ReasonSecret, "notes.txt": ReasonSecret}, ""},
		{"git mv then edit", Uncommitted, func(r *repo) {
			r.git("mv", ".env", "notes.txt")
			r.write("notes.txt", secret+"EXTRA=1\n")
		}, map[string]string{".env": ReasonSecret, "notes.txt": ReasonSecret}, ""},
		{"plain mv (untracked new name)", Uncommitted, func(r *repo) {
			r.write("notes.txt", secret)
			r.remove(".env")
		}, map[string]string{".env": ReasonSecret, "notes.txt": ReasonSecret}, ""},
		{"untracked copy", Uncommitted, func(r *repo) {
			r.write("backup.txt", secret)
			r.write(".env", secret+"MORE=1\n")
		}, map[string]string{".env": ReasonSecret, "backup.txt": ReasonSecret}, ""},
		{"safe file renamed to a secret name", Uncommitted, func(r *repo) {
			r.git("mv", "config.txt", ".env.local")
		}, map[string]string{"config.txt": ReasonSecret, ".env.local": ReasonSecret}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			r.write(".env", secret)
			r.write("config.txt", "PASSWORD=config-file-secret\nmore config\n")
			r.write("app.go", "package app\n")
			r.commitAll("init")
			r.write("app.go", "package app // changed\n")
			r.git("add", "app.go")
			tt.act(r)
			p := r.build(Options{Mode: tt.mode})
			got := skippedMap(p)
			for path, reason := range tt.skipped {
				if got[path] != reason {
					t.Errorf("%s: skipped = %q, want %q (all: %v)", path, got[path], reason, p.Skipped)
				}
			}
			for _, leak := range []string{"sk-live", "hunter2", "config-file-secret"} {
				if strings.Contains(p.Diff, leak) {
					t.Errorf("Diff leaks %q:\n%s", leak, p.Diff)
				}
			}
			if !slices.Contains(p.Files, "app.go") {
				t.Errorf("Files = %q, want app.go kept", p.Files)
			}
		})
	}
}

func TestBuildBudget(t *testing.T) {
	r := newRepo(t)
	r.commitAll("init")
	r.write("big.txt", strings.Repeat("0123456789abcdef\n", 40<<10)) // 680 KiB
	e := r.buildErr(Options{})
	if e.Code != CodeSourcePacketTooLarge {
		t.Fatalf("code = %s, want %s", e.Code, CodeSourcePacketTooLarge)
	}
	if !strings.Contains(e.Msg, "over the route budget of 512 KiB") || !strings.Contains(e.Msg, "--path") || strings.Contains(e.Msg, "\n") {
		t.Errorf("message = %q", e.Msg)
	}
	e = r.buildErr(Options{Budget: 100})
	if e.Code != CodeSourcePacketTooLarge || !strings.Contains(e.Msg, "budget of 100 bytes") {
		t.Errorf("Budget 100: %s: %s", e.Code, e.Msg)
	}
	p := r.build(Options{Budget: 1 << 20})
	if p.Bytes <= DefaultBudget || p.Bytes > 1<<20 {
		t.Errorf("Bytes = %d", p.Bytes)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Run("not a repo", func(t *testing.T) {
		_, err := Build(context.Background(), Options{Dir: t.TempDir()})
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeNotAGitRepo {
			t.Fatalf("err = %v, want %s", err, CodeNotAGitRepo)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		_, err := Build(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "nope")})
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeNotAGitRepo {
			t.Fatalf("err = %v, want %s", err, CodeNotAGitRepo)
		}
	})
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commitAll("init")
	r.git("checkout", "-q", "--orphan", "unrelated")
	r.commitAll("orphan root")
	r.git("checkout", "-q", "main")
	r.write("a.txt", "b\n")
	for _, ref := range []string{"no-such-branch", "", "--output=/tmp/x", "unrelated", "HEAD:a.txt"} {
		e := r.buildErr(Options{Mode: Base, BaseRef: ref})
		if e.Code != CodeBadBaseRef {
			t.Errorf("BaseRef %q: %s: %s", ref, e.Code, e.Msg)
		}
	}
	t.Run("clean tree", func(t *testing.T) {
		r := newRepo(t)
		r.write("a.txt", "a\n")
		r.commitAll("init")
		e := r.buildErr(Options{})
		if e.Code != CodeEmptyPacket || !strings.HasPrefix(e.Msg, "nothing to review: ") {
			t.Errorf("%s: %s", e.Code, e.Msg)
		}
		r.write(".env", "X=1\n")
		e = r.buildErr(Options{})
		if e.Code != CodeEmptyPacket || !strings.Contains(e.Msg, "secret_pattern") {
			t.Errorf("only a secret changed: %s: %s", e.Code, e.Msg)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Build(ctx, Options{Dir: r.dir}); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestBuildNoCommitsYet(t *testing.T) {
	r := newRepo(t)
	r.write("staged.txt", "staged\n")
	r.git("add", "staged.txt")
	r.write("untracked.txt", "untracked\n")
	if p := r.build(Options{}); !slices.Equal(p.Files, []string{"staged.txt", "untracked.txt"}) {
		t.Errorf("uncommitted Files = %q", p.Files)
	}
	if p := r.build(Options{Mode: Staged}); !slices.Equal(p.Files, []string{"staged.txt"}) {
		t.Errorf("staged Files = %q", p.Files)
	}
	if e := r.buildErr(Options{Mode: Base, BaseRef: "main"}); e.Code != CodeBadBaseRef {
		t.Errorf("base on an unborn branch: %s", e.Code)
	}
}

func TestBuildBinary(t *testing.T) {
	r := newRepo(t)
	r.write("img.bin", "\x00\x01BINARY-OLD\x00")
	r.commitAll("init")
	r.write("img.bin", "\x00\x01BINARY-NEW\x00")
	r.write("new.bin", "\x00BINARY-UNTRACKED\x00")
	r.write("a.txt", "text\n")
	p := r.build(Options{})
	skipped := skippedMap(p)
	for _, f := range []string{"img.bin", "new.bin"} {
		if skipped[f] != ReasonBinary {
			t.Errorf("%s: skipped = %q, want binary", f, skipped[f])
		}
		if !strings.Contains(p.Diff, "Binary files ") || !strings.Contains(p.Diff, "b/"+f+" differ") {
			t.Errorf("Diff lacks the binary line for %s:\n%s", f, p.Diff)
		}
	}
	if strings.Contains(p.Diff, "BINARY-") {
		t.Errorf("Diff contains binary content")
	}
	if !slices.Equal(p.Files, []string{"a.txt"}) {
		t.Errorf("Files = %q", p.Files)
	}
}

func TestBuildOddFileNames(t *testing.T) {
	r := newRepo(t)
	names := []string{"dir with space/naïve ü.txt", "日本語.md", "-rf", "star*.txt", ":(glob)magic.txt", "tab\there.txt"}
	for _, n := range names {
		r.write(n, "old "+n+"\n")
	}
	r.write("starX.txt", "old\n")
	r.commitAll("init")
	for _, n := range names {
		r.write(n, "new "+n+"\n")
	}
	r.write("untracked dir/ñ file.txt", "untracked\n")
	// If "star*.txt" were passed to git as a glob it would pull this
	// excluded file's content back in.
	r.write("starX.txt", "EXCLUDED-CONTENT\n")
	r.write(".relayignore", "starX.txt\n")

	p := r.build(Options{})
	for _, n := range append(names, "untracked dir/ñ file.txt") {
		if !slices.Contains(p.Files, n) {
			t.Errorf("%q missing from Files %q", n, p.Files)
		}
		if !strings.Contains(p.Diff, "+new "+n) && n != "untracked dir/ñ file.txt" {
			t.Errorf("Diff lacks the change to %q", n)
		}
	}
	if strings.Contains(p.Diff, "EXCLUDED-CONTENT") {
		t.Errorf("a literal path was matched as a glob")
	}
	if !strings.Contains(p.Diff, "diff --git a/dir with space/naïve ü.txt b/dir with space/naïve ü.txt") {
		t.Errorf("unicode path is quoted or mangled:\n%s", p.Diff)
	}
}

// TestBuildDoesNotTouchRepo proves Build writes nothing: the index (bytes
// and mtime), every file under .git, and the status are the same after
// building packets in every mode from a tree with a stat-dirty file (which
// makes porcelain `git diff` rewrite the index).
func TestBuildDoesNotTouchRepo(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.write("b.txt", "b\n")
	r.write(".env", "SECRET=1\n")
	r.commitAll("init")
	r.git("branch", "base")
	// Stat-dirty: same content, new mtime.
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(r.dir, "b.txt"), future, future)
	r.write("a.txt", "a changed\n")
	r.write("c.txt", "staged\n")
	r.git("add", "c.txt")
	r.write("d.txt", "untracked\n")
	r.git("mv", ".env", "moved.txt")

	before := snapshotGitDir(t, r.dir)
	for _, o := range []Options{{}, {Mode: Staged}, {Mode: Base, BaseRef: "base"}, {Paths: []string{"a.txt"}}} {
		r.build(o)
	}
	after := snapshotGitDir(t, r.dir)
	for _, e := range before {
		if !slices.Contains(after, e) {
			t.Errorf(".git changed: before %s", e)
		}
	}
	for _, e := range after {
		if !slices.Contains(before, e) {
			t.Errorf(".git changed: after  %s", e)
		}
	}
	status := func() string {
		return r.git("--no-optional-locks", "status", "--porcelain=v2", "--untracked-files=all")
	}
	s1 := status()
	r.build(Options{})
	if s2 := status(); s1 != s2 {
		t.Errorf("status changed:\n%s\n%s", s1, s2)
	}
}

// snapshotGitDir lists every file under .git with its size, mtime and
// content hash.
func snapshotGitDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(filepath.Join(dir, ".git"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(dir, p)
		out = append(out, fmt.Sprintf("%s size=%d mtime=%d sha256=%x", rel, fi.Size(), fi.ModTime().UnixNano(), sum[:8]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildSecretCopyInSHA256Repo(t *testing.T) {
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main", "--object-format=sha256")
	r.write(".env", "TOKEN=sha256-secret\n")
	r.write("app.go", "package app\n")
	r.commitAll("init")
	r.write("app.go", "package app // changed\n")
	r.write("copy.txt", "TOKEN=sha256-secret\n") // untracked: only content matching can tell
	r.remove(".env")
	p := r.build(Options{})
	if skippedMap(p)["copy.txt"] != ReasonSecret || strings.Contains(p.Diff, "sha256-secret") {
		t.Errorf("copy of a secret leaked in a sha256 repository: skipped=%v", p.Skipped)
	}
}
