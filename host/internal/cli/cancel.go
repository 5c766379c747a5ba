package cli

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/admission/procid"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/jobs"
)

// CancelOptions are `relay-host cancel`'s flags.
type CancelOptions struct {
	g  *Globals
	ID string
	// Grace is how long to wait for the worker to record the outcome.
	Grace time.Duration
}

func newCancelCmd(g *Globals) *cobra.Command {
	o := &CancelOptions{g: g, Grace: 15 * time.Second}
	return &cobra.Command{
		Use:   "cancel <job-id>",
		Short: "Cancel a running review (foreground or --background)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			o.ID = args[0]
			return runCancel(o)
		},
	}
}

func terminal(s jobs.Status) bool {
	return s == jobs.StatusCompleted || s == jobs.StatusFailed || s == jobs.StatusCancelled
}

// runCancel stops a job, foreground or background. A job whose worker is
// gone (its job lock is free) is recorded as failed/worker_lost, and
// nothing is signalled. Otherwise the process the job lock names is
// signalled only after proving the pid still names it (pid + start time +
// argv0): a pid the kernel reused for another process is never signalled.
func runCancel(o *CancelOptions) error {
	st, err := openStore(o.g)
	if err != nil {
		return err
	}
	defer st.Close()
	rec, err := st.Get(o.ID)
	if err != nil {
		return exit(exitcode.Usage, "%v", err)
	}
	if terminal(rec.Status) {
		fmt.Fprintf(o.g.IO.Out, "job %s is already %s; nothing to cancel\n", rec.JobID, rec.Status)
		return nil
	}
	settled, err := st.Settle(rec)
	if err != nil {
		return exit(exitcode.Failure, "cannot tell whether job %s still runs, so nothing was signalled: %v", o.ID, err)
	}
	if !settled.Live() {
		if settled.ErrorCode == jobs.CodeWorkerLost {
			fmt.Fprintf(o.g.IO.Out, "job %s: its worker is gone; recorded as failed (%s, source_content_transmission %s)\n", settled.JobID, jobs.CodeWorkerLost, settled.Transmission)
		} else {
			fmt.Fprintf(o.g.IO.Out, "job %s is already %s; nothing to cancel\n", settled.JobID, settled.Status)
		}
		return nil
	}
	w, err := st.GetWorker(o.ID)
	if err != nil {
		return exit(exitcode.Failure, "%v", err)
	}
	info, cerr := procid.Capture(w.PID)
	if cerr != nil || info.StartTime != w.StartTime || info.Argv0 != w.Argv0 {
		// Its lock is held, so something runs it, but not provably the
		// process recorded: signal nothing.
		return exit(exitcode.Failure, "cannot verify the process running job %s, so it was not signalled; retry, or check `relay-host show %s`", o.ID, o.ID)
	}
	if err := syscall.Kill(w.PID, syscall.SIGTERM); err != nil {
		return exit(exitcode.Failure, "cannot signal the worker of job %s: %v", o.ID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Grace)
	defer cancel()
	rec, err = st.Wait(ctx, o.ID)
	if err == nil && terminal(rec.Status) {
		fmt.Fprintf(o.g.IO.Out, "job %s %s (source_content_transmission %s)\n", rec.JobID, rec.Status, rec.Transmission)
		return nil
	}
	fmt.Fprintf(o.g.IO.Out, "job %s: asked its worker to stop; it has not recorded an outcome yet, see relay-host show %s\n", o.ID, o.ID)
	return nil
}
