package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/relay-host/relay-host/admission"
)

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	checksumRE = regexp.MustCompile(`^sha256:[0-9a-fA-F]{64}$`)
)

var (
	rootSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "plugin_dirs"}, {Name: "exclude"}, {Name: "reviewers"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "admission"},
			{Type: "jobs"},
			{Type: "provider", LabelNames: []string{"name"}},
		},
	}
	jobsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "keep"}},
	}
	admissionSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "backend"}, {Name: "lock_root"}, {Name: "max_total"}, {Name: "wait"},
			{Name: "cooldown"}, {Name: "cooldown_max"},
			{Name: "endpoints"}, {Name: "prefix"}, {Name: "ttl"},
			{Name: "ca_file"}, {Name: "cert_file"}, {Name: "key_file"}, {Name: "username"}, {Name: "password_env"},
		},
	}
	providerSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "plugin"}, {Name: "checksum"}, {Name: "env"}, {Name: "settings"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "route", LabelNames: []string{"name"}}},
	}
	routeSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "limit"}, {Name: "budget"}, {Name: "timeout"}, {Name: "settings"},
		},
	}
)

// etcdOnly are the admission attributes the local backend does not use.
// Setting one with backend "local" is an error rather than silently
// ignored: an operator who believes a fleet shares one limit while each
// machine counts alone would overrun the quota.
var etcdOnly = []string{"endpoints", "prefix", "ttl", "ca_file", "cert_file", "key_file", "username", "password_env"}

// Parse parses and checks relay.hcl source. filename names the source in
// diagnostics and becomes Config.Path. Paths starting with ~ or $HOME expand
// to the current user's home directory (os.UserHomeDir); Load takes HOME from
// its getenv instead.
//
// Parse reads one file on its own, as if it were the only layer; Load
// layers the embedded default, the user's file, --config and a trusted
// repository file.
func Parse(src []byte, filename string) (*Config, error) {
	home, _ := os.UserHomeDir()
	return parse(src, filename, home)
}

func parse(src []byte, filename, home string) (*Config, error) {
	l, err := decodeLayer(src, filename, home, LayerExplicit)
	if err != nil {
		return nil, err
	}
	cfg := newConfig()
	cfg.files[filename] = l.file
	var diags hcl.Diagnostics
	cfg.merge(l, &diags)
	cfg.finish(&diags)
	if diags.HasErrors() {
		return nil, newDiagError(diags, cfg.files)
	}
	cfg.Path = filename
	return cfg, nil
}

// layer is one decoded file: its values (only what it sets is meaningful)
// and where each set attribute is.
type layer struct {
	kind    Layer
	path    string
	file    *hcl.File
	cfg     *Config
	origins map[string]origin
	blocks  map[string]hcl.Range // "admission", "provider.x", "provider.x.route.y" → DefRange
}

// decodeLayer parses and checks one file's own values. Checks that depend
// on other layers (etcd attributes against the backend, pairs of
// attributes) are made after merging, in finish. Its only failure is
// diagnostics, which Load gathers across layers.
func decodeLayer(src []byte, filename, home string, kind Layer) (*layer, *DiagError) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	files := map[string]*hcl.File{filename: file}
	if diags.HasErrors() {
		return nil, newDiagError(diags, files)
	}
	d := &decoder{home: home, src: src, layer: kind, origins: map[string]origin{}}
	l := &layer{kind: kind, path: filename, file: file, origins: d.origins, blocks: map[string]hcl.Range{}}
	l.cfg = d.root(file.Body, l.blocks)
	if d.diags.HasErrors() {
		return nil, newDiagError(d.diags, files)
	}
	return l, nil
}

// decoder walks the body by hand (not gohcl) so that each check can point
// at the exact expression and say what a valid value looks like. It keeps
// going after an error so one run reports every problem.
type decoder struct {
	home  string
	src   []byte
	diags hcl.Diagnostics
	// layer is the kind of file being read; a repository layer may set
	// only what narrows (see repoAllowed).
	layer Layer
	// origins records where each attribute this file sets is, keyed by its
	// path ("admission.max_total", "provider.x.route.y.limit",
	// "provider.x.settings.model"); merge copies exactly these.
	origins map[string]origin
}

// origin is where one attribute was set: name is its name's range (for
// "this attribute is not allowed here"), all is the whole attribute.
type origin struct{ name, all hcl.Range }

