// Package route resolves a provider's routes, once, for every command that
// needs them (review, providers, capacity, and several reviewers at once):
// find the provider's plugin, launch it, Configure it with relay.hcl's
// settings, Describe it, and turn each route's capability fact plus
// relay.hcl into the admission key, limit and lock root and the backend
// that takes the lease.
//
// A Session is one launched, described plugin. Sessions share no state:
// any number may be open at once, in parallel, and each is closed on its
// own. A Launcher is how a Session gets its plugin: real plugin processes
// by default, an in-process fake in tests.
//
// Invariants: Configure comes before Describe, because a plugin's facts
// may depend on its settings (grokweb's web endpoint decides its admission
// key). A relay.hcl limit always beats the plugin's declared default, so a
// plugin cannot raise its own limit, and a trusted repository's limit_cap
// only lowers it. A session opened without Acquire creates nothing: a
// missing shared_state directory is reported (WouldCreate), not made. The
// fact policy lives here, in the host: admission is handed only the key,
// the limit and the lock root.
package route

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/sdk"
)

// CallTimeout bounds each Configure and Describe call.
const CallTimeout = 10 * time.Second

// Plugin is a launched provider plugin as a session drives it.
type Plugin interface {
	sdk.ProviderClient
	// ShareLease hands an admission lease's descriptors to the plugin, so
	// that the slot stays held until the plugin and its CLIs are gone.
	ShareLease(files []*os.File) error
	// Kill stops the plugin gracefully; KillNow stops a failed or
	// cancelled one at once. Both are idempotent.
	Kill()
	KillNow()
}

// Launcher finds and starts a provider's plugin.
type Launcher interface {
	// Find returns the path of prov's plugin binary.
	Find(prov *config.Provider) (string, error)
	// Launch starts the plugin at path with the whole environment env.
	Launch(prov *config.Provider, path string, env []string) (Plugin, error)
}

// Options are how a session is opened.
type Options struct {
	// Getenv and Environ are the host's environment; nil means the
	// process's own.
	Getenv  func(string) string
	Environ []string
	// SelfDir is where relay-host lives, for plugin discovery.
	SelfDir string
	// Log takes the host's warnings and debug lines; PluginLog the plugin's
	// own logs. Nil discards.
	Log, PluginLog hclog.Logger
	// Secrets, when set, is told the values of the environment variables
	// the provider block passes on (env = [...]) before the plugin starts,
	// so they are redacted from everything the plugin says.
	Secrets func(values ...string)
	// Acquire: the caller will take a lease on what Resolve returns, so a
	// missing shared_state directory is created (0700) to give it a key.
	// Without it, looking never creates a CLI's state directory.
	Acquire bool
	// Launcher starts the plugin; nil means a real plugin process.
	Launcher Launcher
}

// Stage is the step of Open that failed.
type Stage string

const (
	StageFind      Stage = "find"
	StageLaunch    Stage = "launch"
	StageConfigure Stage = "configure"
	StageDescribe  Stage = "describe"
)

