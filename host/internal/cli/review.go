package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
)

// ReviewOptions are `relay-host review`'s flags. The exported fields are
// also what a background worker receives.
type ReviewOptions struct {
	g *Globals

	Provider      string        `json:"provider"`
	Route         string        `json:"route,omitempty"`
	Base          string        `json:"base,omitempty"`
	Staged        bool          `json:"staged,omitempty"`
	Paths         []string      `json:"paths,omitempty"`
	PromptFile    string        `json:"prompt_file,omitempty"`
	Wait          time.Duration `json:"wait,omitempty"`
	WaitSet       bool          `json:"wait_set,omitempty"`
	Timeout       time.Duration `json:"timeout,omitempty"`
	ConfirmResend bool          `json:"confirm_resend,omitempty"`
	// IgnoreCooldown sends while the route cools down after a rate limit.
	IgnoreCooldown bool   `json:"ignore_cooldown,omitempty"`
	Config         string `json:"config,omitempty"`
	LogFile        string `json:"log_file,omitempty"`
	Dir            string `json:"dir,omitempty"`

	Background bool   `json:"-"`
	JSON       bool   `json:"-"`
	FailOn     string `json:"-"`
	jobID      string // set in a background worker, and while one is prepared
	// prepare runs only the checks of a review (for --background, before
	// detaching): the job is left queued for its worker.
	prepare bool
	// jobLock is the job's lock when this process did not take it itself
	// (a background worker inherits it; a prepare run borrows the starter's).
	jobLock *jobs.Lock
}

