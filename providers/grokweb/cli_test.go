package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/sdk"
)

func TestGrokwebCLIArgs(t *testing.T) {
	a := cliArgs("/tmp/scratch", "PROMPT")
	if want := []string{"-d", "/tmp/scratch", "--max-tool-rounds", "1", "-p", "PROMPT"}; !slices.Equal(a, want) {
		t.Errorf("args %q, want %q", a, want)
	}
	for _, f := range a {
		if f == "-k" || f == "-u" || strings.HasPrefix(f, "--api-key") || strings.HasPrefix(f, "--base-url") {
			t.Errorf("args %q carry %s: grok would save it to ~/.grok/user-settings.json", a, f)
		}
	}
}

func TestGrokwebCLIEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/home/u", "GROK_API_KEY=xai-env", "GROK_BASE_URL=http://h/v1", "GROK_MODEL=grok-3"}
	get := func(env []string, k string) []string {
		var v []string
		for _, kv := range env {
			if key, val, _ := strings.Cut(kv, "="); key == k {
				v = append(v, val)
			}
		}
		return v
	}
	def, _ := parseSettings(map[string]string{})
	env := cliEnv(base, def, false, "xai-k", "http://127.0.0.1:1/guard", "/tmp/scratch")
	if got := get(env, "GROK_BASE_URL"); !slices.Equal(got, []string{"http://127.0.0.1:1/guard"}) {
		t.Errorf("GROK_BASE_URL %q, want only the guard's", got)
	}
	if got := get(env, "HOME"); !slices.Equal(got, []string{"/tmp/scratch"}) {
		t.Errorf("HOME %q, want only the scratch dir: grok must not open the user's ~/.grok", got)
	}
	if got := get(env, "GROK_API_KEY"); !slices.Equal(got, []string{"xai-k"}) {
		t.Errorf("GROK_API_KEY %q, want only the key the plugin found", got)
	}
	if got := get(env, "GROK_MAX_TOKENS"); !slices.Equal(got, []string{"8192"}) {
		t.Errorf("GROK_MAX_TOKENS %q, want 8192 (grok's 1536 cuts reviews short)", got)
	}
	if !slices.Equal(get(env, "GROK_MODEL"), []string{"grok-3"}) || !slices.Equal(get(env, "PATH"), []string{"/bin"}) {
		t.Errorf("env %q lost the provider block's variables", env)
	}
	env = cliEnv(append(base, "GROK_MAX_TOKENS=3000"), def, false, "k", "", "")
	if got := get(env, "GROK_MAX_TOKENS"); !slices.Equal(got, []string{"3000"}) {
		t.Errorf("operator's GROK_MAX_TOKENS: got %q, want 3000", got)
	}
	s, _ := parseSettings(map[string]string{"max_tokens": "2048", "model": "grok-4"})
	env = cliEnv(append(base, "GROK_MAX_TOKENS=3000"), s, true, "k", "", "")
	if !slices.Equal(get(env, "GROK_MAX_TOKENS"), []string{"2048"}) || !slices.Equal(get(env, "GROK_MODEL"), []string{"grok-4"}) {
		t.Errorf("settings not applied: %q", env)
	}
}

