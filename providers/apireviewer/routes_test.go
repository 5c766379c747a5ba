package main

import (
	"context"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/sdk"
)

func TestDescribe(t *testing.T) {
	d, err := (&provider{}).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]sdk.Fact{
		"deepseek": sdk.Stateless(4, "RELAY_DEEPSEEK_CONCURRENCY_LIMIT"),
		"glm":      sdk.Stateless(4, "RELAY_GLM_CONCURRENCY_LIMIT"),
		"custom":   sdk.Stateless(1, "RELAY_CUSTOM_DIRECT_API_CONCURRENCY_LIMIT"),
	}
	if d.Name != "apireviewer" || len(d.Routes) != len(want) {
		t.Fatalf("description %+v", d)
	}
	for _, r := range d.Routes {
		if r.Fact != want[r.Name] {
			t.Errorf("route %s: fact %+v, want %+v", r.Name, r.Fact, want[r.Name])
		}
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name     string
		settings sdk.Settings
		want     []string // "route/attribute: message part"; none means valid
	}{
		{"embedded defaults", sdk.Settings{Routes: map[string]map[string]string{
			"deepseek": {"base_url": "https://api.deepseek.com", "model": "deepseek-v4-flash"},
			"glm":      {"base_url": "https://open.bigmodel.cn/api/paas/v4", "model": "glm-4.7"},
			"custom":   {"base_url": "", "model": "", "api_key_env": ""},
		}}, nil},
		{"custom set up", sdk.Settings{Routes: map[string]map[string]string{
			"custom": {"base_url": "http://127.0.0.1:8080/v1", "model": "qwen3", "api_key_env": "LOCAL_LLM_KEY"},
		}}, nil},
		{"bad base_url", sdk.Settings{Routes: map[string]map[string]string{"deepseek": {"base_url": "api.deepseek.com"}}},
			[]string{"deepseek/base_url: http(s) URL"}},
		{"endpoint instead of root", sdk.Settings{Routes: map[string]map[string]string{"glm": {"base_url": "https://open.bigmodel.cn/api/paas/v4/chat/completions"}}},
			[]string{"glm/base_url: without /chat/completions"}},
		{"credentials in url", sdk.Settings{Routes: map[string]map[string]string{"custom": {"base_url": "https://u:p@h/v1"}}},
			[]string{"custom/base_url: credentials"}},
		{"model with space", sdk.Settings{Routes: map[string]map[string]string{"glm": {"model": "glm 4"}}},
			[]string{"glm/model: without spaces"}},
		{"api_key_env on deepseek", sdk.Settings{Routes: map[string]map[string]string{"deepseek": {"api_key_env": "X"}}},
			[]string{"deepseek/api_key_env: only the custom route"}},
		{"key instead of name", sdk.Settings{Routes: map[string]map[string]string{"custom": {"api_key_env": "sk-123-abc"}}},
			[]string{"custom/api_key_env: name of an environment variable"}},
		{"unknown setting", sdk.Settings{Provider: map[string]string{"temperature": "0"}},
			[]string{"/temperature: unknown setting"}},
		{"unknown route", sdk.Settings{Routes: map[string]map[string]string{"openai": {}}},
			[]string{"openai/route: unknown route"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := (&provider{}).Configure(context.Background(), tt.settings)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %v, want %v", errs, tt.want)
			}
			for i, e := range errs {
				loc, msg, _ := strings.Cut(tt.want[i], ": ")
				if e.Route+"/"+e.Attribute != loc || !strings.Contains(e.Message, msg) {
					t.Errorf("error %d: %s/%s: %s; want %s", i, e.Route, e.Attribute, e.Message, tt.want[i])
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name     string
		route    string
		settings map[string]string
		getenv   func(string) string
		code     sdk.ErrorCode // "" = success
		inMsg    string
		base     string
		model    string
	}{
		{name: "deepseek defaults", route: "deepseek", getenv: env("DEEPSEEK_API_KEY", "k"), base: "https://api.deepseek.com", model: "deepseek-v4-flash"},
		{name: "glm defaults", route: "glm", getenv: env("GLM_API_KEY", "k"), base: "https://open.bigmodel.cn/api/paas/v4", model: "glm-4.7"},
		{name: "env base url wins", route: "deepseek", settings: map[string]string{"base_url": "https://a.example"},
			getenv: env("DEEPSEEK_API_KEY", "k", "DEEPSEEK_BASE_URL", "http://127.0.0.1:9"), base: "http://127.0.0.1:9", model: "deepseek-v4-flash"},
		{name: "bad env base url", route: "glm", getenv: env("GLM_API_KEY", "k", "GLM_BASE_URL", "ftp://x"), code: sdk.CodeConfigInvalid, inMsg: "GLM_BASE_URL"},
		{name: "missing deepseek key", route: "deepseek", getenv: env(), code: sdk.CodeNotAuthenticated, inMsg: "DEEPSEEK_API_KEY is not set"},
		{name: "missing glm key", route: "glm", getenv: env("DEEPSEEK_API_KEY", "k"), code: sdk.CodeNotAuthenticated, inMsg: "GLM_API_KEY"},
		{name: "custom unset", route: "custom", settings: map[string]string{"base_url": "", "model": "", "api_key_env": ""}, getenv: env(),
			code: sdk.CodeConfigInvalid, inMsg: "no base_url"},
		{name: "custom no model", route: "custom", settings: map[string]string{"base_url": "http://h/v1"}, getenv: env(),
			code: sdk.CodeConfigInvalid, inMsg: "no model"},
		{name: "custom key var absent", route: "custom", settings: map[string]string{"base_url": "http://h/v1", "model": "m", "api_key_env": "MY_KEY"},
			getenv: env(), code: sdk.CodeNotAuthenticated, inMsg: `"MY_KEY" is listed in env`},
		{name: "custom bad setting", route: "custom", settings: map[string]string{"base_url": "nope", "model": "m"}, getenv: env(),
			code: sdk.CodeConfigInvalid, inMsg: "base_url"},
		{name: "custom no key needed", route: "custom", settings: map[string]string{"base_url": "http://h/v1", "model": "m"}, getenv: env(),
			base: "http://h/v1", model: "m"},
		{name: "unknown route", route: "openai", getenv: env(), code: sdk.CodeConfigInvalid, inMsg: "unknown route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := resolve(tt.route, tt.settings, tt.getenv)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tg.baseURL != tt.base || tg.model != tt.model {
					t.Errorf("target %s %s, want %s %s", tg.baseURL, tg.model, tt.base, tt.model)
				}
				return
			}
			if err == nil || err.Code != tt.code || !strings.Contains(err.Message, tt.inMsg) || !err.NotSent {
				t.Fatalf("err %+v, want pre-send %s containing %q", err, tt.code, tt.inMsg)
			}
		})
	}
}

// A pre-send failure must not emit the transmission event.
func TestPreSendErrorsSendNothing(t *testing.T) {
	p := &provider{getenv: func(string) string { return "" }}
	ev := &events{}
	_, err := p.Review(context.Background(), sdk.ReviewRequest{Route: "deepseek", Prompt: "p", Packet: "d"}, ev)
	var se *sdk.Error
	if !asSDK(err, &se) || se.Code != sdk.CodeNotAuthenticated || !se.NotSent {
		t.Fatalf("err %v", err)
	}
	if ev.transmissions != 0 {
		t.Error("transmission event emitted before a pre-send failure")
	}
}

func asSDK(err error, target **sdk.Error) bool {
	se, ok := err.(*sdk.Error)
	*target = se
	return ok
}
