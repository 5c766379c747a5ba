package main

import (
	"context"
	"os"

	"github.com/relay-host/relay-host/sdk"
)

// Diagnose is `relay-host doctor`'s self-check: the CLI and its version,
// and whether a key or a login is set up, by name. It reads files and the
// environment and never runs the CLI beyond --version.
func (p provider) Diagnose(ctx context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error) {
	cli, _ := sdk.CLICheck(ctx, req.Settings["cli_path"], "kimi", "install it (uv tool install kimi-cli)")
	return []sdk.Check{cli, p.credentialsCheck()}, nil
}

// credentialsCheck fails exactly when review would refuse as not logged in.
func (p provider) credentialsCheck() sdk.Check {
	fact, shareAbs, err := p.shareDir()
	if err != nil {
		return sdk.Check{Name: "credentials", Detail: err.Error(), Fix: "fix KIMI_SHARE_DIR"}
	}
	switch {
	case os.Getenv("KIMI_API_KEY") != "":
		return sdk.Check{Name: "credentials", OK: true, Detail: "KIMI_API_KEY set"}
	case p.mayBeLoggedIn(shareAbs):
		return sdk.Check{Name: "credentials", OK: true, Detail: "a model or login is set up in " + fact + "/config.toml"}
	}
	return sdk.Check{Name: "credentials", Detail: "not logged in / KIMI_API_KEY unset",
		Fix: "run `kimi` and /login once, or pass KIMI_API_KEY (with KIMI_BASE_URL and KIMI_MODEL_NAME) through the provider's env in relay.hcl"}
}
