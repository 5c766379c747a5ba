// Package config reads relay.hcl.
//
// Invariant: a *Config returned without error is fully checked. Every value
// has its documented type and range, provider and route names are valid and
// unique, paths are absolute with ~ and $HOME expanded, and every problem
// found on the way is an HCL diagnostic that names the file and line and
// shows the offending source. Checks that need a plugin's capability facts
// (a limit above 1 on a shared_state route) are the host's; it reports them
// through Config.Diagnostic so they read the same way.
package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is a parsed and checked relay.hcl.
type Config struct {
	Path       string // file it came from, or "<embedded>"
	Admission  Admission
	PluginDirs []string    // absolute, ~ and $HOME expanded
	Providers  []*Provider // in file order

	files map[string]*hcl.File // for rendering diagnostics with snippets
}

// Admission is the admission block. Zero values mean "not set"; the host
// applies its defaults (lock root, gate timeout, etcd prefix and TTL).
type Admission struct {
	Backend   string // "local" (the default when unset) or "etcd"
	LockRoot  string // local only; absolute, ~ and $HOME expanded
	MaxTotal  int    // cap across all routes; 0 = no cap
	Wait      time.Duration
	Endpoints []string      // etcd only; required for etcd
	Prefix    string        // etcd only
	TTL       time.Duration // etcd only; whole seconds
	// etcd TLS and authentication (etcd only). Files are absolute paths;
	// the password is never in the file: PasswordEnv names the variable of
	// relay-host's environment that holds it.
	CAFile, CertFile, KeyFile string
	Username, PasswordEnv     string
}

// Provider is a provider "<name>" block.
type Provider struct {
	Name     string
	Plugin   string // bare binary name for discovery, or an absolute path; default "relay-provider-<name>"
	Checksum string // "sha256:<64 lower-case hex>", or "" when not pinned
	Env      []string
	Settings map[string]string
	Routes   []*Route // in file order

	DeclRange hcl.Range
	// SettingRanges maps each settings key to the range of its value, so a
	// plugin's attribute-level Configure error can point at the right line.
	SettingRanges map[string]hcl.Range
}

// Route is a route "<name>" block inside a provider.
type Route struct {
	Name     string
	Limit    int           // 0 = not set
	Budget   int64         // bytes; 0 = not set (host default 512 KiB)
	Timeout  time.Duration // 0 = not set
	Settings map[string]string

	DeclRange, LimitRange hcl.Range // LimitRange valid only when Limit != 0
	BudgetRange           hcl.Range // valid only when Budget != 0
	SettingRanges         map[string]hcl.Range
}

// Provider returns the provider block with the given name, or nil.
func (c *Config) Provider(name string) *Provider {
	if c == nil {
		return nil
	}
	for _, p := range c.Providers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Route returns the route block with the given name, or nil. It is safe on
// a nil *Provider, so cfg.Provider(p).Route(r) needs no intermediate check.
func (p *Provider) Route(name string) *Route {
	if p == nil {
		return nil
	}
	for _, r := range p.Routes {
		if r.Name == name {
			return r
		}
	}
	return nil
}
