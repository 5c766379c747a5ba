package admission

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/admission/procid"
)

// Cross-process tests re-exec this test binary in a helper mode: each helper
// is a real process with its own open files, killed with a real SIGKILL.
const helperEnv = "RELAY_ADMISSION_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// monoNow is CLOCK_MONOTONIC, comparable across processes of one boot.
func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func appendEvent(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		panic(err)
	}
	f.WriteString(line) // one write per line: O_APPEND keeps lines whole
	f.Close()
}

func helperMain(mode string) int {
	if mode == "bench-relay" || mode == "bench-flock" {
		return benchHelper(mode)
	}
	opts := Options{}
	if os.Getenv("RELAY_TEST_CAPTURE") == "error" {
		opts.Observer.Capture = func(pid int) (procid.Info, error) {
			return procid.Info{}, &procid.CaptureError{Kind: procid.CaptureFailed, PID: pid}
		}
	}
	l, err := OpenLocal(os.Getenv("ROOT"), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	key, limit := os.Getenv("KEY"), envInt("LIMIT")
	wait := time.Duration(envInt("WAIT_MS")) * time.Millisecond
	events := os.Getenv("EVENTS")
	switch mode {
	case "cycles":
		hold := time.Duration(envInt("HOLD_US")) * time.Microsecond
		for i := 0; i < envInt("CYCLES"); i++ {
			lease, err := l.Acquire(context.Background(), Request{Key: key, Limit: limit, Wait: wait})
			if err != nil {
				fmt.Fprintln(os.Stderr, "cycle", i, err)
				return 1
			}
			appendEvent(events, fmt.Sprintf("A %d %d\n", monoNow(), os.Getpid()))
			time.Sleep(hold)
			appendEvent(events, fmt.Sprintf("R %d %d\n", monoNow(), os.Getpid()))
			lease.Release()
		}
		return 0
	case "hold":
		lease, err := l.Acquire(context.Background(), Request{Key: key, Limit: limit, Wait: wait})
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Printf("ready %d\n", lease.(*localLease).route.idx)
		bufio.NewReader(os.Stdin).ReadString('\n') // hold until stdin closes or we are killed
		return 0
	case "waiter":
		lease, err := l.Acquire(context.Background(), Request{Key: key, Limit: limit, Wait: wait})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		appendEvent(events, os.Getenv("NAME")+"\n")
		time.Sleep(5 * time.Millisecond)
		lease.Release()
		return 0
	case "once":
		lease, err := l.Acquire(context.Background(), Request{Key: key, Limit: limit, Wait: wait})
		if b, ok := IsBlocked(err); ok {
			fmt.Printf("blocked %s %d/%d\n", b.Reason, b.Capacity.ActiveCount, b.Capacity.Limit)
			return 75
		}
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		lease.Release()
		fmt.Println("ok")
		return 0
	}
	return 2
}

func helperCmd(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// startHolder runs a helper that takes a slot and holds it until killed.
func startHolder(t *testing.T, root, key string, limit int) (*exec.Cmd, int) {
	t.Helper()
	cmd := helperCmd(t, "hold", "ROOT="+root, "KEY="+key, "LIMIT="+strconv.Itoa(limit))
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	must(t, cmd.Start())
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("holder did not get a slot: %q %v", line, err)
	}
	idx, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
	return cmd, idx
}

func runOnce(t *testing.T, root, key string, limit int, env ...string) string {
	t.Helper()
	cmd := helperCmd(t, "once", append([]string{"ROOT=" + root, "KEY=" + key, "LIMIT=" + strconv.Itoa(limit)}, env...)...)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

func sigkill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
}

// At most limit holders at any instant, proven from a timestamped event
// stream of many real processes; and with waiting, every cycle completes.
func TestCrossProcessPeakOverlap(t *testing.T) {
	const procs, cycles, limit = 16, 50, 3
	root := t.TempDir()
	events := filepath.Join(t.TempDir(), "events")
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for i := 0; i < procs; i++ {
		cmd := helperCmd(t, "cycles", "ROOT="+root, "KEY=k", "LIMIT="+strconv.Itoa(limit),
			"CYCLES="+strconv.Itoa(cycles), "HOLD_US=300", "WAIT_MS=120000", "EVENTS="+events)
		must(t, cmd.Start())
		wg.Add(1)
		go func() { defer wg.Done(); errs <- cmd.Wait() }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a holder process failed: %v", err)
		}
	}
	peak, acquires := peakOverlap(t, events)
	if acquires != procs*cycles {
		t.Fatalf("%d acquires logged, want %d", acquires, procs*cycles)
	}
	if peak > limit {
		t.Fatalf("peak overlap %d exceeds limit %d", peak, limit)
	}
	if peak < 2 {
		t.Fatalf("peak overlap %d: the run never overlapped, so it proved nothing", peak)
	}
	t.Logf("peak overlap %d (limit %d) over %d acquires", peak, limit, acquires)
}

type event struct {
	t       int64
	release bool
}

func peakOverlap(t *testing.T, path string) (peak, acquires int) {
	data, err := os.ReadFile(path)
	must(t, err)
	var evs []event
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("bad event line %q", line)
		}
		ts, _ := strconv.ParseInt(f[1], 10, 64)
		evs = append(evs, event{ts, f[0] == "R"})
		if f[0] == "A" {
			acquires++
		}
	}
	// Logged intervals sit inside the real holds (logged after acquire,
	// before release), so their overlap never exceeds the real one.
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].t != evs[j].t {
			return evs[i].t < evs[j].t
		}
		return evs[i].release && !evs[j].release
	})
	cur := 0
	for _, e := range evs {
		if e.release {
			cur--
		} else {
			cur++
		}
		peak = max(peak, cur)
	}
	return peak, acquires
}

func TestSIGKILLedHolderFreesExactlyItsSlot(t *testing.T) {
	root := t.TempDir()
	h1, _ := startHolder(t, root, "k", 2)
	startHolder(t, root, "k", 2)
	if got := runOnce(t, root, "k", 2); got != "blocked at_capacity 2/2" {
		t.Fatalf("with two live holders: %q", got)
	}
	sigkill(t, h1)
	l := openLocal(t, root)
	lease, err := l.Acquire(ctx, Request{Key: "k", Limit: 2})
	if err != nil {
		t.Fatalf("the killed holder's slot was not free at the next acquire: %v", err)
	}
	defer lease.Release()
	if got := runOnce(t, root, "k", 2); got != "blocked at_capacity 2/2" {
		t.Fatalf("the live holder's slot was freed too: %q", got)
	}
}

// A slot record without the lock-backed promise whose pid cannot be
// inspected: reclaimed only when its boot id proves a reboot.
func TestStaleBootReclaimsOnlyUnverifiable(t *testing.T) {
	sleeper := exec.Command("sleep", "60")
	must(t, sleeper.Start())
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	host, _ := os.Hostname()
	for _, c := range []struct {
		boot, want string
	}{
		{"boot-before-reboot", "ok"},
		{"boot-now", "blocked at_capacity 1/1"},
		{"unknown-" + host, "blocked at_capacity 1/1"},
	} {
		root := t.TempDir()
		writeSlot(t, root, "k", 0, heldRecord(record{PID: sleeper.Process.Pid, StartTime: "1", Argv0: "sleep", Hostname: host, BootID: c.boot}))
		got := runOnce(t, root, "k", 1, "RELAY_TEST_CAPTURE=error", "RELAY_BOOT_ID=boot-now")
		if got != c.want {
			t.Errorf("recorded boot id %q: got %q, want %q", c.boot, got, c.want)
		}
	}
}

// Waiters are admitted in arrival order, and a steady stream of newcomers
// that do not wait never gets a slot a waiter queued for.
func TestWaitersAreAdmittedInArrivalOrder(t *testing.T) {
	root := t.TempDir()
	events := filepath.Join(t.TempDir(), "events")
	owner := openLocal(t, root)
	held := acquire(t, owner, "k", 1)
	const n = 5
	var cmds []*exec.Cmd
	for i := 0; i < n; i++ {
		cmd := helperCmd(t, "waiter", "ROOT="+root, "KEY=k", "LIMIT=1", "WAIT_MS=60000", "EVENTS="+events, "NAME=w"+strconv.Itoa(i))
		must(t, cmd.Start())
		cmds = append(cmds, cmd)
		waitFor(t, func() bool {
			st, _ := owner.StatusAll(ctx, false)
			return len(st) == 1 && st[0].Waiting == i+1
		})
	}
	// Newcomers hammer the key from another process's view the whole time.
	stop := make(chan struct{})
	var newcomerWins atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nl := openLocal(t, root)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if lease, err := nl.Acquire(ctx, Request{Key: "k", Limit: 1}); err == nil {
				newcomerWins.Add(1)
				lease.Release()
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	held.Release()
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("waiter failed: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	data, err := os.ReadFile(events)
	must(t, err)
	got := strings.Fields(string(data))
	want := []string{"w0", "w1", "w2", "w3", "w4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("admission order %v, want %v", got, want)
	}
	t.Logf("newcomers got in %d times (only between waiters is that allowed)", newcomerWins.Load())
}

// Lowering the limit while high-index slots are held (by live processes)
// never admits past the new limit.
func TestLoweredLimitWithHighIndexHolders(t *testing.T) {
	root := t.TempDir()
	var holders []*exec.Cmd
	for i := 0; i < 4; i++ {
		h, idx := startHolder(t, root, "k", 4)
		if idx != i {
			t.Fatalf("holder %d got slot %d", i, idx)
		}
		holders = append(holders, h)
	}
	sigkill(t, holders[0])
	sigkill(t, holders[1]) // slots 2 and 3 stay held
	if got := runOnce(t, root, "k", 2); got != "blocked at_capacity 2/2" {
		t.Fatalf("limit lowered to 2 with two high-index holders: %q", got)
	}
	if got := runOnce(t, root, "k", 3); got != "ok" {
		t.Fatalf("limit 3: %q", got)
	}
}

// Request.Limit's rule: every holder's limit holds while it holds. A holder
// process that asked for 1 keeps the key at 1 for everyone (a newcomer asking
// for 4 is refused, and Status says 1/1); once it is gone, a holder that asked
// for 4 keeps a newcomer asking for 1 out but lets one asking for 4 in.
func TestCrossProcessMixedLimitsLowestHolds(t *testing.T) {
	root := t.TempDir()
	one, _ := startHolder(t, root, "k", 1)
	if got := runOnce(t, root, "k", 4); got != "blocked at_capacity 1/1" {
		t.Fatalf("limit 4 beside a limit-1 holder: %q", got)
	}
	log := &warnLog{}
	l := openLocal(t, root, Options{Logger: log})
	_, err := l.Acquire(ctx, Request{Key: "k", Limit: 4})
	wantBlocked(t, err, ReasonAtCapacity, 1, 1)
	if log.warned("different limits") == 0 {
		t.Fatal("no warning about differing limits")
	}
	if c, err := l.Status(ctx, "k"); err != nil || c != (Capacity{ActiveCount: 1, Limit: 1}) {
		t.Fatalf("status beside a limit-1 holder: %+v %v, want 1/1", c, err)
	}
	sigkill(t, one)
	startHolder(t, root, "k", 4)
	if got := runOnce(t, root, "k", 1); got != "blocked at_capacity 1/1" {
		t.Fatalf("limit 1 beside a limit-4 holder: %q", got)
	}
	if got := runOnce(t, root, "k", 4); got != "ok" {
		t.Fatalf("limit 4 beside a limit-4 holder: %q", got)
	}
	if got := runOnce(t, root, "k", 2); got != "ok" {
		t.Fatalf("limit 2 beside a limit-4 holder: %q", got)
	}
	// The limit in force is the holder's, not the last acquire's.
	if c, err := l.Status(ctx, "k"); err != nil || c != (Capacity{ActiveCount: 1, Limit: 4}) {
		t.Fatalf("status beside a limit-4 holder: %+v %v, want 1/4", c, err)
	}
}

// warnLog records warnings.
type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *warnLog) Debug(string, ...interface{}) {}
func (l *warnLog) Warn(msg string, args ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, msg)
}

func (l *warnLog) warned(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func TestHelperProcessErrorsAreVisible(t *testing.T) {
	// A helper that cannot open its root must fail loudly, or the tests
	// above could pass on helpers that never ran.
	cmd := helperCmd(t, "once", "ROOT=relative/path", "KEY=k", "LIMIT=1")
	cmd.Stderr = nil
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("got %v, want exit 2", err)
	}
}
