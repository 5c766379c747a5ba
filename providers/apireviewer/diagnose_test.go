package main

import (
	"context"
	"testing"

	"github.com/relay-host/relay-host/sdk"
)

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name, route string
		env         map[string]string
		settings    map[string]string
		want        []sdk.Check
	}{
		{"no key", "deepseek", nil, nil, []sdk.Check{{Name: "credentials", Detail: "DEEPSEEK_API_KEY unset",
			Fix: `DEEPSEEK_API_KEY is not set in the plugin's environment: export it where relay-host runs and make sure "DEEPSEEK_API_KEY" is listed in env of provider "apireviewer" in relay.hcl`}}},
		{"key", "deepseek", map[string]string{"DEEPSEEK_API_KEY": "sk-x"}, nil, []sdk.Check{
			{Name: "settings", OK: true, Detail: "model deepseek-v4-flash at api.deepseek.com"},
			{Name: "credentials", OK: true, Detail: "DEEPSEEK_API_KEY set"}}},
		{"custom not set up", "custom", nil, map[string]string{"base_url": "", "model": ""}, []sdk.Check{{Name: "settings", Detail: "the route's settings cannot work",
			Fix: "route custom has no base_url: set settings.base_url in relay.hcl to the API root of an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1)"}}},
		{"custom without key", "custom", nil, map[string]string{"base_url": "http://127.0.0.1:8080/v1", "model": "m"}, []sdk.Check{
			{Name: "settings", OK: true, Detail: "model m at 127.0.0.1:8080"},
			{Name: "credentials", OK: true, Detail: "no api_key_env: no key is sent"}}},
		{"custom key unset", "custom", nil, map[string]string{"base_url": "http://127.0.0.1:8080/v1", "model": "m", "api_key_env": "LOCAL_KEY"}, []sdk.Check{
			{Name: "credentials", Detail: "LOCAL_KEY unset",
				Fix: `LOCAL_KEY is not set in the plugin's environment: export it where relay-host runs and make sure "LOCAL_KEY" is listed in env of provider "apireviewer" in relay.hcl`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &provider{getenv: func(k string) string { return tt.env[k] }}
			got, err := p.Diagnose(context.Background(), sdk.DiagnoseRequest{Route: tt.route, Settings: tt.settings})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("check %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
