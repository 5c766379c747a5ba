//go:build linux

package sdk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// The test binary doubles as a plugin and as a host in cross-process tests:
// testModeEnv selects the role.
const testModeEnv = "RELAY_SDK_TEST_MODE"

func TestMain(m *testing.M) {
	switch os.Getenv(testModeEnv) {
	case "":
		os.Exit(m.Run())
	case "plugin-with-cli":
		Serve(cliProvider{})
	case "example-greeter":
		Serve(greeter{}) // ExampleServe's plugin
	case "host":
		runTestHost()
	default:
		fmt.Fprintln(os.Stderr, "unknown test mode")
		os.Exit(2)
	}
	os.Exit(0)
}

// cliProvider runs a "CLI" (sh) that starts a grandchild, the shape of a real
// CLI that spawns helpers, and reports both pids as progress.
type cliProvider struct{}

func (cliProvider) Describe(context.Context) (Description, error) {
	return Description{Name: "cli", Version: "1", Routes: []Route{{Name: "default", Fact: SharedStateDir("/tmp")}}}, nil
}

func (cliProvider) Review(ctx context.Context, _ ReviewRequest, ev Events) (Result, error) {
	cmd, grandchild, err := startTree(ctx)
	if err != nil {
		return Result{}, err
	}
	ev.Progress(fmt.Sprintf("pids %d %d", cmd.Process.Pid, grandchild))
	_ = cmd.Wait()
	return Result{}, ctx.Err()
}

// startTree starts sh through Command; sh starts a background sleep (the
// grandchild) and then becomes a sleep itself.
func startTree(ctx context.Context) (*exec.Cmd, int, error) {
	cmd := Command(ctx, "sh", "-c", `sleep 300 & echo $!; exec sleep 301`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return cmd, pid, err
}

// runTestHost launches two plugins the way relay-host does: one idle after
// Describe, one running a review. It prints
// "<idle plugin> <busy plugin> <cli> <grandchild>" pids and waits to be killed.
func runTestHost() {
	launch := func() (*exec.Cmd, ProviderClient) {
		self, _ := os.Executable()
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), testModeEnv+"=plugin-with-cli")
		client := plugin.NewClient(NewClientConfig(cmd, nil))
		rpc, err := client.Client()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		raw, err := rpc.Dispense(PluginName)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		p := raw.(ProviderClient)
		if _, err := p.Describe(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return cmd, p
	}
	idle, _ := launch()
	busy, p := launch()
	go p.Review(context.Background(), ReviewRequest{Route: "default"}, func(e Event) {
		if pids, ok := strings.CutPrefix(e.Message, "pids "); ok {
			fmt.Printf("%d %d %s\n", idle.Process.Pid, busy.Process.Pid, pids)
		}
	})
	select {}
}

// liveProc is a process identified by pid and start time.
type liveProc struct {
	pid   int
	start string
}

func procStat(pid int) (state, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[0], f[19], true
}

func observe(t *testing.T, pid int) liveProc {
	t.Helper()
	state, start, ok := procStat(pid)
	if !ok || state == "Z" {
		t.Fatalf("pid %d is not running at the start of the test", pid)
	}
	return liveProc{pid, start}
}

// running: same process, not yet exited (a zombie has exited; only its
// status awaits collection by whoever adopted it).
func (p liveProc) running() bool {
	state, start, ok := procStat(p.pid)
	return ok && start == p.start && state != "Z"
}

// waitAllGone waits for every process to exit; the bound is a liveness
// timeout for a loaded machine, not a performance assertion.
func waitAllGone(t *testing.T, bound time.Duration, procs map[string]liveProc) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		var alive []string
		for name, p := range procs {
			if p.running() {
				alive = append(alive, fmt.Sprintf("%s (pid %d)", name, p.pid))
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range procs {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
			t.Fatalf("still running %s later: %s", bound, strings.Join(alive, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCommandKillsWholeGroup: cancelling the context kills the CLI and the
// helpers it spawned, not just the direct child.
func TestCommandKillsWholeGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd, grandchild, err := startTree(ctx)
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]liveProc{"grandchild": observe(t, grandchild)}
	cancel()
	if err := cmd.Wait(); err == nil {
		t.Fatal("killed command reported success")
	}
	waitAllGone(t, 10*time.Second, procs)
}

// TestPluginAndCLIDieWithHost: SIGKILL the host; its plugins go too. The
// idle plugin has nothing but the parent-death signal to notice (no call to
// cancel, nothing to write); the busy one also loses its connection, which
// cancels the review and kills the CLI's whole process group.
func TestPluginAndCLIDieWithHost(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(self)
	host.Env = append(os.Environ(), testModeEnv+"=host")
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("test host did not report its plugin")
	}
	var idlePID, pluginPID, cliPID, grandchildPID int
	if _, err := fmt.Sscanf(line, "%d %d %d %d", &idlePID, &pluginPID, &cliPID, &grandchildPID); err != nil {
		t.Fatalf("host said %q: %v", line, err)
	}
	procs := map[string]liveProc{
		"idle plugin": observe(t, idlePID),
		"busy plugin": observe(t, pluginPID),
		"cli":         observe(t, cliPID),
		"grandchild":  observe(t, grandchildPID),
	}

	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	if err := host.Wait(); !errors.As(err, &exitErr) {
		t.Fatalf("host wait: %v", err)
	}
	waitAllGone(t, 10*time.Second, procs)
}
