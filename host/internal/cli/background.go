package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/relay-host/relay-host/sdk"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/admission/procid"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/fanout"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
)

// workerCmd is the hidden command a background job runs in.
const workerCmd = "__worker"

// requestExt is the sidecar that carries a background job's options to its
// worker: 0600 in the private job store, read and removed by the worker.
// Its name has a dot in the id part, so the store never lists it.
const requestExt = ".request.json"

func openStore(g *Globals) (*jobs.Store, error) {
	dir, err := jobs.DefaultDir(g.IO.Getenv)
	if err != nil {
		return nil, exit(exitcode.Usage, "%v", err)
	}
	st, err := jobs.Open(dir)
	if err != nil {
		return nil, exit(exitcode.Usage, "%v", err)
	}
	return st, nil
}

// startBackground persists the job as queued, makes every check a
// foreground review makes before it takes a slot (git repository, plugin,
// route, configuration, capability fact, packet budget, prompt, resend
// guard) and fails as the foreground would, then starts a detached worker,
// records the worker's identity for `cancel`, and prints the job id.
//
// The checks launch the plugin here: the route, its budget and its fact are
// only known from the plugin's Describe, and a check without them would let
// an unknown route or an oversized packet through. It costs one more plugin
// start (milliseconds); the worker checks everything again on what it sends.
//
// Several reviewers make a fan-out parent record instead; its worker makes
// the children and records each reviewer's failure as the foreground would.
func startBackground(ctx context.Context, o *ReviewOptions, cfg *config.Config, rvs []fanout.Reviewer) error {
	g := o.g
	if g.IO.SelfExe == "" {
		return exit(exitcode.Usage, "cannot locate the relay-host-core binary to start a background worker; run without --background")
	}
	st, err := openStore(g)
	if err != nil {
		return err
	}
	defer st.Close()
	req := *o
	if req.Dir == "" {
		if req.Dir, err = os.Getwd(); err != nil {
			return exit(exitcode.Usage, "cannot read the current directory: %v", err)
		}
	}
	req.Config, req.LogFile = absOrEmpty(g.Config), absOrEmpty(g.LogFile)
	req.PromptFile = absOrEmpty(o.PromptFile)

	rec := &jobs.Record{JobID: jobs.NewID(), Provider: o.Provider, Route: o.Route,
		Status: jobs.StatusQueued, Transmission: jobs.NotSent, StartedAt: time.Now().UTC()}
	several := len(rvs) > 1
	if several {
		// The worker gets the reviewers as resolved here (--all and
		// relay.hcl's list included), not a rule to resolve them again.
		names := make([]string, len(rvs))
		for i, rv := range rvs {
			names[i] = rv.Name()
		}
		req.Provider, req.Route, req.All = strings.Join(names, ","), "", false
		rec.Kind, rec.Provider, rec.Route = jobs.KindFanout, req.Provider, ""
	}
	// The job lock is taken before the queued record exists and handed to
	// the worker as an inherited descriptor, so the job is never visible
	// with its lock free (which reads as a dead worker).
	lock, err := st.Lock(rec.JobID)
	if err != nil {
		return exit(exitcode.Usage, "cannot save job: %v", err)
	}
	defer lock.Close() // once the worker holds it, this process lets go
	if err := st.Put(rec); err != nil {
		lock.Release()
		return exit(exitcode.IOErr, "cannot save job: %v", err)
	}
	if several {
		// The children are made by the worker, which checks each route as
		// the foreground does; the packet is checked here, so that a
		// directory that is no repository, or a change with nothing to
		// review, fails now and not in the background.
		if _, err := review.Build(ctx, cfg, req.Dir, o.mode(), o.Base, o.Paths, maxPacketBytes); err != nil {
			code := packet.CodeGitFailed
			var pe *packet.Error
			if errors.As(err, &pe) {
				code = pe.Code
			}
			markFailed(st, rec.JobID, code, err.Error())
			lock.Release()
			return exit(exitcode.Usage, "%v", err)
		}
	} else {
		check := *o
		check.jobID, check.prepare, check.jobLock = rec.JobID, true, lock
		if err := check.execute(ctx, cfg); err != nil {
			return err // the record says failed, as a foreground attempt's would
		}
	}
	data, _ := json.Marshal(&req)
	if err := writePrivate(filepath.Join(st.Dir(), rec.JobID+requestExt), data); err != nil {
		markFailed(st, rec.JobID, review.CodeJobStoreFailed, "could not hand the job to a background worker")
		return exit(exitcode.Usage, "cannot save the job's options: %v", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return exit(exitcode.Usage, "%v", err)
	}
	defer devnull.Close()
	cmd := exec.Command(g.IO.SelfExe, workerCmd, rec.JobID)
	cmd.Dir = req.Dir
	cmd.Env = g.IO.Environ()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{lock.File()} // fd 3 in the worker: workerLockFD
	// Its own session: the terminal's hangup and Ctrl-C do not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		os.Remove(filepath.Join(st.Dir(), rec.JobID+requestExt))
		markFailed(st, rec.JobID, string(sdk.CodeInternal), "the background worker could not be started")
		lock.Release()
		return exit(exitcode.Usage, "cannot start a background worker: %v", err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	// Identity is captured now, while the pid certainly names our worker
	// (it is our child and we have not waited for it). Right after exec its
	// /proc entry can briefly show no command line: look again for a moment.
	var info procid.Info
	var cerr error
	for try := 0; try < 50; try++ {
		if info, cerr = procid.Capture(pid); cerr == nil && info.StartTime != "" && info.Argv0 != "" {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if cerr == nil {
		if err := lock.SetWorker(jobs.Worker{PID: info.PID, StartTime: info.StartTime, Argv0: info.Argv0}); err != nil {
			fmt.Fprintf(g.IO.Err, "relay-host: job %s started, but cannot record its worker (cancel will not work): %v\n", rec.JobID, err)
		}
	}
	if o.JSON {
		printJSON(g.IO.Out, rec)
	} else {
		fmt.Fprintln(g.IO.Out, rec.JobID)
		fmt.Fprintf(g.IO.Err, "relay-host: review running in the background; see relay-host show %s\n", rec.JobID)
	}
	return nil
}

func absOrEmpty(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func readPrivate(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

func newWorkerCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:    workerCmd + " <job-id>",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWorker(g, args[0])
		},
	}
}

// workerLockFD is the descriptor a worker inherits its job's lock on.
const workerLockFD = 3

// runWorker runs a background job. Its stderr is /dev/null, so failures
// are only recorded; --log-file (passed on) gets the logs.
func runWorker(g *Globals, id string) error {
	st, err := openStore(g)
	if err != nil {
		return err
	}
	lock, err := st.Inherit(id, os.NewFile(workerLockFD, "job-lock"))
	if err != nil {
		// Without the lock the job would read as dead while it ran.
		markFailed(st, id, string(sdk.CodeInternal), "the background worker did not get the job's lock")
		return exit(exitcode.Usage, "job %s: %v", id, err)
	}
	defer lock.Release() // after the pipeline has recorded the outcome
	path := filepath.Join(st.Dir(), id+requestExt)
	data, err := readPrivate(path)
	os.Remove(path)
	var o ReviewOptions
	if err == nil {
		err = json.Unmarshal(data, &o)
	}
	if err != nil || filepath.Base(id) != id {
		markFailed(st, id, string(sdk.CodeInternal), "the background job's options could not be read")
		return exit(exitcode.Usage, "job %s: cannot read its options", id)
	}
	st.Close()
	o.g, o.jobID, o.jobLock = g, id, lock
	g.Config, g.LogFile = o.Config, o.LogFile
	if err := runReview(context.Background(), &o); err != nil {
		// Whatever happened before the pipeline took the job over.
		if st, e := openStore(g); e == nil {
			var ee *exitError
			msg := "the background job failed before it started"
			if errors.As(err, &ee) && ee.msg != "" {
				msg = ee.msg
			}
			markFailed(st, id, string(sdk.CodeConfigInvalid), msg)
			st.Close()
		}
		return err
	}
	return nil
}
