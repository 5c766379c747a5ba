package admission

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkAcquireRelease: one long-lived Local, limit 4, with 3 other live
// holders (held through another Local, i.e. other open files, as another
// process would).
func BenchmarkAcquireRelease(b *testing.B) {
	root := b.TempDir()
	others := openLocal(b, root)
	for i := 0; i < 3; i++ {
		if _, err := others.Acquire(ctx, Request{Key: "k", Limit: 4}); err != nil {
			b.Fatal(err)
		}
	}
	l := openLocal(b, root)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lease, err := l.Acquire(ctx, Request{Key: "k", Limit: 4})
		if err != nil {
			b.Fatal(err)
		}
		lease.Release()
	}
}

// BenchmarkColdAcquire* open a fresh Local per acquire (what one short-lived
// relay-host process does), in an empty lock root and in one holding 10,000
// other keys' directories: an acquire must never depend on other keys.
func BenchmarkColdAcquireEmptyRoot(b *testing.B) { benchCold(b, 0) }
func BenchmarkColdAcquire10kKeys(b *testing.B)   { benchCold(b, 10000) }

func benchCold(b *testing.B, otherKeys int) {
	root := b.TempDir()
	for i := 0; i < otherKeys; i++ {
		dir := filepath.Join(root, "other-"+strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "slot-0.json"), nil, 0o600)
	}
	warm, _ := OpenLocal(root, Options{})
	lease, _ := warm.Acquire(ctx, Request{Key: "k", Limit: 1})
	lease.Release()
	warm.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := OpenLocal(root, Options{})
		if err != nil {
			b.Fatal(err)
		}
		lease, err := l.Acquire(ctx, Request{Key: "k", Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		lease.Release()
		l.Close()
	}
}

// BenchmarkSixteenProcesses: 16 long-lived processes each do 50 acquire /
// hold 1 ms / release cycles at limit 4, waiting. Timed from a start signal
// to the last exit (process start-up excluded). The yardstick is a bare
// flock semaphore: try each of 4 lock files, else block on one of them.
func BenchmarkSixteenProcesses(b *testing.B) { benchProcs(b, "bench-relay") }
func BenchmarkSixteenProcessesFlockYardstick(b *testing.B) {
	benchProcs(b, "bench-flock")
}

func benchProcs(b *testing.B, mode string) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := b.TempDir()
		var cmds []*exec.Cmd
		var starts []*os.File
		for p := 0; p < 16; p++ {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode, "ROOT="+root)
			r, w, _ := os.Pipe()
			cmd.Stdin = r
			cmd.Stderr = os.Stderr
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			r.Close()
			if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
				b.Fatalf("helper: %q", line)
			}
			cmds = append(cmds, cmd)
			starts = append(starts, w)
		}
		b.StartTimer()
		for _, w := range starts {
			w.Close() // EOF on stdin: go
		}
		var wg sync.WaitGroup
		for _, c := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Wait(); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
}

// benchHelper runs the cycles of BenchmarkSixteenProcesses in a helper.
func benchHelper(mode string) int {
	const cycles, limit, hold = 50, 4, time.Millisecond
	root := os.Getenv("ROOT")
	var run func() error
	switch mode {
	case "bench-relay":
		l, err := OpenLocal(root, Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		l.Acquire(ctx, Request{Key: "warm", Limit: 1}) // open files before the clock starts
		run = func() error {
			lease, err := l.Acquire(ctx, Request{Key: "k", Limit: limit, Wait: time.Minute})
			if err != nil {
				return err
			}
			time.Sleep(hold)
			return lease.Release()
		}
	case "bench-flock":
		var fds []int
		for i := 0; i < limit; i++ {
			fd, err := unix.Open(filepath.Join(root, "lock-"+strconv.Itoa(i)), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fds = append(fds, fd)
		}
		run = func() error {
			got := -1
			for i, fd := range fds {
				if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
					got = i
					break
				}
			}
			if got < 0 {
				got = os.Getpid() % limit
				if err := unix.Flock(fds[got], unix.LOCK_EX); err != nil {
					return err
				}
			}
			time.Sleep(hold)
			return unix.Flock(fds[got], unix.LOCK_UN)
		}
	default:
		return 2
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	for i := 0; i < cycles; i++ {
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}
