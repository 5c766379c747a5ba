package pluginhost

import (
	"context"

	"github.com/relay-host/relay-host/sdk"
)

// Diagnose asks the plugin for its self-check of a route. It returns
// sdk.ErrNoSelfCheck when the plugin does not offer one. What comes back is
// the plugin's own text: the caller scrubs it before showing it.
func (p *Plugin) Diagnose(ctx context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error) {
	d, ok := p.Provider.(sdk.DiagnoseClient)
	if !ok {
		return nil, sdk.ErrNoSelfCheck
	}
	return d.Diagnose(ctx, req)
}
