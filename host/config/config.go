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
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is the effective configuration: every layer Load used, merged
// (see merge.go for the rules), and checked as a whole.
type Config struct {
	// Path is the most specific file in effect, or EmbeddedPath when only
	// the built-in default is.
	Path       string
	Admission  Admission
	Jobs       Jobs
	PluginDirs []string    // absolute, ~ and $HOME expanded
	Providers  []*Provider // in declaration order, earlier layers first
	// Exclude are gitignore-style patterns of files never sent, from every
	// layer (a later layer adds to them, never removes). None starts with
	// "!": re-including a file is the repository's .relayignore's business.
	Exclude []string
	// Reviewers is the default set of `relay-host review` with no provider:
	// "provider" or "provider/route" each, in the order given, no
	// duplicates. Only the user's own layers set it: which providers the
	// source goes to is never a repository's choice.
	Reviewers []string
	// Sources are the files Load considered, in layer order, with what it
	// did with each; Warnings are one line each, for files it ignored.
	Sources  []Source
	Warnings []string

	files   map[string]*hcl.File // for rendering diagnostics with snippets
	origins map[string]origin    // attribute path → where its value was set
}

// Layer is the kind of a configuration file, in the order layers apply.
type Layer string

const (
	LayerEmbedded Layer = "embedded" // relay.hcl built into the binary
	LayerUser     Layer = "user"     // $XDG_CONFIG_HOME/relay/relay.hcl
	LayerExplicit Layer = "explicit" // --config FILE or RELAY_CONFIG
	// LayerRepo is a reviewed repository's ./relay.hcl or ./.relay.hcl,
	// read only when the user trusted that exact content, and only to
	// narrow the layers above.
	LayerRepo Layer = "repo"
)

// Source is one file Load considered.
type Source struct {
	Path   string `json:"path"`
	Layer  Layer  `json:"layer"`
	Status string `json:"status"` // SourceUsed, SourceAbsent or SourceIgnored
	// Reason says why a file was ignored (one line, with the fix).
	Reason string `json:"reason,omitempty"`
	// Trusted is set for a repository file whose content the user trusted.
	Trusted bool `json:"trusted,omitempty"`
}

// Source statuses.
const (
	SourceUsed    = "used"
	SourceAbsent  = "not found"
	SourceIgnored = "ignored"
)

// Origin is where a value of the effective configuration was set.
type Origin struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Origin returns where the attribute at path was set, by the layer whose
// value is in effect. Paths are dotted: "admission.max_total",
// "plugin_dirs", "provider.claude.env", "provider.apireviewer.route.glm.limit",
// "provider.apireviewer.route.glm.settings.model".
func (c *Config) Origin(path string) (Origin, bool) {
	if c == nil {
		return Origin{}, false
	}
	o, ok := c.origins[path]
	if !ok {
		return Origin{}, false
	}
	return Origin{File: o.all.Filename, Line: o.all.Start.Line}, true
}

// Name says which configuration is in effect, for messages.
func (c *Config) Name() string {
	var used []string
	for _, s := range c.Sources {
		if s.Status == SourceUsed && s.Layer != LayerEmbedded {
			used = append(used, s.Path)
		}
	}
	if len(used) == 0 {
		if c.Path != "" && c.Path != EmbeddedPath {
			return c.Path
		}
		return "the built-in relay.hcl"
	}
	return "the built-in relay.hcl + " + strings.Join(used, " + ")
}

// Admission is the admission block. Zero values mean "not set"; the host
// applies its defaults (lock root, gate timeout, etcd prefix and TTL).
type Admission struct {
	Backend  string // "local" (the default when unset) or "etcd"
	LockRoot string // local only; absolute, ~ and $HOME expanded
	MaxTotal int    // cap across all routes; 0 = no cap
	Wait     time.Duration
	// Cooldown is how long a route's key cools down after a rate limit
	// that named no retry-after, doubled for each one in a row up to
	// CooldownMax; CooldownMax is also what insufficient_balance gets.
	// 0 = not set (DefaultCooldown, DefaultCooldownMax); see
	// EffectiveCooldown.
	Cooldown, CooldownMax time.Duration
	Endpoints             []string      // etcd only; required for etcd
	Prefix                string        // etcd only
	TTL                   time.Duration // etcd only; whole seconds
	// etcd TLS and authentication (etcd only). Files are absolute paths;
	// the password is never in the file: PasswordEnv names the variable of
	// relay-host's environment that holds it.
	CAFile, CertFile, KeyFile string
	Username, PasswordEnv     string
}

// Defaults of the admission block's cooldowns.
const (
	DefaultCooldown    = 30 * time.Second
	DefaultCooldownMax = 10 * time.Minute
)

// EffectiveCooldown is the cooldown and its cap in force: the configured
// values, else the defaults; the cap is never below the cooldown.
func (a Admission) EffectiveCooldown() (base, ceiling time.Duration) {
	base, ceiling = a.Cooldown, a.CooldownMax
	if base <= 0 {
		base = DefaultCooldown
	}
	if ceiling <= 0 {
		ceiling = DefaultCooldownMax
	}
	return base, max(base, ceiling)
}

// Jobs is the jobs block: the job store's retention.
type Jobs struct {
	// Keep is how long `relay-host jobs prune` keeps a finished job's
	// record; 0 means not set (the host's default, 30 days).
	Keep time.Duration
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

	// Caps from a trusted repository layer: the most the route may use,
	// applied after the plugin's defaults (0 = no cap). A repository may
	// only narrow, so its values are ceilings, never settings.
	LimitCap   int
	BudgetCap  int64
	TimeoutCap time.Duration

	DeclRange, LimitRange hcl.Range // LimitRange valid only when Limit != 0
	BudgetRange           hcl.Range // valid only when Budget != 0
	SettingRanges         map[string]hcl.Range
}

// CapLimit lowers a resolved limit to the repository layer's cap.
func (r *Route) CapLimit(n int) int {
	if r != nil && r.LimitCap > 0 && r.LimitCap < n {
		return r.LimitCap
	}
	return n
}

// CapBudget lowers a budget to the repository layer's cap.
func (r *Route) CapBudget(n int64) int64 {
	if r != nil && r.BudgetCap > 0 && r.BudgetCap < n {
		return r.BudgetCap
	}
	return n
}

// CapTimeout lowers a timeout to the repository layer's cap.
func (r *Route) CapTimeout(d time.Duration) time.Duration {
	if r != nil && r.TimeoutCap > 0 && r.TimeoutCap < d {
		return r.TimeoutCap
	}
	return d
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