// OpenError is a session that could not be opened. Err is the step's own
// error (a *pluginhost.NotFoundError, *pluginhost.UnsafeError,
// *pluginhost.ChecksumError, ... from the real launcher), not yet redacted.
type OpenError struct {
	Provider string
	Stage    Stage
	// Path is the plugin binary, once found.
	Path string
	Err  error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("provider %q: %s failed: %v", e.Provider, e.Stage, e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// Session is one provider's launched and described plugin.
type Session struct {
	Provider *config.Provider
	// Path is the plugin binary.
	Path   string
	Plugin Plugin
	// Description is what the plugin said in Describe.
	Description sdk.Description
	// Rejected are the plugin's objections to relay.hcl's settings. A
	// review refuses to run with any; a listing shows the first.
	Rejected []sdk.AttributeError

	cfg     *config.Config
	getenv  func(string) string
	log     hclog.Logger
	acquire bool
}

// Open launches provider's plugin, configures it with relay.hcl's settings
// and describes it. It fails with an *OpenError, or with ctx's error when
// ctx ends first; a failed Open leaves no plugin running. Close the
// session when done.
func Open(ctx context.Context, cfg *config.Config, provider string, o Options) (*Session, error) {
	prov := cfg.Provider(provider)
	if prov == nil {
		return nil, &OpenError{Provider: provider, Stage: StageFind, Err: fmt.Errorf("%s declares no provider %q", cfg.Name(), provider)}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Environ == nil {
		o.Environ = os.Environ()
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.PluginLog == nil {
		o.PluginLog = hclog.NewNullLogger()
	}
	l := o.Launcher
	if l == nil {
		l = processes{
			search:    pluginhost.Search{PluginDirs: cfg.PluginDirs, SelfDir: o.SelfDir, PATH: o.Getenv("PATH")},
			autoMTLS:  pluginhost.AutoMTLSFromEnv(o.Getenv),
			log:       o.Log,
			pluginLog: o.PluginLog,
		}
	}
	fail := func(stage Stage, path string, err error) error {
		return &OpenError{Provider: prov.Name, Stage: stage, Path: path, Err: err}
	}

	env, secrets := pluginhost.Env(o.Environ, prov.Env)
	if o.Secrets != nil {
		o.Secrets(secrets...)
	}
	path, err := l.Find(prov)
	if err != nil {
		return nil, fail(StageFind, "", err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p, err := l.Launch(prov, path, env)
	if err != nil {
		return nil, fail(StageLaunch, path, err)
	}
	s := &Session{Provider: prov, Path: path, Plugin: p, cfg: cfg, getenv: o.Getenv, log: o.Log, acquire: o.Acquire}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	settings := sdk.Settings{Provider: prov.Settings, Routes: map[string]map[string]string{}}
	for _, rt := range prov.Routes {
		settings.Routes[rt.Name] = rt.Settings
	}
	if s.Rejected, err = call(ctx, func(c context.Context) ([]sdk.AttributeError, error) { return p.Configure(c, settings) }); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fail(StageConfigure, path, err)
	}
	if s.Description, err = call(ctx, p.Describe); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fail(StageDescribe, path, err)
	}
	if s.Description.Name != prov.Name {
		o.Log.Debug("plugin name differs from the provider block", "provider", prov.Name, "plugin", s.Description.Name)
	}
	ok = true
	return s, nil
}

// call runs a Configure or Describe with its own deadline.
func call[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	c, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	return f(c)
}

// Close stops the session's plugin. It is nil-safe and idempotent.
func (s *Session) Close() {
	if s != nil && s.Plugin != nil {
		s.Plugin.Kill()
	}
}

// KillNow stops the session's plugin at once (a failed, timed-out or
// cancelled review). It is nil-safe and idempotent.
func (s *Session) KillNow() {
	if s != nil && s.Plugin != nil {
		s.Plugin.KillNow()
	}
}

// Backend is the admission backend that takes a route's lease.
type Backend string

const (
	BackendLocal Backend = "local"
	BackendEtcd  Backend = "etcd"
)

// Route is one resolved route.
type Route struct {
	Name string
	// Described is the route as the plugin describes it.
	Described sdk.Route
	// Config is relay.hcl's block for the route; nil when there is none.
	Config    *config.Route
	Admission Admission
	Backend   Backend
}

// UnknownRouteError is a route the plugin does not offer.
type UnknownRouteError struct {
	Provider, Route string
	// Offered are the routes the plugin describes, in its order.
	Offered []string
	// Config is relay.hcl's block for the route, when it declares one.
	Config *config.Route
}

func (e *UnknownRouteError) Error() string {
	return fmt.Sprintf("provider %q has no route %q: its plugin offers %s", e.Provider, e.Route, strings.Join(e.Offered, ", "))
}

// Resolve resolves the route name: "" is the only route, else the first
// route relay.hcl declares and the plugin describes, else the plugin's
// first. It fails with an *UnknownRouteError, or with a *FactError when the
// route's fact is refused; the Route then still carries Name, Described,
// Config and Backend.
func (s *Session) Resolve(name string) (Route, error) {
	dr, err := s.pick(name)
	if err != nil {
		return Route{}, err
	}
	prov := s.Provider
	rt := Route{Name: dr.Name, Described: dr, Config: prov.Route(dr.Name), Backend: BackendLocal}
	// Only stateless routes go to etcd (an API account's quota is
	// fleet-wide); a shared_state key is a host-local identity and always
	// stays on the local backend.
	if s.cfg.Admission.Backend == string(BackendEtcd) && dr.Fact.Kind == sdk.FactStateless {
		rt.Backend = BackendEtcd
	}
	in := factInput{Provider: prov.Name, Route: dr.Name, Fact: dr.Fact, LockRoot: s.cfg.Admission.LockRoot, Getenv: s.getenv, Create: s.acquire}
	if rt.Config != nil {
		in.ConfiguredLimit = rt.Config.Limit
	}
	if rt.Admission, err = resolveFact(in); err != nil {
		return rt, err
	}
	if capped := rt.Config.CapLimit(rt.Admission.Limit); capped < rt.Admission.Limit {
		rt.Admission.Limit, rt.Admission.LimitSource = capped, LimitFromRepo
	}
	for _, w := range rt.Admission.Warnings {
		s.log.Warn(w)
	}
	s.log.Debug("admission resolved", "provider", prov.Name, "route", dr.Name, "category", dr.Fact.Kind, "limit", rt.Admission.Limit, "source", rt.Admission.LimitSource)
	return rt, nil
}

func (s *Session) pick(want string) (sdk.Route, error) {
	d := s.Description
	find := func(name string) (sdk.Route, bool) {
		for _, rt := range d.Routes {
			if rt.Name == name {
				return rt, true
			}
		}
		return sdk.Route{}, false
	}
	if want != "" {
		if rt, ok := find(want); ok {
			return rt, nil
		}
		names := make([]string, len(d.Routes))
		for i, rt := range d.Routes {
			names[i] = rt.Name
		}
		return sdk.Route{}, &UnknownRouteError{Provider: s.Provider.Name, Route: want, Offered: names, Config: s.Provider.Route(want)}
	}
	if len(d.Routes) == 1 {
		return d.Routes[0], nil
	}
	for _, rc := range s.Provider.Routes {
		if rt, ok := find(rc.Name); ok {
			return rt, nil
		}
	}
	if len(d.Routes) == 0 {
		// The SDK client refuses a description without routes; a Launcher
		// of another kind might not.
		return sdk.Route{}, &UnknownRouteError{Provider: s.Provider.Name}
	}
	return d.Routes[0], nil
}

// processes is the Launcher of real plugin processes.
type processes struct {
	search         pluginhost.Search
	autoMTLS       bool
	log, pluginLog hclog.Logger
}

func (l processes) Find(prov *config.Provider) (string, error) {
	return pluginhost.Find(prov, l.search)
}

func (l processes) Launch(prov *config.Provider, path string, env []string) (Plugin, error) {
	p, err := pluginhost.Launch(pluginhost.Options{Provider: prov.Name, Path: path, Checksum: prov.Checksum, Env: env, Logger: l.pluginLog, AutoMTLS: l.autoMTLS})
	if err != nil {
		return nil, err
	}
	l.log.Debug("plugin started", "provider", prov.Name, "path", path, "pid", p.PID)
	return process{p}, nil
}

// process is a plugin process as a Plugin.
type process struct{ *pluginhost.Plugin }

func (p process) Describe(ctx context.Context) (sdk.Description, error) {
	return p.Provider.Describe(ctx)
}

func (p process) Configure(ctx context.Context, s sdk.Settings) ([]sdk.AttributeError, error) {
	return p.Provider.Configure(ctx, s)
}

func (p process) Review(ctx context.Context, req sdk.ReviewRequest, onEvent func(sdk.Event)) (sdk.Result, error) {
	return p.Provider.Review(ctx, req, onEvent)
}
