// Command relay-provider-gemini reviews a packet with the real Gemini CLI
// (`gemini -m <model> -o json`), prompt and packet on stdin.
//
// Route "subscription" shares the CLI's state directory: the CLI keeps its
// state in $GEMINI_CLI_HOME/.gemini, else ~/.gemini, and every review on one
// directory runs one at a time. GEMINI_CONFIG_DIR, which the current CLI does
// not read, is accepted as an alias naming that .gemini directory itself (as
// CLAUDE_CONFIG_DIR names Claude's): the plugin runs the CLI with
// GEMINI_CLI_HOME set to its parent, so the directory the host locks is
// exactly the one the CLI writes.
//
// Invariants:
//   - the source leaves the machine only through the CLI's stdin, and the
//     transmission event is emitted immediately before it is written;
//   - keys travel only in the environment, never in argv;
//   - the CLI runs in a fresh scratch directory with a private TMPDIR (which
//     also catches its gemini-client-error-*.json reports), and with
//     advanced.ignoreLocalEnv, so the reviewed repository (GEMINI.md, .env)
//     is never read or written;
//   - the CLI's settings come from a layer relay-host writes into the
//     scratch directory (relaySettings): no tools offered to the model, no
//     MCP servers, extensions or skills, retries bounded (general.maxAttempts
//     = 1, so a steady 429 fails in seconds instead of ~200 s); the user's
//     settings.json is read, never written;
//   - with an API key or a Google login the CLI runs in a scratch home:
//     nothing of the user's ~/.gemini is read but, for a login, copies of
//     its login files and security.auth settings (login.go); the only
//     write there is a token the CLI refreshed, written back atomically
//     over a login file still exactly as copied. With Vertex AI or compute
//     ADC it runs in the user's state directory and what it recorded of
//     the review (its chats, history and projects.json entry) is removed
//     afterwards (cleanup.go);
//   - a cancelled or timed-out review kills the CLI's whole process group.
package main

import (
	"context"
	"os"

	"github.com/relay-host/relay-host/sdk"
)

// version is the plugin's own version.
const version = "0.1.0"

type gemini struct {
	// getenv reads the plugin's environment, which the host has already
	// narrowed to its allowlist plus the provider block's env list.
	getenv func(string) string
}

func (g gemini) Describe(context.Context) (sdk.Description, error) {
	h, err := resolveHome(g.getenv)
	if err != nil {
		return sdk.Description{}, err
	}
	return sdk.Description{Name: "gemini", Version: version, Routes: []sdk.Route{
		{Name: "subscription", Fact: sdk.SharedStateDir(h.stateDir)},
	}}, nil
}

func (g gemini) Configure(_ context.Context, s sdk.Settings) []sdk.AttributeError {
	errs := checkSettings("", s.Provider)
	for route, rs := range s.Routes {
		errs = append(errs, checkSettings(route, rs)...)
	}
	return errs
}

func (g gemini) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	return review(ctx, g.getenv, req, ev)
}

func main() { sdk.Serve(gemini{getenv: os.Getenv}) }
