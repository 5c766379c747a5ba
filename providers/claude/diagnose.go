package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"

	"github.com/relay-host/relay-host/sdk"
)

// Diagnose is `relay-host doctor`'s self-check: the CLI and its version,
// and which credentials are present, by name. It reads the environment and
// looks for files; it never runs the CLI beyond --version.
func (c claude) Diagnose(ctx context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error) {
	cli, _ := sdk.CLICheck(ctx, req.Settings[settingCLIPath], "claude", "install it (npm install -g @anthropic-ai/claude-code)")
	return []sdk.Check{cli, credentialsCheck(c.getenv)}, nil
}

// credentialsCheck names the first credential the CLI would use; it fails
// exactly when review would refuse as not logged in.
func credentialsCheck(getenv func(string) string) sdk.Check {
	ok := func(detail string) sdk.Check { return sdk.Check{Name: "credentials", OK: true, Detail: detail} }
	for _, v := range []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"} {
		if getenv(v) != "" {
			return ok(v + " set")
		}
	}
	if cloudMode(getenv) {
		return ok("a cloud provider mode (CLAUDE_CODE_USE_*) is set; its own credentials are not checked")
	}
	u := userStateOf(getenv)
	if _, err := os.Lstat(filepath.Join(u.dir, ".credentials.json")); err == nil {
		return ok("logged in (" + filepath.Join(configDir(getenv), ".credentials.json") + " present)")
	}
	if !provablyNoCredentials(getenv) {
		if runtime.GOOS == "darwin" {
			return ok("the login may be in the keychain, which the plugin cannot read")
		}
		return ok("a stored API key or an apiKeyHelper is configured")
	}
	return sdk.Check{Name: "credentials", Detail: "not logged in / ANTHROPIC_API_KEY unset",
		Fix: "set ANTHROPIC_API_KEY (listed in the claude provider block's env) or run `claude /login`"}
}
