package cli

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/host/internal/review"
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
		Short: "Cancel a background review",
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

// runCancel signals a background worker only after proving the pid still
// names it (pid + start time + argv0): a pid the kernel reused for another
// process is never signalled.
func runCancel(o *CancelOptions) error {
	st, err := openStore(o.g)
	if err != nil {
		return err
	}
	defer st.Close()
	rec, err := st.Get(o.ID)
	if err != nil {
		return exit(2, "%v", err)
	}
	if terminal(rec.Status) {
		fmt.Fprintf(o.g.IO.Out, "job %s is already %s; nothing to cancel\n", rec.JobID, rec.Status)
		return nil
	}
	w, err := st.GetWorker(o.ID)
	if err != nil {
		return exit(2, "%v", err)
	}
	info, cerr := admission.CaptureProcess(w.PID)
	var ce *admission.CaptureError
	gone := errors.As(cerr, &ce) && (ce.Kind == admission.ProcessGone || ce.Kind == admission.InvalidPID)
	if cerr == nil && (info.StartTime != w.StartTime || info.Argv0 != w.Argv0) {
		gone = true // the pid now names another process
	}
	if cerr != nil && !gone {
		return exit(1, "cannot verify the worker of job %s, so it was not signalled; retry, or check `relay-host show %s`", o.ID, o.ID)
	}
	if gone {
		// Read again: a worker records its outcome before it exits.
		if rec, err = st.Get(o.ID); err != nil {
			return exit(2, "%v", err)
		}
		if terminal(rec.Status) {
			fmt.Fprintf(o.g.IO.Out, "job %s is already %s; nothing to cancel\n", rec.JobID, rec.Status)
			return nil
		}
		rec.Status, rec.ErrorCode = jobs.StatusFailed, review.CodeWorkerLost
		rec.ErrorMessage = "the background worker exited without recording an outcome"
		if rec.Transmission == "" {
			rec.Transmission = jobs.MayBeSent
		}
		rec.FinishedAt = time.Now().UTC()
		if rec.FinishedAt.Before(rec.StartedAt) {
			rec.FinishedAt = rec.StartedAt
		}
		if err := st.Put(rec); err != nil {
			return exit(2, "%v", err)
		}
		fmt.Fprintf(o.g.IO.Out, "job %s: its worker is gone; recorded as failed (%s, source_content_transmission %s)\n", rec.JobID, review.CodeWorkerLost, rec.Transmission)
		return nil
	}
	if err := syscall.Kill(w.PID, syscall.SIGTERM); err != nil {
		return exit(1, "cannot signal the worker of job %s: %v", o.ID, err)
	}
	deadline := time.Now().Add(o.Grace)
	for time.Now().Before(deadline) {
		if rec, err = st.Get(o.ID); err == nil && terminal(rec.Status) {
			fmt.Fprintf(o.g.IO.Out, "job %s %s (source_content_transmission %s)\n", rec.JobID, rec.Status, rec.Transmission)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(o.g.IO.Out, "job %s: asked its worker to stop; it has not recorded an outcome yet, see relay-host show %s\n", o.ID, o.ID)
	return nil
}
