package sdk

import (
	"strings"
	"testing"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

func TestFactValidate(t *testing.T) {
	tests := []struct {
		name    string
		fact    Fact
		wantErr string // substring; empty means valid
	}{
		{"shared dir absolute", SharedStateDir("/home/u/.claude"), ""},
		{"shared dir home", SharedStateDir("~/.gemini"), ""},
		{"shared dir tilde alone", SharedStateDir("~"), ""},
		{"shared dir relative", SharedStateDir(".claude"), "must be absolute"},
		{"shared dir other user", SharedStateDir("~bob/.claude"), "must be absolute"},
		{"shared identity", SharedStateIdentity("https://tunnel.example|admin=default"), ""},
		{"shared identity control char", SharedStateIdentity("a\x1b[31m"), "printable"},
		{"shared both", Fact{Kind: FactSharedState, Directory: "/x", Identity: "y"}, "exactly one"},
		{"shared neither", Fact{Kind: FactSharedState}, "exactly one"},
		{"shared with limit", Fact{Kind: FactSharedState, Directory: "/x", DefaultLimit: 2}, "must not declare a limit"},
		{"stateless", Stateless(4, "RELAY_DEEPSEEK_CONCURRENCY_LIMIT"), ""},
		{"stateless no cap var", Stateless(1, ""), ""},
		{"stateless zero", Stateless(0, "X"), "at least 1"},
		{"stateless negative", Stateless(-3, "X"), "at least 1"},
		{"stateless bad cap var", Stateless(2, "NOT-A-VAR"), "not a valid environment variable"},
		{"stateless with dir", Fact{Kind: FactStateless, DefaultLimit: 1, Directory: "/x"}, "must not name"},
		{"no kind", Fact{}, "no capability fact"},
		{"unknown kind", Fact{Kind: "shared"}, "unknown capability fact kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.fact.Validate(), tt.wantErr)
		})
	}
}

func TestDescriptionValidate(t *testing.T) {
	ok := Route{Name: "default", Fact: Stateless(1, "")}
	tests := []struct {
		name    string
		desc    Description
		wantErr string
	}{
		{"valid", Description{Name: "echo", Version: "1", Routes: []Route{ok}}, ""},
		{"no routes", Description{Name: "echo", Version: "1"}, "no routes"},
		{"bad plugin name", Description{Name: "Echo!", Version: "1", Routes: []Route{ok}}, "plugin name"},
		{"empty version", Description{Name: "echo", Routes: []Route{ok}}, "plugin version"},
		{"empty route name", Description{Name: "echo", Version: "1", Routes: []Route{{Fact: Stateless(1, "")}}}, "route name"},
		{"route name with dot", Description{Name: "echo", Version: "1", Routes: []Route{{Name: "a.b", Fact: Stateless(1, "")}}}, "route name"},
		{"duplicate route", Description{Name: "echo", Version: "1", Routes: []Route{ok, ok}}, "twice"},
		{"negative budget", Description{Name: "echo", Version: "1", Routes: []Route{{Name: "r", Fact: Stateless(1, ""), Budget: -1}}}, "negative"},
		{"bad fact named by route", Description{Name: "echo", Version: "1", Routes: []Route{{Name: "web", Fact: Stateless(0, "")}}}, `route "web"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.desc.Validate(), tt.wantErr)
		})
	}
}

// TestDescriptionFromProto covers what only the wire can express: a missing
// or unknown oneof, an out-of-range limit.
func TestDescriptionFromProto(t *testing.T) {
	route := func(r *relayv1.Route) *relayv1.DescribeResponse {
		return &relayv1.DescribeResponse{PluginName: "p", PluginVersion: "1", Routes: []*relayv1.Route{r}}
	}
	tests := []struct {
		name    string
		in      *relayv1.DescribeResponse
		want    Fact
		wantErr string
	}{
		{"directory", route(&relayv1.Route{Name: "r", Fact: &relayv1.Route_SharedState{SharedState: &relayv1.SharedState{Key: &relayv1.SharedState_Directory{Directory: "~/.kimi"}}}}), SharedStateDir("~/.kimi"), ""},
		{"identity", route(&relayv1.Route{Name: "r", Fact: &relayv1.Route_SharedState{SharedState: &relayv1.SharedState{Key: &relayv1.SharedState_Identity{Identity: "id"}}}}), SharedStateIdentity("id"), ""},
		{"shared without key", route(&relayv1.Route{Name: "r", Fact: &relayv1.Route_SharedState{SharedState: &relayv1.SharedState{}}}), Fact{}, "neither"},
		{"empty directory", route(&relayv1.Route{Name: "r", Fact: &relayv1.Route_SharedState{SharedState: &relayv1.SharedState{Key: &relayv1.SharedState_Directory{}}}}), Fact{}, "directory is empty"},
		{"no fact", route(&relayv1.Route{Name: "r"}), Fact{}, "no capability fact"},
		{"stateless", route(&relayv1.Route{Name: "r", Fact: &relayv1.Route_Stateless{Stateless: &relayv1.Stateless{DefaultLimit: 4, EnvCapVar: "CAP"}}}), Stateless(4, "CAP"), ""},
		{"limit zero", route(&relayv1.Route{Name: "r", Fact: &relayv1.Route_Stateless{Stateless: &relayv1.Stateless{}}}), Fact{}, "must be between 1"},
		{"limit overflow", route(&relayv1.Route{Name: "r", Fact: &relayv1.Route_Stateless{Stateless: &relayv1.Stateless{DefaultLimit: 1 << 40}}}), Fact{}, "must be between 1"},
		{"no routes", &relayv1.DescribeResponse{PluginName: "p", PluginVersion: "1"}, Fact{}, "no routes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := descriptionFromProto(tt.in)
			checkErr(t, err, tt.wantErr)
			if err == nil && d.Routes[0].Fact != tt.want {
				t.Errorf("fact = %+v, want %+v", d.Routes[0].Fact, tt.want)
			}
		})
	}
}

// TestDescriptionRoundTrip: what Serve sends is what the client reads.
func TestDescriptionRoundTrip(t *testing.T) {
	in := Description{Name: "grokweb", Version: "2.0", SDKVersion: Version, Routes: []Route{
		{Name: "cli", Fact: SharedStateDir("~/.grok"), Budget: 100 << 10},
		{Name: "web", Fact: SharedStateIdentity("https://t.example|admin=default")},
		{Name: "api", Fact: Stateless(4, "RELAY_X_LIMIT")},
	}}
	out, err := descriptionFromProto(descriptionToProto(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Routes) != 3 || out.Name != in.Name || out.Version != in.Version || out.SDKVersion != in.SDKVersion {
		t.Fatalf("round trip = %+v", out)
	}
	for i := range in.Routes {
		if in.Routes[i] != out.Routes[i] {
			t.Errorf("route %d = %+v, want %+v", i, out.Routes[i], in.Routes[i])
		}
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}
