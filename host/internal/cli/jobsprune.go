package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/jobs"
)

// JobsPruneOptions are `relay-host jobs prune`'s flags.
type JobsPruneOptions struct {
	g         *Globals
	OlderThan string // "" : relay.hcl jobs { keep }, else 30d
	Keep      int
}

func newJobsPruneCmd(g *Globals) *cobra.Command {
	o := &JobsPruneOptions{g: g}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove the records of finished jobs older than --older-than",
		Long: `Remove the records of finished jobs (completed, failed, cancelled) that
started longer ago than --older-than (default: relay.hcl's jobs { keep },
else 30d), except the newest --keep of them. A queued or running job is
never removed; one whose worker died is first recorded as worker_lost.
--older-than 0 --keep N keeps exactly the newest N finished jobs.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runJobsPrune(o) },
	}
	cmd.Flags().StringVar(&o.OlderThan, "older-than", "", "remove finished jobs started longer ago than `AGE` (\"30d\", \"12h\"; default relay.hcl jobs.keep, else 30d)")
	cmd.Flags().IntVar(&o.Keep, "keep", 0, "always keep the newest `N` finished jobs")
	return cmd
}

func runJobsPrune(o *JobsPruneOptions) error {
	if o.Keep < 0 {
		return exit(exitcode.Usage, "--keep must not be negative")
	}
	age := jobs.DefaultKeep
	if o.OlderThan != "" {
		var err error
		if age, err = jobs.ParseAge(o.OlderThan); err != nil {
			return exit(exitcode.Usage, "--older-than: %v", err)
		}
	} else {
		cfg, err := o.g.loadConfig()
		if err != nil {
			return err
		}
		if cfg.Jobs.Keep > 0 {
			age = cfg.Jobs.Keep
		}
	}
	st, err := openStore(o.g)
	if err != nil {
		return err
	}
	defer st.Close()
	removed, err := st.Prune(jobs.PruneOptions{OlderThan: age, Keep: o.Keep})
	if err != nil {
		return exit(exitcode.Failure, "%v (removed %d job(s) before that)", err, len(removed))
	}
	fmt.Fprintf(o.g.IO.Out, "removed %d finished job(s)\n", len(removed))
	return nil
}
