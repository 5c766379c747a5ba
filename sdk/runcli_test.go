package sdk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = RunCLI(cctx, &recEvents{}, Command(cctx, "sleep", "30"), "", 1, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a CLI past its deadline: %v", err)
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
