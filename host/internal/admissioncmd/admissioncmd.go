// Package admissioncmd implements `relay-host admission run|status|clean`.
//
// It is linked into the lean relay-host front binary, so it uses only the
// standard library and the admission package: `admission run -- CMD` is a
// flock(1)-style wrapper whose start-up cost users pay on every call.
//
// The commands read the same layered relay.hcl as `review` (lock_root,
// max_total, backend and the etcd settings), through a Loader that only
// relay-host-core supplies: the front binary runs a command itself only
// when there is no configuration file to read (NeedsCore), in which case
// the embedded default's admission block applies, which is all zero
// values (a test pins that).
package admissioncmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	relay "github.com/relay-host/relay-host"
	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/host/internal/blocked"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/lockroot"
	"github.com/relay-host/relay-host/host/internal/trust"
)

// IO is where a command reads and writes; tests inject buffers.
type IO struct {
	In         io.Reader
	Out, Err   io.Writer
	Getenv     func(string) string
	IsTerminal bool // stdin is a terminal (clean asks before resetting)
	// OutTerminal: stdout is a terminal. Holder identity (pid, host) is
	// shown only there, never in a pipe, a log or a CI transcript.
	OutTerminal bool
	StdinFile   *os.File
	StdoutFile  *os.File
	StderrFile  *os.File
}

// StdIO is the process's own streams.
func StdIO() IO {
	return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv,
		IsTerminal: isTerminal(os.Stdin.Fd()), OutTerminal: isTerminal(os.Stdout.Fd()),
		StdinFile: os.Stdin, StdoutFile: os.Stdout, StderrFile: os.Stderr}
}

const usage = `usage: relay-host admission run --key K --limit N [--wait DUR] [--max-total M] [--lock-root DIR] -- CMD [ARGS...]
       relay-host admission status [--json] [--holders] [--lock-root DIR]
       relay-host admission clean [--key K] [--yes] [--lock-root DIR]
       relay-host admission cooldown clear --key K [--lock-root DIR | --backend etcd --endpoints A,B [--prefix P]]
       relay-host admission run --backend etcd --endpoints A,B [--prefix P] [--ttl DUR] --key K --limit N [--wait DUR] [--max-total M] -- CMD [ARGS...]
       relay-host admission status --backend etcd --endpoints A,B [--prefix P] --key K [--json]`

// Config is the admission part of the effective relay.hcl. The zero value
// is the embedded default: local backend, default lock root, no max_total.
type Config struct {
	Backend   string // "" or "local", or "etcd"
	LockRoot  string // relay.hcl lock_root, "" for the default
	MaxTotal  int
	Endpoints []string // etcd
	Prefix    string   // etcd
	TTL       time.Duration
}

// ErrReported is a Loader's or FleetOpener's error whose explanation (HCL
// diagnostics) is already on stderr: the command exits 2 without another line.
var ErrReported = errors.New("reported")

// Loader reads the layered configuration, with explicit as --config ("" =
// RELAY_CONFIG or none). It prints its own warnings (an ignored repository
// file) and returns an error that is one line.
type Loader func(explicit string) (Config, error)

// Fleet is a fleet admission backend (etcd) as the relay-host-core binary
// opens it. This package does not link one: the lean front binary would
// pay for the client at every start.
type Fleet interface {
	admission.Backend
	KeyStatus(ctx context.Context, key string) (admission.KeyStatus, error)
}

// FleetOpener opens the named fleet backend from the command line's
// --endpoints, --prefix ("" for the default) and --ttl (0 for the default).
type FleetOpener func(backend string, endpoints []string, prefix string, ttl time.Duration) (Fleet, error)

