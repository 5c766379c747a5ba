package main

import (
	"context"

	"github.com/relay-host/relay-host/sdk"
)

// version is the plugin's own version, reported by Describe.
const version = "0.1.0"

// provider implements sdk.Provider and sdk.Configurer.
type provider struct {
	// getenv reads the plugin's environment; a seam for unit tests.
	getenv func(string) string
}

// Describe reports the three stateless routes. It reads no settings and
// contacts nothing: the facts do not depend on configuration.
func (p *provider) Describe(context.Context) (sdk.Description, error) {
	d := sdk.Description{Name: "apireviewer", Version: version}
	for _, r := range routes {
		d.Routes = append(d.Routes, sdk.Route{Name: r.name, Fact: sdk.Stateless(r.defaultLimit, r.capVar)})
	}
	return d, nil
}

// Configure checks the settings of relay.hcl's provider "apireviewer"
// block: known attribute names and well-formed values. Empty values pass
// (defaults, or a custom route not set up yet); Review reports them.
func (p *provider) Configure(_ context.Context, s sdk.Settings) []sdk.AttributeError {
	return configure(s)
}

// Review sends the prompt and packet to the route's service and returns its
// answer. The prompt travels as the system message and the packet as the
// user message, so the instruction and the reviewed source stay apart.
func (p *provider) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	t, err := resolve(req.Route, req.Settings, p.getenv)
	if err != nil {
		return sdk.Result{}, err
	}
	return t.review(ctx, req, ev)
}
