// Package review is the review pipeline: config → route session
// (plugin launch → Configure → Describe → route → capability fact →
// admission resolution, see package route) → source packet → prompt →
// resend guard → lease → Review → sanitize → persist.
//
// Invariants: every attempt that gets past the provider lookup leaves a job
// record, and every record it leaves is true: `running` with
// `may_be_sent` is persisted before the Review call starts, `sent` as soon
// as the plugin reports transmission, and `not_sent` only when nothing was
// sent or the plugin's pre-send claim was vouched for by the SDK client.
// Everything the plugin returns goes through the scrubber before it is
// persisted or printed. The lease is released on every return path,
// including a panic, and only after the plugin has been stopped.
package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/admission/procid"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/hostlog"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/route"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
	"github.com/relay-host/relay-host/sdk"
)

// Defaults.
const (
	DefaultTimeout = 10 * time.Minute
)

// Options are one review. Config, Provider and Logs are required.
type Options struct {
	Config   *config.Config
	Provider string
	Route    string // "" picks the only route, else the first declared

	Mode       packet.Mode
	BaseRef    string
	Paths      []string
	PromptFile string
	// Prompt, when not "", is the prompt's text itself (an MCP tool's
	// argument, which may not name a file); PromptFile is then ignored.
	Prompt string
	Dir    string // repository directory; "" is the current one
	// Packet, when set, is the packet to send, already built (by Build,
	// with the same Mode, BaseRef, Paths and Dir): a fan-out builds it
	// once for all its reviewers. Each review still checks it against its
	// own route's budget and fingerprints it with its own route. Nil: the
	// review builds it, while the plugin starts.
	Packet *packet.Packet
	// PacketFrom, when set (and Packet is not), returns the packet from a
	// build shared with other reviews and still under way: it blocks until
	// that build is done. The review starts its plugin meanwhile and asks
	// for the packet only once Describe has named the route, as it does
	// with its own build.
	PacketFrom func() (*packet.Packet, error)

	Wait    time.Duration
	WaitSet bool          // --wait given; else relay.hcl admission.wait
	Timeout time.Duration // 0: the route's timeout, else DefaultTimeout

	ConfirmResend bool
	// IgnoreCooldown admits the review while its route cools down
	// (review --ignore-cooldown).
	IgnoreCooldown bool
	// JobID continues a record already persisted as queued (a background
	// worker); "" makes a new one.
	JobID string
	// Prepare runs every check a review makes before it takes a slot
	// (plugin, route, configuration, capability fact, packet and its
	// budget, prompt, resend guard) and stops there, leaving the JobID
	// record queued for a worker; a failed check records the attempt as
	// failed, as a full run would.
	Prepare bool

	Getenv  func(string) string
	Environ []string
	SelfDir string // where relay-host lives, for plugin discovery
	Logs    *hostlog.Logs
	// Status, when set, is told what the review is doing ("waiting for a
	// slot", "reviewing"), for a TTY progress line.
	Status func(string)
	// Skipped, when set, is told which changed files the packet leaves out
	// and why, and the id of the job whose record lists them all.
	Skipped func(jobID string, skipped []packet.Skipped)
	// Store, when set, is used instead of opening the default job store.
	Store *jobs.Store
	// FallbackDir, when set, is where a finished review's text is kept
	// (relay-review-<id>.txt, 0600) if its record cannot be saved. A
	// background worker sets it: nobody reads its stdout. A foreground run
	// leaves it empty and prints the text instead.
	FallbackDir string
	// Lock is JobID's job lock, held by the caller (a background worker
	// inherits it; a Prepare run borrows its starter's); the run releases
	// it once the outcome is recorded. A new job takes its own.
	Lock *jobs.Lock
	// Launcher starts the provider's plugin; nil means a real plugin
	// process (see route.Launcher).
	Launcher route.Launcher
}

// run carries one pipeline's state.
type run struct {
	o     Options
	log   hclog.Logger
	store *jobs.Store
	rec   *jobs.Record
	lock  *jobs.Lock // the job's liveness lock, released by finish
	// session is the provider's launched plugin, nil until it started.
	session *route.Session
	// saved is why the last terminal record could not be written, and
	// kept where the review text went instead ("" when nowhere).
	saved error
	kept  string
	stale bool // not even a short record could be written
	// reserved is a file that holds room in the job store for a short
	// terminal record while the review runs (see reserve).
	reserved string
	// cool is the route's admission key, once acquire opened its backend:
	// where a rate limit records the route's cooldown (see coolDown).
	cool cooldownKey
}

