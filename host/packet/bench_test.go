package packet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkBuild500 builds the packet of a 500-file change: 450 tracked
// files with ten edited lines each and 50 untracked files, code-like text
// with assignments the secret scan has to look at (and must let through).
func BenchmarkBuild500(b *testing.B) {
	o, p := repo500(b)
	b.SetBytes(p.Bytes)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Build(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan500 is the in-process part of the content scan on that
// packet's diff, without git: "copy" is what building did with git's output
// before the scan (append it to a capped buffer), "scan" what it does now
// (split it into sections, scan every added line, assemble the kept ones).
func BenchmarkScan500(b *testing.B) {
	_, p := repo500(b)
	diff := []byte(p.Diff)
	const chunk = 64 << 10 // git's writes arrive through a pipe
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(diff)))
		for b.Loop() {
			out := &capBuffer{max: 16 << 20}
			for i := 0; i < len(diff); i += chunk {
				out.Write(diff[i:min(i+chunk, len(diff))])
			}
			_ = out.String()
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(diff)))
		for b.Loop() {
			k := newSectionSink(16 << 20)
			for i := 0; i < len(diff); i += chunk {
				k.Write(diff[i:min(i+chunk, len(diff))])
			}
			if err := k.finish(); err != nil || len(k.sections) != 500 {
				b.Fatalf("%d sections, %v", len(k.sections), err)
			}
			var sb strings.Builder
			sb.Grow(len(k.buf))
			for _, s := range k.sections {
				if s.secret {
					b.Fatalf("%s flagged", s.path)
				}
				sb.Write(k.text(s))
			}
			_ = sb.String()
		}
	})
}

func repo500(b *testing.B) (Options, *Packet) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	dir := b.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	source := func(i int, edited bool) string {
		var s strings.Builder
		fmt.Fprintf(&s, "package p%d\n\n", i)
		for l := range 60 {
			v := "old"
			if edited && l%6 == 0 {
				v = "new"
			}
			switch l % 4 {
			case 0:
				fmt.Fprintf(&s, "// line %d of file %d explains the %s code below it\n", l, i, v)
			case 1:
				fmt.Fprintf(&s, "var token%d = cfg.Lookup(%q) // %s\n", l, "name", v)
			case 2:
				fmt.Fprintf(&s, "func f%d(key string) error { return check(key, %d, %q) }\n", l, l*i, v)
			default:
				fmt.Fprintf(&s, "\tpassword := os.Getenv(\"PASSWORD_%d\") // %s\n", l, v)
			}
		}
		return s.String()
	}
	git("init", "-q", "-b", "main")
	for i := range 450 {
		write(fmt.Sprintf("pkg%02d/file%03d.go", i%20, i), source(i, false))
	}
	git("add", "-A")
	git("commit", "-q", "-m", "init")
	for i := range 450 {
		write(fmt.Sprintf("pkg%02d/file%03d.go", i%20, i), source(i, true))
	}
	for i := 450; i < 500; i++ {
		write(fmt.Sprintf("new/file%03d.go", i), source(i, true))
	}
	o := Options{Dir: dir, Budget: 16 << 20}
	p, err := Build(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Files) != 500 || len(p.Skipped) != 0 {
		b.Fatalf("Files %d, Skipped %v: want 500 files, none skipped", len(p.Files), p.Skipped)
	}
	return o, p
}
