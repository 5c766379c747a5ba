package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/relay-host/relay-host/host/internal/route"
	"github.com/relay-host/relay-host/sdk"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
)

// JobsWaitOptions are `relay-host jobs wait`'s flags.
type JobsWaitOptions struct {
	g       *Globals
	ID      string
	Timeout time.Duration // 0: no limit
}

func newJobsWaitCmd(g *Globals) *cobra.Command {
	o := &JobsWaitOptions{g: g}
	cmd := &cobra.Command{
		Use:   "wait <job-id>",
		Short: "Wait for a job to finish and exit with its review's exit code",
		Long: `Wait for a job to finish (it blocks on the job's lock, without polling) and
exit as its review did: 0 completed; 2 usage or configuration error;
3 provider failure, and a job whose worker died (worker_lost); 75 admission
blocked; 130 cancelled; 124 still running at --timeout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			o.ID = args[0]
			return runJobsWait(o)
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "give up after `DUR` (exit 124); default: wait as long as the job runs")
	return cmd
}

func runJobsWait(o *JobsWaitOptions) error {
	if o.Timeout < 0 {
		return exit(exitcode.Usage, "--timeout must not be negative")
	}
	st, err := openStore(o.g)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	rec, err := st.Wait(ctx, o.ID)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return exit(exitcode.WaitTimeout, "job %s is still %s after %s", o.ID, rec.Status, o.Timeout)
	case errors.Is(err, jobs.ErrNotFound) || errors.Is(err, jobs.ErrInvalidID) || errors.Is(err, jobs.ErrCorrupt):
		return exit(exitcode.Usage, "%v", err)
	case err != nil:
		return exit(exitcode.Failure, "%v", err)
	}
	if rec.Live() {
		// The lock is free but the record could not be settled.
		return exit(exitcode.Failure, "job %s still reads %s although its worker is gone, and it could not be recorded as %s; see relay-host show %s", rec.JobID, rec.Status, jobs.CodeWorkerLost, rec.JobID)
	}
	code := recordExit(rec)
	if code == 0 {
		fmt.Fprintf(o.g.IO.Err, "relay-host: job %s completed (verdict %s)\n", rec.JobID, rec.Verdict)
		return nil
	}
	return exit(code, "job %s %s: %s: %s", rec.JobID, rec.Status, rec.ErrorCode, rec.ErrorMessage)
}

// usageCodes are the error codes a review exits 2 with (exitcode.Usage).
var usageCodes = map[string]bool{
	review.CodePluginNotFound: true, review.CodePluginUnsafe: true, review.CodeChecksumMismatch: true,
	string(sdk.CodeConfigInvalid): true, review.CodeAdmissionFailed: true,
	review.CodeUnknownRoute: true, review.CodeInvalidRequest: true, route.FactLimitOnSharedState: true,
	jobs.CodeResendConfirmationRequired: true,
	packet.CodeNotAGitRepo:              true, packet.CodeGitFailed: true, packet.CodeBadBaseRef: true,
	packet.CodeEmptyPacket: true, packet.CodeSourcePacketTooLarge: true, packet.CodeBadRelayignore: true,
	packet.CodeBadExclude: true, packet.CodeBadPromptFile: true,
}

// recordExit is the exit code of the review a finished record describes.
func recordExit(r *jobs.Record) exitcode.Code {
	switch {
	case r.Status == jobs.StatusCompleted:
		return exitcode.OK
	case r.Status == jobs.StatusCancelled:
		return exitcode.Cancelled
	case r.ErrorCode == review.CodeWorkloadBlocked || r.ErrorCode == review.CodeAdmissionLost:
		return exitcode.Blocked
	case r.ErrorCode == review.CodeJobStoreFailed:
		return exitcode.IOErr // as the review itself exited when its record could not be saved
	case usageCodes[r.ErrorCode]:
		return exitcode.Usage
	}
	return exitcode.Provider // worker_lost included
}
