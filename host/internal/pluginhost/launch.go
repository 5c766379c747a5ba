// Package pluginhost finds, launches and stops provider plugins.
//
// Invariant: a launched plugin gets only the environment Env builds (the
// allowlist plus its provider block's env), talks gRPC over a socket that no
// other local user can reach, dies with the host (Pdeathsig on Linux, and
// the SDK watches its parent too), and Kill leaves no process of its
// process group behind. A plugin that holds a copy of its review's lease
// (ShareLease) keeps the slot held until it has died.
package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/relay-host/relay-host/sdk"
)

// DefaultStartTimeout bounds a plugin's start-up and handshake.
const DefaultStartTimeout = 10 * time.Second

// leaseFD is the plugin's descriptor number of its lease channel
// (sdk.EnvLeaseFD): the first of exec.Cmd.ExtraFiles.
const leaseFD = 3

// Options launch one plugin.
type Options struct {
	// Provider names the plugin in errors.
	Provider string
	// Path is the plugin binary (from Find).
	Path string
	// Checksum is relay.hcl's "sha256:<hex>", or "" when not pinned.
	Checksum string
	// Env is the plugin's whole environment (from Env).
	Env []string
	// Logger receives the plugin's logs (go-plugin names them after the
	// binary and keeps their level) and its stray stdout/stderr as warnings.
	Logger       hclog.Logger
	StartTimeout time.Duration
	// AutoMTLS turns on go-plugin's mutual TLS over the socket. It is off
	// by default: the socket sits in a directory only this user can enter,
	// which already keeps every other local user from connecting, and the
	// certificates (ECDSA P-521 key generation on both sides plus a TLS
	// handshake) cost about 27 ms of a 34 ms launch here (BenchmarkLaunch*).
	// TLS would not stop this user's own processes either: they can read
	// the host's memory. RELAY_PLUGIN_AUTOMTLS=1 turns it on.
	AutoMTLS bool
}

// AutoMTLSFromEnv reads RELAY_PLUGIN_AUTOMTLS (1/true turns AutoMTLS on).
func AutoMTLSFromEnv(getenv func(string) string) bool {
	v := strings.ToLower(strings.TrimSpace(getenv("RELAY_PLUGIN_AUTOMTLS")))
	return v == "1" || v == "true" || v == "yes"
}

// Plugin is a running plugin.
type Plugin struct {
	Provider sdk.ProviderClient
	PID      int

	client    *plugin.Client
	socketDir string
	flush     []flusher     // output writers holding a last unterminated line
	lease     *net.UnixConn // the host's end of the lease channel, or nil
}

// live is every plugin this process launched and has not stopped, for
// StopAll: a signal handler must reach them all, as go-plugin's own list of
// managed clients does.
var live = struct {
	sync.Mutex
	m map[*Plugin]struct{}
}{m: map[*Plugin]struct{}{}}

type flusher interface{ Flush() }

// ChecksumError is a pinned plugin whose binary does not match.
type ChecksumError struct{ Provider, Path string }

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("plugin %s for provider %q does not match the checksum pinned in relay.hcl: reinstall the plugin you pinned, or update checksum to sha256sum of this one", e.Path, e.Provider)
}

