package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/hostlog"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/route"
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
	s, err := route.Open(ctx, cfg, p.Name, route.Options{
		Getenv: g.IO.Getenv, Environ: g.IO.Environ(), SelfDir: g.IO.SelfDir,
		Log: logs.Host, PluginLog: logs.Plugin(), Secrets: sc.AddSecrets,
	})
	var oe *route.OpenError
	switch {
	case errors.As(err, &oe) && oe.Stage == route.StageFind:
		v.Error = oe.Err.Error()
		v.Installed = !pluginhost.IsNotFound(oe.Err)
		return v
	case errors.As(err, &oe):
		v.Installed, v.Plugin = true, oe.Path
		v.Error = sc.Message(oe.Err.Error())
		if oe.Stage != route.StageLaunch {
			v.Error = string(oe.Stage) + " failed: " + v.Error
		}
		return v
	case err != nil:
		v.Error = sc.Message(err.Error())
		return v
	}
	defer s.Close()
	v.Installed, v.Plugin = true, s.Path
	if len(s.Rejected) > 0 {
		v.Error = fmt.Sprintf("relay.hcl setting %s rejected: %s", sc.Field(s.Rejected[0].Attribute), sc.Message(s.Rejected[0].Message))
	}
	d := s.Description
	v.Version, v.SDKVersion = sc.Field(d.Version), sc.Field(d.SDKVersion)
	for _, dr := range d.Routes {
		rt, err := s.Resolve(dr.Name)
		rv := routeView{Route: dr.Name, Fact: string(dr.Fact.Kind), Backend: string(rt.Backend)}
		var fe *route.FactError
		switch {
		case errors.As(err, &fe):
			rv.Error = fe.Msg
		case err != nil:
			rv.Error = sc.Message(err.Error())
		default:
			a := rt.Admission
			rv.Limit, rv.LimitSource, rv.key, rv.lockRoot = a.Limit, string(a.LimitSource), a.Key, a.LockRoot
			rv.WouldCreate = a.WouldCreate
		}
		v.Routes = append(v.Routes, rv)
	}
	return v
}
