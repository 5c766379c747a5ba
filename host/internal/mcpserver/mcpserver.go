// Package mcpserver is `relay-host mcp`: relay-host's reviews as MCP tools
// (the official Go SDK, github.com/modelcontextprotocol/go-sdk) for coding
// agents that ask for a second opinion in the middle of their work.
//
// A client caps a tool call at about a minute and a real review takes
// minutes, so `review` waits at most wait_seconds and otherwise returns the
// job id at once; review_status, review_result and review_cancel follow
// that job later. The SDK (v1.8.0) has no MCP Tasks (spec 2025-11-25;
// experimental on its roadmap), so the job id is the only way.
//
// Invariants:
//   - A review runs in this server process, in a goroutine that outlives
//     the tool call but not the server: when the server stops (the client
//     closed stdio, or a signal), every review it runs is cancelled, its
//     plugin stopped and its lease released before Shutdown returns. No
//     work outlives its lease, and no job is orphaned with its lock free.
//   - Tool inputs name nothing but reviewers, git refs, pathspecs and
//     prompt text: no config file, plugin path, lock root, endpoint or
//     environment variable (every input schema has additionalProperties
//     false). The repository is the server's working directory, or the
//     one root the client declared (see repository).
//   - Everything a tool returns has passed the scrubber (Backend.Scrub),
//     and an error is an isError result of one line.
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/relay-host/relay-host/host/internal/findings"
)

// DefaultWait is how long `review` and `review_result` wait before they
// return a job id: under the ~60 s most clients allow a tool call.
const DefaultWait = 50 * time.Second

// rootsDeprecated is the first protocol version without roots/list
// during a request (versions are dates, so they compare as strings).
const rootsDeprecated = "2026-07-28"

// maxWait bounds wait_seconds: a longer call would be cut by the client.
const maxWait = 10 * time.Minute

// ReviewRequest is a review as the tool asked for it, after its checks.
type ReviewRequest struct {
	// Dir is the repository: the client's one root, or "" for the
	// server's working directory.
	Dir           string
	Providers     []string
	Base          string
	Staged        bool
	Paths         []string
	Prompt        string
	ConfirmResend bool
}

// Started is a review the backend accepted: its job id, and Run, which
// runs it to the end (ctx cancels it) and returns its outcome.
type Started struct {
	JobID string
	Run   func(ctx context.Context, status func(string)) *ReviewOutput
}

// Backend is what the tools do; package cli implements it over the review
// pipeline, the fan-out and the job store.
type Backend struct {
	Name, Version string
	// Dir is the server's working directory, where reviews run unless the
	// client declared one root elsewhere.
	Dir string
	// AllowResend lets a tool call pass confirm_resend (--allow-resend).
	AllowResend bool
	// Start checks a review and records its job (queued, its lock held);
	// an error is the one line the review would have failed with.
	Start func(ctx context.Context, r ReviewRequest) (*Started, error)
	// Record is what the job store says about a job (any job, not only
	// this server's), as a result; done reports whether it finished.
	Record func(id string) (out *ReviewOutput, done bool, err error)
	// Wait blocks until a job this server does not run finishes, or ctx ends.
	Wait      func(ctx context.Context, id string) error
	Capacity  func(ctx context.Context) (*CapacityOutput, error)
	Providers func(ctx context.Context) (*ProvidersOutput, error)
	// Scrub is the sanitizer every string returned passes through.
	Scrub func(string) string
}

// ReviewIn is the review tool's input.
type ReviewIn struct {
	Providers     []string `json:"providers,omitempty" jsonschema:"reviewers: provider or provider/route names as relay-host providers lists them, e.g. claude or apireviewer/deepseek; default: relay.hcl's reviewers"`
	Base          string   `json:"base,omitempty" jsonschema:"review what the branch changes since its merge base with this git ref (default: the uncommitted changes)"`
	Staged        bool     `json:"staged,omitempty" jsonschema:"review the staged changes only"`
	Paths         []string `json:"paths,omitempty" jsonschema:"git pathspecs limiting the packet, inside the repository"`
	Prompt        string   `json:"prompt,omitempty" jsonschema:"the review prompt itself, as text (never a file name); default: the built-in prompt"`
	WaitSeconds   *int     `json:"wait_seconds,omitempty" jsonschema:"seconds to wait for the review before returning its job id (default 50, at most 600)"`
	ConfirmResend bool     `json:"confirm_resend,omitempty" jsonschema:"send even though an earlier attempt may already have sent this packet; refused unless the server was started with --allow-resend"`
}