func TestGrokwebCLIOutput(t *testing.T) {
	user := `{"role":"user","content":"Review: hello"}`
	tests := []struct {
		name   string
		exit   int
		lines  []string
		stderr string
		want   sdk.ErrorCode // "" is success
		review string
	}{
		{name: "ok", lines: []string{user, `{"role":"assistant","content":"Looks fine.\n\nVerdict: APPROVE"}`}, review: "Looks fine.\n\nVerdict: APPROVE"},
		{name: "tools then answer", lines: []string{user,
			`{"role":"assistant","content":"Let me look","tool_calls":[{"id":"c1","type":"function","function":{"name":"view_file","arguments":"{}"}}]}`,
			`{"role":"tool","tool_call_id":"c1","content":"no such file"}`,
			`{"role":"assistant","content":"OK.\nVerdict: REQUEST_CHANGES"}`}, review: "OK.\nVerdict: REQUEST_CHANGES"},
		{name: "429", lines: []string{user, `{"role":"assistant","content":"Sorry, I encountered an error: Grok API error: 429 Rate limit reached for requests. Please try again later."}`}, want: sdk.CodeUsageLimited},
		{name: "401", lines: []string{user, `{"role":"assistant","content":"Sorry, I encountered an error: Grok API error: 401 Authentication Fails, Your api key: ****1234 is invalid"}`}, want: sdk.CodeNotAuthenticated},
		{name: "500", lines: []string{user, `{"role":"assistant","content":"Sorry, I encountered an error: Grok API error: 500 boom"}`}, want: sdk.CodeProviderUnavailable},
		{name: "connection", lines: []string{user, `{"role":"assistant","content":"Sorry, I encountered an error: Grok API error: Connection error."}`}, want: sdk.CodeProviderUnavailable},
		{name: "400", lines: []string{user, `{"role":"assistant","content":"Sorry, I encountered an error: Grok API error: 400 Model not found: grok-9"}`}, want: sdk.CodeReviewFailed},
		{name: "plain text error", lines: []string{"Sorry, I encountered an error: Grok API error: 429 status code (no body)"}, want: sdk.CodeUsageLimited},
		{name: "exit 1 json", exit: 1, lines: []string{`{"role":"assistant","content":"Error: Grok API error: 503 overloaded"}`}, want: sdk.CodeProviderUnavailable},
		{name: "no key", exit: 1, stderr: `❌ Error: API key required. Set GROK_API_KEY environment variable`, want: sdk.CodeNotAuthenticated},
		{name: "crash", exit: 1, stderr: "Uncaught exception: TypeError: x is undefined", want: sdk.CodeReviewFailed},
		{name: "nothing", want: sdk.CodeBadOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o cliOutput
			for _, l := range tt.lines {
				o.line(l)
			}
			res, err := o.result(tt.exit, tt.stderr, "")
			if tt.want == "" {
				if err != nil || res.Review != tt.review {
					t.Errorf("result %+v, %v; want %q", res, err, tt.review)
				}
				return
			}
			var se *sdk.Error
			if !errors.As(err, &se) || se.Code != tt.want || se.NotSent {
				t.Errorf("err %v; want %s, sent", err, tt.want)
			} else if strings.Contains(se.Message, "\n") {
				t.Errorf("message %q is not one line", se.Message)
			}
		})
	}
}

// TestCLIPreSend: what can be refused before the prompt reaches argv is,
// with a pre-send code and no transmission event.
func TestGrokwebCLIPreSend(t *testing.T) {
	fakeGrok := filepath.Join(t.TempDir(), "grok")
	os.WriteFile(fakeGrok, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	tests := []struct {
		name     string
		settings map[string]string
		key      string
		packet   string
		want     sdk.ErrorCode
	}{
		{"no cli", map[string]string{"cli_path": filepath.Join(t.TempDir(), "nope")}, "xai-k", "diff", sdk.CodeCLINotFound},
		{"no key", map[string]string{"cli_path": fakeGrok}, "", "diff", sdk.CodeNotAuthenticated},
		{"too large for argv", map[string]string{"cli_path": fakeGrok}, "xai-k", strings.Repeat("+x\n", 41<<10), sdk.CodeConfigInvalid},
		{"bad setting", map[string]string{"cli_path": fakeGrok, "max_tokens": "lots"}, "xai-k", "diff", sdk.CodeConfigInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", t.TempDir())
			t.Setenv("GROK_API_KEY", tt.key)
			ev := &events{}
			_, err := (&provider{}).Review(context.Background(), sdk.ReviewRequest{Route: "cli", Prompt: "p", Packet: tt.packet, Settings: tt.settings}, ev)
			var se *sdk.Error
			if !errors.As(err, &se) || se.Code != tt.want || !se.NotSent || ev.sent() {
				t.Errorf("err %v, events %q; want %s before transmission", err, ev.log, tt.want)
			}
		})
	}
	t.Run("key saved by grok", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		t.Setenv("GROK_API_KEY", "")
		if k := apiKey(); k != "" {
			t.Fatalf("apiKey %q with no key anywhere", k)
		}
		os.MkdirAll(filepath.Join(home, ".grok"), 0o700)
		os.WriteFile(filepath.Join(home, ".grok", "user-settings.json"), []byte(`{"apiKey":"xai-saved"}`), 0o600)
		if k := apiKey(); k != "xai-saved" {
			t.Errorf("apiKey %q; want the key saved in ~/.grok/user-settings.json", k)
		}
		t.Setenv("GROK_API_KEY", "xai-env")
		if k := apiKey(); k != "xai-env" {
			t.Errorf("apiKey %q; want GROK_API_KEY first, as grok takes it", k)
		}
	})
}
