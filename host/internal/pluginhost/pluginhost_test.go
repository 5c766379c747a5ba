package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/sdk"
)

// The echo example plugin and the fault test plugin, built once.
var echoBin, faultBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		panic(err)
	}
	echoBin = filepath.Join(dir, "relay-provider-echo")
	faultBin = filepath.Join(dir, "relay-provider-fault")
	for bin, pkg := range map[string]string{echoBin: "github.com/relay-host/relay-host/sdk/examples/echo", faultBin: "github.com/relay-host/relay-host/host/internal/testplugins/fault"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the test plugins:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestEnvAllowlist(t *testing.T) {
	environ := []string{
		"PATH=/bin", "HOME=/home/u", "TMPDIR=/tmp", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC",
		"https_proxy=http://user:pw@proxy:3128", "NO_PROXY=localhost", "XDG_STATE_HOME=/s",
		"ANTHROPIC_API_KEY=sk-ant-secret", "OPENAI_API_KEY=sk-other-secret", "AWS_SECRET_ACCESS_KEY=aws",
		"SSH_AUTH_SOCK=/tmp/agent", "TERM=xterm", "USER=u", "GITHUB_TOKEN=ghp_x", "PATH=/dup",
	}
	env, secrets := Env(environ, []string{"ANTHROPIC_API_KEY", "HOME", "NOT_SET"})
	want := []string{"PATH=/bin", "HOME=/home/u", "TMPDIR=/tmp", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC",
		"https_proxy=http://user:pw@proxy:3128", "NO_PROXY=localhost", "XDG_STATE_HOME=/s", "ANTHROPIC_API_KEY=sk-ant-secret"}
	if !slices.Equal(env, want) {
		t.Errorf("env:\n got %q\nwant %q", env, want)
	}
	if want := []string{"http://user:pw@proxy:3128", "sk-ant-secret"}; !slices.Equal(secrets, want) {
		t.Errorf("secrets: got %q, want %q", secrets, want)
	}
}

func writeExe(t *testing.T, path string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindOrder(t *testing.T) {
	root := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"plugdir", "self", "path1", "path2"} {
		dirs[d] = filepath.Join(root, d)
		writeExe(t, filepath.Join(dirs[d], "relay-provider-x"))
	}
	p := &config.Provider{Name: "x", Plugin: "relay-provider-x"}
	s := Search{PluginDirs: []string{dirs["plugdir"]}, SelfDir: dirs["self"], PATH: "rel:" + dirs["path1"] + ":" + dirs["path2"]}
	for _, next := range []string{"plugdir", "self", "path1", "path2"} {
		got, err := Find(p, s)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dirs[next], "relay-provider-x"); got != want {
			t.Fatalf("found %s, want %s", got, want)
		}
		os.Remove(got)
	}
	_, err := Find(p, s)
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), `set plugin = "/path/relay-provider-x"`) {
		t.Errorf("not found: %v", err)
	}
	// An absolute plugin path is used as is, and only it.
	abs := filepath.Join(root, "elsewhere", "my-plugin")
	writeExe(t, abs)
	if got, err := Find(&config.Provider{Name: "x", Plugin: abs}, s); err != nil || got != abs {
		t.Errorf("absolute: %s, %v", got, err)
	}
	if _, err := Find(&config.Provider{Name: "x", Plugin: abs + "-missing"}, s); !IsNotFound(err) {
		t.Errorf("missing absolute path: %v", err)
	}
}

// A relative PATH entry (such as "." or "") would let a repository under
// review plant a plugin; it is skipped.
func TestFindSkipsRelativePath(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	writeExe(t, filepath.Join(cwd, "relay-provider-x"))
	_, err := Find(&config.Provider{Name: "x", Plugin: "relay-provider-x"}, Search{PATH: ".::"})
	if !IsNotFound(err) {
		t.Errorf("found a plugin through a relative PATH entry: %v", err)
	}
}

func TestRefusesPluginsOthersCanWrite(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "d", "relay-provider-x")
	writeExe(t, bin)
	p := &config.Provider{Name: "x", Plugin: bin}
	os.Chmod(bin, 0o777)
	_, err := Find(p, Search{})
	var ue *UnsafeError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "run chmod go-w "+bin) {
		t.Fatalf("world-writable binary: %v", err)
	}
	os.Chmod(bin, 0o755)
	os.Chmod(filepath.Dir(bin), 0o777)
	if _, err = Find(p, Search{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "its directory is writable") {
		t.Fatalf("world-writable directory: %v", err)
	}
	os.Chmod(filepath.Dir(bin), 0o777|os.ModeSticky)
	if _, err := Find(p, Search{}); err != nil {
		t.Errorf("sticky directory (like /tmp) refused: %v", err)
	}
	// A symlink is judged by its target.
	os.Chmod(filepath.Dir(bin), 0o755)
	os.Chmod(bin, 0o775)
	link := filepath.Join(root, "link")
	os.Symlink(bin, link)
	if _, err := Find(&config.Provider{Name: "x", Plugin: link}, Search{}); !errors.As(err, &ue) {
		t.Errorf("group-writable target behind a symlink: %v", err)
	}
}

