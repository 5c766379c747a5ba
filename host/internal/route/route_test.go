package route_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/route"
	"github.com/relay-host/relay-host/host/internal/route/routetest"
	"github.com/relay-host/relay-host/sdk"
)

// fake is an in-process provider with fixed routes. When a route's fact
// is nil, the route is stateless with the limit in the setting "limit",
// so a test can see that Configure came before Describe.
type fake struct {
	name   string
	routes []sdk.Route
	reject []sdk.AttributeError

	mu       sync.Mutex
	settings sdk.Settings
}

func (f *fake) Configure(_ context.Context, s sdk.Settings) []sdk.AttributeError {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings = s
	return f.reject
}

func (f *fake) Describe(context.Context) (sdk.Description, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sdk.Description{Name: f.name, Version: "1.0", Routes: f.routes}, nil
}

func (f *fake) Review(context.Context, sdk.ReviewRequest, sdk.Events) (sdk.Result, error) {
	return sdk.Result{Review: "ok"}, nil
}

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	stateDir := filepath.Join(home, ".claude")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(home, "file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const capVar = "RELAY_FAKE_CONCURRENCY_LIMIT"
	stateless := sdk.Route{Name: "api", Fact: sdk.Stateless(4, capVar)}
	shared := sdk.Route{Name: "cli", Fact: sdk.SharedStateDir("~/.claude")}
	missing := sdk.Route{Name: "cli", Fact: sdk.SharedStateDir("~/.missing")}
	onAFile := sdk.Route{Name: "cli", Fact: sdk.SharedStateDir(aFile)}
	lockRoot := filepath.Join(home, ".local", "state", "relay", "locks", "v2")

	tests := []struct {
		name    string
		routes  []sdk.Route
		config  []*config.Route // relay.hcl's route blocks
		backend string          // admission.backend
		env     []string
		acquire bool
		want    string // the route to resolve; "" picks

		wantRoute   string
		wantKey     string // "dir" = the shared_state directory's key
		wantLimit   int
		wantSource  route.LimitSource
		wantBackend route.Backend
		wantCreate  bool
		wantErr     string // a FactError code, or "unknown_route"
	}{
		{name: "plugin default", routes: []sdk.Route{stateless},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 4, wantSource: route.LimitFromDefault, wantBackend: route.BackendLocal},
		{name: "relay.hcl limit beats the default", routes: []sdk.Route{stateless}, config: []*config.Route{{Name: "api", Limit: 8}},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 8, wantSource: route.LimitFromConfig, wantBackend: route.BackendLocal},
		{name: "env cap lowers relay.hcl's limit", routes: []sdk.Route{stateless}, config: []*config.Route{{Name: "api", Limit: 8}}, env: []string{capVar, "3"},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 3, wantSource: route.LimitFromEnvCap, wantBackend: route.BackendLocal},
		{name: "env cap never raises", routes: []sdk.Route{stateless}, env: []string{capVar, "9"},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 4, wantSource: route.LimitFromDefault, wantBackend: route.BackendLocal},
		{name: "repo cap lowers the limit", routes: []sdk.Route{stateless}, config: []*config.Route{{Name: "api", Limit: 8, LimitCap: 2}},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 2, wantSource: route.LimitFromRepo, wantBackend: route.BackendLocal},
		{name: "repo cap above the limit does nothing", routes: []sdk.Route{stateless}, config: []*config.Route{{Name: "api", LimitCap: 6}},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 4, wantSource: route.LimitFromDefault, wantBackend: route.BackendLocal},
		{name: "stateless goes to etcd", routes: []sdk.Route{stateless}, backend: "etcd",
			wantRoute: "api", wantKey: "fake.api", wantLimit: 4, wantSource: route.LimitFromDefault, wantBackend: route.BackendEtcd},
		{name: "shared_state stays local under etcd", routes: []sdk.Route{shared}, backend: "etcd",
			wantRoute: "cli", wantKey: "dir", wantLimit: 1, wantSource: route.LimitFromSharedState, wantBackend: route.BackendLocal},
		{name: "missing state directory, looking", routes: []sdk.Route{missing},
			wantRoute: "cli", wantLimit: 1, wantSource: route.LimitFromSharedState, wantBackend: route.BackendLocal, wantCreate: true},
		{name: "missing state directory, acquiring", routes: []sdk.Route{missing}, acquire: true,
			wantRoute: "cli", wantKey: "new", wantLimit: 1, wantSource: route.LimitFromSharedState, wantBackend: route.BackendLocal},
		{name: "only route picked", routes: []sdk.Route{stateless},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 4, wantSource: route.LimitFromDefault, wantBackend: route.BackendLocal},
		{name: "first route relay.hcl declares picked", routes: []sdk.Route{shared, stateless}, config: []*config.Route{{Name: "other"}, {Name: "api"}},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 4, wantSource: route.LimitFromDefault, wantBackend: route.BackendLocal},
		{name: "else the plugin's first", routes: []sdk.Route{stateless, shared},
			wantRoute: "api", wantKey: "fake.api", wantLimit: 4, wantSource: route.LimitFromDefault, wantBackend: route.BackendLocal},
		{name: "named route", routes: []sdk.Route{stateless, shared}, want: "cli",
			wantRoute: "cli", wantKey: "dir", wantLimit: 1, wantSource: route.LimitFromSharedState, wantBackend: route.BackendLocal},
		{name: "unknown route", routes: []sdk.Route{stateless}, want: "nope", wantErr: "unknown_route"},
		{name: "bad fact: state directory is a file", routes: []sdk.Route{onAFile}, wantRoute: "cli", wantErr: route.FactNotADirectory},
		{name: "bad fact: limit on shared_state", routes: []sdk.Route{shared}, config: []*config.Route{{Name: "cli", Limit: 2}}, wantRoute: "cli", wantErr: route.FactLimitOnSharedState},
		{name: "bad config: negative limit", routes: []sdk.Route{stateless}, config: []*config.Route{{Name: "api", Limit: -1}}, wantRoute: "api", wantErr: route.FactInvalidLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.RemoveAll(filepath.Join(home, ".missing"))
			cfg := &config.Config{
				Providers: []*config.Provider{{Name: "fake", Routes: tt.config}},
				Admission: config.Admission{Backend: tt.backend},
			}
			l := &routetest.Launcher{Providers: map[string]sdk.Provider{"fake": &fake{name: "fake", routes: tt.routes}}}
			s, err := route.Open(context.Background(), cfg, "fake", route.Options{
				Getenv: envOf(append([]string{"HOME", home}, tt.env...)...), Environ: []string{}, Acquire: tt.acquire, Launcher: l,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rt, err := s.Resolve(tt.want)
			if rt.Name != tt.wantRoute {
				t.Errorf("route = %q, want %q", rt.Name, tt.wantRoute)
			}
			if tt.wantErr != "" {
				var fe *route.FactError
				var ue *route.UnknownRouteError
				switch {
				case tt.wantErr == "unknown_route" && errors.As(err, &ue):
					if ue.Route != tt.want || strings.Join(ue.Offered, ",") != "api" {
						t.Errorf("unknown route error = %+v", ue)
					}
				case errors.As(err, &fe) && fe.Code == tt.wantErr:
					if rt.Described.Name != rt.Name || rt.Config != cfg.Providers[0].Route(rt.Name) {
						t.Errorf("a refused route carries %+v, want its description and config", rt)
					}
				default:
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := rt.Admission
			switch tt.wantKey {
			case "dir", "new":
				if len(a.Key) != 64 || a.StateDir == "" || a.WouldCreate {
					t.Errorf("admission = %+v, want a directory key", a)
				}
				if tt.wantKey == "new" {
					if fi, err := os.Stat(filepath.Join(home, ".missing")); err != nil || !fi.IsDir() {
						t.Errorf("acquiring did not create the state directory (%v)", err)
					}
				}
			default:
				if a.Key != tt.wantKey {
					t.Errorf("key = %q, want %q", a.Key, tt.wantKey)
				}
			}
			if a.Limit != tt.wantLimit || a.LimitSource != tt.wantSource {
				t.Errorf("limit = %d from %s, want %d from %s", a.Limit, a.LimitSource, tt.wantLimit, tt.wantSource)
			}
			if rt.Backend != tt.wantBackend {
				t.Errorf("backend = %s, want %s", rt.Backend, tt.wantBackend)
			}
			if a.WouldCreate != tt.wantCreate {
				t.Errorf("would create = %v, want %v", a.WouldCreate, tt.wantCreate)
			}
			if tt.wantCreate {
				if _, err := os.Lstat(filepath.Join(home, ".missing")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("looking created the state directory (%v)", err)
				}
			}
			if a.LockRoot != lockRoot {
				t.Errorf("lock root = %q, want %q", a.LockRoot, lockRoot)
			}
		})
	}
}

// Configure comes before Describe: the fact may depend on the settings.
func TestOpenConfiguresBeforeDescribing(t *testing.T) {
	f := &settingFact{}
	cfg := &config.Config{Providers: []*config.Provider{{Name: "web", Settings: map[string]string{"account": "acct-7"}}}}
	s, err := route.Open(context.Background(), cfg, "web", route.Options{Getenv: envOf("HOME", t.TempDir()), Environ: []string{},
		Launcher: &routetest.Launcher{Providers: map[string]sdk.Provider{"web": f}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Description.Routes[0].Fact.Identity; got != "acct-7" {
		t.Errorf("the fact was described as %q, before the settings arrived", got)
	}
}

// settingFact's identity is its "account" setting.
type settingFact struct{ account string }

func (f *settingFact) Configure(_ context.Context, s sdk.Settings) []sdk.AttributeError {
	f.account = s.Provider["account"]
	return nil
}

func (f *settingFact) Describe(context.Context) (sdk.Description, error) {
	id := f.account
	if id == "" {
		id = "unconfigured"
	}
	return sdk.Description{Name: "web", Version: "1", Routes: []sdk.Route{{Name: "web", Fact: sdk.SharedStateIdentity(id)}}}, nil
}

func (f *settingFact) Review(context.Context, sdk.ReviewRequest, sdk.Events) (sdk.Result, error) {
	return sdk.Result{}, nil
}

func TestOpenFailures(t *testing.T) {
	tests := []struct {
		name      string
		provider  sdk.Provider // nil: not installed
		wantStage route.Stage
		check     func(t *testing.T, err error)
	}{
		{"not installed", nil, route.StageFind, func(t *testing.T, err error) {
			if !pluginhost.IsNotFound(err) {
				t.Errorf("error %v is not a not-found error", err)
			}
		}},
		{"invalid fact", &fake{name: "p", routes: []sdk.Route{{Name: "api", Fact: sdk.Fact{Kind: "shared"}}}}, route.StageDescribe, nil},
		{"no routes", &fake{name: "p"}, route.StageDescribe, nil},
		{"describe fails", &failingDescribe{}, route.StageDescribe, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &routetest.Launcher{Providers: map[string]sdk.Provider{}}
			if tt.provider != nil {
				l.Providers["p"] = tt.provider
			}
			cfg := &config.Config{Providers: []*config.Provider{{Name: "p"}}}
			s, err := route.Open(context.Background(), cfg, "p", route.Options{Getenv: envOf(), Environ: []string{}, Launcher: l})
			var oe *route.OpenError
			if s != nil || !errors.As(err, &oe) || oe.Stage != tt.wantStage || oe.Provider != "p" {
				t.Fatalf("Open = %v, %v; want an OpenError at %s", s, err, tt.wantStage)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			for _, p := range l.Launched() {
				if !p.Stopped() {
					t.Error("a failed Open left its plugin running")
				}
			}
		})
	}
}

type failingDescribe struct{ fake }

func (*failingDescribe) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{}, errors.New("broken")
}

// Rejected settings do not fail Open: a review refuses them, a listing
// shows them with the routes.
func TestOpenKeepsRejectedSettings(t *testing.T) {
	f := &fake{name: "p", routes: []sdk.Route{{Name: "api", Fact: sdk.Stateless(1, "")}},
		reject: []sdk.AttributeError{{Attribute: "model", Message: "unknown model"}}}
	cfg := &config.Config{Providers: []*config.Provider{{Name: "p", Settings: map[string]string{"model": "x"}}}}
	s, err := route.Open(context.Background(), cfg, "p", route.Options{Getenv: envOf(), Environ: []string{},
		Launcher: &routetest.Launcher{Providers: map[string]sdk.Provider{"p": f}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Rejected) != 1 || s.Rejected[0].Attribute != "model" || len(s.Description.Routes) != 1 {
		t.Errorf("session = %+v, want the rejection and the routes", s)
	}
}

// Sessions are independent: several open at once, each closed on its own.
func TestSessionsAreIndependent(t *testing.T) {
	names := []string{"a", "b", "c"}
	cfg := &config.Config{}
	provs := map[string]sdk.Provider{}
	for _, n := range names {
		cfg.Providers = append(cfg.Providers, &config.Provider{Name: n})
		provs[n] = &fake{name: n, routes: []sdk.Route{{Name: "api", Fact: sdk.Stateless(2, "")}}}
	}
	l := &routetest.Launcher{Providers: provs}
	sessions := make([]*route.Session, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := route.Open(context.Background(), cfg, n, route.Options{Getenv: envOf("HOME", t.TempDir()), Environ: []string{}, Launcher: l})
			if err != nil {
				t.Error(err)
				return
			}
			sessions[i] = s
		}()
	}
	wg.Wait()
	for i, s := range sessions {
		rt, err := s.Resolve("")
		if err != nil || rt.Admission.Key != names[i]+".api" {
			t.Errorf("session %s resolved %+v, %v", names[i], rt, err)
		}
	}
	sessions[1].Close()
	stopped := map[bool]int{}
	for _, p := range l.Launched() {
		stopped[p.Stopped()]++
	}
	if stopped[true] != 1 || stopped[false] != 2 {
		t.Errorf("closing one session stopped %d plugins and left %d, want 1 and 2", stopped[true], stopped[false])
	}
	sessions[0].Close()
	sessions[2].Close()
}

// The provider block's env names pass their values to the plugin and to
// Secrets, before the plugin starts.
func TestOpenPassesEnvAndSecrets(t *testing.T) {
	cfg := &config.Config{Providers: []*config.Provider{{Name: "p", Env: []string{"FAKE_API_KEY"}}}}
	l := &routetest.Launcher{Providers: map[string]sdk.Provider{"p": &fake{name: "p", routes: []sdk.Route{{Name: "api", Fact: sdk.Stateless(1, "")}}}}}
	var secrets []string
	s, err := route.Open(context.Background(), cfg, "p", route.Options{
		Getenv: envOf(), Environ: []string{"FAKE_API_KEY=sk-123", "OTHER=x"}, Launcher: l,
		Secrets: func(v ...string) {
			if len(l.Launched()) > 0 {
				t.Error("Secrets was told after the plugin started")
			}
			secrets = append(secrets, v...)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Join(secrets, ",") != "sk-123" {
		t.Errorf("secrets = %q", secrets)
	}
	env := strings.Join(l.Launched()[0].Env, "\n")
	if !strings.Contains(env, "FAKE_API_KEY=sk-123") || strings.Contains(env, "OTHER=x") {
		t.Errorf("plugin env = %q", env)
	}
}
