package cli

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/admission/procid"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/fanout"
	"github.com/relay-host/relay-host/host/internal/findings"
	"github.com/relay-host/relay-host/host/internal/hostlog"
	"github.com/relay-host/relay-host/host/internal/mcpserver"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
)

// MCPOptions are `relay-host mcp`'s flags.
type MCPOptions struct {
	g           *Globals
	HTTP        string
	ListenAny   bool
	TokenEnv    string
	AllowResend bool
}

func newMCPCmd(g *Globals) *cobra.Command {
	o := &MCPOptions{g: g}
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve reviews as MCP tools for coding agents (stdio, or --http)",
		Long: `Run an MCP server whose tools review the current directory's git repository:
review, review_status, review_result, review_cancel, capacity and providers.
It speaks stdio by default; --http ADDR serves Streamable HTTP at
http://ADDR/mcp instead, on a loopback address unless --listen-any (which
needs --token-env: clients then send "Authorization: Bearer <token>").

A review runs in this process: one that takes longer than the call's
wait_seconds returns its job id, and keeps running until it finishes, is
cancelled (review_cancel), or this server stops, which cancels it and
releases its slot.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMCP(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.HTTP, "http", "", "serve Streamable HTTP on `ADDR` (127.0.0.1:PORT) instead of stdio")
	f.BoolVar(&o.ListenAny, "listen-any", false, "with --http, allow an address that is not loopback (needs --token-env)")
	f.StringVar(&o.TokenEnv, "token-env", "", "with --http, require the bearer token held by the environment variable `NAME`")
	f.BoolVar(&o.AllowResend, "allow-resend", false, "let a tool call pass confirm_resend (send a packet an earlier attempt may already have sent)")
	return cmd
}

func runMCP(ctx context.Context, o *MCPOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	g := o.g
	token := ""
	if o.TokenEnv != "" {
		if token = g.IO.Getenv(o.TokenEnv); token == "" {
			return exit(exitcode.Usage, "--token-env %s: that environment variable is empty; set it to the bearer token clients will send", o.TokenEnv)
		}
	}
	var ln net.Listener
	switch {
	case o.HTTP == "" && (o.ListenAny || o.TokenEnv != ""):
		return exit(exitcode.Usage, "--listen-any and --token-env go with --http")
	case o.HTTP != "":
		host, _, err := net.SplitHostPort(o.HTTP)
		if err != nil {
			return exit(exitcode.Usage, "--http %s: %v: write 127.0.0.1:PORT", o.HTTP, err)
		}
		ip := net.ParseIP(host)
		loopback := host == "localhost" || ip != nil && ip.IsLoopback()
		if !loopback && !o.ListenAny {
			return exit(exitcode.Usage, "--http %s is not a loopback address: use 127.0.0.1:PORT, or pass --listen-any with --token-env", o.HTTP)
		}
		if !loopback && token == "" {
			return exit(exitcode.Usage, "--listen-any needs --token-env NAME: anyone who can reach the port could send your code for review")
		}
		if ln, err = net.Listen("tcp", o.HTTP); err != nil {
			return exit(exitcode.Usage, "--http %s: %v", o.HTTP, err)
		}
		defer ln.Close()
	}
	cfg, logs, err := g.open("")
	if err != nil {
		return err
	}
	defer logs.Close()
	dir, err := os.Getwd()
	if err != nil {
		return exit(exitcode.Usage, "cannot read the current directory: %v", err)
	}
	b := &mcpBackend{g: g, cfg: cfg, logs: logs, dir: dir}
	srv := mcpserver.New(mcpserver.Backend{
		Name: "relay-host", Version: g.Version, Dir: dir, AllowResend: o.AllowResend,
		Start: b.start, Record: b.record, Wait: b.wait, Capacity: b.capacity, Providers: b.providers,
		Scrub: logs.Scrubber.Review,
	})
	// Reviews are cancelled, and their slots released, before this returns.
	defer srv.Shutdown()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if ln == nil {
		err := srv.MCP().Run(ctx, &mcp.StdioTransport{})
		if err != nil && ctx.Err() == nil && !errors.Is(err, mcp.ErrConnectionClosed) {
			logs.Host.Warn("MCP session ended", "error", logs.Scrubber.Message(err.Error()))
		}
		return nil
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv.MCP() }, nil)
	mux := http.NewServeMux()
	// A web page the user visits can reach a loopback port: requests a
	// browser sends cross-origin are refused (the SDK already refuses a
	// loopback request whose Host is not loopback: DNS rebinding).
	mux.Handle("/mcp", bearer(token, http.NewCrossOriginProtection().Handler(h)))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(g.IO.Err, "relay-host: MCP server on http://%s/mcp\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return exit(exitcode.Failure, "--http: %v", err)
	}
	return nil
}

// bearer requires "Authorization: Bearer token" when token is not "".
func bearer(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "relay-host: missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// mcpBackend is the MCP tools over the review pipeline, the fan-out and
// the job store: the configuration is the server's, read once at start.
type mcpBackend struct {
	g    *Globals
	cfg  *config.Config
	logs *hostlog.Logs
	dir  string
}

// start resolves the reviewers as `review` does, records the job as a
// queued fan-out (one reviewer or several: the result is always merged
// findings), with its lock held, and checks that the packet builds, so
// that a directory with no repository or nothing to review fails the call.
func (b *mcpBackend) start(ctx context.Context, r mcpserver.ReviewRequest) (*mcpserver.Started, error) {
	if r.Prompt != "" {
		if _, _, err := packet.PromptText(r.Prompt); err != nil {
			return nil, err
		}
	}
	dir := b.dir
	if r.Dir != "" {
		dir = r.Dir
	}
	o := &ReviewOptions{g: b.g, Provider: strings.Join(r.Providers, ","), Base: r.Base, Staged: r.Staged, Paths: r.Paths}
	rvs, err := o.targets(ctx, b.cfg)
	if err != nil {
		return nil, err
	}
	st, err := openStore(b.g)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	names := make([]string, len(rvs))
	for i, rv := range rvs {
		names[i] = rv.Name()
	}
	rec := &jobs.Record{JobID: jobs.NewID(), Kind: jobs.KindFanout, Provider: strings.Join(names, ","),
		Status: jobs.StatusQueued, Transmission: jobs.NotSent, StartedAt: time.Now().UTC()}
	lock, err := st.Lock(rec.JobID)
	if err != nil {
		return nil, fmt.Errorf("cannot save job: %v", err)
	}
	// This process runs the job, as a foreground fan-out does its own:
	// `relay-host cancel` signals it, and the server stops, cancelling
	// every review it runs first (review_cancel stops just one).
	if p, err := procid.Capture(os.Getpid()); err == nil {
		lock.SetWorker(jobs.Worker{PID: p.PID, StartTime: p.StartTime, Argv0: p.Argv0})
	}
	if err := st.Put(rec); err != nil {
		lock.Release()
		return nil, fmt.Errorf("cannot save job: %v", err)
	}
	if _, err := review.Build(ctx, b.cfg, dir, o.mode(), r.Base, r.Paths, maxPacketBytes); err != nil {
		code := packet.CodeGitFailed
		var pe *packet.Error
		if errors.As(err, &pe) {
			code = pe.Code
		}
		markFailed(st, rec.JobID, code, b.logs.Scrubber.Message(err.Error()))
		lock.Release()
		return nil, err
	}
	ro := review.Options{
		Config: b.cfg, Mode: o.mode(), BaseRef: r.Base, Paths: r.Paths, Prompt: r.Prompt, Dir: dir,
		ConfirmResend: r.ConfirmResend,
		Getenv:        b.g.IO.Getenv, Environ: b.g.IO.Environ(), SelfDir: b.g.IO.SelfDir, Logs: b.logs,
	}
	id := rec.JobID
	return &mcpserver.Started{JobID: id, Run: func(ctx context.Context, status func(string)) *mcpserver.ReviewOutput {
		ro := ro
		ro.Status = status
		res := fanout.Run(ctx, fanout.Options{Review: ro, Reviewers: rvs, JobID: id, Lock: lock})
		out, _, err := b.record(id)
		if err != nil {
			msg := err.Error()
			if res.Err != nil {
				msg = res.Err.Error()
			}
			return &mcpserver.ReviewOutput{JobID: id, Status: string(jobs.StatusFailed), Error: msg}
		}
		return out
	}}, nil
}

// record is a job as the tools return it: its status, and once finished,
// its verdict, merged findings and each reviewer's outcome. A job whose
// worker is gone is settled (worker_lost) first, as `show` does.
func (b *mcpBackend) record(id string) (*mcpserver.ReviewOutput, bool, error) {
	st, err := openStore(b.g)
	if err != nil {
		return nil, false, err
	}
	defer st.Close()
	rec, err := st.Get(id)
	if err != nil {
		return nil, false, err
	}
	if rec.Live() {
		if s, err := st.Settle(rec); err == nil {
			rec = s
		}
	}
	out := &mcpserver.ReviewOutput{JobID: rec.JobID, Status: string(rec.Status), Verdict: rec.Verdict,
		Transmission: string(rec.Transmission), ErrorCode: rec.ErrorCode, Error: rec.ErrorMessage}
	if rec.Kind != jobs.KindFanout {
		out.Reviewers = []mcpserver.ReviewerStatus{reviewerStatus(rec)}
		out.Review = rec.Review
		return out, !rec.Live(), nil
	}
	for _, cid := range rec.Children {
		c, err := st.Get(cid)
		if err != nil {
			out.Reviewers = append(out.Reviewers, mcpserver.ReviewerStatus{JobID: cid, Status: "unknown", Error: err.Error()})
			continue
		}
		out.Reviewers = append(out.Reviewers, reviewerStatus(c))
	}
	if len(rec.Merged) > 0 {
		var res findings.Result
		if json.Unmarshal(rec.Merged, &res) == nil {
			out.Findings = &res
		}
	}
	return out, !rec.Live(), nil
}

func reviewerStatus(r *jobs.Record) mcpserver.ReviewerStatus {
	name := fanout.Reviewer{Provider: r.Provider, Route: r.Route}.Name()
	return mcpserver.ReviewerStatus{Reviewer: name, JobID: r.JobID, Status: string(r.Status), ErrorCode: r.ErrorCode, Error: r.ErrorMessage}
}

func (b *mcpBackend) wait(ctx context.Context, id string) error {
	st, err := openStore(b.g)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.Wait(ctx, id)
	return err
}

func (b *mcpBackend) capacity(ctx context.Context) (*mcpserver.CapacityOutput, error) {
	rows, problems, _, err := capacityRows(ctx, b.g, b.cfg, b.logs, "")
	if err != nil {
		return nil, err
	}
	out := &mcpserver.CapacityOutput{Routes: []mcpserver.CapacityRow{}, Unreadable: problems}
	for _, r := range rows {
		out.Routes = append(out.Routes, mcpserver.CapacityRow{Provider: r.Provider, Route: r.Route, ActiveCount: r.ActiveCount, Limit: r.Limit, Backend: r.Backend})
	}
	return out, nil
}

func (b *mcpBackend) providers(ctx context.Context) (*mcpserver.ProvidersOutput, error) {
	out := &mcpserver.ProvidersOutput{Providers: []mcpserver.ProviderInfo{}}
	for _, v := range describeProviders(ctx, b.g, b.cfg, b.logs, "") {
		p := mcpserver.ProviderInfo{Provider: v.Provider, Installed: v.Installed, Version: v.Version,
			Usable: v.Error == "", Reason: v.Error, Routes: []mcpserver.RouteInfo{}}
		for _, r := range v.Routes {
			p.Routes = append(p.Routes, mcpserver.RouteInfo{Route: r.Route, Fact: r.Fact, Limit: r.Limit,
				LimitSource: r.LimitSource, Backend: r.Backend, Usable: r.Error == "", Reason: r.Error})
		}
		out.Providers = append(out.Providers, p)
	}
	return out, nil
}