// TestSocketIsPrivate: the plugin's unix socket lives in a directory only
// this user can enter, whether or not AutoMTLS is on.
func TestSocketIsPrivate(t *testing.T) {
	for _, noMTLS := range []bool{false, true} {
		p, err := Launch(Options{Provider: "echo", Path: echoBin, Env: []string{"PATH=/usr/bin:/bin"}, Logger: hclog.NewNullLogger(), AutoMTLS: !noMTLS})
		if err != nil {
			t.Fatal(err)
		}
		addr := p.client.ReattachConfig().Addr
		if addr.Network() != "unix" {
			t.Fatalf("plugin listens on %s", addr.Network())
		}
		dir := filepath.Dir(addr.String())
		fi, err := os.Lstat(dir)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if dir != p.socketDir || fi.Mode().Perm() != 0o700 || !fi.IsDir() || int(st.Uid) != os.Getuid() {
			t.Errorf("socket %s: directory mode %v uid %d, want our private %s", addr, fi.Mode(), st.Uid, p.socketDir)
		}
		if _, err := p.Provider.Describe(context.Background()); err != nil {
			t.Errorf("describe (noMTLS=%v): %v", noMTLS, err)
		}
		p.Kill()
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket directory left behind: %v", err)
		}
	}
}

func TestChecksumMismatch(t *testing.T) {
	_, err := Launch(Options{Provider: "echo", Path: echoBin, Checksum: "sha256:" + strings.Repeat("0", 64), Logger: hclog.NewNullLogger()})
	var ce *ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `provider "echo" does not match the checksum`) {
		t.Errorf("got %v", err)
	}
}

func benchLaunch(b *testing.B, noMTLS bool) {
	for b.Loop() {
		p, err := Launch(Options{Provider: "echo", Path: echoBin, Env: []string{"PATH=/usr/bin:/bin"}, Logger: hclog.NewNullLogger(), AutoMTLS: !noMTLS})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Provider.Describe(context.Background()); err != nil {
			b.Fatal(err)
		}
		p.Kill()
	}
}

// BenchmarkLaunchAutoMTLS is launch + Describe + kill as relay-host does it.
func BenchmarkLaunchAutoMTLS(b *testing.B) { benchLaunch(b, false) }

// BenchmarkLaunchPrivateSocket is the same without AutoMTLS, relying on the
// private socket directory alone.
func BenchmarkLaunchPrivateSocket(b *testing.B) { benchLaunch(b, true) }

// TestStopAllKillsEveryGroup: a plugin that ignores SIGTERM and
// cancellation, with a helper in its own process group (plain os/exec) and
// one in a group of its own (sdk.Command): StopAll, the host's second-signal
// path, leaves none of them running.
func TestStopAllKillsEveryGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	p, err := Launch(Options{Provider: "fault", Path: faultBin, Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	go p.Provider.Review(context.Background(), sdk.ReviewRequest{Route: "default", Timeout: time.Minute, Settings: map[string]string{
		"mode": "hang", "children": "all", "sigterm": "ignore", "pidfile": pidfile,
	}}, func(sdk.Event) {})
	var pids []int
	for deadline := time.Now().Add(20 * time.Second); len(pids) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the plugin never wrote its pidfile")
		}
		data, _ := os.ReadFile(pidfile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(data)) {
			var n int
			fmt.Sscan(f, &n)
			pids = append(pids, n)
		}
	}
	StopAll()
	// Bounded polling, not a timing assertion: the group kill is already
	// sent; the sdk.Command helper follows its parent (Pdeathsig).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		left := slices.DeleteFunc(slices.Clone(pids), func(pid int) bool {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			i := strings.LastIndexByte(string(stat), ')')
			return err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z'
		})
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("after StopAll, %v of the plugin and its helpers %v still run", left, pids)
		}
	}
}

// TestShareLeaseHoldsTheLock: once an SDK plugin holds its copy of a locked
// descriptor, the lock outlives the host's own copy and is free again when
// the plugin is gone.
func TestShareLeaseHoldsTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slot")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	p, err := Launch(Options{Provider: "echo", Path: echoBin, Env: []string{"PATH=/usr/bin:/bin"}, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := p.ShareLease([]*os.File{f}); err != nil {
		t.Fatalf("ShareLease: %v", err)
	}
	f.Close() // the host's copy: as if the host had been SIGKILLed
	locked := func() bool {
		g, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		return syscall.Flock(int(g.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
	}
	if !locked() {
		t.Fatal("the lock was free while the plugin held its copy")
	}
	p.Kill()
	if locked() {
		t.Error("the lock is still held after the plugin was stopped")
	}
}