// NeedsCore reports whether `admission ARGS...` must run in relay-host-core.
// The front binary runs exactly one command itself, `admission run`, the
// flock(1)-style wrapper that must start fast, and only on the embedded
// default: not when it names a fleet backend (--backend etcd), which only
// the core links, nor when a configuration file applies (--config,
// RELAY_CONFIG, the user's relay.hcl, or a trusted relay.hcl or .relay.hcl
// in the current directory). status, clean and help always go to the core,
// which resolves them as review does. When the front runs the command, it
// first prints warnings: one line for each repository file it ignores, as
// the core would. The flags are read by run's own flag set, so the two can
// never disagree about what the command line says.
func NeedsCore(args []string, getenv func(string) string) (core bool, warnings []string) {
	if len(args) == 0 || args[0] != "run" {
		return true, nil
	}
	rf := newRunFlags(IO{Err: io.Discard})
	if rf.fs.Parse(args[1:]) != nil {
		return false, nil // run prints the usage error itself
	}
	if *rf.fleet.backend != "local" || *rf.common.config != "" {
		return true, nil
	}
	if getenv("RELAY_CONFIG") != "" {
		return true, nil
	}
	// The user's file: the same lookup as host/config.UserFile.
	var user string
	if xdg := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(xdg) {
		user = filepath.Join(xdg, "relay", "relay.hcl")
	} else if home := getenv("HOME"); filepath.IsAbs(home) {
		user = filepath.Join(home, ".config", "relay", "relay.hcl")
	}
	if user != "" {
		if _, err := os.Stat(user); err == nil {
			return true, nil
		}
	}
	var store *trust.Store
	for _, name := range trust.RepoFiles {
		if _, err := os.Lstat(name); err != nil {
			continue
		}
		src, err := trust.ReadFile(name)
		if err == nil && store == nil {
			store, err = trust.Open(getenv)
		}
		if err != nil {
			return true, nil // the core says what is wrong with it
		}
		if bytes.Equal(src, relay.DefaultConfig) {
			continue // the built-in default itself: nothing to read or say
		}
		st := store.Check(name, src)
		if st == trust.Trusted {
			return true, nil
		}
		warnings = append(warnings, trust.Warning("./"+name, st))
	}
	return false, warnings
}

// Main runs `relay-host admission ARGS...` on the embedded default
// configuration and returns the exit code. Without a fleet opener,
// --backend etcd is refused; without a loader, --config is.
func Main(args []string, io IO) exitcode.Code { return MainWith(args, io, Core{}) }

// Core is what relay-host-core adds: a fleet backend opener and the
// configuration loader.
type Core struct {
	Open FleetOpener
	Load Loader
}

// MainWith is Main with relay-host-core's fleet opener and loader.
func MainWith(args []string, io IO, core Core) exitcode.Code {
	if len(args) == 0 {
		fmt.Fprintln(io.Err, usage)
		return exitcode.Usage
	}
	switch args[0] {
	case "run":
		return run(args[1:], io, core)
	case "status":
		return status(args[1:], io, core)
	case "clean":
		return clean(args[1:], io, core)
	case "cooldown":
		return cooldown(args[1:], io, core)
	case "-h", "--help", "help":
		fmt.Fprintln(io.Out, usage)
		return exitcode.OK
	}
	fmt.Fprintf(io.Err, "relay-host: unknown admission command %q\n%s\n", args[0], usage)
	return exitcode.Usage
}

func fail(io IO, code exitcode.Code, format string, a ...any) exitcode.Code {
	fmt.Fprintf(io.Err, "relay-host: "+format+"\n", a...)
	return code
}

func newFlags(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("relay-host admission "+name, flag.ContinueOnError)
	fs.SetOutput(io.Err)
	return fs
}

// common are the flags every admission command takes, and the
// configuration they select.
type common struct {
	config, lockRoot *string
	cfg              Config
}

func addCommon(fs *flag.FlagSet) *common {
	return &common{
		config:   fs.String("config", "", "relay.hcl to layer over yours (as for review; default RELAY_CONFIG)"),
		lockRoot: fs.String("lock-root", "", "lock root directory (default: relay.hcl lock_root, else ~/.local/state/relay/locks/v2)"),
	}
}

// load reads the layered configuration, when this binary can.
func (c *common) load(io IO, core Core) exitcode.Code {
	if core.Load == nil {
		if *c.config != "" {
			return fail(io, exitcode.Usage, "--config needs relay-host-core, which is not installed beside relay-host")
		}
		return exitcode.OK
	}
	cfg, err := core.Load(*c.config)
	if errors.Is(err, ErrReported) {
		return exitcode.Usage
	}
	if err != nil {
		return fail(io, exitcode.Usage, "%v", err)
	}
	c.cfg = cfg
	return exitcode.OK
}

// root is the lock root: lockroot.Resolve, the resolver review uses, with
// this command's --lock-root and relay.hcl's lock_root.
func (c *common) root(io IO) (string, error) {
	dir, _, err := lockroot.Resolve(lockroot.Input{Flag: *c.lockRoot, Configured: c.cfg.LockRoot, Getenv: io.Getenv})
	return dir, err
}

