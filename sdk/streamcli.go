package sdk

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
)

// CLIStream says how [StreamCLI] feeds a CLI and reads what it prints.
type CLIStream struct {
	// Input is written to the CLI's stdin after the transmission event,
	// and stdin is closed after it.
	Input string
	// SourceInArgv says the source is in the command's arguments (a CLI
	// that takes its prompt as an argument): the transmission event is
	// then emitted before the CLI starts, and stdin gets nothing.
	SourceInArgv bool
	// Line is called with each line of stdout, in order, from one
	// goroutine, as the CLI prints it. A line longer than MaxLine ends the
	// reading; the rest of stdout is discarded.
	Line func(string)
	// MaxLine bounds one stdout line (default 16 MiB).
	MaxLine int
}

// CLIExit is how a CLI run by [StreamCLI] ended: its exit code (non-zero is
// not an error) and the last lines of its stderr.
type CLIExit struct {
	ExitCode int
	Stderr   string // the last [TailBytes] of its non-empty lines, trimmed
}

// StreamCLI runs cmd (made with [Command]) like [RunCLI], but hands stdout
// to s.Line line by line while the CLI runs, for CLIs that report progress
// or stream their answer. Stdout goes through an io.Pipe, not StdoutPipe:
// exec copies it, and Wait gives up on the copy after [CommandWaitDelay]
// even if an escaped grandchild keeps the CLI's stdout open.
//
// Errors: CodeCLINotFound (not sent) when the CLI cannot start; ctx.Err()
// when ctx ended; CodeTimeout when [Command] stopped the CLI just before
// ctx's deadline; CodeReviewFailed when waiting failed.
func StreamCLI(ctx context.Context, ev Events, cmd *exec.Cmd, s CLIStream) (CLIExit, error) {
	var stderr Tail
	cmd.Stderr = &stderr
	var stdin io.WriteCloser
	if !s.SourceInArgv {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return CLIExit{}, Errorf(CodeInternal, "stdin pipe: %v", err)
		}
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	if s.SourceInArgv {
		ev.Transmission() // the source is in the CLI's argv from Start on
	}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return CLIExit{}, startError(ctx, cmd)
	}
	if !s.SourceInArgv {
		feed(ev, stdin, s.Input)
	}
	maxLine := s.MaxLine
	if maxLine <= 0 {
		maxLine = 16 << 20
	}
	parsed := make(chan struct{})
	go func() {
		defer close(parsed)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			if s.Line != nil {
				s.Line(sc.Text())
			}
		}
		io.Copy(io.Discard, pr) // so the CLI is never blocked on a full pipe
	}()
	err := cmd.Wait()
	pw.Close()
	<-parsed
	code, err := exitOf(ctx, cmd, err)
	if err != nil && code < 0 {
		return CLIExit{}, err
	}
	return CLIExit{ExitCode: code, Stderr: stderr.String()}, err
}

// TailBytes is how much of the end of a stream a [Tail] keeps.
const TailBytes = 16 << 10

// Tail keeps the last [TailBytes] of the non-empty lines written to it,
// each trimmed: the part of a CLI's output an error message can quote. It
// is an io.Writer, so it can collect a child's stderr.
type Tail struct {
	lines []string
	size  int
}

// Add appends one line.
func (t *Tail) Add(line string) {
	if line = strings.TrimSpace(line); line == "" {
		return
	}
	if len(line) > TailBytes {
		line = line[len(line)-TailBytes:]
	}
	t.lines = append(t.lines, line)
	t.size += len(line)
	for t.size > TailBytes && len(t.lines) > 1 {
		t.size -= len(t.lines[0])
		t.lines = t.lines[1:]
	}
}

// Write adds each line of p. A line split across two writes is kept as two.
func (t *Tail) Write(p []byte) (int, error) {
	for _, l := range strings.Split(string(p), "\n") {
		t.Add(l)
	}
	return len(p), nil
}

// String is the kept lines, joined by newlines.
func (t *Tail) String() string { return strings.Join(t.lines, "\n") }

// Lines is the kept lines, oldest first. The slice is the Tail's own: do not
// change it.
func (t *Tail) Lines() []string { return t.lines }
