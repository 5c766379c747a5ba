package admission

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLockRootHardening(t *testing.T) {
	mk := func(t *testing.T) string { return filepath.Join(t.TempDir(), "root") }
	cases := []struct {
		name  string
		setup func(t *testing.T, root string)
		want  string // substring of the one-line error; "" = accepted
		mode  os.FileMode
	}{
		{"created 0700", func(t *testing.T, root string) {}, "", 0o700},
		{"readable by others is tightened", func(t *testing.T, root string) { must(t, os.Mkdir(root, 0o755)) }, "", 0o700},
		{"world-writable refused", func(t *testing.T, root string) {
			must(t, os.Mkdir(root, 0o700))
			must(t, os.Chmod(root, 0o777))
		}, "writable by other users", 0},
		{"group-writable refused", func(t *testing.T, root string) {
			must(t, os.Mkdir(root, 0o700))
			must(t, os.Chmod(root, 0o770))
		}, "writable by other users", 0},
		{"symlink refused", func(t *testing.T, root string) {
			real := root + "-real"
			must(t, os.Mkdir(real, 0o700))
			must(t, os.Symlink(real, root))
		}, "is a symlink", 0},
		{"file refused", func(t *testing.T, root string) { must(t, os.WriteFile(root, nil, 0o600)) }, "not a directory", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := mk(t)
			c.setup(t, root)
			l, err := OpenLocal(root, Options{})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				st, _ := os.Stat(root)
				if st.Mode().Perm() != c.mode {
					t.Fatalf("mode %v, want %v", st.Mode().Perm(), c.mode)
				}
				return
			}
			if err == nil {
				l.Close()
				t.Fatal("unsafe lock root accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, root) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line naming %s and %q", msg, root, c.want)
			}
		})
	}
}

func TestKeyDirAndSlotHardening(t *testing.T) {
	ctx := context.Background()
	t.Run("symlinked key dir", func(t *testing.T) {
		root := t.TempDir()
		must(t, os.Mkdir(filepath.Join(root, "elsewhere"), 0o700))
		must(t, os.Symlink(filepath.Join(root, "elsewhere"), filepath.Join(root, "k")))
		l := openLocal(t, root)
		_, err := l.Acquire(ctx, Request{Key: "k", Limit: 1})
		if err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("got %v, want symlink refusal", err)
		}
	})
	t.Run("world-writable key dir", func(t *testing.T) {
		root := t.TempDir()
		must(t, os.Mkdir(filepath.Join(root, "k"), 0o700))
		must(t, os.Chmod(filepath.Join(root, "k"), 0o777))
		l := openLocal(t, root)
		_, err := l.Acquire(ctx, Request{Key: "k", Limit: 1})
		if err == nil || !strings.Contains(err.Error(), "writable by other users") {
			t.Fatalf("got %v, want refusal", err)
		}
	})
	t.Run("symlinked slot file", func(t *testing.T) {
		root := t.TempDir()
		l := openLocal(t, root)
		lease, err := l.Acquire(ctx, Request{Key: "k", Limit: 2})
		must(t, err)
		lease.Release()
		l.Close()
		slot := filepath.Join(root, "k", "slot-0.json")
		must(t, os.Remove(slot))
		must(t, os.Symlink("/etc/passwd", slot))
		l2 := openLocal(t, root)
		_, err = l2.Acquire(ctx, Request{Key: "k", Limit: 2})
		if err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("got %v, want symlink refusal", err)
		}
	})
	t.Run("a file where the key dir belongs", func(t *testing.T) {
		root := t.TempDir()
		must(t, os.WriteFile(filepath.Join(root, "k"), nil, 0o600))
		l := openLocal(t, root)
		_, err := l.Acquire(ctx, Request{Key: "k", Limit: 1})
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("got %v, want refusal", err)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openLocal(t testing.TB, root string, opts ...Options) *Local {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	l, err := OpenLocal(root, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestKeySlug(t *testing.T) {
	for key, want := range map[string]string{
		"deepseek.deepseek": "deepseek.deepseek",
		"k":                 "k",
	} {
		if got := KeySlug(key); got != want {
			t.Errorf("KeySlug(%q) = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"../x", "a/b", ".hidden", "_total", "h-abc", strings.Repeat("a", 65), "sp ace"} {
		got := KeySlug(key)
		if !strings.HasPrefix(got, "h-") || strings.ContainsAny(got, "/. ") {
			t.Errorf("KeySlug(%q) = %q, want a hashed slug", key, got)
		}
	}
	if KeySlug("a/b") == KeySlug("a/c") {
		t.Error("distinct keys share a slug")
	}
}

// plainKey is the hand-written form of one regexp; they must agree.
func TestPlainKeyIsTheRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	cases := []string{"", "a", "-a", ".a", "_a", "a-", "a.b_c-d", "A9", "a/b", "a b", "é", "a\x00",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "a" + strings.Repeat("-", 63), "a" + strings.Repeat("-", 64)}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ09._-/ \x00\xff"
	for range 5000 {
		b := make([]byte, rng.IntN(70))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := plainKey(c), re.MatchString(c); got != want {
			t.Errorf("plainKey(%q) = %v, the regexp says %v", c, got, want)
		}
	}
}