// openBackend opens the local backend at the lock root. Only run creates a
// missing lock root; status and clean report exists = false instead.
func (c *common) openBackend(io IO, create bool) (b *admission.Local, exists bool, err error) {
	dir, err := c.root(io)
	if err != nil {
		return nil, false, err
	}
	if !create {
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
	}
	b, err = admission.OpenLocal(dir, admission.Options{GateTimeout: admission.GateTimeoutFromEnv(io.Getenv)})
	return b, err == nil, err
}

// parseLimit accepts only a plain positive integer: "2.5", "0", "-1" and
// "1e3" fail closed rather than being rounded into something permissive.
func parseLimit(name, s string) (int, error) {
	s = strings.TrimSpace(s)
	if s != "" && strings.Trim(s, "0123456789") == "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("admission refused (invalid_limit): %s %q is not a positive integer", name, s)
}

// fleetFlags are the flags that pick a fleet backend.
type fleetFlags struct {
	backend, endpoints, prefix *string
	ttl                        *time.Duration
}

func addFleetFlags(fs *flag.FlagSet) fleetFlags {
	return fleetFlags{
		backend:   fs.String("backend", "local", "admission backend: local or etcd"),
		endpoints: fs.String("endpoints", "", "etcd only: comma-separated endpoints"),
		prefix:    fs.String("prefix", "", "etcd only: key prefix (default /relay/locks/v2)"),
		ttl:       fs.Duration("ttl", 0, "etcd only: lease TTL, whole seconds (default 15s)"),
	}
}

