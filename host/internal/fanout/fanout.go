// Package fanout runs several reviewers on one packet at once and merges
// what they found.
//
// Each reviewer is a full review (package review) of the same packet, built
// once here and fingerprinted per route by each review, under its own
// route's admission and the global max_total, with the same --wait. They
// start together, so their plugin launches overlap; a reviewer that fails
// or is blocked does not stop the others.
//
// Invariants:
//   - One parent record (Kind jobs.KindFanout) lists every child job id
//     before any child starts, and is finished only after every child has
//     recorded its outcome: a finished parent never has a child running,
//     and cancelling the process that runs the parent (the children run in
//     it) cancels every child.
//   - Every child is an ordinary job record, so jobs, show, cancel, jobs
//     wait and the resend guard treat it as any other review.
//   - The merged result lists every reviewer that did not finish, with one
//     line saying why; an incomplete fan-out never reads as a pass: it
//     records failed (CodeIncomplete) unless AllowPartial and one finished.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/relay-host/relay-host/admission/procid"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/findings"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
	"github.com/relay-host/relay-host/sdk"
)

// CodeIncomplete is a fan-out parent's error code when a reviewer did not
// finish (and AllowPartial did not accept that).
const CodeIncomplete = "review_incomplete"

// Reviewer is one provider and, optionally, its route.
type Reviewer struct {
	Provider string
	Route    string // "" is the provider's default route
}

// Name is the reviewer as the user writes it: "claude", "apireviewer/deepseek".
func (r Reviewer) Name() string {
	if r.Route == "" {
		return r.Provider
	}
	return r.Provider + "/" + r.Route
}

