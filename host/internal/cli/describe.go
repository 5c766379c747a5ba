package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/hostlog"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/sdk"
)

// providerView is one provider block as `providers` and `capacity` show it.
type providerView struct {
	Provider   string      `json:"provider"`
	Installed  bool        `json:"installed"`
	Plugin     string      `json:"plugin,omitempty"`
	Version    string      `json:"version,omitempty"`
	SDKVersion string      `json:"sdk_version,omitempty"`
	Error      string      `json:"error,omitempty"`
	Routes     []routeView `json:"routes"`
}

// routeView is one route: its fact and effective limit. The admission key
// is kept for `capacity` but never printed: for shared_state it is an
// account-identity hash.
type routeView struct {
	Route       string `json:"route"`
	Fact        string `json:"fact,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	LimitSource string `json:"limit_source,omitempty"`
	Backend     string `json:"backend"` // "local" or "etcd"
	ActiveCount *int   `json:"active_count,omitempty"`
	// WouldCreate: the route's shared_state directory does not exist yet;
	// the first review creates it (looking never does), so none is active.
	WouldCreate bool   `json:"would_create,omitempty"`
	Error       string `json:"error,omitempty"`

	key, lockRoot string
}

// describeProviders launches each selected provider's plugin (in parallel),
// asks it to Describe itself and resolves each route's admission. A missing
// plugin is reported, not fatal. It is read-only: a shared_state directory
// that does not exist is reported as WouldCreate, never created.
func describeProviders(ctx context.Context, g *Globals, cfg *config.Config, logs *hostlog.Logs, only string) []providerView {
	var provs []*config.Provider
	for _, p := range cfg.Providers {
		if only == "" || p.Name == only {
			provs = append(provs, p)
		}
	}
	out := make([]providerView, len(provs))
	var wg sync.WaitGroup
	for i, p := range provs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = describeOne(ctx, g, cfg, logs, p)
		}()
	}
	wg.Wait()
	return out
}

func describeOne(ctx context.Context, g *Globals, cfg *config.Config, logs *hostlog.Logs, p *config.Provider) providerView {
	v := providerView{Provider: p.Name, Routes: []routeView{}}
	sc := logs.Scrubber
	path, err := pluginhost.Find(p, pluginhost.Search{PluginDirs: cfg.PluginDirs, SelfDir: g.IO.SelfDir, PATH: g.IO.Getenv("PATH")})
	if err != nil {
		v.Error = err.Error()
		if !pluginhost.IsNotFound(err) {
			v.Installed = true
		}
		return v
	}
	v.Installed, v.Plugin = true, path
	env, secrets := pluginhost.Env(g.IO.Environ(), p.Env)
	sc.AddSecrets(secrets...)
	pl, err := pluginhost.Launch(pluginhost.Options{Provider: p.Name, Path: path, Checksum: p.Checksum, Env: env, Logger: logs.Plugin(), AutoMTLS: pluginhost.AutoMTLSFromEnv(g.IO.Getenv)})
	if err != nil {
		v.Error = sc.Message(err.Error())
		return v
	}
	defer pl.Kill()
	c, cancel := context.WithTimeout(ctx, review.CallTimeout)
	defer cancel()
	// As a review does: settings first, since facts may depend on them.
	s := sdk.Settings{Provider: p.Settings, Routes: map[string]map[string]string{}}
	for _, rt := range p.Routes {
		s.Routes[rt.Name] = rt.Settings
	}
	if errs, err := pl.Provider.Configure(c, s); err == nil && len(errs) > 0 {
		v.Error = fmt.Sprintf("relay.hcl setting %s rejected: %s", sc.Field(errs[0].Attribute), sc.Message(errs[0].Message))
	}
	d, err := pl.Provider.Describe(c)
	if err != nil {
		v.Error = "describe failed: " + sc.Message(err.Error())
		return v
	}
	v.Version, v.SDKVersion = sc.Field(d.Version), sc.Field(d.SDKVersion)
	for _, rt := range d.Routes {
		rv := routeView{Route: rt.Name, Fact: string(rt.Fact.Kind), Backend: "local"}
		if review.UsesEtcd(cfg, admission.Category(rt.Fact.Kind)) {
			rv.Backend = "etcd"
		}
		in := admission.ResolveInput{Provider: p.Name, Route: rt.Name,
			Fact:     admission.Fact{Category: admission.Category(rt.Fact.Kind), Directory: rt.Fact.Directory, Identity: rt.Fact.Identity, DefaultLimit: rt.Fact.DefaultLimit, EnvCapVar: rt.Fact.EnvCapVar},
			LockRoot: cfg.Admission.LockRoot, Getenv: g.IO.Getenv}
		if rc := p.Route(rt.Name); rc != nil {
			in.ConfiguredLimit = rc.Limit
		}
		res, err := admission.ResolveFact(in)
		if err != nil {
			var fe *admission.FactError
			if errors.As(err, &fe) {
				rv.Error = fe.Msg
			} else {
				rv.Error = sc.Message(err.Error())
			}
		} else {
			if capped := p.Route(rt.Name).CapLimit(res.Limit); capped < res.Limit {
				res.Limit, res.LimitSource = capped, review.LimitFromRepo
			}
			rv.Limit, rv.LimitSource, rv.key, rv.lockRoot = res.Limit, string(res.LimitSource), res.Key, res.LockRoot
			rv.WouldCreate = res.WouldCreate
			for _, w := range res.Warnings {
				logs.Host.Warn(w)
			}
		}
		v.Routes = append(v.Routes, rv)
	}
	return v
}