// JobIn names a job.
type JobIn struct {
	JobID string `json:"job_id" jsonschema:"the job id review returned"`
}

// ResultIn names a job and how long to wait for it.
type ResultIn struct {
	JobID       string `json:"job_id" jsonschema:"the job id review returned"`
	WaitSeconds *int   `json:"wait_seconds,omitempty" jsonschema:"seconds to wait for the review to finish (default 50, at most 600)"`
}

// NoIn is the input of a tool that takes none.
type NoIn struct{}

// ReviewerStatus is one reviewer of a review.
type ReviewerStatus struct {
	Reviewer  string `json:"reviewer"`
	JobID     string `json:"job_id,omitempty"`
	Status    string `json:"status"`
	ErrorCode string `json:"error_code,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ReviewOutput is a review: running (job id and status only), or finished
// with its verdict, merged findings and each reviewer's status.
type ReviewOutput struct {
	JobID        string           `json:"job_id"`
	Status       string           `json:"status" jsonschema:"queued, running, completed, failed or cancelled"`
	State        string           `json:"state,omitempty" jsonschema:"what a running review is doing, e.g. waiting for a slot"`
	Verdict      string           `json:"verdict,omitempty" jsonschema:"approve, request_changes or missing, once finished"`
	Transmission string           `json:"source_content_transmission,omitempty"`
	ErrorCode    string           `json:"error_code,omitempty"`
	Error        string           `json:"error,omitempty"`
	Reviewers    []ReviewerStatus `json:"reviewers,omitempty"`
	Findings     *findings.Result `json:"findings,omitempty" jsonschema:"the merged findings, with attribution"`
	Review       string           `json:"review,omitempty" jsonschema:"a single review's text when it has no merged findings"`
}

// CancelOutput is what review_cancel did.
type CancelOutput struct {
	JobID        string `json:"job_id"`
	Status       string `json:"status"`
	Transmission string `json:"source_content_transmission,omitempty"`
}

// CapacityRow is one route's slots in use (counts only).
type CapacityRow struct {
	Provider    string `json:"provider"`
	Route       string `json:"route"`
	ActiveCount int    `json:"active_count"`
	Limit       int    `json:"limit"`
	Backend     string `json:"backend"`
}

// CapacityOutput is every usable route's slots.
type CapacityOutput struct {
	Routes []CapacityRow `json:"routes"`
	// Unreadable are the providers or routes whose slots could not be read.
	Unreadable []string `json:"unreadable,omitempty"`
}

// RouteInfo is one route as `relay-host providers` lists it.
type RouteInfo struct {
	Route       string `json:"route"`
	Fact        string `json:"fact,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	LimitSource string `json:"limit_source,omitempty"`
	Backend     string `json:"backend"`
	Usable      bool   `json:"usable"`
	Reason      string `json:"reason,omitempty" jsonschema:"why the route is not usable"`
}

// ProviderInfo is one provider.
type ProviderInfo struct {
	Provider  string      `json:"provider"`
	Installed bool        `json:"installed"`
	Version   string      `json:"version,omitempty"`
	Usable    bool        `json:"usable"`
	Reason    string      `json:"reason,omitempty"`
	Routes    []RouteInfo `json:"routes"`
}

// ProvidersOutput is every provider relay.hcl declares.
type ProvidersOutput struct {
	Providers []ProviderInfo `json:"providers"`
}

// Server is the MCP server and the reviews it runs.
type Server struct {
	b   Backend
	srv *mcp.Server

	// base is cancelled when the server stops; every review runs under it.
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu   sync.Mutex
	jobs map[string]*job
}

// job is a review this server runs.
type job struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}
	out    *ReviewOutput // set before done closes

	mu       sync.Mutex
	state    string
	watchers map[*watcher]struct{}
}

// watcher is a tool call that forwards a job's states as progress.
type watcher struct {
	notify func(string)
}