// open returns the fleet backend the flags name (else relay.hcl's
// backend), or nil for local. Flags win over relay.hcl one by one.
func (f fleetFlags) open(fs *flag.FlagSet, cfg Config, io IO, open FleetOpener) (Fleet, exitcode.Code) {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	backend := *f.backend
	if !given["backend"] && cfg.Backend != "" {
		backend = cfg.Backend
	}
	switch backend {
	case "", "local":
		if *f.endpoints != "" || *f.prefix != "" || *f.ttl != 0 {
			return nil, fail(io, exitcode.Usage, "--endpoints, --prefix and --ttl are only used with --backend etcd")
		}
		return nil, exitcode.OK
	case "etcd":
	default:
		return nil, fail(io, exitcode.Usage, "unknown --backend %q: use local or etcd", backend)
	}
	if open == nil {
		return nil, fail(io, exitcode.Usage, "--backend %s is served by relay-host-core, which is not installed beside relay-host", backend)
	}
	var eps []string
	for _, e := range strings.Split(*f.endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	if !given["endpoints"] {
		eps = cfg.Endpoints
	}
	prefix, ttl := *f.prefix, *f.ttl
	if !given["prefix"] {
		prefix = cfg.Prefix
	}
	if !given["ttl"] {
		ttl = cfg.TTL
	}
	f.prefix, f.ttl = &prefix, &ttl
	if len(eps) == 0 {
		return nil, fail(io, exitcode.Usage, "--backend etcd needs --endpoints host:port[,host:port...]")
	}
	if *f.ttl < 0 || *f.ttl%time.Second != 0 {
		return nil, fail(io, exitcode.Usage, "--ttl must be a whole number of seconds, e.g. 15s")
	}
	b, err := open(backend, eps, *f.prefix, *f.ttl)
	if errors.Is(err, ErrReported) {
		return nil, exitcode.Usage
	}
	if err != nil {
		return nil, fail(io, exitcode.Usage, "%v", err)
	}
	return b, exitcode.OK
}

// runFlags are `admission run`'s flags.
type runFlags struct {
	fs                   *flag.FlagSet
	fleet                fleetFlags
	key, limit, maxTotal *string
	wait                 *time.Duration
	common               *common
}

func newRunFlags(io IO) *runFlags {
	fs := newFlags("run", io)
	return &runFlags{
		fs:       fs,
		fleet:    addFleetFlags(fs),
		key:      fs.String("key", "", "concurrency key"),
		limit:    fs.String("limit", "", "most holders of the key at once (positive integer)"),
		wait:     fs.Duration("wait", 0, "wait this long for a slot, oldest waiter first (e.g. 30s)"),
		maxTotal: fs.String("max-total", "", "optional cap across all keys (positive integer; default relay.hcl max_total)"),
		common:   addCommon(fs),
	}
}

func run(args []string, io IO, core Core) exitcode.Code {
	rf := newRunFlags(io)
	fs, ff, key, limitS, wait, maxTotalS, c := rf.fs, rf.fleet, rf.key, rf.limit, rf.wait, rf.maxTotal, rf.common
	if err := fs.Parse(args); err != nil {
		return exitcode.Usage
	}
	cmdArgs := fs.Args()
	if *key == "" || *limitS == "" || len(cmdArgs) == 0 {
		return fail(io, exitcode.Usage, "admission run needs --key, --limit and a command after --\n%s", usage)
	}
	limit, err := parseLimit("--limit", *limitS)
	if err != nil {
		return fail(io, exitcode.Usage, "%v", err)
	}
	if code := c.load(io, core); code != exitcode.OK {
		return code
	}
	maxTotal := c.cfg.MaxTotal
	if *maxTotalS != "" {
		if maxTotal, err = parseLimit("--max-total", *maxTotalS); err != nil {
			return fail(io, exitcode.Usage, "%v", err)
		}
	}
	if *wait < 0 {
		return fail(io, exitcode.Usage, "--wait must not be negative")
	}
	// Resolve the command before taking a slot, so a typo costs no lease.
	path, err := exec.LookPath(cmdArgs[0])
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fail(io, exitcode.NotFound, "%s: command not found", cmdArgs[0])
		}
		return fail(io, exitcode.NoExec, "%s: %v", cmdArgs[0], err)
	}
	fleet, code := ff.open(fs, c.cfg, io, core.Open)
	if code != exitcode.OK {
		return code
	}
	var b admission.Backend
	if fleet != nil {
		if *c.lockRoot != "" {
			fleet.Close()
			return fail(io, exitcode.Usage, "--lock-root is only used with the local backend")
		}
		b = fleet
	} else {
		local, _, err := c.openBackend(io, true)
		if err != nil {
			return fail(io, exitcode.Usage, "%v", err)
		}
		b = local
	}
	defer b.Close()

	// A signal during a wait ends it cleanly (the waiter leaves the queue).
	// An immediate acquire takes microseconds and needs no handler: if a
	// signal kills us, the kernel drops our locks.
	ctx, stop := context.Background(), func() {}
	if *wait > 0 {
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	}
	lease, err := b.Acquire(ctx, admission.Request{Key: *key, Limit: limit, Wait: *wait, MaxTotal: maxTotal})
	stop()
	if err != nil {
		if bl, ok := admission.IsBlocked(err); ok {
			return fail(io, exitcode.Blocked, "%s", blocked.Run(*key, *wait, bl))
		}
		if ctx.Err() != nil {
			return fail(io, exitcode.Cancelled, "interrupted while waiting for a slot")
		}
		return fail(io, exitcode.Usage, "%v", err)
	}
	defer lease.Release()
	if fleet != nil {
		return runFleetHolding(path, cmdArgs, lease, io)
	}
	return runHolding(path, cmdArgs, lease, io)
}

// runFleetHolding runs CMD under a fleet (etcd) lease. Unlike a local lease,
// which CMD inherits as lock descriptors, an etcd lease lives only in this
// process's keep-alive: once relay-host is dead nothing renews it and the
// slot goes to someone else within the TTL. So CMD must not outlive
// relay-host: it gets SIGKILL when relay-host dies (Pdeathsig, Linux), and
// signals that would end relay-host are forwarded to CMD instead, so that
// relay-host outlives CMD and releases the slot at once. A lease lost while
// CMD runs (etcd partition, revoke) stops CMD: exit 75, admission_lost.
func runFleetHolding(path string, argv []string, lease admission.Lease, io IO) exitcode.Code {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args = argv
	cmd.Stdin, cmd.Stdout, cmd.Stderr = orReader(io.StdinFile, io.In), orWriter(io.StdoutFile, io.Out), orWriter(io.StderrFile, io.Err)
	cmd.SysProcAttr = dieWithParent()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fail(io, exitcode.NoExec, "%s: %v", argv[0], err)
	}
	var lost <-chan struct{}
	if ln, ok := lease.(admission.LossNotifier); ok {
		lost = ln.Lost()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case <-lost:
			lost = nil
			cmd.Process.Kill()
			<-done
			return fail(io, exitcode.Blocked, "admission lost (admission_lost): the etcd lease of %s ended while it ran (partition or revoke); it was stopped", argv[0])
		case err := <-done:
			return exitOf(err, argv[0], io)
		}
	}
}

