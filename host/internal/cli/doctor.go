package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/sanitize"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/hostlog"
	"github.com/relay-host/relay-host/host/internal/lockroot"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/host/internal/route"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/sdk"
)

// `relay-host doctor` checks what a review needs, one line per item, and
// says how to fix each failure. It is read-only like `providers`: it opens
// sessions without Acquire (no shared_state directory is created), checks
// the lock root and the job store without opening them (opening creates
// them), and asks each plugin's optional self-check (sdk.Diagnoser), which
// must send nothing to a model. Everything a plugin says goes through the
// scrubber.
//
// What doctor "needs" (its exit status) is defined in doctorVerdict.

// exitDoctorNotReady is doctor's status when something needed is not
// usable: the provider-failure code. 0 is ready, 2 a bad flag or relay.hcl,
// as for every command.
const exitDoctorNotReady = exitcode.Provider

// diagnoseTimeout bounds a plugin's self-check of one route.
const diagnoseTimeout = 20 * time.Second

// etcdProbeTimeout bounds the etcd reachability check.
const etcdProbeTimeout = 3 * time.Second

// DoctorOptions are `relay-host doctor`'s flags.
type DoctorOptions struct {
	g        *Globals
	Provider string
	JSON     bool
}

func newDoctorCmd(g *Globals) *cobra.Command {
	o := &DoctorOptions{g: g}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that reviews can run: plugins, CLIs, credentials, limits, lock root, job store",
		Long: `Check, one line per item, what a review needs, and say how to fix each
failure: for each provider and route, the plugin (found, checksum, version),
its self-check (CLI and version, credentials present, by name only),
the shared_state directory and the effective limit and its source; the lock
root and the job store; the configuration files used or ignored; etcd when
configured; whether the MCP clients' configurations (Claude Code, Codex,
Gemini CLI) run this relay-host's mcp (never needed). Nothing is sent to a
provider and nothing is created.

Exit status: 0 when everything needed is usable: the lock root, the job
store, etcd (when configured) and your configuration files; at least one
usable route; every provider your relay.hcl (or --config) declares or sets
an attribute of has a usable route; and every route it sets an attribute of
is usable. A built-in provider you never configured that is unusable (its
CLI is not installed, no key) is shown with ✗ and the fix, but does not
fail doctor. With --provider P only P is checked, and P must have a usable
route. 3 when something needed is not usable; 2 for a bad flag or relay.hcl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.Provider, "provider", "", "check only this provider")
	cmd.RegisterFlagCompletionFunc("provider", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return g.completeProviders(c, nil, prefix)
	})
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

// doctorItem is one checked item: one line of output.
type doctorItem struct {
	Provider string `json:"provider,omitempty"`
	Route    string `json:"route,omitempty"`
	// Check names the item: config, lock_root, job_store, etcd, plugin,
	// settings, route, limit, state, self_check, or a name from the
	// plugin's self-check (cli, credentials, endpoint, ...).
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
	// Needed: a failure of this item fails doctor (see doctorVerdict).
	Needed bool `json:"needed"`
}

// doctorReport is doctor's whole answer.
type doctorReport struct {
	OK bool `json:"ok"`
	// Usable are the routes every check passed for, as provider/route.
	Usable []string `json:"usable_routes"`
	// Blocking says why OK is false, one line each.
	Blocking []string     `json:"blocking"`
	Items    []doctorItem `json:"items"`
}

// providerCheck is one provider's items and what doctorVerdict needs of it.
type providerCheck struct {
	name  string
	items []doctorItem
	// wanted: --provider names it, or the user's files declare it or set
	// one of its attributes. wantedRoutes: routes they set an attribute of.
	wanted       bool
	wantedRoutes map[string]bool
	usable       []string // routes whose every item passed
}

func runDoctor(ctx context.Context, o *DoctorOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, logs, err := o.g.open(o.Provider)
	if err != nil {
		return err
	}
	defer logs.Close()
	getenv := o.g.IO.Getenv
	home, _ := lockroot.Home(getenv)

	var host []doctorItem
	if o.Provider == "" {
		host = append(host, configItems(cfg, home)...)
		host = append(host, mcpClientItems(o.g, home)...)
	}
	// What review scrubs from a plugin's words, doctor scrubs too: the job
	// store and the lock roots (each route's shared_state directory is
	// added when it resolves).
	jobsDir, jobsErr := jobs.DefaultDir(getenv)
	if jobsErr == nil {
		logs.Scrubber.AddPaths(jobsDir)
	}
	for _, shared := range []bool{false, true} {
		if r, _, err := lockroot.Resolve(lockroot.Input{Configured: cfg.Admission.LockRoot, SharedState: shared, Getenv: getenv}); err == nil {
			logs.Scrubber.AddPaths(r)
		}
	}
	var provs []*config.Provider
	for _, p := range cfg.Providers {
		if o.Provider == "" || p.Name == o.Provider {
			provs = append(provs, p)
		}
	}
	checks := make([]providerCheck, len(provs))
	lockRoots := make([][]string, len(provs))
	var wg sync.WaitGroup
	for i, p := range provs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checks[i], lockRoots[i] = doctorProvider(ctx, o.g, cfg, logs, p, o.Provider != "")
		}()
	}
	wg.Wait()

	// The lock roots the routes resolved to (one, unless the environment
	// moves stateless keys), else the one a stateless route would use.
	seen := map[string]bool{}
	var roots []string
	for _, rs := range lockRoots {
		for _, r := range rs {
			if !seen[r] {
				seen[r] = true
				roots = append(roots, r)
			}
		}
	}
	if len(roots) == 0 {
		r, _, err := lockroot.Resolve(lockroot.Input{Configured: cfg.Admission.LockRoot, Getenv: getenv})
		if err != nil {
			host = append(host, doctorItem{Check: "lock_root", Detail: lockroot.WithoutPath(err).Error(), Needed: true})
		} else {
			roots = append(roots, r)
		}
	}
	for _, r := range roots {
		host = append(host, stateDirItem("lock_root", r, home, "lock root"))
	}
	if jobsErr != nil {
		host = append(host, doctorItem{Check: "job_store", Detail: jobsErr.Error(), Needed: true})
	} else {
		host = append(host, stateDirItem("job_store", jobsDir, home, "job store"))
	}
	if cfg.Admission.Backend == string(route.BackendEtcd) {
		host = append(host, etcdItem(ctx, cfg, getenv, logs))
	}

	rep := doctorVerdict(host, checks, o.Provider)
	if o.JSON {
		printJSON(o.g.IO.Out, rep)
	} else {
		printDoctor(o.g.IO.Out, rep)
	}
	if !rep.OK {
		return silentExit(exitDoctorNotReady)
	}
	return nil
}

// doctorVerdict decides whether doctor passes. It needs: every host item
// (lock root, job store, etcd, the user's configuration files); at least
// one usable route; a usable route of every wanted provider; and every
// wanted route usable. An unusable built-in provider the user never
// configured is shown but needed by nothing.
func doctorVerdict(host []doctorItem, checks []providerCheck, only string) doctorReport {
	rep := doctorReport{Usable: []string{}, Blocking: []string{}}
	for _, it := range host {
		rep.Items = append(rep.Items, it)
		if it.Needed && !it.OK {
			rep.Blocking = append(rep.Blocking, it.Check+": "+it.Detail)
		}
	}
	for _, c := range checks {
		usable := map[string]bool{}
		for _, r := range c.usable {
			usable[r] = true
			rep.Usable = append(rep.Usable, c.name+"/"+r)
		}
		for _, it := range c.items {
			it.Needed = c.wanted && (it.Route == "" || c.wantedRoutes[it.Route] || len(c.usable) == 0)
			rep.Items = append(rep.Items, it)
		}
		if c.wanted && len(c.usable) == 0 {
			why := "your relay.hcl configures it"
			if only != "" {
				why = "--provider names it"
			}
			rep.Blocking = append(rep.Blocking, fmt.Sprintf("provider %s has no usable route, and %s", c.name, why))
		}
		for r := range c.wantedRoutes {
			if !usable[r] {
				rep.Blocking = append(rep.Blocking, fmt.Sprintf("route %s/%s is not usable, and your relay.hcl configures it", c.name, r))
			}
		}
	}
	if len(rep.Usable) == 0 && only == "" {
		rep.Blocking = append(rep.Blocking, "no route is usable: fix one of the ✗ items above")
	}
	rep.OK = len(rep.Blocking) == 0
	return rep
}

// doctorProvider checks one provider: its plugin, settings, and each route
// it describes or relay.hcl names. It also returns the lock roots its
// routes resolved to.
func doctorProvider(ctx context.Context, g *Globals, cfg *config.Config, logs *hostlog.Logs, p *config.Provider, named bool) (providerCheck, []string) {
	c := providerCheck{name: p.Name, wantedRoutes: map[string]bool{}}
	c.wanted = named || userSetsProvider(cfg, p)
	for _, rc := range p.Routes {
		if userSetsRoute(cfg, p, rc) {
			c.wantedRoutes[rc.Name] = true
		}
	}
	sc := logs.Scrubber
	home, _ := lockroot.Home(g.IO.Getenv)
	add := func(it doctorItem) { it.Provider = p.Name; c.items = append(c.items, it) }

	s, err := route.Open(ctx, cfg, p.Name, route.Options{
		Getenv: g.IO.Getenv, Environ: g.IO.Environ(), SelfDir: g.IO.SelfDir,
		Log: logs.Host, PluginLog: logs.Plugin(), Secrets: sc.AddSecrets,
	})
	var oe *route.OpenError
	switch {
	case errors.As(err, &oe):
		it := doctorItem{Check: "plugin", Detail: sc.Message(oe.Err.Error())}
		switch {
		case oe.Stage == route.StageFind && pluginhost.IsNotFound(oe.Err):
			it.Fix = "run make install, or set plugin in the provider block to the binary's absolute path"
		case oe.Stage != route.StageFind && oe.Stage != route.StageLaunch:
			it.Detail = string(oe.Stage) + " failed: " + it.Detail
			it.Fix = "run relay-host plugin check " + tilde(oe.Path, home)
		}
		add(it)
		return c, nil
	case err != nil:
		add(doctorItem{Check: "plugin", Detail: sc.Message(err.Error())})
		return c, nil
	}
	defer s.Close()
	d := s.Description
	pin := "checksum not pinned"
	if p.Checksum != "" {
		pin = "checksum matches the pinned one"
	}
	add(doctorItem{Check: "plugin", OK: true, Detail: fmt.Sprintf("%s %s (sdk %s) at %s, %s",
		filepath.Base(s.Path), sc.Field(d.Version), sc.Field(d.SDKVersion), tilde(s.Path, home), pin)})
	settingsOK := len(s.Rejected) == 0
	for _, r := range s.Rejected {
		add(doctorItem{Route: r.Route, Check: "settings", Detail: fmt.Sprintf("relay.hcl setting %s rejected: %s", sc.Field(r.Attribute), sc.Message(r.Message)),
			Fix: "fix the setting in relay.hcl (relay-host config show says where it is set)"})
	}

	var roots []string
	described := map[string]bool{}
	for _, dr := range d.Routes {
		described[dr.Name] = true
		before := len(c.items)
		rt, err := s.Resolve(dr.Name)
		var fe *route.FactError
		switch {
		case errors.As(err, &fe):
			add(doctorItem{Route: dr.Name, Check: "limit", Detail: fe.Msg})
		case err != nil:
			add(doctorItem{Route: dr.Name, Check: "limit", Detail: sc.Message(err.Error())})
		default:
			a := rt.Admission
			roots = append(roots, a.LockRoot)
			if a.StateDir != "" {
				sc.AddPaths(a.StateDir)
			}
			add(doctorItem{Route: dr.Name, Check: "limit", OK: true,
				Detail: fmt.Sprintf("%s, limit %d (%s), %s backend", dr.Fact.Kind, a.Limit, a.LimitSource, rt.Backend)})
			if dr.Fact.Kind == sdk.FactSharedState {
				// The directory itself is never named: it identifies the
				// account's state.
				detail := "shared_state directory exists"
				switch {
				case a.WouldCreate:
					detail = "shared_state directory does not exist yet; the first review creates it (0700)"
				case a.StateDir == "":
					detail = "shared_state identity resolved"
				}
				add(doctorItem{Route: dr.Name, Check: "state", OK: true, Detail: detail})
			}
		}
		for _, it := range selfCheck(ctx, s, p, dr.Name, sc) {
			add(it)
		}
		if settingsOK && allOK(c.items[before:]) {
			c.usable = append(c.usable, dr.Name)
		}
	}
	// A route relay.hcl declares that the plugin does not offer: its
	// self-check usually says why (grokweb's web route without a tunnel).
	for _, rc := range p.Routes {
		if described[rc.Name] {
			continue
		}
		add(doctorItem{Route: rc.Name, Check: "route", Detail: "the plugin does not offer this route",
			Fix: "see the self-check below, or remove the route block from relay.hcl"})
		for _, it := range selfCheck(ctx, s, p, rc.Name, sc) {
			if it.Check != "self_check" || !it.OK {
				add(it)
			}
		}
	}
	return c, roots
}

// diagnoser is a plugin that can be asked for its self-check; the real
// plugin processes (pluginhost.Plugin) are.
type diagnoser interface {
	Diagnose(ctx context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error)
}

// selfCheck asks the plugin to check route, with the route's effective
// settings as a review would send them, and scrubs what it says.
func selfCheck(ctx context.Context, s *route.Session, p *config.Provider, routeName string, sc *sanitize.Scrubber) []doctorItem {
	noCheck := []doctorItem{{Route: routeName, Check: "self_check", OK: true, Detail: sdk.ErrNoSelfCheck.Error()}}
	dp, ok := s.Plugin.(diagnoser)
	if !ok {
		return noCheck
	}
	settings := maps.Clone(p.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	if rc := p.Route(routeName); rc != nil {
		maps.Copy(settings, rc.Settings)
	}
	cctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	checks, err := dp.Diagnose(cctx, sdk.DiagnoseRequest{Route: routeName, Settings: settings})
	if errors.Is(err, sdk.ErrNoSelfCheck) {
		return noCheck
	}
	if err != nil {
		return []doctorItem{{Route: routeName, Check: "self_check", Detail: "the plugin's self-check failed: " + sc.Message(err.Error()),
			Fix: "run relay-host plugin check on the plugin, or report it to its author"}}
	}
	var out []doctorItem
	for _, ch := range checks {
		name := sc.Field(ch.Name)
		if name == "" {
			name = "self_check"
		}
		it := doctorItem{Route: routeName, Check: name, OK: ch.OK, Detail: sc.Message(ch.Detail)}
		if !ch.OK {
			it.Fix = sc.Message(ch.Fix)
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		return noCheck
	}
	return out
}

func allOK(items []doctorItem) bool {
	for _, it := range items {
		if !it.OK {
			return false
		}
	}
	return true
}

// configItems lists the configuration files in effect and those ignored.
// The user's own files are used or the configuration would not have
// loaded; a repository's file that is not trusted is reported, but no
// review needs it.
func configItems(cfg *config.Config, home string) []doctorItem {
	var out []doctorItem
	for _, s := range cfg.Sources {
		name := tilde(s.Path, home)
		if s.Layer == config.LayerEmbedded {
			name = "the built-in relay.hcl"
		}
		switch s.Status {
		case config.SourceUsed:
			detail := name + " (" + string(s.Layer) + "): used"
			if s.Trusted {
				detail += ", trusted"
			}
			out = append(out, doctorItem{Check: "config", OK: true, Detail: detail})
		case config.SourceIgnored:
			it := doctorItem{Check: "config", Detail: name + " (" + string(s.Layer) + "): ignored: " + s.Reason}
			switch s.Reason {
			case "it is the built-in default", "it is the file already read as your own configuration":
				it.OK = true
			default:
				it.Fix = "read it, then run relay-host config trust " + name + " to have it narrow your configuration"
			}
			out = append(out, it)
		}
	}
	return out
}

// stateDirItem checks a directory relay-host keeps state in (the lock
// root, the job store) without creating or changing it, refusing what
// admission.OpenLocal and jobs.Open refuse when they open it: a symlink, a
// non-directory, another user's directory, one writable by group or
// others. A missing directory is fine when its nearest existing ancestor
// is a directory this user can write: the first review creates it 0700.
func stateDirItem(check, dir, home, what string) doctorItem {
	shown := tilde(dir, home)
	it := doctorItem{Check: check, Detail: what + " " + shown, Needed: true}
	fail := func(problem, fix string) doctorItem {
		it.Detail += " " + problem
		it.Fix = fix
		return it
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		anc := filepath.Dir(dir)
		for {
			afi, aerr := os.Stat(anc)
			if aerr == nil {
				if !afi.IsDir() {
					return fail("cannot be created: "+tilde(anc, home)+" is not a directory", "move "+tilde(anc, home)+" away")
				}
				if unix.Access(anc, unix.W_OK) != nil {
					return fail("cannot be created: "+tilde(anc, home)+" is not writable by you", "make "+tilde(anc, home)+" yours, or set XDG_STATE_HOME")
				}
				break
			}
			if !errors.Is(aerr, fs.ErrNotExist) || anc == filepath.Dir(anc) {
				return fail("cannot be created: "+lockroot.WithoutPath(aerr).Error(), "set XDG_STATE_HOME to a directory you own")
			}
			anc = filepath.Dir(anc)
		}
		it.OK = true
		it.Detail += " does not exist yet; the first review creates it (0700)"
		return it
	}
	if err != nil {
		return fail("cannot be inspected: "+lockroot.WithoutPath(err).Error(), "check its permissions")
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fail("is a symlink", "replace it with a directory owned by you (mode 0700)")
	case !fi.IsDir():
		return fail("is not a directory", "move it away")
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fail(fmt.Sprintf("is owned by uid %d, not you", st.Uid), "use a directory you own (admission.lock_root, XDG_STATE_HOME)")
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fail(fmt.Sprintf("is writable by other users (mode %04o)", perm), "run chmod 700 "+shown)
	}
	it.OK = true
	it.Detail += " is safe (yours, mode " + fmt.Sprintf("%04o", fi.Mode().Perm()) + ")"
	return it
}

// etcdItem checks that the etcd backend answers a read within
// etcdProbeTimeout. The read takes no lease and writes nothing.
func etcdItem(ctx context.Context, cfg *config.Config, getenv func(string) string, logs *hostlog.Logs) doctorItem {
	it := doctorItem{Check: "etcd", Needed: true}
	b, err := review.OpenEtcd(cfg, getenv, logs.Host)
	if err != nil {
		it.Detail = "cannot set up the etcd client: " + logs.Scrubber.Message(err.Error())
		it.Fix = "fix the admission block (endpoints, TLS files, password_env)"
		return it
	}
	defer b.Close()
	pctx, cancel := context.WithTimeout(ctx, etcdProbeTimeout)
	defer cancel()
	if _, err := b.Status(pctx, "relay-doctor.probe"); err != nil {
		it.Detail = fmt.Sprintf("etcd (%s) did not answer a read (timeout %s): %s", strings.Join(cfg.Admission.Endpoints, ", "), etcdProbeTimeout, logs.Scrubber.Message(err.Error()))
		it.Fix = "check that etcd runs and the endpoints, TLS and credentials in the admission block are right"
		return it
	}
	it.OK = true
	it.Detail = "etcd (" + strings.Join(cfg.Admission.Endpoints, ", ") + ") answers"
	return it
}

// userFiles are the user's own configuration files in effect (not the
// built-in one, not a repository's, which may only narrow).
func userFiles(cfg *config.Config) map[string]bool {
	m := map[string]bool{}
	for _, s := range cfg.Sources {
		if s.Status == config.SourceUsed && (s.Layer == config.LayerUser || s.Layer == config.LayerExplicit) {
			m[s.Path] = true
		}
	}
	return m
}

// setByUser reports whether one of paths has its value from the user's
// own files.
func setByUser(cfg *config.Config, paths ...string) bool {
	files := userFiles(cfg)
	for _, p := range paths {
		if o, ok := cfg.Origin(p); ok && files[o.File] {
			return true
		}
	}
	return false
}

// userSetsProvider: the user's files declare the provider (it is not
// built in) or set one of its attributes or one of its routes'.
func userSetsProvider(cfg *config.Config, p *config.Provider) bool {
	base := "provider." + p.Name
	paths := []string{base, base + ".plugin", base + ".checksum", base + ".env"}
	for k := range p.Settings {
		paths = append(paths, base+".settings."+k)
	}
	if setByUser(cfg, paths...) {
		return true
	}
	for _, rc := range p.Routes {
		if userSetsRoute(cfg, p, rc) {
			return true
		}
	}
	return false
}

// userSetsRoute: the user's files declare the route or set one of its
// attributes.
func userSetsRoute(cfg *config.Config, p *config.Provider, rc *config.Route) bool {
	base := "provider." + p.Name + ".route." + rc.Name
	paths := []string{base, base + ".limit", base + ".budget", base + ".timeout"}
	for k := range rc.Settings {
		paths = append(paths, base+".settings."+k)
	}
	return setByUser(cfg, paths...)
}

// tilde shows a path under home as ~/…, so that doctor's output names no
// user's home directory.
func tilde(p, home string) string {
	if home == "" {
		return p
	}
	if rel, err := filepath.Rel(home, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		if rel == "." {
			return "~"
		}
		return "~/" + rel
	}
	return p
}

// printDoctor prints one line per item, then the verdict.
func printDoctor(w interface{ Write([]byte) (int, error) }, rep doctorReport) {
	optional := 0
	for _, it := range rep.Items {
		mark := "✓"
		if !it.OK {
			mark = "✗"
			if !it.Needed {
				optional++
			}
		}
		subject := it.Check
		switch {
		case it.Route != "":
			subject = it.Provider + "/" + it.Route + " " + it.Check
		case it.Provider != "":
			subject = it.Provider + " " + it.Check
		}
		line := mark + " " + subject + ": " + it.Detail
		if !it.OK && it.Fix != "" {
			line += " — fix: " + it.Fix
		}
		fmt.Fprintln(w, line)
	}
	usable := "no usable route"
	if len(rep.Usable) > 0 {
		usable = fmt.Sprintf("%d usable route(s): %s", len(rep.Usable), strings.Join(rep.Usable, ", "))
	}
	if rep.OK {
		note := ""
		if optional > 0 {
			note = fmt.Sprintf("; %d ✗ not needed (providers, routes or files your configuration does not rely on)", optional)
		}
		fmt.Fprintf(w, "ready: %s%s\n", usable, note)
		return
	}
	fmt.Fprintf(w, "not ready: %s\n", usable)
	for _, b := range rep.Blocking {
		fmt.Fprintln(w, "  "+b)
	}
}