func (d *decoder) set(path string, at *hcl.Attribute) {
	d.origins[path] = origin{at.NameRange, at.Range}
}

// source returns what the user wrote for expr, for "got …" in a message.
// Quoting the source instead of formatting the value keeps a number like
// 1e100000000 from costing minutes of big.Float formatting.
func (d *decoder) source(expr hcl.Expression) string {
	s := string(expr.Range().SliceBytes(d.src))
	if len(s) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.Join(strings.Fields(s), " ")
}

func (d *decoder) add(diags hcl.Diagnostics) { d.diags = append(d.diags, diags...) }

func (d *decoder) errorf(subject hcl.Range, context *hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
		Context:  context,
	})
}

// attrErr reports a problem with an attribute's value.
func (d *decoder) attrErr(at *hcl.Attribute, format string, args ...any) {
	d.errorf(at.Expr.Range(), at.Range.Ptr(), "Invalid "+at.Name, format, args...)
}

// repoAllowed are the only attributes a repository's relay.hcl may set:
// each can only narrow what the user's own layers allow (a limit, budget
// or timeout is a cap there, max_total only lowers, cooldown and
// cooldown_max only lengthen, exclude only adds).
// Everything else (plugin, plugin_dirs, checksum, env, settings, reviewers,
// the rest of admission) would let a repository choose what runs, where the
// source goes or which secrets go with it.
var repoAllowed = map[string]bool{
	"exclude": true, "admission.max_total": true,
	"admission.cooldown": true, "admission.cooldown_max": true,
	"route.limit": true, "route.budget": true, "route.timeout": true,
}

// allowed reports whether this layer may set at (kind is its schema path
// such as "route.limit"), reporting a diagnostic when it may not.
func (d *decoder) allowed(kind string, at *hcl.Attribute) bool {
	if d.layer != LayerRepo || repoAllowed[kind] {
		return true
	}
	d.errorf(at.NameRange, at.Range.Ptr(), "Not allowed in a repository's relay.hcl",
		"A repository's configuration may only narrow yours (lower limit, budget, timeout or max_total; lengthen cooldown or cooldown_max; add exclude patterns); %s can only be set in your own ~/.config/relay/relay.hcl or --config file.", at.Name)
	return false
}

func (d *decoder) root(body hcl.Body, blocks map[string]hcl.Range) *Config {
	content, diags := body.Content(rootSchema)
	d.add(diags)
	cfg := &Config{}
	if at := content.Attributes["plugin_dirs"]; at != nil && d.allowed("plugin_dirs", at) {
		d.set("plugin_dirs", at)
		vals, rngs, _ := d.stringList(at)
		for i, v := range vals {
			if p, ok := d.path(at, rngs[i], v); ok {
				cfg.PluginDirs = append(cfg.PluginDirs, p)
			}
		}
	}
	if at := content.Attributes["reviewers"]; at != nil && d.allowed("reviewers", at) {
		d.set("reviewers", at)
		vals, rngs, _ := d.stringList(at)
		seen := map[string]bool{}
		for i, v := range vals {
			prov, rt, hasRoute := strings.Cut(v, "/")
			switch {
			case !nameRE.MatchString(prov) || hasRoute && !nameRE.MatchString(rt):
				d.errorf(rngs[i], at.Range.Ptr(), "Invalid reviewers",
					"Each reviewer is a provider name, or provider/route (e.g. \"claude\" or \"apireviewer/deepseek\"), not %q.", v)
			case seen[v]:
				d.errorf(rngs[i], at.Range.Ptr(), "Invalid reviewers", "%q is listed twice; each reviewer reviews once.", v)
			default:
				seen[v] = true
				cfg.Reviewers = append(cfg.Reviewers, v)
			}
		}
	}
	if at := content.Attributes["exclude"]; at != nil {
		d.set("exclude", at)
		vals, rngs, _ := d.stringList(at)
		for i, v := range vals {
			switch {
			case strings.TrimSpace(v) == "":
				d.errorf(rngs[i], at.Range.Ptr(), "Invalid exclude", "An exclude pattern must not be empty.")
			case strings.HasPrefix(v, "!"):
				d.errorf(rngs[i], at.Range.Ptr(), "Invalid exclude",
					"exclude only leaves files out; %q would bring one back in. Use a !pattern in the repository's .relayignore instead.", v)
			default:
				cfg.Exclude = append(cfg.Exclude, v)
			}
		}
	}
	providers := map[string]*hcl.Block{}
	// first reports whether b is the first block of its (label-less) type
	// in this file, reporting a duplicate otherwise.
	first := func(b *hcl.Block) bool {
		if prev, ok := blocks[b.Type]; ok {
			d.errorf(b.DefRange, nil, "Duplicate "+b.Type+" block",
				"A%s %s block was already declared at %s; merge the two.", article(b.Type), b.Type, pos(prev))
			return false
		}
		blocks[b.Type] = b.DefRange
		return true
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "admission":
			if first(b) {
				cfg.Admission = d.admission(b)
			}
		case "jobs":
			if first(b) {
				cfg.Jobs = d.jobs(b)
			}
		case "provider":
			p := d.provider(b, blocks)
			if prev := providers[p.Name]; prev != nil {
				d.errorf(b.LabelRanges[0], b.DefRange.Ptr(), "Duplicate provider block",
					"A provider %q was already declared at %s; each provider may be declared once.", p.Name, pos(prev.DefRange))
				continue
			}
			providers[p.Name] = b
			blocks["provider."+p.Name] = b.DefRange
			cfg.Providers = append(cfg.Providers, p)
		}
	}
	return cfg
}

