// Package cli is relay-host-core's command line: thin cobra wiring over one
// Options struct and run function per command, with the I/O streams
// injected so tests can call each command directly.
//
// Invariant: a failing command prints one line naming the problem and the
// fix ("relay-host: …", or full HCL diagnostics for configuration errors)
// and exits with its code in the one table (host/internal/exitcode, the
// README's "Exit codes"); nothing a plugin returned is
// printed without going through the scrubber.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/hostlog"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/sanitize"
)

// IO is what a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// ErrFile is the real stderr when it is a terminal (for the progress
	// line); nil otherwise.
	ErrFile *os.File
	Getenv  func(string) string
	Environ func() []string
	// SelfDir is the directory of the running binary (plugin discovery);
	// SelfExe is its path (to start background workers).
	SelfDir, SelfExe string
}

// StdIO is the process's own streams and environment.
func StdIO() IO {
	io := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv, Environ: os.Environ,
		SelfDir: pluginhost.SelfDir()}
	if isTerminal(os.Stderr.Fd()) {
		io.ErrFile = os.Stderr
	}
	if exe, err := os.Executable(); err == nil {
		io.SelfExe = exe
	}
	return io
}

// Globals are the flags every command takes.
type Globals struct {
	IO      IO
	Config  string // --config
	LogFile string // --log-file
	Version string

	// cfg and openLogs are what loadConfig and logs opened, so that which
	// files are in effect is logged (at info) once both exist.
	cfg      *config.Config
	openLogs *hostlog.Logs
}

// exitError ends a command with an exit code; msg (if any) is printed as
// "relay-host: msg".
type exitError struct {
	code exitcode.Code
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exit(code exitcode.Code, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// silentExit ends with code after the command printed what it had to say.
func silentExit(code exitcode.Code) error { return &exitError{code: code} }

// Main runs relay-host-core with args (without argv[0]) and returns the exit
// code.
func Main(args []string, io IO, version string) int {
	g := &Globals{IO: io, Version: version}
	root := NewRoot(g)
	root.SetArgs(args)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetIn(io.In)
	err := root.Execute()
	if err == nil {
		return int(exitcode.OK)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(io.Err, "relay-host: "+ee.msg)
		}
		return int(ee.code)
	}
	// cobra's own errors: unknown command, bad flag, wrong argument count.
	fmt.Fprintf(io.Err, "relay-host: %s; see relay-host --help\n", strings.TrimSpace(err.Error()))
	return int(exitcode.Usage)
}

// NewRoot builds the command tree.
func NewRoot(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "relay-host",
		Short:         "Bounded, crash-safe code reviews by AI providers",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       g.Version,
	}
	root.PersistentFlags().StringVar(&g.Config, "config", "", "relay.hcl layered over the built-in one and yours (default: RELAY_CONFIG)")
	root.PersistentFlags().StringVar(&g.LogFile, "log-file", "", "append logs to this file instead of stderr (level: RELAY_LOG=trace|debug|info|warn|error)")
	root.AddCommand(
		newReviewCmd(g),
		newProvidersCmd(g),
		newDoctorCmd(g),
		newCapacityCmd(g),
		newMetricsCmd(g),
		newJobsCmd(g),
		newShowCmd(g),
		newCancelCmd(g),
		newPluginCmd(g),
		newAdmissionCmd(g),
		newConfigCmd(g),
		newVersionCmd(g),
		newWorkerCmd(g),
		newMCPCmd(g),
	)
	addCompletions(root, g)
	return root
}

// logs opens the loggers for one command run.
func (g *Globals) logs() (*hostlog.Logs, error) {
	level, err := hostlog.ParseLevel(g.IO.Getenv("RELAY_LOG"))
	if err != nil {
		return nil, exit(exitcode.Usage, "%v", err)
	}
	s := sanitize.NewScrubber(sanitize.Policy{Home: g.IO.Getenv("HOME")})
	l, err := hostlog.Open(level, g.LogFile, g.IO.Err, s)
	if err != nil {
		return nil, exit(exitcode.Usage, "%v: check the path", err)
	}
	g.openLogs = l
	g.noteConfig()
	return l, nil
}

// open is the start of every command that reads the configuration and
// logs: the layered relay.hcl, the named provider checked against it when
// provider is not "", then the loggers (the caller closes them).
func (g *Globals) open(provider string) (*config.Config, *hostlog.Logs, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if provider != "" && cfg.Provider(provider) == nil {
		return nil, nil, exit(exitcode.Usage, "unknown provider %q: see relay-host providers", provider)
	}
	logs, err := g.logs()
	if err != nil {
		return nil, nil, err
	}
	return cfg, logs, nil
}

// loadConfig loads the layered relay.hcl, rendering diagnostics in full
// and printing one warning line for each repository file it ignored.
func (g *Globals) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(config.LoadOptions{Explicit: g.Config, Getenv: g.IO.Getenv})
	if err != nil {
		var de *config.DiagError
		if errors.As(err, &de) {
			de.Render(g.IO.Err, g.color())
			return nil, silentExit(exitcode.Usage)
		}
		return nil, exit(exitcode.Usage, "%v: fix the file or drop --config", err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(g.IO.Err, "relay-host: warning: "+w)
	}
	g.cfg = cfg
	g.noteConfig()
	return cfg, nil
}

// noteConfig logs, at info, which configuration files are in effect, and
// has the scrubber remove their paths from anything a plugin returns.
func (g *Globals) noteConfig() {
	if g.cfg == nil || g.openLogs == nil {
		return
	}
	var used, ignored []string
	for _, s := range g.cfg.Sources {
		switch {
		case s.Status == config.SourceUsed && s.Layer != config.LayerEmbedded:
			used = append(used, s.Path)
		case s.Status == config.SourceIgnored:
			ignored = append(ignored, s.Path+" ("+s.Reason+")")
		}
	}
	// Logged before the paths join the scrubber, which would hide them: this
	// line is relay-host's own, for the user's own log.
	g.openLogs.Host.Info("configuration in effect", "files", append([]string{config.EmbeddedPath}, used...), "ignored", ignored)
	g.openLogs.Scrubber.AddPaths(used...) // with their absolute and resolved forms
}

// color reports whether stderr may be coloured (HCL diagnostics).
func (g *Globals) color() bool { return colorEnabled(g.IO.Getenv, g.IO.ErrFile) }