// Run runs one review and returns its record. The record is returned with
// every error that happened after the record was created; err is a *Error.
func Run(ctx context.Context, o Options) (rec *jobs.Record, err error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Environ == nil {
		o.Environ = os.Environ()
	}
	if o.Status == nil {
		o.Status = func(string) {}
	}
	r := &run{o: o, log: o.Logs.Host}
	prov := o.Config.Provider(o.Provider)
	if prov == nil {
		return nil, UnknownProvider(o.Config, o.Provider)
	}
	if err := r.openRecord(); err != nil {
		return nil, err
	}
	defer r.unreserve()
	defer func() {
		if p := recover(); p != nil {
			r.session.KillNow()
			r.finish(jobs.StatusFailed, string(sdk.CodeInternal), "relay-host failed unexpectedly during the review; the source may have been sent", r.rec.Transmission)
			panic(p)
		}
	}()
	// A closure: r.session is still nil here, and a deferred method value
	// would keep that nil and never stop the plugin launched later (nor
	// remove its socket directory). Close is nil-safe and idempotent.
	defer func() { r.session.Close() }()
	err = r.pipeline(ctx, prov)
	if r.saved != nil {
		err = r.unsaved(err)
	}
	return r.rec, err
}

// UnknownProvider is the error for a provider relay.hcl does not declare.
func UnknownProvider(cfg *config.Config, name string) error {
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
	}
	known := "no providers"
	if len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	return errorf(CodeInvalidRequest, exitcode.Usage, "unknown provider %q: %s declares %s; pick one of those or add a provider block to your relay.hcl", name, cfgName(cfg), known)
}

func cfgName(cfg *config.Config) string {
	return cfg.Name()
}

func (r *run) openRecord() error {
	st := r.o.Store
	if st == nil {
		dir, err := jobs.DefaultDir(r.o.Getenv)
		if err != nil {
			return errorf(CodeJobStoreFailed, exitcode.Usage, "%v", err)
		}
		if st, err = jobs.Open(dir); err != nil {
			return errorf(CodeJobStoreFailed, exitcode.Usage, "%v", err)
		}
	}
	r.store = st
	r.o.Logs.Scrubber.AddPaths(st.Dir())
	if r.o.JobID != "" {
		rec, err := st.Get(r.o.JobID)
		if err != nil {
			return errorf(CodeJobStoreFailed, exitcode.Usage, "%v", err)
		}
		if rec.Status != jobs.StatusQueued {
			return errorf(CodeInvalidRequest, exitcode.Usage, "job %s is %s, not queued: it has already run", rec.JobID, rec.Status)
		}
		r.rec, r.lock = rec, r.o.Lock
		return nil
	}
	id := jobs.NewID()
	// The job lock comes before the record: no reader ever sees this job
	// queued or running with its lock free (which would read as dead).
	lock, err := st.Lock(id)
	if err != nil {
		return errorf(CodeJobStoreFailed, exitcode.Usage, "cannot save job %s: %v", id, err)
	}
	// Who runs the job, for `cancel`; without it cancel refuses, nothing else.
	if p, err := procid.Capture(os.Getpid()); err == nil {
		lock.SetWorker(jobs.Worker{PID: p.PID, StartTime: p.StartTime, Argv0: p.Argv0})
	}
	r.lock = lock
	r.rec = &jobs.Record{
		JobID:        id,
		Provider:     r.o.Provider,
		Route:        r.o.Route,
		Status:       jobs.StatusQueued,
		Transmission: jobs.NotSent,
		StartedAt:    time.Now().UTC(),
	}
	if err := r.put(); err != nil {
		lock.Release()
		return err
	}
	return nil
}

func (r *run) put() error {
	if err := r.store.Put(r.rec); err != nil {
		return errorf(CodeJobStoreFailed, exitcode.IOErr, "cannot save job %s (%s): free space in the job store or fix its permissions", r.rec.JobID, storeReason(err))
	}
	return nil
}

// storeReason is a store error without the store's path (which a message
// may not name): the system's reason, e.g. "no space left on device".
func storeReason(err error) string {
	var pe *os.PathError
	var le *os.LinkError
	var se *os.SyscallError
	switch {
	case errors.As(err, &pe):
		return pe.Err.Error()
	case errors.As(err, &le):
		return le.Err.Error()
	case errors.As(err, &se):
		return se.Err.Error()
	}
	return err.Error()
}

