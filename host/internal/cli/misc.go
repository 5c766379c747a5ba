package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	etcdadm "github.com/relay-host/relay-host/admission/etcd"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/admissioncmd"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/review"
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