// jobs reads the jobs block. A repository may set none of it: how long
// the user's own job records live is not a repository's business.
func (d *decoder) jobs(b *hcl.Block) Jobs {
	content, diags := b.Body.Content(jobsSchema)
	d.add(diags)
	var j Jobs
	if at := content.Attributes["keep"]; at != nil && d.allowed("jobs.keep", at) {
		d.set("jobs.keep", at)
		if v, ok := d.age(at); ok {
			j.Keep = v
		}
	}
	return j
}

// age reads a duration that may also be a whole number of days ("30d").
func (d *decoder) age(at *hcl.Attribute) (time.Duration, bool) {
	s, ok := d.str(at)
	if !ok {
		return 0, false
	}
	if n, isDays := strings.CutSuffix(s, "d"); isDays {
		if days, err := strconv.ParseUint(n, 10, 16); err == nil && days > 0 {
			return time.Duration(days) * 24 * time.Hour, true
		}
	} else if v, err := time.ParseDuration(s); err == nil && v > 0 {
		return v, true
	}
	d.attrErr(at, `%s must be a positive age like "30d", "12h" or "90m"; got %q.`, at.Name, s)
	return 0, false
}

func (d *decoder) admission(b *hcl.Block) Admission {
	content, diags := b.Body.Content(admissionSchema)
	d.add(diags)
	var a Admission
	for name, at := range content.Attributes {
		if d.allowed("admission."+name, at) {
			d.set("admission."+name, at)
		}
	}
	attrs := content.Attributes
	if at := attrs["backend"]; at != nil {
		if s, ok := d.str(at); ok {
			if s == "local" || s == "etcd" {
				a.Backend = s
			} else {
				d.attrErr(at, `backend must be "local" (lock files on this machine) or "etcd" (a limit shared by a fleet); got %q.`, s)
			}
		}
	}
	if at := attrs["lock_root"]; at != nil {
		if s, ok := d.str(at); ok {
			a.LockRoot, _ = d.path(at, at.Expr.Range(), s)
		}
	}
	if at := attrs["max_total"]; at != nil {
		if n, ok := d.whole(at, math.MaxInt32, "the number of reviews that may run at once across all routes"); ok {
			a.MaxTotal = int(n)
		}
	}
	if at := attrs["wait"]; at != nil {
		if v, ok := d.duration(at); ok {
			if v < 0 {
				d.attrErr(at, "wait must not be negative; use \"0s\" to fail at once when no slot is free.")
			} else {
				a.Wait = v
			}
		}
	}
	for name, dst := range map[string]*time.Duration{"cooldown": &a.Cooldown, "cooldown_max": &a.CooldownMax} {
		if at := attrs[name]; at != nil {
			if v, ok := d.duration(at); ok {
				if v < time.Second {
					d.attrErr(at, "%s must be at least 1s: it is how long a route waits after a rate limit before anyone sends to it again; got %q.", name, v.String())
				} else {
					*dst = v
				}
			}
		}
	}
	if at := attrs["endpoints"]; at != nil {
		vals, rngs, ok := d.stringList(at)
		for i, v := range vals {
			if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' }) {
				d.errorf(rngs[i], at.Range.Ptr(), "Invalid endpoints", "Each endpoint is a URL or host:port without spaces; got %q.", v)
				continue
			}
			a.Endpoints = append(a.Endpoints, v)
		}
		if ok && len(vals) == 0 {
			d.attrErr(at, `endpoints must list at least one etcd endpoint, e.g. ["https://etcd-1.example:2379"].`)
		}
	}
	if at := attrs["prefix"]; at != nil {
		if s, ok := d.str(at); ok {
			if s == "" {
				d.attrErr(at, "prefix must not be empty; remove it to use the default.")
			}
			a.Prefix = s
		}
	}
	if at := attrs["ttl"]; at != nil {
		if v, ok := d.duration(at); ok {
			if v < time.Second || v%time.Second != 0 {
				d.attrErr(at, "ttl must be a whole number of seconds, at least \"1s\" (etcd leases count in seconds); got %q.", v.String())
			} else {
				a.TTL = v
			}
		}
	}
	for name, dst := range map[string]*string{"ca_file": &a.CAFile, "cert_file": &a.CertFile, "key_file": &a.KeyFile} {
		if at := attrs[name]; at != nil {
			if s, ok := d.str(at); ok {
				*dst, _ = d.path(at, at.Expr.Range(), s)
			}
		}
	}
	if at := attrs["username"]; at != nil {
		if s, ok := d.str(at); ok {
			a.Username = s
		}
	}
	if at := attrs["password_env"]; at != nil {
		if s, ok := d.str(at); ok {
			if !envNameRE.MatchString(s) {
				d.attrErr(at, "password_env names an environment variable that holds the etcd password (the password itself never goes in relay.hcl); got %q.", s)
			} else {
				a.PasswordEnv = s
			}
		}
	}
	return a
}

