package sdk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type recEvents struct {
	mu            sync.Mutex
	transmissions int
}

func (e *recEvents) Progress(string) {}
func (e *recEvents) Transmission() {
	e.mu.Lock()
	e.transmissions++
	e.mu.Unlock()
}

// stdinProbe is a CLI's stdin that checks, at the first byte, that the
// transmission event came first.
type stdinProbe struct {
	ev        *recEvents
	early     chan bool // true if a byte arrived before the event
	closeOnce sync.Once
}

func (p *stdinProbe) Write(b []byte) (int, error) {
	p.ev.mu.Lock()
	early := p.ev.transmissions == 0
	p.ev.mu.Unlock()
	select {
	case p.early <- early:
	default:
	}
	return len(b), nil
}

func (p *stdinProbe) Close() error { p.closeOnce.Do(func() { close(p.early) }); return nil }

func TestFeedEmitsTransmissionFirst(t *testing.T) {
	ev := &recEvents{}
	p := &stdinProbe{ev: ev, early: make(chan bool, 1)}
	feed(ev, p, "the source")
	if early, ok := <-p.early; !ok || early {
		t.Errorf("source written before the transmission event (written: %v)", ok)
	}
	if ev.transmissions != 1 {
		t.Errorf("%d transmission events", ev.transmissions)
	}
}

func TestRunCLI(t *testing.T) {
	ctx := context.Background()
	ev := &recEvents{}
	out, err := RunCLI(ctx, ev, Command(ctx, "sh", "-c", "cat; echo oops >&2; exit 3"), "the source\n", 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Stdout) != "the " || out.StdoutBytes != len("the source\n") || string(out.Stderr) != "oops\n" || out.ExitCode != 3 || ev.transmissions != 1 {
		t.Fatalf("got %+v (stdout %q), %d transmissions", out, out.Stdout, ev.transmissions)
	}

	ev = &recEvents{}
	_, err = RunCLI(ctx, ev, Command(ctx, filepath.Join(t.TempDir(), "no-such-cli")), "x", 1, 1)
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeCLINotFound || !se.NotSent || ev.transmissions != 0 {
		t.Fatalf("a CLI that cannot start: %v (transmissions %d); want cli_not_found, not sent, no event", err, ev.transmissions)
	}

	// Stopped a moment before the deadline, while the plugin can still
	// kill the whole group, and reported as a timeout.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = RunCLI(cctx, &recEvents{}, Command(cctx, "sleep", "30"), "", 1, 1)
	if !errors.As(err, &se) || se.Code != CodeTimeout || cctx.Err() != nil {
		t.Fatalf("a CLI past its deadline: %v (ctx %v); want timeout, before the deadline", err, cctx.Err())
	}
}

func TestStreamCLI(t *testing.T) {
	ctx := context.Background()
	script := "read x; echo \"line 1 $x\"; echo oops >&2; echo 'line 2'; exit 4"
	ev := &recEvents{}
	var lines []string
	out, err := StreamCLI(ctx, ev, Command(ctx, "sh", "-c", script), CLIStream{Input: "src\n", Line: func(l string) { lines = append(lines, l) }})
	if err != nil || out.ExitCode != 4 || out.Stderr != "oops" || ev.transmissions != 1 {
		t.Fatalf("got %+v, %v, %d transmissions", out, err, ev.transmissions)
	}
	if len(lines) != 2 || lines[0] != "line 1 src" || lines[1] != "line 2" {
		t.Errorf("lines %q", lines)
	}

	// The source in argv: the event comes before the CLI starts, even if
	// it cannot.
	ev = &recEvents{}
	_, err = StreamCLI(ctx, ev, Command(ctx, filepath.Join(t.TempDir(), "no-such-cli"), "source"), CLIStream{SourceInArgv: true})
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeCLINotFound || ev.transmissions != 1 {
		t.Fatalf("a CLI that cannot start, source in argv: %v (transmissions %d)", err, ev.transmissions)
	}

	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = StreamCLI(cctx, &recEvents{}, Command(cctx, "sleep", "30"), CLIStream{})
	if !errors.As(err, &se) || se.Code != CodeTimeout || cctx.Err() != nil {
		t.Fatalf("a CLI past its deadline: %v (ctx %v); want timeout, before the deadline", err, cctx.Err())
	}
}

func TestTail(t *testing.T) {
	var tl Tail
	tl.Write([]byte("  a \n\n b\n"))
	tl.Add(strings.Repeat("x", TailBytes+10))
	if got := tl.Lines(); len(got) != 1 || len(got[0]) != TailBytes {
		t.Errorf("after an oversized line: %d lines", len(got))
	}
	var t2 Tail
	t2.Write([]byte("  a \n\n b\n"))
	if t2.String() != "a\nb" {
		t.Errorf("String = %q", t2.String())
	}
}

func TestFindCLI(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mycli")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	if p, err := FindCLI(bin, "mycli", "install it"); err != nil || p != bin {
		t.Fatalf("FindCLI with a setting: %q %v", p, err)
	}
	t.Setenv("PATH", dir)
	if p, err := FindCLI("", "mycli", "install it"); err != nil || p != bin {
		t.Fatalf("FindCLI on PATH: %q %v", p, err)
	}
	_, err := FindCLI("", "other", "install it with npm")
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeCLINotFound || !se.NotSent {
		t.Fatalf("missing CLI: %v", err)
	}
}