// runHolding runs CMD with the lease's lock descriptors inherited (and no
// other descriptor of ours: Go opens everything close-on-exec), so the lease
// lives exactly as long as the work, as with flock(1): if we are killed,
// by SIGKILL or any other signal, the kernel keeps the slot locked until CMD
// itself exits. Like flock(1) we install no signal handlers: Ctrl-C reaches
// CMD through the terminal's process group, and a signal sent to us alone
// ends us, not CMD, which keeps its slot.
func runHolding(path string, argv []string, lease admission.Lease, io IO) exitcode.Code {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args = argv
	cmd.Stdin, cmd.Stdout, cmd.Stderr = orReader(io.StdinFile, io.In), orWriter(io.StdoutFile, io.Out), orWriter(io.StderrFile, io.Err)
	cmd.ExtraFiles = lease.Files()
	return exitOf(cmd.Run(), argv[0], io)
}

// exitOf is how `admission run` exits once CMD (named name) has run: with
// CMD's own exit code, as a shell reports one ended by a signal, or with
// NoExec and a line when it could not be run at all.
func exitOf(err error, name string, io IO) exitcode.Code {
	if err == nil {
		return exitcode.OK
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitcode.Signaled(int(ws.Signal()))
		}
		return exitcode.Code(ee.ExitCode())
	}
	return fail(io, exitcode.NoExec, "%s: %v", name, err)
}

func orReader(f *os.File, r io.Reader) io.Reader {
	if f != nil {
		return f
	}
	return r
}

func orWriter(f *os.File, w io.Writer) io.Writer {
	if f != nil {
		return f
	}
	return w
}

func displayKey(slug string) string { return blocked.Key(slug) }

func status(args []string, io IO, core Core) exitcode.Code {
	fs := newFlags("status", io)
	ff := addFleetFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	holders := fs.Bool("holders", false, "show each slot's holder (pid, host) when stdout is a terminal; never persisted or piped")
	c := addCommon(fs)
	key := fs.String("key", "", "etcd only: the key to show")
	if err := fs.Parse(args); err != nil {
		return exitcode.Usage
	}
	if code := c.load(io, core); code != exitcode.OK {
		return code
	}
	fleet, code := ff.open(fs, c.cfg, io, core.Open)
	if code != exitcode.OK {
		return code
	}
	if fleet != nil {
		defer fleet.Close()
		if *key == "" || *holders || *c.lockRoot != "" {
			return fail(io, exitcode.Usage, "admission status --backend etcd needs --key K and takes no --holders or --lock-root (holders are on other hosts)")
		}
		st, err := fleet.KeyStatus(context.Background(), *key)
		if err != nil {
			if bl, ok := admission.IsBlocked(err); ok {
				return fail(io, exitcode.Blocked, "%s", bl.Error())
			}
			return fail(io, exitcode.Failure, "%v", err)
		}
		st.Slug = *key
		return printStatus(io, []admission.KeyStatus{st}, *asJSON)
	}
	if *key != "" {
		return fail(io, exitcode.Usage, "--key is only used with --backend etcd")
	}
	if *holders && !io.OutTerminal {
		// Identity goes to a person at a terminal, not into a pipe or a CI
		// log; counts are the same either way.
		fmt.Fprintln(io.Err, "relay-host: --holders shows holders only on a terminal; printing counts")
		*holders = false
	}
	b, exists, err := c.openBackend(io, false)
	if err != nil {
		return fail(io, exitcode.Usage, "%v", err)
	}
	if !exists {
		return printStatus(io, nil, *asJSON)
	}
	defer b.Close()
	sts, err := b.StatusAll(context.Background(), *holders)
	if err != nil {
		return fail(io, exitcode.Failure, "%v", err)
	}
	return printStatus(io, sts, *asJSON)
}

