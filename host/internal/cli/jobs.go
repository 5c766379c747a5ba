package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/findings"
	"github.com/relay-host/relay-host/host/jobs"
)

// JobsOptions are `relay-host jobs`'s flags.
type JobsOptions struct {
	g    *Globals
	JSON bool
	All  bool
}

// jobsShown is how many jobs `relay-host jobs` lists without --all.
const jobsShown = 50

func newJobsCmd(g *Globals) *cobra.Command {
	o := &JobsOptions{g: g}
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List review jobs, newest first (the newest 50; --all for every one)",
		Long: `List review jobs, newest first: the newest 50, or every one with --all.

A job whose worker died (SIGKILL, crash, power loss) while it was queued or
running is recorded as failed with error_code worker_lost the first time
jobs, show, cancel, jobs wait, capacity or a review's resend guard reads it.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runJobs(o) },
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the job records as JSON")
	cmd.Flags().BoolVar(&o.All, "all", false, "list every job, not only the newest 50")
	cmd.AddCommand(newJobsWaitCmd(g), newJobsPruneCmd(g))
	return cmd
}

// settledList is every record, newest first, with dead workers' jobs
// repaired (jobs.Store.Settle). A record whose liveness cannot be checked
// is shown as it is, with a warning.
func settledList(g *Globals, st *jobs.Store) ([]*jobs.Record, error) {
	recs, err := st.List()
	if err != nil {
		return nil, exit(exitcode.Usage, "%v", err)
	}
	if err := st.SettleAll(recs); err != nil {
		fmt.Fprintf(g.IO.Err, "relay-host: warning: %v\n", err)
	}
	return recs, nil
}

func runJobs(o *JobsOptions) error {
	st, err := openStore(o.g)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := settledList(o.g, st)
	if err != nil {
		return err
	}
	hidden := 0
	if !o.All && len(recs) > jobsShown {
		hidden, recs = len(recs)-jobsShown, recs[:jobsShown]
	}
	out := o.g.IO.Out
	if o.JSON {
		if recs == nil {
			recs = []*jobs.Record{}
		}
		printJSON(out, recs)
		return nil
	}
	if len(recs) == 0 {
		fmt.Fprintln(out, "no jobs yet")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATUS\tPROVIDER\tROUTE\tVERDICT\tTRANSMISSION\tSTARTED")
	for _, r := range recs {
		if r.Corrupt() {
			fmt.Fprintf(tw, "%s\tcorrupt\t-\t-\t-\t-\t-\n", r.JobID)
			continue
		}
		status := string(r.Status)
		if r.ErrorCode == jobs.CodeWorkerLost {
			status += " (worker lost)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.JobID, status, r.Provider, dash(r.Route),
			dash(r.Verdict), r.Transmission, r.StartedAt.Local().Format(time.DateTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(o.g.IO.Err, "relay-host: %d older job(s) not shown; pass --all to list them\n", hidden)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ShowOptions are `relay-host show`'s flags.
type ShowOptions struct {
	g      *Globals
	ID     string
	JSON   bool
	Format string
}

func newShowCmd(g *Globals) *cobra.Command {
	o := &ShowOptions{g: g}
	cmd := &cobra.Command{
		Use:   "show <job-id>",
		Short: "Show one job and its review",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			o.ID = args[0]
			return runShow(o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the job record as JSON")
	cmd.Flags().StringVar(&o.Format, "format", "", "a fan-out's job: print its merged findings as `text`, json, markdown, sarif, rdjsonl or github")
	cmd.MarkFlagsMutuallyExclusive("json", "format")
	return cmd
}

func runShow(o *ShowOptions) error {
	var format findings.Format
	if o.Format != "" {
		f, err := findings.ParseFormat(o.Format)
		if err != nil {
			return exit(exitcode.Usage, "%v", err)
		}
		format = f
	}
	st, err := openStore(o.g)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.Get(o.ID)
	if err != nil {
		return exit(exitcode.Usage, "%v", err)
	}
	if r, err = st.Settle(r); err != nil {
		fmt.Fprintf(o.g.IO.Err, "relay-host: warning: %v\n", err)
	}
	out := o.g.IO.Out
	if format != "" {
		res, err := merged(r)
		if err != nil {
			return err
		}
		if err := findings.Write(out, res, format, findings.WriteOptions{ToolVersion: o.g.Version}); err != nil {
			return exit(exitcode.Failure, "cannot write the findings: %v", err)
		}
		return nil
	}
	if o.JSON {
		printJSON(out, r)
		return nil
	}
	fmt.Fprintf(out, "job:          %s\n", r.JobID)
	if r.Kind == jobs.KindFanout {
		return showFanout(o.g, st, r)
	}
	fmt.Fprintf(out, "provider:     %s/%s\n", r.Provider, dash(r.Route))
	if r.Parent != "" {
		fmt.Fprintf(out, "fan-out:      %s\n", r.Parent)
	}
	fmt.Fprintf(out, "status:       %s\n", r.Status)
	fmt.Fprintf(out, "transmission: %s\n", r.Transmission)
	if r.Verdict != "" {
		fmt.Fprintf(out, "verdict:      %s\n", r.Verdict)
	}
	if r.Model != "" {
		fmt.Fprintf(out, "model:        %s\n", r.Model)
	}
	if r.ErrorCode != "" {
		fmt.Fprintf(out, "error:        %s: %s\n", r.ErrorCode, r.ErrorMessage)
	}
	if w := r.Diagnostics.ProviderWorkload; w != nil {
		fmt.Fprintf(out, "admission:    %s (%d/%d in use)\n", w.Reason, w.Capacity.ActiveCount, w.Capacity.Limit)
	}
	if s := r.Diagnostics.RetryAfterS; s > 0 {
		fmt.Fprintf(out, "retry after:  %s (the provider's word; a retry resends the source)\n", time.Duration(s)*time.Second)
	}
	fmt.Fprintf(out, "started:      %s\n", r.StartedAt.Local().Format(time.DateTime))
	if !r.FinishedAt.IsZero() {
		fmt.Fprintf(out, "finished:     %s (%s)\n", r.FinishedAt.Local().Format(time.DateTime), r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	}
	if left := r.LeftOut(); len(left) > 0 {
		fmt.Fprintf(out, "left out:     %d file(s)\n", len(left))
		for _, s := range left {
			if s.Reason == "" { // a record written before reasons were kept
				fmt.Fprintf(out, "  %s\n", displayPath(s.Path))
			} else {
				fmt.Fprintf(out, "  %s (%s)\n", displayPath(s.Path), s.Reason)
			}
		}
	}
	if r.Review != "" {
		fmt.Fprintf(out, "\n%s", r.Review)
		if r.Review[len(r.Review)-1] != '\n' {
			fmt.Fprintln(out)
		}
	}
	return nil
}

// settleJobs records the jobs of dead workers as worker_lost, so that what
// `capacity` says agrees with what `jobs` will: a slot freed by a SIGKILL
// is never shown free while its job still reads running. Best effort: a
// job store that cannot be opened or read only earns a warning.
func settleJobs(g *Globals) {
	dir, err := jobs.DefaultDir(g.IO.Getenv)
	if err != nil {
		return
	}
	if _, err := os.Lstat(dir); err != nil {
		return // no job store yet: no job to settle, and none is created here
	}
	st, err := jobs.Open(dir)
	if err != nil {
		fmt.Fprintf(g.IO.Err, "relay-host: warning: %v\n", err)
		return
	}
	defer st.Close()
	if err := st.SettleLocked(); err != nil {
		fmt.Fprintf(g.IO.Err, "relay-host: warning: %v\n", err)
	}
}

// showFanout shows a fan-out's parent: its reviewers' jobs, one line each,
// then the merged findings as text.
func showFanout(g *Globals, st *jobs.Store, r *jobs.Record) error {
	out := g.IO.Out
	fmt.Fprintf(out, "kind:         %s (%s)\n", r.Kind, r.Provider)
	fmt.Fprintf(out, "status:       %s\n", r.Status)
	fmt.Fprintf(out, "transmission: %s\n", r.Transmission)
	if r.Verdict != "" {
		fmt.Fprintf(out, "verdict:      %s\n", r.Verdict)
	}
	if r.ErrorCode != "" {
		fmt.Fprintf(out, "error:        %s: %s\n", r.ErrorCode, r.ErrorMessage)
	}
	fmt.Fprintf(out, "started:      %s\n", r.StartedAt.Local().Format(time.DateTime))
	for _, id := range r.Children {
		c, err := st.Get(id)
		if err == nil {
			c, _ = st.Settle(c)
		}
		if err != nil || c == nil {
			fmt.Fprintf(out, "reviewer:     %s (unreadable: %v)\n", id, err)
			continue
		}
		fmt.Fprintf(out, "reviewer:     %s %s/%s %s\n", c.JobID, c.Provider, dash(c.Route), c.Status)
	}
	if len(r.Merged) == 0 {
		return nil
	}
	res, err := merged(r)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	return findings.Write(out, res, findings.FormatText, findings.WriteOptions{ToolVersion: g.Version})
}

// merged is a finished fan-out's merged findings.
func merged(r *jobs.Record) (*findings.Result, error) {
	if r.Kind != jobs.KindFanout {
		return nil, exit(exitcode.Usage, "job %s is one review, not a fan-out: --format needs a fan-out's merged findings (relay-host review --format prints one review's)", r.JobID)
	}
	if len(r.Merged) == 0 {
		return nil, exit(exitcode.Usage, "job %s is %s and has no merged findings", r.JobID, r.Status)
	}
	var res findings.Result
	if err := json.Unmarshal(r.Merged, &res); err != nil {
		return nil, exit(exitcode.Failure, "job %s: its merged findings cannot be read: %v", r.JobID, err)
	}
	return &res, nil
}