func (d *decoder) provider(b *hcl.Block, blocks map[string]hcl.Range) *Provider {
	p := &Provider{Name: b.Labels[0], DeclRange: b.DefRange}
	d.checkName("provider", b)
	content, diags := b.Body.Content(providerSchema)
	d.add(diags)
	attrs := content.Attributes
	base := "provider." + p.Name + "."
	for name, at := range attrs {
		if name != "settings" && d.allowed("provider."+name, at) {
			d.set(base+name, at)
		}
	}

	if at := attrs["plugin"]; at != nil {
		if s, ok := d.str(at); ok {
			p.Plugin, _ = d.plugin(at, s)
		}
	}
	if at := attrs["checksum"]; at != nil {
		if s, ok := d.str(at); ok {
			if checksumRE.MatchString(s) {
				p.Checksum = strings.ToLower(s)
			} else {
				d.attrErr(at, `checksum must be "sha256:" followed by 64 hex digits (sha256sum of the plugin binary); got %q.`, s)
			}
		}
	}
	if at := attrs["env"]; at != nil {
		vals, rngs, _ := d.stringList(at)
		seen := map[string]bool{}
		for i, v := range vals {
			switch {
			case !envNameRE.MatchString(v):
				d.errorf(rngs[i], at.Range.Ptr(), "Invalid env",
					"env lists environment variable names (letters, digits and _, not starting with a digit); got %q.", v)
			case seen[v]:
				d.errorf(rngs[i], at.Range.Ptr(), "Invalid env", "%s is listed twice.", v)
			default:
				seen[v] = true
				p.Env = append(p.Env, v)
			}
		}
	}
	if at := attrs["settings"]; at != nil && d.allowed("provider.settings", at) {
		p.Settings, p.SettingRanges = d.settings(at, base+"settings.")
	}

	routes := map[string]*hcl.Block{}
	for _, rb := range content.Blocks {
		r := d.route(rb, base+"route.")
		if prev := routes[r.Name]; prev != nil {
			d.errorf(rb.LabelRanges[0], rb.DefRange.Ptr(), "Duplicate route block",
				"Provider %q already declares route %q at %s; each route may be declared once.", p.Name, r.Name, pos(prev.DefRange))
			continue
		}
		routes[r.Name] = rb
		blocks[base+"route."+r.Name] = rb.DefRange
		p.Routes = append(p.Routes, r)
	}
	return p
}

