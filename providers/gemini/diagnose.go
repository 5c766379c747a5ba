package main

import (
	"context"

	"github.com/relay-host/relay-host/sdk"
)

// Diagnose is `relay-host doctor`'s self-check: the CLI and its version,
// and whether credentials are present (GEMINI_API_KEY, or the Google login
// the settings select), by name. It reads files and the environment and
// never runs the CLI beyond --version.
func (g gemini) Diagnose(ctx context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error) {
	cli, _ := sdk.CLICheck(ctx, req.Settings[settingCLIPath], "gemini", "install it (npm install -g @google/gemini-cli)")
	return []sdk.Check{cli, g.credentialsCheck()}, nil
}

// credentialsCheck fails exactly when review would refuse as not
// authenticated.
func (g gemini) credentialsCheck() sdk.Check {
	fail := func(detail, fix string) sdk.Check { return sdk.Check{Name: "credentials", Detail: detail, Fix: fix} }
	h, err := resolveHome(g.getenv)
	if err != nil {
		return fail(err.Error(), "fix GEMINI_CLI_HOME")
	}
	stateDir := expandHome(h.stateDir, g.getenv)
	settings, err := readSettings(stateDir)
	if err != nil {
		return fail(err.Error(), "fix or remove the gemini settings.json")
	}
	apiKey := g.getenv("GEMINI_API_KEY") != ""
	// The same decision review makes before it runs the CLI.
	auth := authType(settings, apiKey, g.getenv)
	if provablyNoCredentials(settings, auth, stateDir, apiKey, g.getenv) {
		return fail("not logged in / GEMINI_API_KEY unset",
			"set GEMINI_API_KEY (listed in the gemini provider block's env) or log in with `gemini`")
	}
	switch auth {
	case apiKeyAuth:
		return sdk.Check{Name: "credentials", OK: true, Detail: "GEMINI_API_KEY set"}
	case googleLoginAuth:
		return sdk.Check{Name: "credentials", OK: true, Detail: "logged in with Google (oauth_creds.json present)"}
	}
	return sdk.Check{Name: "credentials", OK: true, Detail: "auth type " + auth + "; its credentials are checked by the CLI"}
}
