package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	etcdadm "github.com/relay-host/relay-host/admission/etcd"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/admissioncmd"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/sdk/conformance"
)

func newVersionCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(g.IO.Out, "relay-host %s\n", g.Version)
		},
	}
}

// newAdmissionCmd hands `admission …` to admissioncmd (the lean front binary
// runs it itself; this entry is for help, completion and direct calls).
func newAdmissionCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:                "admission run|status|clean",
		Short:              "Generic lease wrapper and operator view of admission slots",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			core := admissioncmd.Core{Open: openFleet(g), Load: admissionConfig(g)}
			if code := admissioncmd.MainWith(args, admissionIO(g.IO), core); code != exitcode.OK {
				return silentExit(code)
			}
			return nil
		},
	}
}

// admissionIO is io as admissioncmd takes it. Where io's streams are files
// (the process's own), they are passed on as files, so the command
// `admission run` starts inherits them as they are, and the terminal checks
// (holder identity only on a terminal, clean's confirmation) look at them.
func admissionIO(io IO) admissioncmd.IO {
	a := admissioncmd.IO{In: io.In, Out: io.Out, Err: io.Err, Getenv: io.Getenv}
	if f, ok := io.In.(*os.File); ok {
		a.StdinFile, a.IsTerminal = f, isTerminal(f.Fd())
	}
	if f, ok := io.Out.(*os.File); ok {
		a.StdoutFile, a.OutTerminal = f, isTerminal(f.Fd())
	}
	if f, ok := io.Err.(*os.File); ok {
		a.StderrFile = f
	}
	return a
}

// PluginCheckOptions are `relay-host plugin check`'s flags.
type PluginCheckOptions struct {
	g      *Globals
	Binary string
}

func newPluginCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Work with provider plugins"}
	o := &PluginCheckOptions{g: g}
	cmd.AddCommand(&cobra.Command{
		Use:   "check <binary>",
		Short: "Run the plugin conformance checks against a plugin binary",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Binary = args[0]
			return runPluginCheck(cmd.Context(), o)
		},
	})
	return cmd
}

func runPluginCheck(ctx context.Context, o *PluginCheckOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	bin, err := filepath.Abs(o.Binary)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		return exit(exitcode.Usage, "cannot use plugin binary %s: %v", o.Binary, err)
	}
	logs, err := o.g.logs()
	if err != nil {
		return err
	}
	defer logs.Close()
	// The conformance kit launches the plugin with this process's whole
	// environment; narrow it to the plugin allowlist first, so a plugin
	// under test sees no host secret.
	restrictEnv()
	rep := conformance.Check(ctx, bin, conformance.Options{Logger: logs.Plugin()})
	sc := logs.Scrubber
	for _, r := range rep.Results {
		line := fmt.Sprintf("%s %s", r.Status, r.Name)
		if r.Detail != "" {
			line += ": " + sc.Message(r.Detail)
		}
		fmt.Fprintln(o.g.IO.Out, line)
	}
	if !rep.OK() {
		return exit(exitcode.Failure, "%s fails the plugin contract: fix the FAIL checks above (see sdk/README.md)", filepath.Base(bin))
	}
	return nil
}

func restrictEnv() {
	env := os.Environ()
	keep, _ := pluginhost.Env(env, nil)
	os.Clearenv()
	for _, kv := range keep {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
}

// admissionConfig is `admission run|status|clean`'s view of the layered
// relay.hcl: the same Load as review, with the command's own --config
// (else the global one). It remembers what it loaded for openFleet.
func admissionConfig(g *Globals) admissioncmd.Loader {
	return func(explicit string) (admissioncmd.Config, error) {
		if explicit != "" {
			g.Config = explicit
		}
		cfg, err := g.loadConfig()
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) && ee.msg == "" {
				return admissioncmd.Config{}, admissioncmd.ErrReported // the diagnostics are printed
			}
			return admissioncmd.Config{}, err
		}
		if logs, err := g.logs(); err == nil { // logs, at info, which files are in effect
			logs.Close()
		}
		a := cfg.Admission
		return admissioncmd.Config{Backend: a.Backend, LockRoot: a.LockRoot, MaxTotal: a.MaxTotal,
			Endpoints: a.Endpoints, Prefix: a.Prefix, TTL: a.TTL}, nil
	}
}

// openFleet serves `admission run|status --backend etcd` in the core, which
// links the etcd client the lean front binary leaves out. Endpoints, prefix
// and TTL come from the flags, else relay.hcl; TLS and credentials from
// relay.hcl's admission block when it is an etcd one.
func openFleet(g *Globals) func(string, []string, string, time.Duration) (admissioncmd.Fleet, error) {
	return func(backend string, endpoints []string, prefix string, ttl time.Duration) (admissioncmd.Fleet, error) {
		if backend != "etcd" {
			return nil, fmt.Errorf("unknown admission backend %q", backend)
		}
		a := config.Admission{Backend: backend, Endpoints: endpoints, Prefix: prefix, TTL: ttl}
		cfg := g.cfg
		if cfg == nil {
			var err error
			if cfg, err = g.loadConfig(); err != nil {
				return nil, admissioncmd.ErrReported
			}
		}
		if c := cfg.Admission; c.Backend == "etcd" {
			a.CAFile, a.CertFile, a.KeyFile, a.Username, a.PasswordEnv = c.CAFile, c.CertFile, c.KeyFile, c.Username, c.PasswordEnv
		}
		opts, err := review.EtcdOptions(a, g.IO.Getenv)
		if err != nil {
			return nil, err
		}
		return etcdadm.Open(endpoints, opts...)
	}
}