// finish records a terminal state. When the record cannot be written (a
// full disk), the outcome is not lost: the review text is kept in
// FallbackDir when that is set, a smaller record without the text is
// written in its place (a completed review then reads failed with
// job_store_failed, so the store never claims a review it does not hold),
// and Run reports the failure (exit 74) with the review still in hand.
func (r *run) finish(status jobs.Status, code, msg string, tr jobs.Transmission) {
	// Whatever is on disk when this returns is the outcome: the job's life
	// ends here, and a record still saying running reads as a dead worker's.
	defer r.lock.Release()
	r.rec.Status, r.rec.ErrorCode, r.rec.ErrorMessage, r.rec.Transmission = status, code, msg, tr
	r.rec.FinishedAt = time.Now().UTC()
	if r.rec.FinishedAt.Before(r.rec.StartedAt) {
		r.rec.FinishedAt = r.rec.StartedAt
	}
	err := r.store.Put(r.rec)
	if err == nil {
		r.saved, r.stale = nil, false
		return
	}
	r.saved = err
	r.log.Error("cannot save the job's outcome", "job", r.rec.JobID, "error", err)
	if r.rec.Review != "" && r.o.FallbackDir != "" {
		if path, ferr := keepText(r.o.FallbackDir, r.rec.JobID, r.rec.Review); ferr != nil {
			r.log.Error("cannot keep the review text either", "job", r.rec.JobID, "error", ferr)
		} else {
			r.kept = path
		}
	}
	// The room held back before the Review call is for this record.
	r.unreserve()
	small := *r.rec
	small.Review = ""
	if status == jobs.StatusCompleted {
		small.Status, small.ErrorCode = jobs.StatusFailed, CodeJobStoreFailed
		small.ErrorMessage = fmt.Sprintf("the review finished but its record could not be saved (%s)", storeReason(err))
		if r.kept != "" {
			small.ErrorMessage += "; the text is in " + r.o.Logs.Scrubber.Message(r.kept)
		}
	}
	if err := r.store.Put(&small); err != nil {
		// Nothing more can be written; the record keeps its last state
		// and the caller still says, on stderr and in its exit code, that
		// it was not saved.
		r.log.Error("cannot save even a short record of the job's outcome", "job", r.rec.JobID, "error", err)
		r.stale = true
		return
	}
	r.stale = false
	if status != jobs.StatusCompleted {
		// The outcome is on record; only the (empty) text was dropped.
		r.saved = nil
	}
}

// reserve holds back room in the job store, before the source is sent, for
// the short record finish writes if the store fills while the review runs:
// a file of zeros (a few pages, enough for a temp copy of the record with
// its outcome), removed just before that record is written, and on every
// return from Run. Best effort: a store that is already full is found out
// by the running record's write, which fails first. A relay-host killed
// with SIGKILL leaves it behind; it is named .<job id>.reserve, which the
// store never lists.
func (r *run) reserve() {
	data, _ := json.Marshal(r.rec)
	size := ((len(data)+2048)/4096 + 1) * 4096
	path := filepath.Join(r.store.Dir(), "."+r.rec.JobID+".reserve")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		r.log.Debug("cannot reserve room for the job's outcome", "error", err)
		return
	}
	_, err = f.Write(make([]byte, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		r.log.Debug("cannot reserve room for the job's outcome", "error", err)
		return
	}
	r.reserved = path
}

func (r *run) unreserve() {
	if r.reserved != "" {
		os.Remove(r.reserved)
		r.reserved = ""
	}
}