func newReviewCmd(g *Globals) *cobra.Command {
	o := &ReviewOptions{g: g}
	cmd := &cobra.Command{
		Use:   "review <provider>",
		Short: "Send the current changes to a provider for review",
		Long: `Send a source packet (a git diff of your changes plus a review prompt) to one
provider and print its review. By default the packet is the uncommitted
changes; --staged takes the index, --base REF what the branch changes since
its merge base with REF. Files matching .relayignore and secret patterns are
left out and listed.

Exit codes: 0 ok; 1 REQUEST_CHANGES with --fail-on request_changes;
2 usage or configuration error; 3 provider failure; 74 the job record could
not be saved (the review is still printed); 75 admission blocked (the route
is at its limit, or cools down after a rate limit: retry, or pass --wait).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Provider = args[0]
			o.WaitSet = cmd.Flags().Changed("wait")
			return runReview(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Route, "route", "", "route to use (default: the only or first route)")
	f.StringVar(&o.Base, "base", "", "review what this branch changes relative to its merge base with `REF`")
	f.BoolVar(&o.Staged, "staged", false, "review the staged changes only")
	f.StringArrayVar(&o.Paths, "path", nil, "limit the packet to this git `pathspec` (repeatable)")
	f.StringVar(&o.PromptFile, "prompt-file", "", "use this file's text as the review prompt")
	f.DurationVar(&o.Wait, "wait", 0, "wait up to `DUR` for a free slot (default: relay.hcl admission.wait)")
	f.DurationVar(&o.Timeout, "timeout", 0, "give up on the review after `DUR` (default: the route's timeout, else 10m)")
	f.BoolVar(&o.Background, "background", false, "run the review in a detached worker and print its job id")
	f.BoolVar(&o.ConfirmResend, "confirm-resend", false, "send even though an earlier attempt may already have sent this packet")
	f.BoolVar(&o.IgnoreCooldown, "ignore-cooldown", false, "send even though the route cools down after a rate limit")
	f.BoolVar(&o.JSON, "json", false, "print the job record as JSON")
	f.StringVar(&o.FailOn, "fail-on", "", "exit 1 when the verdict is `request_changes`")
	cmd.MarkFlagsMutuallyExclusive("base", "staged")
	return cmd
}

func (o *ReviewOptions) check() error {
	if o.FailOn != "" && o.FailOn != "request_changes" {
		return exit(exitcode.Usage, "--fail-on takes request_changes, not %q", o.FailOn)
	}
	if o.Wait < 0 || o.Timeout < 0 {
		return exit(exitcode.Usage, "--wait and --timeout must not be negative")
	}
	if o.Background && o.FailOn != "" {
		return exit(exitcode.Usage, "--fail-on needs the review's verdict, and --background returns before there is one: drop one of them")
	}
	return nil
}

func (o *ReviewOptions) mode() packet.Mode {
	switch {
	case o.Staged:
		return packet.Staged
	case o.Base != "":
		return packet.Base
	}
	return packet.Uncommitted
}

func runReview(ctx context.Context, o *ReviewOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := o.check(); err != nil {
		return err
	}
	g := o.g
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if o.Background {
		return startBackground(ctx, o, cfg)
	}
	return o.execute(ctx, cfg)
}

// execute runs the review pipeline (all of it, or with prepare its checks
// only) and turns its outcome into output and an exit code. The foreground
// and the checks --background makes before detaching are this one path, so
// the two can never validate differently.
func (o *ReviewOptions) execute(ctx context.Context, cfg *config.Config) error {
	g := o.g
	logs, err := g.logs()
	if err != nil {
		return err
	}
	defer logs.Close()

	sc := withSignals(ctx)
	defer sc.stop()
	var prog *progress
	if g.IO.ErrFile != nil && !o.JSON && o.jobID == "" {
		prog = startProgress(g.IO.ErrFile, "starting "+o.Provider)
	}
	// A worker's stdout is /dev/null: a text its record cannot hold goes to
	// a file in $TMPDIR instead (the job store is what failed).
	fallback := ""
	if o.jobID != "" && !o.prepare {
		fallback = os.TempDir()
	}
	rec, err := review.Run(sc, review.Options{
		Config: cfg, Provider: o.Provider, Route: o.Route,
		Mode: o.mode(), BaseRef: o.Base, Paths: o.Paths, PromptFile: o.PromptFile, Dir: o.Dir,
		Wait: o.Wait, WaitSet: o.WaitSet, Timeout: o.Timeout,
		ConfirmResend: o.ConfirmResend, JobID: o.jobID, Prepare: o.prepare, Lock: o.jobLock,
		IgnoreCooldown: o.IgnoreCooldown,
		Getenv:         g.IO.Getenv, Environ: g.IO.Environ(), SelfDir: g.IO.SelfDir, Logs: logs,
		Status:      prog.set,
		FallbackDir: fallback,
		Skipped: func(jobID string, s []packet.Skipped) {
			prog.println(g.IO.Err, leftOutLine(jobID, s))
		},
	})
	prog.stop()
	if o.prepare && err == nil {
		return nil
	}
	if o.JSON && rec != nil {
		printJSON(g.IO.Out, rec)
	}
	// Run has tried to save the record by now. A completed review is
	// printed even when that failed (its error then says so, exit 74): the
	// text must not be lost with the record.
	done := rec != nil && rec.Status == jobs.StatusCompleted
	if done && !o.JSON {
		fmt.Fprint(g.IO.Out, rec.Review)
		if !strings.HasSuffix(rec.Review, "\n") {
			fmt.Fprintln(g.IO.Out)
		}
	}
	if err != nil {
		var re *review.Error
		if !errors.As(err, &re) {
			return exit(sc.exitCode(exitcode.Provider), "%v", err)
		}
		if re.Diag != nil {
			re.Diag.Render(g.IO.Err, g.color())
			return silentExit(sc.exitCode(re.Exit))
		}
		return exit(sc.exitCode(re.Exit), "%s", re.Msg)
	}
	if !o.JSON {
		fmt.Fprintf(g.IO.Err, "relay-host: job %s completed (%s/%s, verdict %s)\n", rec.JobID, rec.Provider, rec.Route, rec.Verdict)
	}
	if o.FailOn == "request_changes" && rec.Verdict == packet.VerdictRequestChanges {
		return silentExit(exitcode.RequestChanges)
	}
	return nil
}

// maxLeftOutShown is how many skipped files review names on stderr; the
// rest are counted and left to `relay-host show`, so that a change with
// hundreds of generated or vendored files does not bury the review.
const maxLeftOutShown = 20

// leftOutLine is the one stderr line naming the files a packet left out.
func leftOutLine(jobID string, skipped []packet.Skipped) string {
	parts := make([]string, 0, min(len(skipped), maxLeftOutShown))
	for _, sk := range skipped[:min(len(skipped), maxLeftOutShown)] {
		parts = append(parts, fmt.Sprintf("%s (%s)", displayPath(sk.Path), sk.Reason))
	}
	if more := len(skipped) - maxLeftOutShown; more > 0 {
		parts = append(parts, fmt.Sprintf("… and %d more; see relay-host show %s", more, jobID))
	}
	return "relay-host: left out of the packet: " + strings.Join(parts, ", ")
}

// displayPath is a file name as it is safe to print on a terminal: as it
// is, unless it holds anything not printable (a newline would forge a line,
// an escape sequence drive the terminal, a bidi control reorder what the
// reader sees) or is not UTF-8; then Go-quoted, which escapes exactly those.
func displayPath(p string) string {
	if !utf8.ValidString(p) || strings.IndexFunc(p, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0 {
		return strconv.Quote(p)
	}
	return p
}

func printJSON(w interface{ Write([]byte) (int, error) }, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<embedded>" stays readable
	enc.Encode(v)
}

// markFailed ends a queued background job that never reached the pipeline.
func markFailed(st *jobs.Store, id, code, msg string) {
	rec, err := st.Get(id)
	if err != nil || rec.Status != jobs.StatusQueued {
		return
	}
	rec.Status, rec.ErrorCode, rec.ErrorMessage, rec.Transmission = jobs.StatusFailed, code, msg, jobs.NotSent
	rec.FinishedAt = time.Now().UTC()
	if rec.FinishedAt.Before(rec.StartedAt) {
		rec.FinishedAt = rec.StartedAt
	}
	st.Put(rec)
}