// ParseReviewers reads "P[/ROUTE][,P[/ROUTE]…]". A reviewer named twice
// is an error: it would send the same packet to the same route twice.
func ParseReviewers(list []string) ([]Reviewer, error) {
	var out []Reviewer
	seen := map[string]bool{}
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			p, rt, _ := strings.Cut(s, "/")
			if p == "" || strings.Contains(rt, "/") || strings.HasSuffix(s, "/") {
				return nil, fmt.Errorf("%q is not a reviewer: name a provider, or provider/route, e.g. claude,apireviewer/deepseek", s)
			}
			r := Reviewer{Provider: p, Route: rt}
			if seen[r.Name()] {
				return nil, fmt.Errorf("reviewer %q is named twice", r.Name())
			}
			seen[r.Name()] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// Options are one fan-out.
type Options struct {
	// Review is what every reviewer's review shares: Config, Logs, the
	// packet's Mode, BaseRef, Paths and Dir, PromptFile, Wait, Timeout,
	// ConfirmResend, the environment. Its Provider, Route, JobID, Lock,
	// Packet, Prepare and Skipped are set per reviewer.
	Review    review.Options
	Reviewers []Reviewer
	// OnlyChanged moves findings outside the diff's hunks to the other
	// remarks (see findings.ValidateOptions).
	OnlyChanged bool
	// AllowPartial: a fan-out where at least one reviewer finished is
	// complete even though others failed (they are still listed).
	AllowPartial bool
	// JobID continues a parent record already persisted as queued, whose
	// lock the caller holds in Lock (a background worker); "" makes one.
	JobID string
	Lock  *jobs.Lock
	// Skipped, when set, is told once which files the packet leaves out.
	Skipped func(jobID string, skipped []packet.Skipped)
}

// Outcome is a finished fan-out.
type Outcome struct {
	Parent   *jobs.Record
	Children []*jobs.Record // in reviewer order; nil where none was made
	// Result is the merged findings; nil when the packet could not be
	// built (Err says why).
	Result *findings.Result
	// Exit is the fan-out's exit code before --fail-on: OK, Provider (a
	// reviewer failed), Blocked (all were), Cancelled, or the packet's
	// error's.
	Exit exitcode.Code
	// Err is set when the packet could not be built or the job store
	// used: no reviewer ran.
	Err error
}

// Run runs the fan-out and records it. It returns once every reviewer has
// finished and the parent's outcome is recorded.
func Run(ctx context.Context, o Options) *Outcome {
	cfg := o.Review.Config
	st := o.Review.Store
	if st == nil {
		dir, err := jobs.DefaultDir(getenv(o.Review.Getenv))
		if err == nil {
			st, err = jobs.Open(dir)
		}
		if err != nil {
			return &Outcome{Exit: exitcode.Usage, Err: err}
		}
		defer st.Close()
	}
	o.Review.Logs.Scrubber.AddPaths(st.Dir())
	parent, lock, err := openParent(st, o)
	if err != nil {
		return &Outcome{Exit: exitcode.Usage, Err: err}
	}
	defer lock.Release()
	out := &Outcome{Parent: parent}
	finish := func(status jobs.Status, code, msg string) {
		parent.Status, parent.ErrorCode, parent.ErrorMessage = status, code, msg
		parent.FinishedAt = time.Now().UTC()
		if err := st.Put(parent); err != nil {
			o.Review.Logs.Host.Error("cannot save the fan-out's outcome", "job", parent.JobID, "error", err)
		}
	}

	// The packet is built once, under the largest budget any reviewer's
	// route declares; each review checks it against its own.
	capBytes := int64(maxBuildBytes)
	for _, rv := range o.Reviewers {
		if p := cfg.Provider(rv.Provider); p != nil {
			if rc := p.Route(rv.Route); rc != nil {
				capBytes = max(capBytes, rc.Budget)
			}
		}
	}
	// git builds it while the records are written and the plugins start
	// (each review asks for it only once Describe has named its route), so
	// three launches cost about what one does.
	build := sync.OnceValues(func() (*packet.Packet, error) {
		return review.Build(ctx, cfg, o.Review.Dir, o.Review.Mode, o.Review.BaseRef, o.Review.Paths, capBytes)
	})
	go build()

	// Every child is queued, with its lock held, before the parent names
	// it: whoever reads the parent can follow every child id.
	type child struct {
		id   string
		lock *jobs.Lock
		rec  *jobs.Record
		err  error
	}
	// Each record is its own file, synced on its own: write them together.
	kids := make([]child, len(o.Reviewers))
	var qg sync.WaitGroup
	for i, rv := range o.Reviewers {
		qg.Add(1)
		go func() {
			defer qg.Done()
			kids[i].id, kids[i].lock, kids[i].err = queueChild(st, parent.JobID, rv)
		}()
	}
	qg.Wait()
	for _, k := range kids {
		if k.lock != nil {
			parent.Children = append(parent.Children, k.id)
		}
	}
	parent.Status = jobs.StatusRunning
	if err := st.Put(parent); err != nil {
		o.Review.Logs.Host.Error("cannot save the fan-out's children", "job", parent.JobID, "error", err)
	}

	var wg sync.WaitGroup
	for i, rv := range o.Reviewers {
		if kids[i].lock == nil {
			continue
		}
		ro := o.Review
		ro.Provider, ro.Route = rv.Provider, rv.Route
		ro.JobID, ro.Lock, ro.PacketFrom, ro.Store = kids[i].id, kids[i].lock, build, st
		ro.Prepare, ro.Skipped = false, nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			kids[i].rec, kids[i].err = review.Run(ctx, ro)
		}()
	}
	wg.Wait()

	// A packet that could not be built failed every review the same way
	// (their records say so); the fan-out says it once.
	pk, err := build()
	if err != nil {
		for _, k := range kids {
			if k.rec == nil && k.lock != nil {
				failQueued(st, k.id, k.lock, failure(nil, k.err))
			}
		}
		if ctx.Err() != nil {
			finish(jobs.StatusCancelled, string(sdk.CodeCancelled), "review cancelled")
			out.Exit, out.Err = exitcode.Cancelled, err
			return out
		}
		var pe *packet.Error
		code := packet.CodeGitFailed
		if errors.As(err, &pe) {
			code = pe.Code
		}
		finish(jobs.StatusFailed, code, o.Review.Logs.Scrubber.Message(err.Error()))
		out.Exit, out.Err = exitcode.Usage, err
		return out
	}
	if o.Skipped != nil && len(pk.Skipped) > 0 {
		o.Skipped(parent.JobID, pk.Skipped)
	}

	reviews := make([]findings.Review, len(o.Reviewers))
	finished, blocked := 0, 0
	tr := jobs.NotSent
	for i, rv := range o.Reviewers {
		if kids[i].rec == nil && kids[i].lock != nil {
			// The review stopped before it took its job over.
			kids[i].rec = failQueued(st, kids[i].id, kids[i].lock, failure(nil, kids[i].err))
		}
		k := kids[i]
		out.Children = append(out.Children, k.rec)
		reviews[i] = findings.Review{Reviewer: rv.Name()}
		if k.rec != nil {
			tr = moreSent(tr, k.rec.Transmission)
		}
		if k.rec != nil && k.rec.Status == jobs.StatusCompleted {
			// A review whose record could not be saved (exit 74) still
			// came back: its text counts.
			reviews[i].Text, reviews[i].Model = k.rec.Review, k.rec.Model
			finished++
			continue
		}
		reviews[i].Err = failure(k.rec, k.err)
		var re *review.Error
		if errors.As(k.err, &re) && re.Exit == exitcode.Blocked {
			blocked++
		}
	}
	res := findings.Collect(reviews, findings.FromPacket(pk), findings.ValidateOptions{OnlyChanged: o.OnlyChanged})
	out.Result = res
	parent.Merged, _ = json.Marshal(res)
	parent.Verdict, parent.Transmission = res.Verdict, tr

	failed := len(o.Reviewers) - finished
	switch {
	case ctx.Err() != nil:
		finish(jobs.StatusCancelled, string(sdk.CodeCancelled), "review cancelled")
		out.Exit = exitcode.Cancelled
	case blocked == len(o.Reviewers):
		finish(jobs.StatusFailed, review.CodeWorkloadBlocked, fmt.Sprintf("all %d reviewers were blocked by admission", blocked))
		out.Exit = exitcode.Blocked
	case failed > 0 && !(o.AllowPartial && finished > 0):
		finish(jobs.StatusFailed, CodeIncomplete, fmt.Sprintf("%d of %d reviewers did not finish: %s", failed, len(o.Reviewers), failedNames(res)))
		out.Exit = exitcode.Provider
	default:
		finish(jobs.StatusCompleted, "", "")
		out.Exit = exitcode.OK
	}
	return out
}