// keepText writes a review whose record could not be saved to
// dir/relay-review-<id>.txt, created new and private (0600).
func keepText(dir, id, text string) (string, error) {
	path := filepath.Join(dir, "relay-review-"+id+".txt")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// unsaved is the error Run returns when the final record could not be
// written: exit 74 (EX_IOERR) for a review that completed, whose text the
// caller still has; a failed review keeps its own exit code and says the
// record was not saved too.
func (r *run) unsaved(err error) error {
	reason := storeReason(r.saved)
	var e *Error
	if err == nil {
		where := "; the review is on stdout"
		if r.kept != "" {
			where = "; the text is in " + r.o.Logs.Scrubber.Message(r.kept)
		} else if r.o.FallbackDir != "" {
			where = "; the text could not be kept anywhere"
		}
		if r.stale {
			where += "; the store still shows the job unfinished"
		}
		return errorf(CodeJobStoreFailed, exitcode.IOErr, "job %s: the review completed but its record could not be saved (%s)%s; free space in the job store ($XDG_STATE_HOME/relay/jobs)", r.rec.JobID, reason, where)
	}
	if errors.As(err, &e) && e.Code != CodeJobStoreFailed {
		e.Msg += fmt.Sprintf("; job %s's record could not be saved either (%s)", r.rec.JobID, reason)
	}
	return err
}

// fail records e as a failed attempt that sent nothing.
func (r *run) fail(e *Error) *Error {
	r.finish(jobs.StatusFailed, e.Code, e.Msg, jobs.NotSent)
	return e
}

func (r *run) pipeline(ctx context.Context, prov *config.Provider) error {
	o := r.o
	cfg := o.Config
	scrub := o.Logs.Scrubber

	bctx, stopBuild := context.WithCancel(ctx)
	buildDone := r.startBuild(bctx, prov)
	gotBuild := false
	defer func() {
		stopBuild()
		if !gotBuild {
			<-buildDone
		}
	}()
	var err error
	r.session, err = route.Open(ctx, cfg, prov.Name, route.Options{
		Getenv: o.Getenv, Environ: o.Environ, SelfDir: o.SelfDir,
		Log: r.log, PluginLog: o.Logs.Plugin(),
		Secrets:  scrub.AddSecrets,
		Acquire:  true, // this review acquires on the key: a missing state dir is created now
		Launcher: o.Launcher,
	})
	if err != nil {
		return r.openFailed(ctx, err)
	}
	if len(r.session.Rejected) > 0 {
		return r.rejected(prov, r.session.Rejected)
	}

	rt, err := r.session.Resolve(o.Route)
	if rt.Name != "" {
		r.rec.Route = rt.Name
	}
	if err != nil {
		return r.routeFailed(prov, rt, err)
	}
	// AddPaths removes each path's absolute and symlink-resolved forms too.
	scrub.AddPaths(rt.Admission.LockRoot)
	if rt.Admission.StateDir != "" {
		scrub.AddPaths(rt.Admission.StateDir)
	}
	dr, rc := rt.Described, rt.Config
	if b := cfg.Admission.Backend; b != "" && b != "local" && b != "etcd" {
		return r.fail(errorf(CodeAdmissionFailed, exitcode.Usage, "admission backend %q is not available in this relay-host build: use backend = \"local\" or \"etcd\" in relay.hcl", b))
	}

	budget := int64(packet.DefaultBudget)
	switch {
	case rc != nil && rc.Budget > 0:
		budget = rc.Budget
	case dr.Budget > 0:
		budget = dr.Budget
	}
	budget = rc.CapBudget(budget)
	b := <-buildDone
	gotBuild = true
	pk, err := b.pk, b.err
	if err == nil {
		err = pk.CheckBudget(budget)
	}
	if err != nil {
		if ctx.Err() != nil {
			return r.cancelled(ctx, jobs.NotSent)
		}
		return r.fail(packetError(err))
	}
	for _, s := range pk.Skipped {
		r.rec.SkippedFiles = append(r.rec.SkippedFiles, s.Path)
		r.rec.Skipped = append(r.rec.Skipped, jobs.SkippedFile{Path: s.Path, Reason: s.Reason})
	}
	if o.Skipped != nil && len(pk.Skipped) > 0 {
		o.Skipped(r.rec.JobID, pk.Skipped)
	}
	prompt, promptHash, err := packet.LoadPrompt(o.PromptFile)
	if o.Prompt != "" {
		prompt, promptHash, err = packet.PromptText(o.Prompt)
	}
	if err != nil {
		return r.fail(packetError(err))
	}
	r.rec.Fingerprint = jobs.Fingerprint(prov.Name, rt.Name, promptHash, pk.Hash)
	if !o.ConfirmResend {
		if _, err := r.store.CheckResend(r.rec.Fingerprint); err != nil {
			var re *jobs.ResendError
			if errors.As(err, &re) {
				return r.fail(errorf(jobs.CodeResendConfirmationRequired, exitcode.Usage, "%s", re.Error()))
			}
			return r.fail(errorf(CodeJobStoreFailed, exitcode.Usage, "cannot check earlier attempts: %v", err))
		}
	}
	// No write here: a queued, not_sent record never gates a resend, and
	// the next write (running) carries the fingerprint.
	if o.Prepare {
		return nil
	}

	lease, err := r.acquire(ctx, prov.Name, rt)
	if err != nil {
		return err
	}
	// A lease that can be lost (etcd) cancels the review when it is: the
	// slot may already be someone else's, so the work must stop.
	var lost <-chan struct{}
	if ln, ok := lease.(admission.LossNotifier); ok {
		lost = ln.Lost()
		var cancelLost context.CancelCauseFunc
		ctx, cancelLost = context.WithCancelCause(ctx)
		stopWatch := make(chan struct{})
		defer close(stopWatch)
		defer cancelLost(nil)
		go func() {
			select {
			case <-lost:
				r.log.Warn("admission lease lost while holding the slot; cancelling the review")
				cancelLost(errAdmissionLost)
			case <-stopWatch:
			}
		}()
	}
	// The plugin (and any CLI it runs) is stopped before the slot frees, so
	// the lease covers all of the work.
	defer func() {
		r.session.Close()
		if err := lease.Release(); err != nil {
			r.log.Warn("releasing the admission slot failed", "error", err)
		}
	}()

	// --timeout is the user's own word; a repository's cap applies to
	// what the configuration would otherwise give.
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
		if rc != nil && rc.Timeout > 0 {
			timeout = rc.Timeout
		}
		timeout = rc.CapTimeout(timeout)
	}
	settings := maps.Clone(prov.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	if rc != nil {
		maps.Copy(settings, rc.Settings)
	}
	return r.review(ctx, sdk.ReviewRequest{Route: rt.Name, Prompt: prompt, Packet: pk.Diff, Settings: settings, Timeout: timeout})
}

// built is a packet build's outcome.
type built struct {
	pk  *packet.Packet
	err error
}

// startBuild starts building the packet, or hands over Options.Packet.
//
// git builds the packet while the plugin starts: both take a few
// milliseconds and neither needs the other. The route's budget is only
// known after Describe, so the build runs under a memory cap and the budget
// is checked once it is known; errors keep their sequential order. A review
// that ends early (plugin failed, route unknown, cancelled) ends ctx and
// waits for the build it stopped: its git processes are gone before
// relay-host is, and nothing of this review outlives it.
func (r *run) startBuild(ctx context.Context, prov *config.Provider) <-chan built {
	o := r.o
	done := make(chan built, 1)
	if o.Packet != nil {
		done <- built{pk: o.Packet}
		return done
	}
	if o.PacketFrom != nil {
		go func() {
			pk, err := o.PacketFrom()
			done <- built{pk, err}
		}()
		return done
	}
	rc0 := prov.Route(o.Route)
	capBytes := int64(maxBuildBytes)
	if rc0 != nil && rc0.Budget > capBytes {
		capBytes = rc0.Budget
	}
	go func() {
		pk, err := Build(ctx, o.Config, o.Dir, o.Mode, o.BaseRef, o.Paths, capBytes)
		done <- built{pk, err}
	}()
	return done
}

// Build builds the source packet a review sends, under a memory cap of
// capBytes (the route's budget is checked later, per review).
func Build(ctx context.Context, cfg *config.Config, dir string, mode packet.Mode, baseRef string, paths []string, capBytes int64) (*packet.Packet, error) {
	return packet.Build(ctx, packet.Options{Dir: dir, Mode: mode, BaseRef: baseRef, Paths: paths, Budget: capBytes, Exclude: cfg.Exclude})
}

// maxBuildBytes caps the memory of a packet built before the route's budget
// is known; it is far above any sensible budget.
const maxBuildBytes = 64 << 20

// openFailed records why the plugin could not be started or described.
func (r *run) openFailed(ctx context.Context, err error) error {
	scrub := r.o.Logs.Scrubber
	var oe *route.OpenError
	if !errors.As(err, &oe) {
		return r.cancelled(ctx, jobs.NotSent)
	}
	var ue *pluginhost.UnsafeError
	var ce *pluginhost.ChecksumError
	switch {
	case oe.Stage == route.StageFind && errors.As(oe.Err, &ue):
		return r.fail(errorf(CodePluginUnsafe, exitcode.Usage, "%v", oe.Err))
	case oe.Stage == route.StageFind:
		return r.fail(errorf(CodePluginNotFound, exitcode.Usage, "%v", oe.Err))
	case errors.As(oe.Err, &ce):
		return r.fail(errorf(CodeChecksumMismatch, exitcode.Usage, "%s", ce.Error()))
	case oe.Stage == route.StageLaunch:
		return r.fail(errorf(CodePluginStartFailed, exitcode.Provider, "%s", scrub.Message(oe.Err.Error())))
	case oe.Stage == route.StageConfigure:
		return r.fail(errorf(CodePluginInvalid, exitcode.Provider, "provider %q: configure failed: %s", oe.Provider, scrub.Message(oe.Err.Error())))
	default:
		return r.fail(errorf(CodePluginInvalid, exitcode.Provider, "provider %q: describe failed: %s; run `relay-host plugin check %s`", oe.Provider, scrub.Message(oe.Err.Error()), oe.Path))
	}
}

// rejected records the plugin's objections to relay.hcl's settings, as
// diagnostics on the lines that set them.
func (r *run) rejected(prov *config.Provider, attrErrs []sdk.AttributeError) error {
	var diag *config.DiagError
	var first string
	for _, ae := range attrErrs {
		msg := r.o.Logs.Scrubber.Message(ae.Message)
		attr := r.o.Logs.Scrubber.Field(ae.Attribute)
		rng := prov.DeclRange
		where := fmt.Sprintf("provider %q", prov.Name)
		if rt := prov.Route(ae.Route); rt != nil {
			rng, where = rt.DeclRange, fmt.Sprintf("provider %q route %q", prov.Name, rt.Name)
			if sr, ok := rt.SettingRanges[ae.Attribute]; ok {
				rng = sr
			}
		} else if sr, ok := prov.SettingRanges[ae.Attribute]; ok {
			rng = sr
		}
		d := r.o.Config.Diagnostic("Invalid setting "+attr, fmt.Sprintf("The plugin for %s rejects %s: %s.", where, attr, msg), rng)
		if diag == nil {
			diag, first = d, fmt.Sprintf("%s: setting %s: %s", where, attr, msg)
		} else {
			diag.Diags = append(diag.Diags, d.Diags...)
		}
	}
	e := errorf(string(sdk.CodeConfigInvalid), exitcode.Usage, "%s: fix it in %s", first, cfgName(r.o.Config))
	e.Diag = diag
	return r.fail(e)
}

// routeFailed records a route the plugin does not offer, or whose
// capability fact is refused.
func (r *run) routeFailed(prov *config.Provider, rt route.Route, err error) error {
	var ue *route.UnknownRouteError
	if errors.As(err, &ue) {
		offered := strings.Join(ue.Offered, ", ")
		e := errorf(CodeUnknownRoute, exitcode.Usage, "provider %q has no route %q: its plugin offers %s; pass one of those to --route", prov.Name, ue.Route, offered)
		if ue.Config != nil {
			e.Diag = r.o.Config.Diagnostic("Unknown route", fmt.Sprintf("The plugin for provider %q does not offer route %q; it offers %s.", prov.Name, ue.Route, offered), ue.Config.DeclRange)
		}
		return r.fail(e)
	}
	var fe *route.FactError
	if !errors.As(err, &fe) {
		return r.fail(errorf(CodePluginInvalid, exitcode.Provider, "the plugin's capability fact is refused: %v", err))
	}
	name, rc := rt.Name, rt.Config
	switch {
	case fe.Code == route.FactLimitOnSharedState && rc != nil && rc.Limit > 1:
		e := errorf(route.FactLimitOnSharedState, exitcode.Usage, "%s: provider %q route %q is shared_state (always one review at a time) but sets limit = %d; remove the limit", rangeLine(rc.LimitRange), prov.Name, name, rc.Limit)
		e.Diag = r.o.Config.Diagnostic("Limit on a shared_state route",
			fmt.Sprintf("Route %q of provider %q shares a CLI's local state, so it always runs one review at a time; remove limit = %d.", name, prov.Name, rc.Limit), rc.LimitRange)
		return r.fail(e)
	case fe.Code == route.FactNoLockRoot, fe.Code == route.FactInvalidLimit && rc != nil && rc.Limit != 0:
		return r.fail(errorf(string(sdk.CodeConfigInvalid), exitcode.Usage, "%s", fe.Msg))
	}
	return r.fail(errorf(CodePluginInvalid, exitcode.Provider, "the plugin's capability fact is refused: %s", fe.Msg))
}

func rangeLine(rng hcl.Range) string { return fmt.Sprintf("%s:%d", rng.Filename, rng.Start.Line) }
