package cli

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/jobs"
)

// Shell completion of values, on top of cobra's commands and flags:
// provider names (review, capacity), a provider's routes (--route) and job
// ids (show, cancel, jobs wait). cobra's completion scripts call
// `relay-host __complete …`, which runs these. They read the layered
// configuration and the job store only: no plugin starts, nothing is
// created, and a file that cannot be read completes nothing.

// addCompletions attaches the value completers to root's commands.
func addCompletions(root *cobra.Command, g *Globals) {
	find := func(path ...string) *cobra.Command {
		c, _, err := root.Find(path)
		if err != nil || c == root {
			return nil
		}
		return c
	}
	for _, path := range [][]string{{"review"}, {"capacity"}} {
		if c := find(path...); c != nil {
			c.ValidArgsFunction = g.completeProviders
		}
	}
	if c := find("review"); c != nil {
		c.RegisterFlagCompletionFunc("route", g.completeRoutes)
	}
	for _, path := range [][]string{{"show"}, {"cancel"}, {"jobs", "wait"}} {
		if c := find(path...); c != nil {
			c.ValidArgsFunction = g.completeJobs
		}
	}
}

// completionConfig loads the configuration quietly: completion output is
// parsed by the shell, so no warning may reach it.
func (g *Globals) completionConfig() *config.Config {
	cfg, err := config.Load(config.LoadOptions{Explicit: g.Config, Getenv: g.IO.Getenv})
	if err != nil {
		return nil
	}
	return cfg
}

func (g *Globals) completeProviders(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg := g.completionConfig()
	if cfg == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, p := range cfg.Providers {
		if strings.HasPrefix(p.Name, prefix) {
			out = append(out, p.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeRoutes completes the routes relay.hcl declares for the provider
// already on the command line.
func (g *Globals) completeRoutes(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	cfg := g.completionConfig()
	if cfg == nil || len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, p := range cfg.Providers {
		if p.Name != args[0] {
			continue
		}
		for _, r := range p.Routes {
			if strings.HasPrefix(r.Name, prefix) {
				out = append(out, r.Name)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeJobs completes job ids, newest first, each with its provider and
// status as the description.
func (g *Globals) completeJobs(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	dir, err := jobs.DefaultDir(g.IO.Getenv)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if _, err := os.Lstat(dir); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp // no job store: none is created here
	}
	st, err := jobs.Open(dir)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer st.Close()
	recs, err := st.List()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, r := range recs {
		if strings.HasPrefix(r.JobID, prefix) {
			out = append(out, r.JobID+"\t"+r.Provider+" "+string(r.Status))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
