package sdk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// diagnosing is a provider with a self-check.
type diagnosing struct {
	funcProvider
	diagnose func(context.Context, DiagnoseRequest) ([]Check, error)
}

func (d diagnosing) Diagnose(ctx context.Context, req DiagnoseRequest) ([]Check, error) {
	return d.diagnose(ctx, req)
}

func diagnoseClient(t *testing.T, h *harness) DiagnoseClient {
	t.Helper()
	dc, ok := h.client.(DiagnoseClient)
	if !ok {
		t.Fatal("the dispensed ProviderClient does not implement DiagnoseClient")
	}
	return dc
}

func TestDiagnoseRoundTrip(t *testing.T) {
	var got DiagnoseRequest
	h := start(t, diagnosing{diagnose: func(_ context.Context, req DiagnoseRequest) ([]Check, error) {
		got = req
		return []Check{{Name: "cli", OK: true, Detail: "x 1.0"}, {Name: "credentials", Detail: "X_KEY unset", Fix: "set X_KEY"}}, nil
	}}, time.Second)
	checks, err := diagnoseClient(t, h).Diagnose(context.Background(), DiagnoseRequest{Route: "default", Settings: map[string]string{"cli_path": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Check{{Name: "cli", OK: true, Detail: "x 1.0"}, {Name: "credentials", Detail: "X_KEY unset", Fix: "set X_KEY"}}
	if len(checks) != 2 || checks[0] != want[0] || checks[1] != want[1] {
		t.Errorf("checks = %+v, want %+v", checks, want)
	}
	if got.Route != "default" || got.Settings["cli_path"] != "x" {
		t.Errorf("the provider got %+v", got)
	}
}

// TestDiagnoseOptional: a provider without Diagnoser answers UNIMPLEMENTED,
// which the client returns as ErrNoSelfCheck.
func TestDiagnoseOptional(t *testing.T) {
	h := start(t, funcProvider{}, time.Second)
	if _, err := diagnoseClient(t, h).Diagnose(context.Background(), DiagnoseRequest{Route: "default"}); !errors.Is(err, ErrNoSelfCheck) {
		t.Fatalf("err = %v, want ErrNoSelfCheck", err)
	}
}

func TestDiagnosePanicIsTyped(t *testing.T) {
	h := start(t, diagnosing{diagnose: func(context.Context, DiagnoseRequest) ([]Check, error) { panic("boom") }}, time.Second)
	_, err := diagnoseClient(t, h).Diagnose(context.Background(), DiagnoseRequest{Route: "default"})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodePluginPanic {
		t.Fatalf("err = %v, want plugin_panic", err)
	}
}

// TestCLIVersion: the CLI answers --version with a scratch HOME, so it
// cannot create state in the user's home, and gets no credential from the
// plugin's environment.
func TestCLIVersion(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("X_API_KEY", "secret")
	bin := filepath.Join(t.TempDir(), "fakecli")
	script := "#!/bin/sh\nmkdir -p \"$HOME/.fakecli\"\necho \"fakecli 1.2.3 key=${X_API_KEY:-none} args=$*\"\necho second line\n"
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	v, err := CLIVersion(context.Background(), bin)
	if err != nil || v != "fakecli 1.2.3 key=none args=--version" {
		t.Fatalf("CLIVersion = %q, %v", v, err)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("the CLI wrote into HOME: %v", entries)
	}
	c, path := CLICheck(context.Background(), bin, "fakecli", "install it")
	if !c.OK || path != bin || !strings.HasPrefix(c.Detail, "fakecli 1.2.3") {
		t.Errorf("CLICheck = %+v, %q", c, path)
	}
	c, path = CLICheck(context.Background(), "", "relay-no-such-cli", "install it (npm i x)")
	if c.OK || path != "" || c.Fix != "install it (npm i x), or set cli_path in the provider block" {
		t.Errorf("CLICheck of a missing CLI = %+v, %q", c, path)
	}
}