// maxBuildBytes caps the packet's memory before any route's budget is
// checked; it is far above any sensible budget (as review's own cap).
const maxBuildBytes = 64 << 20

func getenv(f func(string) string) func(string) string {
	if f == nil {
		return os.Getenv
	}
	return f
}

// openParent continues the queued parent o.JobID or makes a new one, with
// its lock held.
func openParent(st *jobs.Store, o Options) (*jobs.Record, *jobs.Lock, error) {
	names := make([]string, len(o.Reviewers))
	for i, rv := range o.Reviewers {
		names[i] = rv.Name()
	}
	if o.JobID != "" {
		rec, err := st.Get(o.JobID)
		if err != nil {
			return nil, nil, err
		}
		if rec.Status != jobs.StatusQueued {
			return nil, nil, fmt.Errorf("job %s is %s, not queued: it has already run", rec.JobID, rec.Status)
		}
		rec.Kind, rec.Provider = jobs.KindFanout, strings.Join(names, ",")
		return rec, o.Lock, nil
	}
	id, lock, err := lockNew(st)
	if err != nil {
		return nil, nil, err
	}
	rec := &jobs.Record{JobID: id, Kind: jobs.KindFanout, Provider: strings.Join(names, ","),
		Status: jobs.StatusQueued, Transmission: jobs.NotSent, StartedAt: time.Now().UTC()}
	if err := st.Put(rec); err != nil {
		lock.Release()
		return nil, nil, err
	}
	return rec, lock, nil
}

// queueChild persists a reviewer's job as queued, its lock held by this
// process (which `cancel` then signals).
func queueChild(st *jobs.Store, parent string, rv Reviewer) (string, *jobs.Lock, error) {
	id, lock, err := lockNew(st)
	if err != nil {
		return "", nil, err
	}
	rec := &jobs.Record{JobID: id, Parent: parent, Provider: rv.Provider, Route: rv.Route,
		Status: jobs.StatusQueued, Transmission: jobs.NotSent, StartedAt: time.Now().UTC()}
	if err := st.Put(rec); err != nil {
		lock.Release()
		return "", nil, err
	}
	return id, lock, nil
}

// lockNew takes the lock of a new job id, naming this process as the one
// that runs it. The lock comes before the record: no reader ever sees the
// job queued with its lock free (which would read as dead).
func lockNew(st *jobs.Store) (string, *jobs.Lock, error) {
	id := jobs.NewID()
	lock, err := st.Lock(id)
	if err != nil {
		return "", nil, fmt.Errorf("cannot save job %s: %w", id, err)
	}
	if p, err := procid.Capture(os.Getpid()); err == nil {
		lock.SetWorker(jobs.Worker{PID: p.PID, StartTime: p.StartTime, Argv0: p.Argv0})
	}
	return id, lock, nil
}

// failure is one line saying why a reviewer did not finish: its error code
// and message as its record has them (a blocked one's counts only), which
// do not repeat the reviewer's name.
func failure(rec *jobs.Record, err error) string {
	var re *review.Error
	switch {
	case rec != nil && rec.ErrorCode != "":
		return rec.ErrorCode + ": " + rec.ErrorMessage
	case errors.As(err, &re):
		return re.Code + ": " + re.Msg
	case err != nil:
		return err.Error()
	}
	return "did not finish"
}

// failQueued records a child that never left the queue as failed, and
// lets its lock go.
func failQueued(st *jobs.Store, id string, lock *jobs.Lock, msg string) *jobs.Record {
	defer lock.Release()
	rec, err := st.Get(id)
	if err != nil {
		return nil
	}
	rec.Status, rec.ErrorCode, rec.ErrorMessage, rec.Transmission = jobs.StatusFailed, string(sdk.CodeInternal), msg, jobs.NotSent
	rec.FinishedAt = time.Now().UTC()
	st.Put(rec)
	return rec
}

func failedNames(r *findings.Result) string {
	names := make([]string, len(r.Failures))
	for i, f := range r.Failures {
		names[i] = f.Reviewer
	}
	return strings.Join(names, ", ")
}

// moreSent is the parent's transmission: sent if any child's source left,
// else may_be_sent if any child's may have, else not_sent.
func moreSent(a, b jobs.Transmission) jobs.Transmission {
	rank := map[jobs.Transmission]int{jobs.NotSent: 0, jobs.MayBeSent: 1, jobs.Sent: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
