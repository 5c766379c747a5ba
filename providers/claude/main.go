// Command relay-provider-claude reviews a packet with the real Claude Code
// CLI (`claude -p --output-format json`), prompt and packet on stdin.
//
// Route "subscription" is keyed on the user's CLI state directory
// ($CLAUDE_CONFIG_DIR, else ~/.claude): every review on one directory runs
// one at a time, because they share its login, which the CLI refreshes in
// place.
//
// Invariants:
//   - the source leaves the machine only through the CLI's stdin, and the
//     transmission event is emitted immediately before it is written;
//   - keys travel only in the environment, never in argv;
//   - the CLI runs read-only and tool-less: in a fresh scratch directory
//     (the reviewed repository's CLAUDE.md, .claude/, .mcp.json and hooks are
//     never read or written) on a state directory of its own (state.go:
//     the user's CLAUDE.md, settings, MCP servers, plugins and memory are
//     never read, and the user's ~/.claude.json is never rewritten), with
//     every customisation off by flag as well (args), and --bare with a key;
//   - one send per attempt: the CLI's retries are off
//     (CLAUDE_CODE_MAX_RETRIES=0), and with a key the onesend relay answers
//     any retry it still makes;
//   - a cancelled or timed-out review kills the CLI's whole process group
//     (sdk.Command).
package main

import (
	"context"
	"os"

	"github.com/relay-host/relay-host/sdk"
)

// version is the plugin's own version.
const version = "0.1.0"

type claude struct {
	// getenv reads the plugin's environment, which the host has already
	// narrowed to its allowlist plus the provider block's env list.
	getenv func(string) string
}

func (c claude) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "claude", Version: version, Routes: []sdk.Route{
		{Name: "subscription", Fact: sdk.SharedStateDir(configDir(c.getenv))},
	}}, nil
}

func (c claude) Configure(_ context.Context, s sdk.Settings) []sdk.AttributeError {
	errs := checkSettings("", s.Provider)
	for route, rs := range s.Routes {
		errs = append(errs, checkSettings(route, rs)...)
	}
	return errs
}

func (c claude) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	return review(ctx, c.getenv, req, ev)
}

func main() { sdk.Serve(claude{getenv: os.Getenv}) }
