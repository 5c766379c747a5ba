package config

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Merge rules, applied layer by layer (embedded default, user file,
// --config, then a trusted repository file):
//
//   - Every attribute a later layer sets replaces the earlier value; what it
//     does not set stays. A provider "x" or route "y" block merges by name
//     with the earlier one; a new name adds a provider or route.
//   - settings merge per key; env, plugin_dirs and reviewers are replaced
//     whole.
//   - Setting plugin without checksum drops an earlier checksum: it pinned
//     a different binary.
//   - exclude patterns add up across layers.
//   - A repository layer only narrows: its limit, budget and timeout are
//     caps (the lower of the cap and what would apply anyway), its
//     max_total applies only if lower, its cooldown and cooldown_max only
//     if longer, its exclude patterns add up, and it may name only
//     providers an earlier layer declares.

func newConfig() *Config {
	return &Config{files: map[string]*hcl.File{}, origins: map[string]origin{}}
}

// pick copies v into *dst when the layer set it.
func pick[T any](set bool, dst *T, v T) {
	if set {
		*dst = v
	}
}

// merge applies layer l over c.
func (c *Config) merge(l *layer, diags *hcl.Diagnostics) {
	if l.kind == LayerRepo {
		c.narrow(l, diags)
		return
	}
	src := l.cfg
	has := func(path string) bool {
		o, ok := l.origins[path]
		if ok {
			c.origins[path] = o
		}
		return ok
	}
	pick(has("plugin_dirs"), &c.PluginDirs, src.PluginDirs)
	pick(has("reviewers"), &c.Reviewers, src.Reviewers)
	c.addExcludes(l)

	if r, ok := l.blocks["admission"]; ok {
		c.origins["admission"] = origin{r, r}
	}
	a, s := &c.Admission, src.Admission
	pick(has("admission.backend"), &a.Backend, s.Backend)
	pick(has("admission.lock_root"), &a.LockRoot, s.LockRoot)
	pick(has("admission.max_total"), &a.MaxTotal, s.MaxTotal)
	pick(has("admission.wait"), &a.Wait, s.Wait)
	pick(has("admission.cooldown"), &a.Cooldown, s.Cooldown)
	pick(has("admission.cooldown_max"), &a.CooldownMax, s.CooldownMax)
	pick(has("admission.endpoints"), &a.Endpoints, s.Endpoints)
	pick(has("admission.prefix"), &a.Prefix, s.Prefix)
	pick(has("admission.ttl"), &a.TTL, s.TTL)
	pick(has("admission.ca_file"), &a.CAFile, s.CAFile)
	pick(has("admission.cert_file"), &a.CertFile, s.CertFile)
	pick(has("admission.key_file"), &a.KeyFile, s.KeyFile)
	pick(has("admission.username"), &a.Username, s.Username)
	pick(has("admission.password_env"), &a.PasswordEnv, s.PasswordEnv)

	if r, ok := l.blocks["jobs"]; ok {
		c.origins["jobs"] = origin{r, r}
	}
	pick(has("jobs.keep"), &c.Jobs.Keep, src.Jobs.Keep)

	for _, sp := range src.Providers {
		base := "provider." + sp.Name + "."
		dp := c.Provider(sp.Name)
		if dp == nil {
			dp = &Provider{Name: sp.Name, DeclRange: sp.DeclRange}
			c.Providers = append(c.Providers, dp)
			c.origins["provider."+sp.Name] = origin{sp.DeclRange, sp.DeclRange}
		}
		if has(base + "plugin") {
			dp.Plugin = sp.Plugin
			if _, pinned := l.origins[base+"checksum"]; !pinned {
				dp.Checksum = ""
				delete(c.origins, base+"checksum")
			}
		}
		pick(has(base+"checksum"), &dp.Checksum, sp.Checksum)
		pick(has(base+"env"), &dp.Env, sp.Env)
		dp.Settings, dp.SettingRanges = mergeSettings(dp.Settings, dp.SettingRanges, sp.Settings, sp.SettingRanges, base+"settings.", l, c)

		for _, sr := range sp.Routes {
			rbase := base + "route." + sr.Name + "."
			dr := dp.Route(sr.Name)
			if dr == nil {
				dr = &Route{Name: sr.Name, DeclRange: sr.DeclRange}
				dp.Routes = append(dp.Routes, dr)
				c.origins[base+"route."+sr.Name] = origin{sr.DeclRange, sr.DeclRange}
			}
			if has(rbase + "limit") {
				dr.Limit, dr.LimitRange = sr.Limit, sr.LimitRange
			}
			if has(rbase + "budget") {
				dr.Budget, dr.BudgetRange = sr.Budget, sr.BudgetRange
			}
			pick(has(rbase+"timeout"), &dr.Timeout, sr.Timeout)
			dr.Settings, dr.SettingRanges = mergeSettings(dr.Settings, dr.SettingRanges, sr.Settings, sr.SettingRanges, rbase+"settings.", l, c)
		}
	}
}

func mergeSettings(dst map[string]string, dstR map[string]hcl.Range, src map[string]string, srcR map[string]hcl.Range, prefix string, l *layer, c *Config) (map[string]string, map[string]hcl.Range) {
	if len(src) == 0 {
		return dst, dstR
	}
	if dst == nil {
		dst, dstR = map[string]string{}, map[string]hcl.Range{}
	}
	for k, v := range src {
		dst[k], dstR[k] = v, srcR[k]
		c.origins[prefix+k] = l.origins[prefix+k]
	}
	return dst, dstR
}

func (c *Config) addExcludes(l *layer) {
	o, ok := l.origins["exclude"]
	if !ok {
		return
	}
	for _, pat := range l.cfg.Exclude {
		c.origins["exclude."+strconv.Itoa(len(c.Exclude))] = o
		c.Exclude = append(c.Exclude, pat)
	}
}

// narrow applies a trusted repository layer: only what lowers a limit,
// budget, timeout or max_total, or adds exclusions. decodeLayer already
// refused every other attribute.
func (c *Config) narrow(l *layer, diags *hcl.Diagnostics) {
	src := l.cfg
	c.addExcludes(l)
	if o, ok := l.origins["admission.max_total"]; ok {
		if n := src.Admission.MaxTotal; c.Admission.MaxTotal == 0 || n < c.Admission.MaxTotal {
			c.Admission.MaxTotal = n
			c.origins["admission.max_total"] = o
		} else {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: max_total = %d does not lower max_total = %d and has no effect (a repository's config may only narrow)", pos(o.all), n, c.Admission.MaxTotal))
		}
	}
	// A longer cooldown sends less: it narrows.
	base, ceiling := c.Admission.EffectiveCooldown()
	for _, at := range []struct {
		path     string
		dst      *time.Duration
		v, floor time.Duration
	}{
		{"admission.cooldown", &c.Admission.Cooldown, src.Admission.Cooldown, base},
		{"admission.cooldown_max", &c.Admission.CooldownMax, src.Admission.CooldownMax, ceiling},
	} {
		o, ok := l.origins[at.path]
		if !ok {
			continue
		}
		if at.v > at.floor {
			*at.dst = at.v
			c.origins[at.path] = o
		} else {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s = %s does not lengthen %s and has no effect (a repository's config may only narrow)", pos(o.all), at.path[len("admission."):], at.v, at.floor))
		}
	}
	for _, sp := range src.Providers {
		dp := c.Provider(sp.Name)
		if dp == nil {
			*diags = append(*diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown provider in a repository's relay.hcl",
				Detail:   fmt.Sprintf("A repository's configuration may only narrow providers your own configuration declares, and yours has no provider %q; declare it in your own ~/.config/relay/relay.hcl or remove the block.", sp.Name),
				Subject:  sp.DeclRange.Ptr(),
			})
			continue
		}
		base := "provider." + sp.Name + ".route."
		for _, sr := range sp.Routes {
			dr := dp.Route(sr.Name)
			if dr == nil {
				// A route block of caps only: the plugin may offer routes
				// the user's configuration does not mention.
				dr = &Route{Name: sr.Name, DeclRange: sr.DeclRange}
				dp.Routes = append(dp.Routes, dr)
			}
			rbase := base + sr.Name + "."
			if o, ok := l.origins[rbase+"limit"]; ok && (dr.LimitCap == 0 || sr.Limit < dr.LimitCap) {
				dr.LimitCap = sr.Limit
				c.origins[rbase+"limit_cap"] = o
			}
			if o, ok := l.origins[rbase+"budget"]; ok && (dr.BudgetCap == 0 || sr.Budget < dr.BudgetCap) {
				dr.BudgetCap = sr.Budget
				c.origins[rbase+"budget_cap"] = o
			}
			if o, ok := l.origins[rbase+"timeout"]; ok && (dr.TimeoutCap == 0 || sr.Timeout < dr.TimeoutCap) {
				dr.TimeoutCap = sr.Timeout
				c.origins[rbase+"timeout_cap"] = o
			}
		}
	}
}

// finish applies defaults and the checks that span attributes, possibly
// set by different layers.
func (c *Config) finish(diags *hcl.Diagnostics) {
	if c.Admission.Backend == "" {
		c.Admission.Backend = "local"
	}
	for _, p := range c.Providers {
		if p.Plugin == "" {
			p.Plugin = "relay-provider-" + p.Name
		}
	}
	errAt := func(path, summary, detail string) {
		o := c.origins[path]
		*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: o.name.Ptr(), Context: o.all.Ptr()})
	}
	isSet := func(path string) bool { _, ok := c.origins[path]; return ok }
	if isSet("admission.cert_file") != isSet("admission.key_file") {
		which := "admission.cert_file"
		if !isSet(which) {
			which = "admission.key_file"
		}
		errAt(which, "Incomplete client certificate", "cert_file and key_file go together: set both for TLS client authentication, or neither.")
	}
	if isSet("admission.username") != isSet("admission.password_env") {
		which := "admission.username"
		if !isSet(which) {
			which = "admission.password_env"
		}
		errAt(which, "Incomplete etcd credentials", "username and password_env go together: set both to authenticate to etcd, or neither.")
	}
	switch c.Admission.Backend {
	case "local":
		for _, name := range etcdOnly {
			if isSet("admission." + name) {
				errAt("admission."+name, "Attribute needs the etcd backend",
					fmt.Sprintf(`%s is only used by backend = "etcd"; set that backend to share limits across machines, or remove %s.`, name, name))
			}
		}
	case "etcd":
		if isSet("admission.lock_root") {
			errAt("admission.lock_root", "Attribute needs the local backend",
				`lock_root is only used by backend = "local"; remove it or set backend = "local".`)
		}
		if !isSet("admission.endpoints") {
			errAt("admission.backend", "Missing endpoints",
				`backend = "etcd" needs endpoints = ["https://etcd-1.example:2379", ...].`)
		}
	}
}
