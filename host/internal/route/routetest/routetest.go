// Package routetest runs providers in process, for tests of the code that
// drives them (route sessions, the review pipeline): a route.Launcher whose
// plugins are sdk.Providers called directly, with no process and no gRPC.
//
// What crosses the seam keeps the SDK client's guarantees, so a test sees
// what a real plugin would give the host: a description is validated (an
// invalid fact is an error, never a Description), transmission is reported
// at most once, a provider's plain error is a review_failed *sdk.Error, and
// a not-sent claim is honoured only for a pre-send code with no
// transmission.
package routetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/route"
	"github.com/relay-host/relay-host/sdk"
)

// Launcher launches Providers[name] for the provider block name. A name it
// does not hold is not installed (a *pluginhost.NotFoundError).
type Launcher struct {
	Providers map[string]sdk.Provider

	mu       sync.Mutex
	launched []*Plugin
}

// Find implements route.Launcher.
func (l *Launcher) Find(prov *config.Provider) (string, error) {
	if _, ok := l.Providers[prov.Name]; !ok {
		return "", &pluginhost.NotFoundError{Provider: prov.Name, Binary: "relay-provider-" + prov.Name}
	}
	return "in-process:" + prov.Name, nil
}

// Launch implements route.Launcher.
func (l *Launcher) Launch(prov *config.Provider, _ string, env []string) (route.Plugin, error) {
	p := &Plugin{provider: l.Providers[prov.Name], Env: env}
	l.mu.Lock()
	l.launched = append(l.launched, p)
	l.mu.Unlock()
	return p, nil
}

// Launched is every plugin launched so far, in order.
func (l *Launcher) Launched() []*Plugin {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Plugin(nil), l.launched...)
}

// Plugin is one in-process plugin.
type Plugin struct {
	provider sdk.Provider
	// Env is the environment the plugin was launched with.
	Env []string

	mu        sync.Mutex
	settings  *sdk.Settings
	kills     int
	leaseSeen bool
}

// Describe implements sdk.ProviderClient, validating as the SDK client does.
func (p *Plugin) Describe(ctx context.Context) (sdk.Description, error) {
	d, err := p.provider.Describe(ctx)
	if err != nil {
		return sdk.Description{}, err
	}
	if err := d.Validate(); err != nil {
		return sdk.Description{}, fmt.Errorf("plugin described invalid facts: %w", err)
	}
	return d, nil
}

// Configure implements sdk.ProviderClient: a provider without
// sdk.Configurer accepts any settings.
func (p *Plugin) Configure(ctx context.Context, s sdk.Settings) ([]sdk.AttributeError, error) {
	p.mu.Lock()
	p.settings = &s
	p.mu.Unlock()
	if c, ok := p.provider.(sdk.Configurer); ok {
		return c.Configure(ctx, s), nil
	}
	return nil, nil
}

// Review implements sdk.ProviderClient.
func (p *Plugin) Review(ctx context.Context, req sdk.ReviewRequest, onEvent func(sdk.Event)) (sdk.Result, error) {
	if onEvent == nil {
		onEvent = func(sdk.Event) {}
	}
	ev := &events{on: onEvent}
	res, err := p.provider.Review(ctx, req, ev)
	transmitted := ev.close()
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return sdk.Result{}, ctx.Err()
	}
	var se *sdk.Error
	if !errors.As(err, &se) {
		se = &sdk.Error{Code: sdk.CodeReviewFailed, Message: err.Error()}
	}
	e := *se
	e.NotSent = e.NotSent && !transmitted && sdk.PreSend(e.Code)
	return sdk.Result{}, &e
}

// ShareLease implements route.Plugin; the lease's descriptors must be open.
func (p *Plugin) ShareLease(files []*os.File) error {
	for _, f := range files {
		if _, err := f.Stat(); err != nil {
			return fmt.Errorf("lease descriptor: %w", err)
		}
	}
	p.mu.Lock()
	p.leaseSeen = len(files) > 0
	p.mu.Unlock()
	return nil
}

// Kill implements route.Plugin.
func (p *Plugin) Kill() { p.kill() }

// KillNow implements route.Plugin.
func (p *Plugin) KillNow() { p.kill() }

func (p *Plugin) kill() {
	p.mu.Lock()
	p.kills++
	p.mu.Unlock()
}

// Stopped reports whether the plugin was stopped (Kill or KillNow).
func (p *Plugin) Stopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kills > 0
}

// Settings are what Configure was given, nil before it was called.
func (p *Plugin) Settings() *sdk.Settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settings
}

// SharedLease reports whether the host handed the plugin a lease.
func (p *Plugin) SharedLease() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaseSeen
}

// events delivers a Review's events to the host on the provider's
// goroutine, transmission at most once, nothing after Review returned.
type events struct {
	mu          sync.Mutex
	on          func(sdk.Event)
	transmitted bool
	done        bool
}

func (e *events) Progress(msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.done {
		e.on(sdk.Event{Kind: sdk.EventProgress, Message: msg})
	}
}

func (e *events) Transmission() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.done && !e.transmitted {
		e.transmitted = true
		e.on(sdk.Event{Kind: sdk.EventTransmission})
	}
}

func (e *events) close() (transmitted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = true
	return e.transmitted
}