func (d *decoder) route(b *hcl.Block, prefix string) *Route {
	r := &Route{Name: b.Labels[0], DeclRange: b.DefRange}
	d.checkName("route", b)
	content, diags := b.Body.Content(routeSchema)
	d.add(diags)
	attrs := content.Attributes
	base := prefix + r.Name + "."
	for name, at := range attrs {
		if name != "settings" && d.allowed("route."+name, at) {
			d.set(base+name, at)
		}
	}
	if at := attrs["limit"]; at != nil {
		if n, ok := d.whole(at, math.MaxInt32, "the number of reviews that may run at once on this route"); ok {
			r.Limit, r.LimitRange = int(n), at.Expr.Range()
		}
	}
	if at := attrs["budget"]; at != nil {
		if n, ok := d.budget(at); ok {
			r.Budget, r.BudgetRange = n, at.Expr.Range()
		}
	}
	if at := attrs["timeout"]; at != nil {
		if v, ok := d.duration(at); ok {
			if v <= 0 {
				d.attrErr(at, "timeout must be positive; remove it to use the plugin's default.")
			} else {
				r.Timeout = v
			}
		}
	}
	if at := attrs["settings"]; at != nil && d.allowed("route.settings", at) {
		r.Settings, r.SettingRanges = d.settings(at, base+"settings.")
	}
	return r
}

func (d *decoder) checkName(kind string, b *hcl.Block) {
	if name := b.Labels[0]; !nameRE.MatchString(name) {
		d.errorf(b.LabelRanges[0], b.DefRange.Ptr(), "Invalid "+kind+" name",
			`A %s name uses lower-case letters, digits, "_" and "-", and starts with a letter or digit; got %q.`, kind, name)
	}
}

// value evaluates an attribute with no variables or functions: relay.hcl
// is plain data.
func (d *decoder) value(expr hcl.Expression, at *hcl.Attribute) (cty.Value, bool) {
	v, diags := expr.Value(nil)
	d.add(diags)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if v.IsNull() || !v.IsWhollyKnown() {
		d.errorf(expr.Range(), at.Range.Ptr(), "Invalid "+at.Name, "%s must not be null.", at.Name)
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) str(at *hcl.Attribute) (string, bool) {
	return d.strExpr(at.Expr, at)
}

func (d *decoder) strExpr(expr hcl.Expression, at *hcl.Attribute) (string, bool) {
	v, ok := d.value(expr, at)
	if !ok {
		return "", false
	}
	if v.Type() != cty.String {
		d.errorf(expr.Range(), at.Range.Ptr(), "Invalid "+at.Name, "%s must be a string (in double quotes); got %s.", at.Name, v.Type().FriendlyName())
		return "", false
	}
	return v.AsString(), true
}

// whole reads a whole number from 1 to max; what says what it counts.
func (d *decoder) whole(at *hcl.Attribute, max int64, what string) (int64, bool) {
	v, ok := d.value(at.Expr, at)
	if !ok {
		return 0, false
	}
	if v.Type() != cty.Number {
		d.attrErr(at, "%s must be a whole number of at least 1 (%s), without quotes; got %s.", at.Name, what, v.Type().FriendlyName())
		return 0, false
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if bf.IsInt() && bf.Sign() > 0 && (acc != big.Exact || n > max) {
		d.attrErr(at, "%s must be at most %d (%s); got %s.", at.Name, max, what, d.source(at.Expr))
		return 0, false
	}
	if !bf.IsInt() || n < 1 {
		d.attrErr(at, "%s must be a whole number of at least 1 (%s); got %s.", at.Name, what, d.source(at.Expr))
		return 0, false
	}
	return n, true
}

func (d *decoder) budget(at *hcl.Attribute) (int64, bool) {
	v, ok := d.value(at.Expr, at)
	if !ok {
		return 0, false
	}
	const want = `budget is the largest packet (diff + prompt) sent to the route: a whole number of bytes or a size like "512KiB", "1MiB" or "120KB"`
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact || n < 1 {
			d.attrErr(at, "%s; got %s.", want, d.source(at.Expr))
			return 0, false
		}
		return n, true
	case cty.String:
		n, err := ParseSize(v.AsString())
		if err != nil {
			d.attrErr(at, "%s; %v.", want, err)
			return 0, false
		}
		return n, true
	}
	d.attrErr(at, "%s; got %s.", want, v.Type().FriendlyName())
	return 0, false
}

func (d *decoder) duration(at *hcl.Attribute) (time.Duration, bool) {
	s, ok := d.str(at)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.attrErr(at, `%s must be a duration like "30s", "10m" or "1h30m"; got %q.`, at.Name, s)
		return 0, false
	}
	return v, true
}

