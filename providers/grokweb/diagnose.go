package main

import (
	"context"
	"net"
	"net/url"
	"time"

	"github.com/relay-host/relay-host/sdk"
)

// dialTimeout bounds the web route's reachability check.
const dialTimeout = 3 * time.Second

// Diagnose is `relay-host doctor`'s self-check. cli: the grok CLI, its
// version and whether an API key is present (GROK_API_KEY or the apiKey
// of ~/.grok/user-settings.json), by name. web: whether the tunnel's
// endpoint accepts a TCP connection; nothing is sent on it.
func (p *provider) Diagnose(ctx context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error) {
	switch req.Route {
	case routeCLI:
		cli, _ := sdk.CLICheck(ctx, req.Settings["cli_path"], "grok", "install it (npm install -g @vibe-kit/grok-cli)")
		creds := sdk.Check{Name: "credentials", Detail: "GROK_API_KEY unset and no apiKey in ~/.grok/user-settings.json",
			Fix: "set GROK_API_KEY and list it in the provider's env in relay.hcl"}
		if apiKey() != "" {
			creds = sdk.Check{Name: "credentials", OK: true, Detail: "an API key is set (GROK_API_KEY or ~/.grok/user-settings.json)"}
		}
		return []sdk.Check{cli, creds}, nil
	case routeWeb:
		t, err := resolveWeb(req.Settings["endpoint"])
		if err != nil {
			return []sdk.Check{{Name: "endpoint", Detail: err.Error(), Fix: "set GROK2API_ENDPOINT or the endpoint setting"}}, nil
		}
		return []sdk.Check{reachable(ctx, t.endpoint)}, nil
	}
	return nil, sdk.Errorf(sdk.CodeConfigInvalid, "grokweb has no route %q", req.Route)
}

// reachable dials endpoint's host and port and closes the connection at
// once: it proves something listens there without sending a byte.
func reachable(ctx context.Context, endpoint string) sdk.Check {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return sdk.Check{Name: "endpoint", Detail: "the grok2api endpoint is not a URL", Fix: "set GROK2API_ENDPOINT to http(s)://host:port"}
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return sdk.Check{Name: "endpoint", Detail: "the grok2api endpoint " + u.Host + " is not reachable",
			Fix: "start the grok2api tunnel, or fix GROK2API_ENDPOINT"}
	}
	conn.Close()
	return sdk.Check{Name: "endpoint", OK: true, Detail: "the grok2api endpoint " + u.Host + " accepts connections"}
}