func (j *job) setState(s string) {
	j.mu.Lock()
	j.state = s
	ws := make([]*watcher, 0, len(j.watchers))
	for w := range j.watchers {
		ws = append(ws, w)
	}
	j.mu.Unlock()
	for _, w := range ws {
		w.notify(s)
	}
}

func (j *job) watch(notify func(string)) (state string, unwatch func()) {
	w := &watcher{notify: notify}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.watchers[w] = struct{}{}
	return j.state, func() {
		j.mu.Lock()
		delete(j.watchers, w)
		j.mu.Unlock()
	}
}

// New makes the server and its tools.
func New(b Backend) *Server {
	s := &Server{b: b, jobs: map[string]*job{}}
	s.base, s.stop = context.WithCancel(context.Background())
	s.srv = mcp.NewServer(&mcp.Implementation{Name: b.Name, Version: b.Version}, &mcp.ServerOptions{
		Instructions: "relay-host sends the repository's current changes to AI reviewers under bounded, crash-safe admission. " +
			"Call review; if it returns a job_id with status running, call review_result with that job_id later.",
		Capabilities: &mcp.ServerCapabilities{},
	})
	out := reviewSchema()
	mcp.AddTool(s.srv, &mcp.Tool{Name: "review", OutputSchema: out, Description: "Review the current changes of the server's git repository with one or more reviewers and return the verdict and merged findings, or a job_id if the review takes longer than wait_seconds."}, s.review)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "review_status", OutputSchema: out, Description: "The status of a review job, without waiting."}, s.status)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "review_result", OutputSchema: out, Description: "Wait up to wait_seconds for a review job and return its verdict and merged findings, or its status if it still runs."}, s.result)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "review_cancel", Description: "Cancel a review job this server runs."}, s.cancel)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "capacity", Description: "Reviews in flight and the limit of each route (counts only)."}, s.capacity)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "providers", Description: "Every provider and route: capability fact, effective limit, and whether it is usable and why not."}, s.providers)
	return s
}

// reviewSchema is ReviewOutput's schema. A severity is written by name
// (findings.Severity.MarshalJSON), which inference from its int type
// cannot know.
func reviewSchema() *jsonschema.Schema {
	sch, err := jsonschema.For[ReviewOutput](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		reflect.TypeFor[findings.Severity](): {Type: "string", Enum: []any{"info", "low", "medium", "high"}},
	}})
	if err != nil {
		panic("mcpserver: ReviewOutput has no JSON schema: " + err.Error())
	}
	return sch
}

// MCP is the SDK server, for a transport.
func (s *Server) MCP() *mcp.Server { return s.srv }

// Shutdown cancels every review this server runs and waits until each has
// recorded its outcome and released its lease.
func (s *Server) Shutdown() {
	s.stop()
	s.wg.Wait()
}

// toolError is an isError result: one scrubbed line.
func (s *Server) toolError(format string, args ...any) error {
	msg := s.b.Scrub(fmt.Sprintf(format, args...))
	return errors.New(strings.Join(strings.Fields(msg), " "))
}

func (s *Server) review(ctx context.Context, req *mcp.CallToolRequest, in ReviewIn) (*mcp.CallToolResult, *ReviewOutput, error) {
	wait, err := waitFor(in.WaitSeconds)
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	if in.ConfirmResend && !s.b.AllowResend {
		return nil, nil, s.toolError("confirm_resend is refused: this server was not started with --allow-resend; ask the user to run relay-host review --confirm-resend themselves")
	}
	if in.Staged && in.Base != "" {
		return nil, nil, s.toolError("staged and base exclude each other: pass one")
	}
	dir, err := s.repository(ctx, req)
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	st, err := s.b.Start(ctx, ReviewRequest{Dir: dir, Providers: in.Providers, Base: in.Base, Staged: in.Staged,
		Paths: in.Paths, Prompt: in.Prompt, ConfirmResend: in.ConfirmResend})
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	j := s.run(st)
	return s.await(ctx, req, j, wait)
}