// stringList reads a list of strings and the range of each element. It
// reports invalid elements and returns the valid ones; ok is false when it
// reported anything.
func (d *decoder) stringList(at *hcl.Attribute) (vals []string, rngs []hcl.Range, ok bool) {
	exprs, diags := hcl.ExprList(at.Expr)
	if diags.HasErrors() {
		d.attrErr(at, `%s must be a list of strings, e.g. ["a", "b"].`, at.Name)
		return nil, nil, false
	}
	ok = true
	for _, e := range exprs {
		s, good := d.strExpr(e, at)
		if !good {
			ok = false
			continue
		}
		vals = append(vals, s)
		rngs = append(rngs, e.Range())
	}
	return vals, rngs, ok
}

// reservedSettingPrefix starts the setting keys the sdk reserves for the
// host (sdk.Settings): providers skip them, so a user's key there would be
// silently ignored at best and read by a later relay-host as its own at
// worst.
const reservedSettingPrefix = "relay."

// settings reads a map of strings; numbers and bools are accepted and kept
// in their HCL spelling ("4096", "true") since plugins parse what they need.
func (d *decoder) settings(at *hcl.Attribute, prefix string) (map[string]string, map[string]hcl.Range) {
	pairs, diags := hcl.ExprMap(at.Expr)
	if diags.HasErrors() {
		d.attrErr(at, `settings must be a map of strings, e.g. { model = "glm-4.7" }.`)
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	rngs := make(map[string]hcl.Range, len(pairs))
	for _, kv := range pairs {
		key, ok := d.strExpr(kv.Key, at)
		if !ok {
			continue
		}
		if key == "" {
			d.errorf(kv.Key.Range(), at.Range.Ptr(), "Invalid settings", "A settings key must not be empty.")
			continue
		}
		if strings.HasPrefix(key, reservedSettingPrefix) {
			d.errorf(kv.Key.Range(), at.Range.Ptr(), "Reserved setting", "Keys beginning with %q are reserved for relay-host and the plugin SDK; rename %q.", reservedSettingPrefix, key)
			continue
		}
		if prev, dup := rngs[key]; dup {
			d.errorf(kv.Key.Range(), at.Range.Ptr(), "Invalid settings", "%q is set twice (first at %s).", key, pos(prev))
			continue
		}
		v, ok := d.value(kv.Value, at)
		if !ok {
			continue
		}
		if !v.Type().IsPrimitiveType() {
			d.errorf(kv.Value.Range(), at.Range.Ptr(), "Invalid settings", "The value of %q must be a string, number or bool; got %s.", key, v.Type().FriendlyName())
			continue
		}
		sv, err := convert.Convert(v, cty.String)
		if err != nil {
			d.errorf(kv.Value.Range(), at.Range.Ptr(), "Invalid settings", "The value of %q must be a string, number or bool.", key)
			continue
		}
		m[key], rngs[key] = sv.AsString(), kv.Value.Range()
		d.origins[prefix+key] = origin{kv.Key.Range(), hcl.RangeBetween(kv.Key.Range(), kv.Value.Range())}
	}
	return m, rngs
}

// plugin accepts a bare binary name (found by plugin discovery) or a path.
func (d *decoder) plugin(at *hcl.Attribute, s string) (string, bool) {
	if s == "" || s == "." || s == ".." {
		d.attrErr(at, `plugin must name a binary ("relay-provider-x") or give its absolute path; got %q.`, s)
		return "", false
	}
	if strings.ContainsRune(s, '/') || strings.HasPrefix(s, "~") || strings.HasPrefix(s, "$") {
		return d.path(at, at.Expr.Range(), s)
	}
	return s, true
}

func (d *decoder) path(at *hcl.Attribute, rng hcl.Range, s string) (string, bool) {
	p, err := expandPath(s, d.home)
	if err != nil {
		d.errorf(rng, at.Range.Ptr(), "Invalid "+at.Name, "%v.", err)
		return "", false
	}
	return p, true
}

// expandPath expands a leading ~ or $HOME (admission.ExpandHome, the one
// expander) and requires an absolute result: a relative path would depend
// on the directory relay-host runs in.
func expandPath(s, home string) (string, error) {
	if s == "" {
		return "", errors.New("the path must not be empty")
	}
	p, err := admission.ExpandHome(s, home)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is relative; use an absolute path or one starting with ~", s)
	}
	return filepath.Clean(p), nil
}

// article is "n" before a word starting with a vowel ("An admission"),
// else "" ("A jobs").
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}

func pos(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }
