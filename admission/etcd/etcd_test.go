package etcd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/admission"
)

// Cross-process tests re-exec this test binary in a helper mode: each helper
// is a real process with its own etcd client, session and keep-alive, killed
// with a real SIGKILL.
const helperEnv = "RELAY_ETCDADM_HELPER"

// shared is the etcd server of tests that do not stop theirs.
var shared string

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	dir, err := os.MkdirTemp("", "etcd-backend-test-")
	if err != nil {
		panic(err)
	}
	e, ep, err := startEtcd(dir, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded etcd:", err)
		os.Exit(1)
	}
	shared = ep
	code := m.Run()
	e.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEtcd runs a one-member etcd in dir on loopback ports. fsync is off
// unless asked for (tests measure behaviour, not durability).
func startEtcd(dir string, fsync bool) (*embed.Etcd, string, error) {
	cp, err := freePort()
	if err != nil {
		return nil, "", err
	}
	pp, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", cp))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pp))
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "test"
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "fatal"
	cfg.UnsafeNoFsync = !fsync
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		return nil, "", fmt.Errorf("etcd not ready after 20s")
	}
	return e, cu.String(), nil
}

// ownEtcd is an etcd server for one test, stopped by the test or at cleanup.
func ownEtcd(t *testing.T) (stop func(), endpoint string) {
	t.Helper()
	e, ep, err := startEtcd(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			start := time.Now()
			e.Close()
			t.Logf("etcd stopped in %s", time.Since(start))
		})
	}
	t.Cleanup(stop)
	return stop, ep
}

type warnLog struct {
	mu    sync.Mutex
	warns []string
}

func (l *warnLog) Debug(string, ...interface{}) {}
func (l *warnLog) Warn(msg string, args ...interface{}) {
	l.mu.Lock()
	l.warns = append(l.warns, fmt.Sprint(append([]interface{}{msg}, args...)...))
	l.mu.Unlock()
}
func (l *warnLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, w := range l.warns {
		if strings.Contains(w, sub) {
			n++
		}
	}
	return n
}

func open(t testing.TB, endpoint string, opts ...Option) *Backend {
	t.Helper()
	b, err := Open([]string{endpoint}, append([]Option{WithPrefix("/test/" + t.Name())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
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
	b, err := Open([]string{os.Getenv("ENDPOINT")}, WithPrefix(os.Getenv("PREFIX")),
		WithTTL(time.Duration(envInt("TTL_S"))*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer b.Close()
	req := admission.Request{Key: os.Getenv("KEY"), Limit: envInt("LIMIT"),
		Wait: time.Duration(envInt("WAIT_MS")) * time.Millisecond}
	events := os.Getenv("EVENTS")
	switch mode {
	case "cycles":
		hold := time.Duration(envInt("HOLD_US")) * time.Microsecond
		for i := 0; i < envInt("CYCLES"); i++ {
			lease, err := b.Acquire(context.Background(), req)
			if err != nil {
				fmt.Fprintln(os.Stderr, "cycle", i, err)
				return 1
			}
			appendEvent(events, fmt.Sprintf("A %d %d\n", monoNow(), os.Getpid()))
			time.Sleep(hold)
			appendEvent(events, fmt.Sprintf("R %d %d\n", monoNow(), os.Getpid()))
			if err := lease.Release(); err != nil {
				fmt.Fprintln(os.Stderr, "release", err)
				return 1
			}
		}
		return 0
	case "hold":
		lease, err := b.Acquire(context.Background(), req)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Printf("ready %x\n", int64(lease.(*Lease).ID()))
		bufio.NewReader(os.Stdin).ReadString('\n') // hold until stdin closes or we are killed
		lease.Release()
		return 0
	case "waiter":
		lease, err := b.Acquire(context.Background(), req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		appendEvent(events, os.Getenv("NAME")+"\n")
		time.Sleep(5 * time.Millisecond)
		lease.Release()
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

// helper starts this test binary in mode against endpoint and t's prefix.
func helper(t *testing.T, endpoint, mode string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "ENDPOINT="+endpoint,
		"PREFIX=/test/"+t.Name(), "TTL_S=2")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// holdProc starts a helper that acquires and holds until stdin closes. It
// returns once the lease is held.
func holdProc(t *testing.T, endpoint string, env ...string) (cmd *exec.Cmd, release func()) {
	t.Helper()
	cmd = helper(t, endpoint, "hold", env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "ready ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("holder did not get its lease: %q", line)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			in.Close()
			cmd.Wait()
		})
	}
	t.Cleanup(func() { cmd.Process.Kill(); release() })
	return cmd, release
}

func blocked(t *testing.T, err error, reason admission.Reason) *admission.BlockedError {
	t.Helper()
	b, ok := admission.IsBlocked(err)
	if !ok {
		t.Fatalf("want *BlockedError %s, got %v", reason, err)
	}
	if b.Reason != reason {
		t.Fatalf("want reason %s, got %s (%v)", reason, b.Reason, b)
	}
	return b
}