// repository is where a review runs: the server's working directory,
// unless the client declared roots (its workspace, configured by the user,
// not a tool argument) and the working directory is in none of them; then
// the one root that is a local directory. Several such roots are an
// error: which one to review would be a guess.
func (s *Server) repository(ctx context.Context, req *mcp.CallToolRequest) (string, error) {
	p := req.Session.InitializeParams()
	//lint:ignore SA1019 roots are how clients before protocol 2026-07-28 (all of today's agents) name their workspace
	if p == nil || p.Capabilities == nil || p.Capabilities.RootsV2 == nil {
		return "", nil
	}
	// From protocol 2026-07-28 roots are deprecated and a server may not
	// ask for them while it serves a call (SEP-2322): the working
	// directory is the repository.
	if req.ProtocolVersion() >= rootsDeprecated {
		return "", nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	//lint:ignore SA1019 as above: only asked of clients on a protocol that has roots
	res, err := req.Session.ListRoots(lctx, nil)
	if err != nil {
		return "", fmt.Errorf("cannot list the client's roots: %v", err)
	}
	var dirs []string
	for _, r := range res.Roots {
		u, err := url.Parse(r.URI)
		if err != nil || u.Scheme != "file" || u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) {
			continue
		}
		d := filepath.Clean(u.Path)
		if rel, err := filepath.Rel(d, s.b.Dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return "", nil // the working directory is in the client's workspace
		}
		dirs = append(dirs, d)
	}
	switch len(dirs) {
	case 0:
		return "", nil
	case 1:
		return dirs[0], nil
	}
	return "", fmt.Errorf("the client declared %d roots and relay-host reviews one repository: start relay-host mcp in the one to review", len(dirs))
}

// run starts a job's review under the server's context.
func (s *Server) run(st *Started) *job {
	ctx, cancel := context.WithCancel(s.base)
	j := &job{id: st.JobID, cancel: cancel, done: make(chan struct{}), state: "starting", watchers: map[*watcher]struct{}{}}
	s.mu.Lock()
	s.jobs[j.id] = j
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		out := st.Run(ctx, j.setState)
		if out == nil {
			out = &ReviewOutput{JobID: j.id, Status: "failed", Error: "the review ended without an outcome"}
		}
		j.out = out
		close(j.done)
	}()
	return j
}

// await waits up to wait for a job of this server, forwarding its states
// as progress notifications, and returns its outcome or its status.
func (s *Server) await(ctx context.Context, req *mcp.CallToolRequest, j *job, wait time.Duration) (*mcp.CallToolResult, *ReviewOutput, error) {
	notify := progress(ctx, req)
	state, unwatch := j.watch(notify)
	defer unwatch()
	notify(state)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-j.done:
		return s.finished(j.out)
	case <-t.C:
	case <-ctx.Done():
	}
	j.mu.Lock()
	state = j.state
	j.mu.Unlock()
	return nil, s.scrubbed(&ReviewOutput{JobID: j.id, Status: "running", State: state}), nil
}

// finished is a finished review's result. One that no reviewer finished
// (blocked, failed, cancelled) is an isError result of one line, naming
// each reviewer's reason (a blocked one's is counts only); one that some
// reviewer finished is structured content, its failures listed in it.
func (s *Server) finished(out *ReviewOutput) (*mcp.CallToolResult, *ReviewOutput, error) {
	out = s.scrubbed(out)
	if out.Status == "completed" || out.Findings != nil && len(out.Findings.Reviewers) > 0 {
		return nil, out, nil
	}
	var why []string
	for _, r := range out.Reviewers {
		if r.Error != "" {
			why = append(why, r.Reviewer+": "+r.Error)
		}
	}
	if len(why) == 0 {
		why = append(why, out.Error)
	}
	return nil, nil, s.toolError("job %s %s: %s", out.JobID, out.Status, strings.Join(why, "; "))
}

// progress returns a function that sends each state as a progress
// notification on the call's token (none when the client sent no token).
func progress(ctx context.Context, req *mcp.CallToolRequest) func(string) {
	tok := req.Params.GetProgressToken()
	if tok == nil || req.Session == nil {
		return func(string) {}
	}
	var mu sync.Mutex
	n := 0.0
	last := ""
	return func(state string) {
		mu.Lock()
		defer mu.Unlock()
		if state == "" || state == last {
			return
		}
		last = state
		n++
		req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: n, Message: state})
	}
}

