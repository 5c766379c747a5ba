package packet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// gitEnvDrop are inherited variables that would change how git reads our
// pathspecs or renders a diff. The repository location variables (GIT_DIR,
// GIT_WORK_TREE, GIT_INDEX_FILE) are kept: a user who sets them means them.
var gitEnvDrop = []string{
	"GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS",
	"GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_OPTIONAL_LOCKS", "GIT_TERMINAL_PROMPT", "LC_ALL",
}

func gitEnv() []string {
	env := make([]string, 0, len(os.Environ())+3)
next:
	for _, kv := range os.Environ() {
		for _, k := range gitEnvDrop {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	// GIT_OPTIONAL_LOCKS=0 keeps index-refreshing commands from writing the
	// index opportunistically; see the note on diff commands in packet.go.
	return append(env, "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
}

// diffFlags make diff output independent of user configuration and keep
// external programs out of it: no external diff driver, no textconv filter,
// no color, fixed prefixes, submodules as one "Subproject commit" line.
var diffFlags = []string{
	"--no-ext-diff", "--no-textconv", "--no-color",
	"--src-prefix=a/", "--dst-prefix=b/", "--submodule=short",
}

type runner struct {
	env []string
}

// gitError is a failed git invocation: the subcommand, exit status and the
// first line of its stderr.
type gitError struct {
	sub    string
	code   int
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := "git " + e.sub + " failed"
	if e.stderr != "" {
		return msg + ": " + e.stderr
	}
	return msg + ": " + e.err.Error()
}

func (e *gitError) Unwrap() error { return e.err }

// run executes git -C dir -c core.quotePath=false args..., writing stdout to
// out. okCodes are exit statuses (besides 0) that are not failures.
func (r *runner) run(ctx context.Context, dir string, out io.Writer, args []string, okCodes ...int) error {
	full := append([]string{"-C", dir, "-c", "core.quotePath=false"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = r.env
	cmd.Stdin = nil
	cmd.Stdout = out
	var stderr capBuffer
	stderr.max = 4 << 10
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	ge := &gitError{sub: args[0], code: -1, err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ge.code = ee.ExitCode()
		for _, c := range okCodes {
			if ge.code == c {
				return nil
			}
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
	ge.stderr = strings.TrimPrefix(line, "fatal: ")
	return ge
}

// output runs git and returns its whole stdout.
func (r *runner) output(ctx context.Context, dir string, args ...string) ([]byte, error) {
	var buf bytes.Buffer
	err := r.run(ctx, dir, &buf, args)
	return buf.Bytes(), err
}

// capBuffer keeps the first max bytes written and counts all of them, so a
// huge diff costs no more memory than the budget while its size stays known.
type capBuffer struct {
	max int64
	n   int64
	buf bytes.Buffer
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - int64(b.buf.Len()); room > 0 {
		if int64(len(p)) <= room {
			b.buf.Write(p)
		} else {
			b.buf.Write(p[:room])
		}
	}
	b.n += int64(len(p))
	return len(p), nil
}

func (b *capBuffer) String() string { return b.buf.String() }

// splitNUL splits -z output into its NUL-terminated fields.
func splitNUL(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}
