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
	"github.com/relay-host/relay-host/host/internal/fanout"
	"github.com/relay-host/relay-host/host/internal/findings"
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

	// All reviews with every usable route (resolved before a background
	// worker starts: it gets the list in Provider).
	All          bool `json:"all,omitempty"`
	AllowPartial bool `json:"allow_partial,omitempty"`
	OnlyChanged  bool `json:"only_changed,omitempty"`
	// OnlyChangedSet: --only-changed was given; else it follows the
	// format (on for the CI formats).
	OnlyChangedSet bool `json:"only_changed_set,omitempty"`

	Background bool     `json:"-"`
	JSON       bool     `json:"-"`
	Format     string   `json:"-"`
	FailOn     []string `json:"-"`
	format     findings.Format
	failOn     []findings.FailOn
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
		Use:   "review [provider[/route][,provider[/route]…]]",
		Short: "Send the current changes to one or more providers for review",
		Long: `Send a source packet (a git diff of your changes plus a review prompt) to one
provider and print its review. By default the packet is the uncommitted
changes; --staged takes the index, --base REF what the branch changes since
its merge base with REF. Files matching .relayignore and secret patterns are
left out and listed.

Several reviewers (claude,apireviewer/deepseek; with no provider, relay.hcl's
reviewers list; --all, every usable route) each review the same packet in
parallel, each under its own route's admission and max_total, and their
findings are merged with attribution (--format).

Exit codes: 0 ok; 1 --fail-on triggered; 2 usage or configuration error;
3 provider failure (several reviewers: one did not finish, unless
--allow-partial and one did); 74 the job record could not be saved (the
review is still printed); 75 admission blocked (every reviewer: the route is
at its limit, or cools down after a rate limit: retry, or pass --wait).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Provider = args[0]
			}
			o.WaitSet = cmd.Flags().Changed("wait")
			o.OnlyChangedSet = cmd.Flags().Changed("only-changed")
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
	f.StringArrayVar(&o.FailOn, "fail-on", nil, "exit 1 on the verdict `request_changes`, or a finding at high, medium or low or above (repeatable)")
	f.StringVar(&o.Format, "format", "", "print the findings as `text`, json, markdown, sarif, rdjsonl or github (default: one reviewer's review as it is; several: text)")
	f.BoolVar(&o.OnlyChanged, "only-changed", false, "keep findings on changed lines only; the rest go to the other remarks (default: on for sarif, rdjsonl and github)")
	f.BoolVar(&o.All, "all", false, "review with every usable route of every provider")
	f.BoolVar(&o.AllowPartial, "allow-partial", false, "several reviewers: exit by --fail-on when at least one finished, instead of 3")
	cmd.MarkFlagsMutuallyExclusive("base", "staged")
	cmd.MarkFlagsMutuallyExclusive("json", "format")
	return cmd
}

func (o *ReviewOptions) check() error {
	o.failOn = nil
	for _, s := range o.FailOn {
		c, err := findings.ParseFailOn(s)
		if err != nil {
			return exit(exitcode.Usage, "%v", err)
		}
		o.failOn = append(o.failOn, c)
	}
	if o.Format != "" {
		f, err := findings.ParseFormat(o.Format)
		if err != nil {
			return exit(exitcode.Usage, "%v", err)
		}
		o.format = f
	}
	if !o.OnlyChangedSet {
		o.OnlyChanged = o.format.CI()
	}
	if o.Wait < 0 || o.Timeout < 0 {
		return exit(exitcode.Usage, "--wait and --timeout must not be negative")
	}
	if o.Background && len(o.FailOn) > 0 {
		return exit(exitcode.Usage, "--fail-on needs the review's verdict, and --background returns before there is one: drop one of them")
	}
	if o.Background && o.Format != "" {
		return exit(exitcode.Usage, "--format prints the review, and --background returns before there is one: use relay-host show <job> later")
	}
	if o.All && o.Provider != "" {
		return exit(exitcode.Usage, "--all reviews with every usable route: name no provider with it")
	}
	return nil
}

// targets are the reviewers this review runs: the argument, else --all's
// every usable route, else relay.hcl's reviewers. Every provider must be
// declared; --route goes with one provider only.
func (o *ReviewOptions) targets(ctx context.Context, cfg *config.Config) ([]fanout.Reviewer, error) {
	var list []string
	switch {
	case o.Provider != "":
		list = []string{o.Provider}
	case o.All:
		logs, err := o.g.logs()
		if err != nil {
			return nil, err
		}
		defer logs.Close()
		for _, v := range describeProviders(ctx, o.g, cfg, logs, "") {
			for _, r := range v.Routes {
				if r.Error == "" {
					list = append(list, v.Provider+"/"+r.Route)
				}
			}
		}
		if len(list) == 0 {
			return nil, exit(exitcode.Usage, "--all: no provider in %s has a usable route; see relay-host providers", "relay.hcl")
		}
	case len(cfg.Reviewers) > 0:
		list = cfg.Reviewers
	default:
		return nil, exit(exitcode.Usage, "name a provider (relay-host review claude), several (claude,apireviewer/deepseek), pass --all, or set reviewers = [...] in %s", "relay.hcl")
	}
	rvs, err := fanout.ParseReviewers(list)
	if err != nil {
		return nil, exit(exitcode.Usage, "%v", err)
	}
	for _, rv := range rvs {
		if cfg.Provider(rv.Provider) == nil {
			return nil, exit(exitcode.Usage, "%v", review.UnknownProvider(cfg, rv.Provider))
		}
	}
	if o.Route != "" {
		if len(rvs) > 1 || rvs[0].Route != "" && rvs[0].Route != o.Route {
			return nil, exit(exitcode.Usage, "--route goes with one provider: write provider/route for each reviewer instead")
		}
		rvs[0].Route = o.Route
	}
	return rvs, nil
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
	rvs, err := o.targets(ctx, cfg)
	if err != nil {
		return err
	}
	if len(rvs) > 1 {
		if o.Background {
			return startBackground(ctx, o, cfg, rvs)
		}
		return o.fanout(ctx, cfg, rvs)
	}
	o.Provider, o.Route = rvs[0].Provider, rvs[0].Route
	if o.Background {
		return startBackground(ctx, o, cfg, rvs)
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
	// The findings formats and severity conditions read the diff: build the
	// packet first, and hand it to the review. A build that fails is left
	// to the review, which reports and records it as it always does.
	var pk *packet.Packet
	if !o.prepare && (o.format != "" || needsFindings(o.failOn)) {
		pk, _ = review.Build(sc, cfg, o.Dir, o.mode(), o.Base, o.Paths, maxPacketBytes)
	}
	rec, err := review.Run(sc, review.Options{
		Config: cfg, Provider: o.Provider, Route: o.Route,
		Mode: o.mode(), BaseRef: o.Base, Paths: o.Paths, PromptFile: o.PromptFile, Dir: o.Dir, Packet: pk,
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
	var res *findings.Result
	if done && pk != nil {
		name := fanout.Reviewer{Provider: o.Provider, Route: o.Route}.Name()
		res = findings.Collect([]findings.Review{{Reviewer: name, Model: rec.Model, Text: rec.Review}},
			findings.FromPacket(pk), findings.ValidateOptions{OnlyChanged: o.OnlyChanged})
	}
	switch {
	case done && o.format != "" && res != nil:
		if werr := findings.Write(g.IO.Out, res, o.format, findings.WriteOptions{ToolVersion: g.Version}); werr != nil {
			return exit(exitcode.Failure, "cannot write the findings: %v", werr)
		}
	case done && !o.JSON:
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
	if res != nil {
		return o.triggered(res)
	}
	if len(o.failOn) > 0 && rec.Verdict == packet.VerdictRequestChanges {
		// Only request_changes can be asked for here: the severities need
		// the findings (needsFindings).
		return silentExit(exitcode.RequestChanges)
	}
	return nil
}

// maxPacketBytes caps the memory of a packet built before any route's
// budget is known (each review checks its own); far above any budget.
const maxPacketBytes = 64 << 20

// needsFindings: a severity condition needs the findings, not the verdict.
func needsFindings(conds []findings.FailOn) bool {
	for _, c := range conds {
		if c != findings.FailOnRequestChanges {
			return true
		}
	}
	return false
}

// triggered is exit 1, with one stderr line per --fail-on condition met.
func (o *ReviewOptions) triggered(res *findings.Result) error {
	reasons := res.Triggered(o.failOn)
	for _, r := range reasons {
		fmt.Fprintf(o.g.IO.Err, "relay-host: --fail-on %s\n", r)
	}
	if len(reasons) > 0 {
		return silentExit(exitcode.RequestChanges)
	}
	return nil
}

// fanout runs several reviewers on one packet and prints their merged
// findings (--format, default text; --json is --format json).
func (o *ReviewOptions) fanout(ctx context.Context, cfg *config.Config, rvs []fanout.Reviewer) error {
	g := o.g
	logs, err := g.logs()
	if err != nil {
		return err
	}
	defer logs.Close()
	format := o.format
	switch {
	case o.JSON:
		format = findings.FormatJSON
	case format == "":
		format = findings.FormatText
	}
	sc := withSignals(ctx)
	defer sc.stop()
	var prog *progress
	if g.IO.ErrFile != nil && o.jobID == "" {
		prog = startProgress(g.IO.ErrFile, fmt.Sprintf("starting %d reviewers", len(rvs)))
	}
	out := fanout.Run(sc, fanout.Options{
		Review: review.Options{
			Config: cfg, Mode: o.mode(), BaseRef: o.Base, Paths: o.Paths, PromptFile: o.PromptFile, Dir: o.Dir,
			Wait: o.Wait, WaitSet: o.WaitSet, Timeout: o.Timeout, ConfirmResend: o.ConfirmResend,
			Getenv: g.IO.Getenv, Environ: g.IO.Environ(), SelfDir: g.IO.SelfDir, Logs: logs,
		},
		Reviewers: rvs, OnlyChanged: o.OnlyChanged, AllowPartial: o.AllowPartial,
		JobID: o.jobID, Lock: o.jobLock,
		Skipped: func(jobID string, s []packet.Skipped) {
			prog.println(g.IO.Err, leftOutLine(jobID, s))
		},
	})
	prog.stop()
	if out.Err != nil {
		return exit(sc.exitCode(out.Exit), "%s", logs.Scrubber.Message(out.Err.Error()))
	}
	if werr := findings.Write(g.IO.Out, out.Result, format, findings.WriteOptions{ToolVersion: g.Version}); werr != nil {
		return exit(exitcode.Failure, "cannot write the findings: %v", werr)
	}
	// Who did not finish, and why, one line each, whatever the format
	// carries (rdjsonl has no place for it).
	for _, f := range out.Result.Failures {
		fmt.Fprintf(g.IO.Err, "relay-host: %s did not finish: %s\n", f.Reviewer, f.Reason)
	}
	p := out.Parent
	fmt.Fprintf(g.IO.Err, "relay-host: job %s %s (%d reviewers, %d finished, verdict %s)\n",
		p.JobID, p.Status, len(rvs), len(out.Result.Reviewers), p.Verdict)
	if out.Exit != exitcode.OK {
		return silentExit(sc.exitCode(out.Exit))
	}
	return o.triggered(out.Result)
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
