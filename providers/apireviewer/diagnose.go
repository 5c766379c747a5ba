package main

import (
	"context"
	"net/url"

	"github.com/relay-host/relay-host/sdk"
)

// Diagnose is `relay-host doctor`'s self-check of a route: its settings
// resolve to a service, and its key variable is set (by name). It contacts
// nothing: whether the service accepts the key is only known by sending
// a request, which a self-check must not do.
func (p *provider) Diagnose(_ context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error) {
	spec, _ := lookupRoute(req.Route)
	t, e := resolve(req.Route, req.Settings, p.getenv)
	switch {
	case e == nil:
	case e.Code == sdk.CodeNotAuthenticated:
		keyVar := spec.keyEnv
		if keyVar == "" {
			keyVar = req.Settings[settingAPIKeyEnv]
		}
		return []sdk.Check{{Name: "credentials", Detail: keyVar + " unset", Fix: e.Message}}, nil
	default:
		return []sdk.Check{{Name: "settings", Detail: "the route's settings cannot work", Fix: e.Message}}, nil
	}
	service := "model " + t.model
	if u, err := url.Parse(t.baseURL); err == nil && u.Host != "" {
		service += " at " + u.Host
	}
	creds := sdk.Check{Name: "credentials", OK: true, Detail: "no api_key_env: no key is sent"}
	if t.key != "" {
		keyVar := spec.keyEnv
		if keyVar == "" {
			keyVar = req.Settings[settingAPIKeyEnv]
		}
		creds.Detail = keyVar + " set"
	}
	return []sdk.Check{{Name: "settings", OK: true, Detail: service}, creds}, nil
}