func (s *Server) lookup(id string) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[id]
}

func (s *Server) status(ctx context.Context, req *mcp.CallToolRequest, in JobIn) (*mcp.CallToolResult, *ReviewOutput, error) {
	if j := s.lookup(in.JobID); j != nil {
		select {
		case <-j.done:
			return s.finished(j.out)
		default:
		}
		j.mu.Lock()
		state := j.state
		j.mu.Unlock()
		out, _, err := s.b.Record(in.JobID)
		if err != nil {
			return nil, nil, s.toolError("%v", err)
		}
		out.State = state
		return nil, s.scrubbed(out), nil
	}
	out, _, err := s.b.Record(in.JobID)
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	return nil, s.scrubbed(out), nil
}

func (s *Server) result(ctx context.Context, req *mcp.CallToolRequest, in ResultIn) (*mcp.CallToolResult, *ReviewOutput, error) {
	wait, err := waitFor(in.WaitSeconds)
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	if j := s.lookup(in.JobID); j != nil {
		return s.await(ctx, req, j, wait)
	}
	// Another process's job (a CLI review, another session's server):
	// follow it through the job store.
	if _, _, err := s.b.Record(in.JobID); err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	s.b.Wait(wctx, in.JobID)
	out, done, err := s.b.Record(in.JobID)
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	if done {
		return s.finished(out)
	}
	return nil, s.scrubbed(out), nil
}

func (s *Server) cancel(ctx context.Context, req *mcp.CallToolRequest, in JobIn) (*mcp.CallToolResult, *CancelOutput, error) {
	j := s.lookup(in.JobID)
	if j == nil {
		out, done, err := s.b.Record(in.JobID)
		switch {
		case err != nil:
			return nil, nil, s.toolError("%v", err)
		case done:
			return nil, &CancelOutput{JobID: out.JobID, Status: out.Status, Transmission: out.Transmission}, nil
		}
		return nil, nil, s.toolError("job %s is not run by this server: cancel it with relay-host cancel %s", in.JobID, in.JobID)
	}
	j.cancel()
	select {
	case <-j.done:
	case <-ctx.Done():
		return nil, nil, s.toolError("job %s: asked to stop; it has not recorded an outcome yet", in.JobID)
	}
	return nil, &CancelOutput{JobID: j.id, Status: j.out.Status, Transmission: j.out.Transmission}, nil
}

func (s *Server) capacity(ctx context.Context, req *mcp.CallToolRequest, _ NoIn) (*mcp.CallToolResult, *CapacityOutput, error) {
	out, err := s.b.Capacity(ctx)
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	return nil, scrub(out, s.b.Scrub), nil
}

func (s *Server) providers(ctx context.Context, req *mcp.CallToolRequest, _ NoIn) (*mcp.CallToolResult, *ProvidersOutput, error) {
	out, err := s.b.Providers(ctx)
	if err != nil {
		return nil, nil, s.toolError("%v", err)
	}
	return nil, scrub(out, s.b.Scrub), nil
}

func (s *Server) scrubbed(out *ReviewOutput) *ReviewOutput { return scrub(out, s.b.Scrub) }

// waitFor reads wait_seconds.
func waitFor(sec *int) (time.Duration, error) {
	if sec == nil {
		return DefaultWait, nil
	}
	d := time.Duration(*sec) * time.Second
	if d < 0 || d > maxWait {
		return 0, fmt.Errorf("wait_seconds must be between 0 and %d", int(maxWait/time.Second))
	}
	return d, nil
}

// scrub passes every string of v through f: v is turned into JSON values,
// each string scrubbed, and read back. Whatever a result holds, and
// however it was built, nothing leaves unscrubbed.
func scrub[T any](v *T, f func(string) string) *T {
	out := new(T)
	var tree any
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, &tree)
	}
	if err == nil {
		data, err = json.Marshal(walk(tree, f))
	}
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		// Fail closed: nothing rather than something unscrubbed.
		return new(T)
	}
	return out
}

func walk(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = walk(x[i], f)
		}
	case map[string]any:
		for k := range x {
			x[k] = walk(x[k], f)
		}
	}
	return v
}
