// Command relay-provider-grokweb is the relay provider plugin for Grok,
// with two routes:
//
//   - "cli": the grok-cli (`grok`, npm @vibe-kit/grok-cli) in headless mode,
//     `grok -d <scratch> -p "<prompt and packet>"`, shared_state on ~/.grok.
//     The prompt travels in argv (the CLI reads no stdin), so the route
//     declares a 112 KiB packet budget and the plugin refuses anything over
//     120 KiB (Linux caps one argv string at 128 KiB). Headless grok
//     loads the cwd's .env, reads <cwd>/.grok/settings.json (model, MCP
//     servers) and GROK.md, and writes <cwd>/.grok/settings.json, so an
//     empty scratch directory is its cwd, -d and HOME, never the repository
//     under review or the user's home, and it is deleted afterwards. The
//     key goes by GROK_API_KEY only (the --api-key/--base-url flags would
//     be saved into ~/.grok/user-settings.json). grok offers the model its
//     tools and runs every call auto-approved, with no switch for either:
//     it reaches its API through the tool guard (toolguard.go), which
//     strips the offer and refuses an answer that calls a tool, and the
//     onesend relay behind it (one send per attempt).
//   - "web": OpenAI-compatible chat completions on a grok2api tunnel (see
//     resolveWeb for the endpoint and its admission identity).
//
// Settings: cli_path, model, max_tokens, endpoint (see settings.go).
package main

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/relay-host/relay-host/sdk"
)

const version = "0.1.0"

// cliBudget is the cli route's default packet budget: under the 120 KiB the
// plugin accepts for prompt and packet together in one argv string, with
// room for a short prompt.
const cliBudget = 112 << 10

// provider remembers the web endpoint relay.hcl configured: relay-host
// calls Configure before Describe, and the endpoint decides the web route's
// admission key.
type provider struct {
	mu       sync.Mutex
	endpoint string
}

func (p *provider) configuredEndpoint() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endpoint
}

// Describe offers "cli" always and "web" only when its shared state can be
// named. A web route without an endpoint or a managed tunnel home has no
// account to serialise on; rather than invent an identity, the plugin
// leaves the route out and says why in its log (at debug when simply no
// tunnel is set up, at warn when one is named but unusable), and
// relay-host refuses `--route web` before anything is sent.
func (p *provider) Describe(ctx context.Context) (sdk.Description, error) {
	routes := []sdk.Route{{Name: routeCLI, Fact: sdk.SharedStateDir("~/.grok"), Budget: cliBudget}}
	if t, err := resolveWeb(p.configuredEndpoint()); err == nil {
		routes = append(routes, sdk.Route{Name: routeWeb, Fact: t.fact})
	} else if errors.Is(err, errNoWebTarget) {
		// The usual case (no tunnel set up): debug, so a normal run at the
		// default level prints nothing.
		sdk.Logger(ctx).Debug("grokweb: route web is not offered: " + err.Error())
	} else {
		// A tunnel is named but unusable (e.g. a malformed
		// GROK2API_ENDPOINT): a misconfiguration the user should see.
		sdk.Logger(ctx).Warn("grokweb: route web is not offered: " + err.Error())
	}
	return sdk.Description{Name: "grokweb", Version: version, Routes: routes}, nil
}

func (p *provider) Configure(_ context.Context, s sdk.Settings) []sdk.AttributeError {
	errs := checkSettings("", s.Provider)
	for route, rs := range s.Routes {
		errs = append(errs, checkSettings(route, rs)...)
	}
	if len(errs) == 0 {
		ep := s.Provider["endpoint"]
		if v := s.Routes[routeWeb]["endpoint"]; v != "" {
			ep = v
		}
		p.mu.Lock()
		p.endpoint = ep
		p.mu.Unlock()
	}
	return errs
}

func (p *provider) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	s, err := parseSettings(req.Settings)
	if err != nil {
		return sdk.Result{}, err
	}
	switch req.Route {
	case routeCLI:
		return reviewCLI(ctx, s, req, ev)
	case routeWeb:
		// The route's settings carry the same endpoint Configure saw.
		t, err := resolveWeb(req.Settings["endpoint"])
		if err != nil {
			return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "%v", err)
		}
		return reviewWeb(ctx, t, s, req, ev)
	default:
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "grokweb has no route %q; use --route cli or --route web", req.Route)
	}
}

// input is the text the model gets: the prompt, then the packet.
func input(req sdk.ReviewRequest) string {
	if req.Prompt == "" {
		return req.Packet
	}
	return strings.TrimRight(req.Prompt, "\r\n") + "\n\n" + req.Packet
}

func main() { sdk.Serve(&provider{}) }
