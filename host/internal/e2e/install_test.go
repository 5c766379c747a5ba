package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestMakeInstall: `make install DESTDIR=…` lays out relay-host, its core
// and every plugin so that the installed relay-host, run from another
// directory through its symlink on PATH, reviews with a plugin it finds
// itself; completions and man pages come with it; the manifest lists
// exactly the files written, and `make uninstall` removes exactly those.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	makeIn := func(target string) {
		t.Helper()
		// BIN keeps the build out of the repository's own bin/.
		cmd := exec.Command("make", "-s", "-C", root, target, "DESTDIR="+dest, "BIN="+filepath.Join(tmp, "bin"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	makeIn("install")

	files := filesUnder(t, dest)
	manifest := readLines(t, filepath.Join(dest, "usr/local/libexec/relay-host/install-manifest"))
	for i := range manifest {
		manifest[i] = strings.TrimPrefix(manifest[i], "/")
	}
	sort.Strings(manifest)
	if strings.Join(files, "\n") != strings.Join(manifest, "\n") {
		t.Errorf("files written:\n%s\nmanifest:\n%s", strings.Join(files, "\n"), strings.Join(manifest, "\n"))
	}
	for _, want := range []string{
		"usr/local/bin/relay-host",
		"usr/local/libexec/relay-host/relay-host-core",
		"usr/local/libexec/relay-host/relay-provider-echo",
		"usr/local/libexec/relay-host/relay-provider-claude",
		"usr/local/share/bash-completion/completions/relay-host",
		"usr/local/share/zsh/site-functions/_relay-host",
		"usr/local/share/fish/vendor_completions.d/relay-host.fish",
		"usr/local/share/man/man1/relay-host.1",
		"usr/local/share/man/man1/relay-host-review.1",
	} {
		if !slices.Contains(files, want) {
			t.Errorf("%s was not installed", want)
		}
	}
	if target, err := os.Readlink(filepath.Join(dest, "usr/local/bin/relay-host")); err != nil || filepath.IsAbs(target) {
		t.Errorf("bin/relay-host: %q %v, want a relative symlink (it must survive DESTDIR)", target, err)
	}
	if page, _ := os.ReadFile(filepath.Join(dest, "usr/local/share/man/man1/relay-host-review.1")); !strings.Contains(string(page), ".TH \"RELAY-HOST\"") || !strings.Contains(string(page), "confirm-resend") {
		t.Errorf("relay-host-review.1 is not the review command's man page:\n%.300s", page)
	}

	// The installed binary, from a repository elsewhere, with the echo
	// plugin named only by provider: found beside the core.
	e := newEnv(t)
	e.config("provider \"echo\" {\n  route \"default\" {}\n}\n")
	cmd := exec.Command(filepath.Join(dest, "usr/local/bin/relay-host"), "review", "echo")
	cmd.Dir, cmd.Env = e.repo, e.environ()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verdict:") {
		t.Errorf("installed relay-host review echo: %v\n%s", err, out)
	}

	makeIn("uninstall")
	if left := filesUnder(t, dest); len(left) != 0 {
		t.Errorf("make uninstall left %v", left)
	}
}

// filesUnder lists the files and symlinks under dir, relative, sorted.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