// StartError is a plugin that did not start or complete the handshake.
type StartError struct {
	Provider string
	Err      error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("plugin for provider %q did not start: %v; run `relay-host plugin check` on it", e.Provider, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// Launch starts the plugin and dispenses its provider client.
//
// The plugin is forked from the calling goroutine's thread, and Linux's
// parent-death signal follows that thread, not the process. Go ends a
// thread only when a goroutine locked to it (runtime.LockOSThread) exits, so
// Launch must not be called from such a goroutine; the SDK's own parent
// watch covers the rest.
func Launch(o Options) (*Plugin, error) {
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	// go-plugin puts the plugin's unix socket in $TMPDIR unless told
	// otherwise; a directory only we can enter keeps other local users from
	// connecting to it at all (connect(2) needs search permission on every
	// directory of the path), whatever the socket's own mode.
	socketDir, err := privateDir()
	if err != nil {
		return nil, &StartError{Provider: o.Provider, Err: err}
	}
	// The plugin's TMPDIR is a directory inside that one, so whatever the
	// plugin and its CLI leave there (scratch directories, a CLI's state
	// copy) goes when the plugin stops, even when it was killed before it
	// could clean up. Its name is short: CLIs put unix sockets under it.
	tmpDir := filepath.Join(socketDir, "t")
	if err := os.Mkdir(tmpDir, 0o700); err != nil {
		os.RemoveAll(socketDir)
		return nil, &StartError{Provider: o.Provider, Err: fmt.Errorf("create plugin temp directory: %w", err)}
	}
	lease, leaseEnd, err := leaseChannel()
	if err != nil {
		os.RemoveAll(socketDir)
		return nil, &StartError{Provider: o.Provider, Err: err}
	}
	cmd := exec.Command(o.Path)
	cmd.Env = append(withoutVar(o.Env, "TMPDIR"), plugin.EnvUnixSocketDir+"="+socketDir, "TMPDIR="+tmpDir)
	if leaseEnd != nil {
		cmd.ExtraFiles = []*os.File{leaseEnd} // go-plugin leaves them as they are
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", sdk.EnvLeaseFD, leaseFD))
	}
	cmd.SysProcAttr = procAttr()
	cfg := sdk.NewClientConfig(cmd, o.Logger)
	// The plugin's stderr is read whole-line by stderrLog (see stderr.go),
	// not in go-plugin's 64 KiB pieces.
	name := filepath.Base(cmd.Path)
	stderr := newStderrLog(cfg.Logger.Named(name))
	cfg.Logger = stderrOff{Logger: cfg.Logger, name: name}
	cfg.Stderr = stderr
	cfg.StartTimeout = o.StartTimeout
	cfg.Managed = true // plugin.CleanupClients kills it on any exit path
	cfg.AutoMTLS = o.AutoMTLS
	if o.Checksum != "" {
		sum, err := hex.DecodeString(strings.TrimPrefix(o.Checksum, "sha256:"))
		if err != nil {
			os.RemoveAll(socketDir)
			if lease != nil {
				lease.Close()
				leaseEnd.Close()
			}
			return nil, &ChecksumError{Provider: o.Provider, Path: o.Path}
		}
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := plugin.NewClient(cfg)
	p := &Plugin{client: client, socketDir: socketDir, lease: lease}
	for _, w := range []io.Writer{stderr, cfg.SyncStdout, cfg.SyncStderr} {
		if f, ok := w.(flusher); ok {
			p.flush = append(p.flush, f)
		}
	}
	rpc, err := client.Client()
	if leaseEnd != nil {
		leaseEnd.Close() // the plugin has its own copy, or never started
	}
	if cmd.Process != nil {
		p.PID = cmd.Process.Pid
		live.Lock()
		live.m[p] = struct{}{}
		live.Unlock()
	}
	if err != nil {
		p.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, &ChecksumError{Provider: o.Provider, Path: o.Path}
		}
		return nil, &StartError{Provider: o.Provider, Err: err}
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		p.Kill()
		return nil, &StartError{Provider: o.Provider, Err: err}
	}
	prov, ok := raw.(sdk.ProviderClient)
	if !ok {
		p.Kill()
		return nil, &StartError{Provider: o.Provider, Err: fmt.Errorf("dispensed %T, not a provider", raw)}
	}
	p.Provider = prov
	return p, nil
}

// Kill stops the plugin: go-plugin's graceful shutdown (at most 2 s), then
// SIGKILL to the plugin's whole process group, so helpers the plugin left
// in its group go too. It is idempotent.
func (p *Plugin) Kill() {
	if p == nil {
		return
	}
	p.client.Kill()
	p.sweep()
	p.flushOutput()
}

// StopAll stops every plugin this process launched, for a host that must
// exit now (a second Ctrl-C): SIGTERM first, so an SDK plugin kills its
// CLIs' process groups and then its own (in that order, while it still
// holds its copy of the lease), then, after at most StopAllGrace, SIGKILL to
// every plugin's group for plugins that did not stop.
func StopAll() {
	live.Lock()
	ps := make([]*Plugin, 0, len(live.m))
	for p := range live.m {
		ps = append(ps, p)
	}
	live.Unlock()
	for _, p := range ps {
		if !p.client.Exited() {
			terminate(p.PID)
		}
	}
	for deadline := time.Now().Add(StopAllGrace); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if !slices.ContainsFunc(ps, func(p *Plugin) bool { return !p.client.Exited() }) {
			break
		}
	}
	for _, p := range ps {
		p.sweep()
	}
}

// StopAllGrace bounds how long StopAll waits for plugins to stop themselves.
const StopAllGrace = 500 * time.Millisecond

// flushOutput logs what the plugin wrote last without a newline. It runs
// after client.Kill, which returns once go-plugin has read all of the
// plugin's stderr.
func (p *Plugin) flushOutput() {
	for _, f := range p.flush {
		f.Flush()
	}
}

// KillNow stops a plugin whose review failed, timed out or was cancelled,
// without go-plugin's graceful RPC shutdown. It first sends SIGTERM and
// waits up to TermGrace for the plugin to exit: an SDK plugin then kills the
// process groups of the CLIs it runs (each in a group of its own, out of the
// host's reach) and its own group. Only then is the plugin's group SIGKILLed.
func (p *Plugin) KillNow() {
	if p == nil {
		return
	}
	if p.PID > 0 && !p.client.Exited() {
		terminate(p.PID)
		for deadline := time.Now().Add(TermGrace); !p.client.Exited() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	p.sweep()
	p.client.Kill()
	p.sweep()
	p.flushOutput()
}

// TermGrace bounds how long KillNow waits for a plugin to stop after
// SIGTERM: a little over the SDK's own bound on cancelling its calls.
const TermGrace = sdk.CancelGrace + 500*time.Millisecond

func (p *Plugin) sweep() {
	if p.PID > 0 {
		killGroup(p.PID)
		live.Lock()
		delete(live.m, p)
		live.Unlock()
	}
	if p.socketDir != "" {
		os.RemoveAll(p.socketDir)
	}
	if p.lease != nil {
		p.lease.Close()
	}
}

// privateDir makes a 0700 directory for the plugin's socket and proves its
// mode: MkdirTemp asks for 0700, and this refuses anything looser.
func privateDir() (string, error) {
	base := os.TempDir()
	// A unix socket path must fit in 108 bytes; go-plugin adds
	// "/plugin" and ten digits to this directory's name.
	if len(base) > 60 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "relay-plugin-")
	if err != nil {
		return "", fmt.Errorf("create plugin socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		os.RemoveAll(dir)
		return "", errors.New("plugin socket directory is not private (0700): check TMPDIR")
	}
	return dir, nil
}

// withoutVar is environ without any assignment to name.
func withoutVar(environ []string, name string) []string {
	out := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return out
}