func printStatus(io IO, sts []admission.KeyStatus, asJSON bool) exitcode.Code {
	now := time.Now()
	if asJSON {
		type row struct {
			Key         string `json:"key"`
			ActiveCount int    `json:"active_count"`
			Limit       int    `json:"limit"`
			Waiting     int    `json:"waiting"`
			CooldownS   int64  `json:"cooldown_s"`
			Cooldown    string `json:"cooldown,omitempty"`
		}
		rows := []row{}
		for _, s := range sts {
			secs, reason := CooldownView(s.Cooldown, now)
			rows = append(rows, row{displayKey(s.Slug), s.ActiveCount, s.Limit, s.Waiting, secs, reason})
		}
		enc := json.NewEncoder(io.Out)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
		return exitcode.OK
	}
	if len(sts) == 0 {
		fmt.Fprintln(io.Out, "no admission keys yet")
		return exitcode.OK
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tACTIVE\tLIMIT\tWAITING\tCOOLDOWN")
	for _, s := range sts {
		limit := "-"
		if s.Limit > 0 {
			limit = strconv.Itoa(s.Limit)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", displayKey(s.Slug), s.ActiveCount, limit, s.Waiting, CooldownText(s.Cooldown, now))
		for _, si := range s.Slots {
			fmt.Fprintf(tw, "  slot %d\t%s\t%s\n", si.Index, si.State, holderText(si))
		}
	}
	tw.Flush()
	return exitcode.OK
}

func holderText(si admission.SlotInfo) string {
	if si.State == "free" || si.Holder.PID == 0 {
		return si.Detail
	}
	s := fmt.Sprintf("pid %d on %s", si.Holder.PID, si.Holder.Hostname)
	if si.Detail != "" {
		s += " (" + si.Detail + ")"
	}
	return s
}

func clean(args []string, io IO, core Core) exitcode.Code {
	fs := newFlags("clean", io)
	key := fs.String("key", "", "only this key")
	yes := fs.Bool("yes", false, "reset without asking")
	c := addCommon(fs)
	if err := fs.Parse(args); err != nil {
		return exitcode.Usage
	}
	if code := c.load(io, core); code != exitcode.OK {
		return code
	}
	b, exists, err := c.openBackend(io, false)
	if err != nil {
		return fail(io, exitcode.Usage, "%v", err)
	}
	if !exists {
		fmt.Fprintln(io.Out, "nothing to clean: no slot fails closed")
		return exitcode.OK
	}
	defer b.Close()
	ctx := context.Background()
	found, err := b.Clean(ctx, *key, true)
	if err != nil {
		return fail(io, exitcode.Failure, "%v", err)
	}
	if len(found) == 0 {
		fmt.Fprintln(io.Out, "nothing to clean: no slot fails closed")
		return exitcode.OK
	}
	fmt.Fprintln(io.Out, "slots and cooldown records that fail closed and will be reset:")
	for _, st := range found {
		if st.Cooldown.Reason == admission.CooldownCorrupt {
			fmt.Fprintf(io.Out, "  %s cooldown: corrupt\n", displayKey(st.Slug))
		}
		for _, si := range st.Slots {
			who := ""
			if io.OutTerminal {
				// Holder identity only for a person at a terminal, never in
				// a pipe, a log or a CI transcript.
				who = " " + holderText(si)
			}
			fmt.Fprintf(io.Out, "  %s slot %d: %s%s\n", displayKey(st.Slug), si.Index, si.State, who)
		}
	}
	if !*yes {
		if !io.IsTerminal {
			fmt.Fprintln(io.Out, "dry run: pass --yes to reset them")
			return exitcode.OK
		}
		fmt.Fprint(io.Out, "reset them? [y/N] ")
		var answer string
		fmt.Fscanln(io.In, &answer)
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(io.Out, "nothing changed")
			return exitcode.OK
		}
	}
	// Reset under the gate again: only what still fails closed is touched.
	done, err := b.Clean(ctx, *key, false)
	if err != nil {
		return fail(io, exitcode.Failure, "%v", err)
	}
	n, cools := 0, 0
	for _, st := range done {
		n += len(st.Slots)
		if st.Cooldown.Reason == admission.CooldownCorrupt {
			cools++
		}
	}
	if cools > 0 {
		fmt.Fprintf(io.Out, "reset %d slot(s) and %d cooldown record(s)\n", n, cools)
	} else {
		fmt.Fprintf(io.Out, "reset %d slot(s)\n", n)
	}
	return exitcode.OK
}

// CooldownView is a cooldown as status and capacity show it: the whole
// seconds left and the reason, or 0 and "" when none refuses now (a
// corrupt record: 0 and "corrupt", as it has no end).
func CooldownView(c admission.Cooldown, now time.Time) (seconds int64, reason string) {
	if !c.Active(now) {
		return 0, ""
	}
	return int64(c.Remaining(now) / time.Second), string(c.Reason)
}

// CooldownText is CooldownView for a table cell: "-", "23s rate_limited",
// or "corrupt (run admission clean)".
func CooldownText(c admission.Cooldown, now time.Time) string {
	secs, reason := CooldownView(c, now)
	switch {
	case reason == "":
		return "-"
	case c.Reason == admission.CooldownCorrupt:
		return "corrupt (run admission clean)"
	}
	return fmt.Sprintf("%ds %s", secs, reason)
}

// cooldown is `admission cooldown clear --key K`: an operator ends a key's
// cooldown (a corrupt local record included) on the backend relay.hcl or
// the flags name. K is the key as the user knows it (provider.route), or
// as status shows a shared-state one (shared-state:1a2b3c4d).
func cooldown(args []string, io IO, core Core) exitcode.Code {
	if len(args) == 0 || args[0] != "clear" {
		return fail(io, exitcode.Usage, "admission cooldown takes one command, clear\n%s", usage)
	}
	fs := newFlags("cooldown clear", io)
	ff := addFleetFlags(fs)
	key := fs.String("key", "", "the key whose cooldown ends (as admission status shows it)")
	c := addCommon(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return exitcode.Usage
	}
	if *key == "" || fs.NArg() > 0 {
		return fail(io, exitcode.Usage, "admission cooldown clear needs --key K and nothing else\n%s", usage)
	}
	if code := c.load(io, core); code != exitcode.OK {
		return code
	}
	fleet, code := ff.open(fs, c.cfg, io, core.Open)
	if code != exitcode.OK {
		return code
	}
	var b admission.Backend = fleet
	k := *key
	if fleet == nil {
		local, exists, err := c.openBackend(io, false)
		if err != nil {
			return fail(io, exitcode.Usage, "%v", err)
		}
		if !exists {
			fmt.Fprintf(io.Out, "no cooldown on %s\n", k)
			return exitcode.OK
		}
		if k, err = c.resolveShared(io, k); err != nil {
			local.Close()
			return fail(io, exitcode.Usage, "%v", err)
		}
		// A key without a directory has no cooldown; looking must not
		// create one.
		if root, err := c.root(io); err == nil {
			if _, err := os.Lstat(filepath.Join(root, admission.KeySlug(k))); errors.Is(err, os.ErrNotExist) {
				local.Close()
				fmt.Fprintf(io.Out, "no cooldown on %s\n", *key)
				return exitcode.OK
			}
		}
		b = local
	}
	defer b.Close()
	ctx := context.Background()
	prev, err := b.Cooldown(ctx, k)
	if err == nil {
		err = b.ClearCooldown(ctx, k)
	}
	if err != nil {
		if bl, ok := admission.IsBlocked(err); ok {
			return fail(io, exitcode.Blocked, "%s", bl.Error())
		}
		return fail(io, exitcode.Failure, "%v", err)
	}
	if !prev.Active(time.Now()) {
		fmt.Fprintf(io.Out, "no cooldown on %s\n", *key)
		return exitcode.OK
	}
	fmt.Fprintf(io.Out, "cleared the cooldown on %s (%s)\n", *key, CooldownText(prev, time.Now()))
	return exitcode.OK
}

// resolveShared turns "shared-state:<8 hex>" into the one key of the lock
// root it names; any other key is returned as it is.
func (c *common) resolveShared(io IO, key string) (string, error) {
	short, ok := strings.CutPrefix(key, "shared-state:")
	if !ok {
		return key, nil
	}
	root, err := c.root(io)
	if err != nil {
		return "", err
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", fmt.Errorf("cannot list the lock root: %w", err)
	}
	var found []string
	for _, e := range ents {
		if e.IsDir() && blocked.IsIdentityKey(e.Name()) && strings.HasPrefix(e.Name(), short) {
			found = append(found, e.Name())
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%s names %d keys in the lock root, not one: copy the key from `relay-host admission status`", key, len(found))
	}
	return found[0], nil
}
