package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/trust"
	"github.com/relay-host/relay-host/host/sanitize"
)

func newConfigCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show the effective configuration, or trust a repository's relay.hcl"}
	show := &ConfigShowOptions{g: g}
	showCmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration and where each value comes from",
		Long: `Print the effective configuration: every value with the file and line it
came from, and every file considered (built-in, yours, --config, and the
repository's ./relay.hcl or ./.relay.hcl), used or ignored and why.
Secrets are never shown: only the names of environment variables.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runConfigShow(show) },
	}
	showCmd.Flags().BoolVar(&show.JSON, "json", false, "print JSON")
	trust := &ConfigTrustOptions{g: g}
	trustCmd := &cobra.Command{
		Use:   "trust [FILE]",
		Short: "Trust this exact content of a repository's relay.hcl",
		Long: `Record the sha256 of a repository's ./relay.hcl (or ./.relay.hcl, or FILE)
so relay-host reads it when run in that directory. Read the file first:
any later change makes it untrusted again. Even trusted, a repository's
file may only narrow your configuration: lower limits, budgets, timeouts
and max_total, lengthen cooldowns, and add exclude patterns.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				trust.File = args[0]
			}
			return runConfigTrust(trust)
		},
	}
	cmd.AddCommand(showCmd, trustCmd)
	return cmd
}

// ConfigShowOptions are `relay-host config show`'s flags.
type ConfigShowOptions struct {
	g    *Globals
	JSON bool
}

// configValue is one effective value and where it was set ("" file: a
// default no file sets).
type configValue struct {
	Path  string `json:"path"`
	Value any    `json:"value"`
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
}

func runConfigShow(o *ConfigShowOptions) error {
	cfg, logs, err := o.g.open("")
	if err != nil {
		return err
	}
	defer logs.Close()
	values := configValues(cfg, logs.Scrubber)
	if o.JSON {
		printJSON(o.g.IO.Out, struct {
			Files    []config.Source `json:"files"`
			Warnings []string        `json:"warnings"`
			Values   []configValue   `json:"values"`
		}{cfg.Sources, append([]string{}, cfg.Warnings...), values})
		return nil
	}
	w := o.g.IO.Out
	fmt.Fprintln(w, "# files, in the order they apply:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range cfg.Sources {
		status := s.Status
		if s.Trusted {
			status += " (trusted)"
		}
		if s.Reason != "" {
			status += ": " + s.Reason
		}
		fmt.Fprintf(tw, "#   %s\t%s\t%s\n", s.Layer, s.Path, status)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range values {
		from := "(default)"
		if v.File != "" {
			from = fmt.Sprintf("%s:%d", v.File, v.Line)
		}
		fmt.Fprintf(tw, "%s\t= %s  # %s\n", v.Path, formatValue(v.Value), from)
	}
	tw.Flush()
	return nil
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// configValues lists every value of the effective configuration in a
// fixed order, with its origin. Setting values go through the scrubber:
// a base URL may carry user:pass@. env lists only variable names.
func configValues(cfg *config.Config, sc *sanitize.Scrubber) []configValue {
	var out []configValue
	add := func(path string, v any, always bool) {
		o, ok := cfg.Origin(path)
		if !ok && !always {
			return
		}
		out = append(out, configValue{Path: path, Value: v, File: o.File, Line: o.Line})
	}
	dur := func(d time.Duration) string { return d.String() }
	a := cfg.Admission
	add("admission.backend", a.Backend, true)
	add("admission.lock_root", a.LockRoot, false)
	add("admission.max_total", a.MaxTotal, false)
	add("admission.wait", dur(a.Wait), false)
	base, ceiling := a.EffectiveCooldown()
	add("admission.cooldown", dur(base), true)
	add("admission.cooldown_max", dur(ceiling), true)
	add("admission.endpoints", a.Endpoints, false)
	add("admission.prefix", a.Prefix, false)
	add("admission.ttl", dur(a.TTL), false)
	add("admission.ca_file", a.CAFile, false)
	add("admission.cert_file", a.CertFile, false)
	add("admission.key_file", a.KeyFile, false)
	add("admission.username", a.Username, false)
	add("admission.password_env", a.PasswordEnv, false)
	add("jobs.keep", dur(cfg.Jobs.Keep), false)
	add("plugin_dirs", cfg.PluginDirs, false)
	add("reviewers", cfg.Reviewers, false)
	for i, pat := range cfg.Exclude {
		add("exclude."+strconv.Itoa(i), pat, true)
	}
	settings := func(prefix string, m map[string]string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(prefix+k, sc.Field(m[k]), true)
		}
	}
	for _, p := range cfg.Providers {
		base := "provider." + p.Name + "."
		add(base+"plugin", p.Plugin, true)
		add(base+"checksum", p.Checksum, false)
		add(base+"env", p.Env, false)
		settings(base+"settings.", p.Settings)
		for _, r := range p.Routes {
			rb := base + "route." + r.Name + "."
			add(rb+"limit", r.Limit, false)
			add(rb+"limit_cap", r.LimitCap, false)
			add(rb+"budget", r.Budget, false)
			add(rb+"budget_cap", r.BudgetCap, false)
			add(rb+"timeout", dur(r.Timeout), false)
			add(rb+"timeout_cap", dur(r.TimeoutCap), false)
			settings(rb+"settings.", r.Settings)
		}
	}
	return out
}

// ConfigTrustOptions are `relay-host config trust`'s arguments.
type ConfigTrustOptions struct {
	g    *Globals
	File string // "" = ./relay.hcl, else ./.relay.hcl
}

func runConfigTrust(o *ConfigTrustOptions) error {
	g := o.g
	file := o.File
	if file == "" {
		for _, name := range trust.RepoFiles {
			if _, err := os.Stat(name); err == nil {
				file = name
				break
			}
		}
		if file == "" {
			return exit(exitcode.Usage, "there is no ./relay.hcl or ./.relay.hcl here to trust; run this in the repository, or name the file")
		}
	}
	dir := filepath.Dir(file)
	if dir == "." {
		// Shown as Load shows it when it looks in the current directory.
		dir, file = "", "./"+filepath.Base(file)
	}
	if !slices.Contains(trust.RepoFiles, filepath.Base(file)) {
		return exit(exitcode.Usage, "relay-host reads only a repository's relay.hcl or .relay.hcl, so trusting %s would change nothing", file)
	}
	src, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return exit(exitcode.Usage, "%s does not exist", file)
	}
	if err != nil {
		return exit(exitcode.Usage, "cannot read %s: %v", file, err)
	}
	store, err := trust.Open(g.IO.Getenv)
	if err != nil {
		return exit(exitcode.Usage, "%v", err)
	}
	// Check the file as it would be read, trusted, over the user's own
	// layers: a file that would be refused is not recorded.
	store.Trust(file, src)
	_, err = config.Load(config.LoadOptions{Explicit: g.Config, Dir: dir, Getenv: g.IO.Getenv, Trust: store})
	if err != nil {
		var de *config.DiagError
		if errors.As(err, &de) {
			de.Render(g.IO.Err, g.color())
			return exit(exitcode.Usage, "%s is not trusted: fix the problems above first", file)
		}
		return exit(exitcode.Usage, "%v", err)
	}
	if err := store.Save(); err != nil {
		return exit(exitcode.Usage, "cannot record the trust: %v", err)
	}
	fmt.Fprintf(g.IO.Out, "trusted %s (sha256 %s); relay-host reads it until it changes\n", file, trust.Digest(src)[:12])
	return nil
}
