// Command relay-provider-kimi is the relay provider plugin for Moonshot's
// Kimi CLI (`kimi`, the kimi-cli Python package).
//
// Route "subscription": shared_state on the CLI's state directory,
// $KIMI_SHARE_DIR else ~/.kimi (config.toml, kimi.json, sessions/, logs/),
// so every review that uses one Kimi login runs one at a time. A review runs
//
//	kimi --print --output-format stream-json -w <scratch dir> [-m <model>]
//
// with the prompt and packet on stdin (never in argv: it is readable by every
// user through /proc and capped at 128 KiB), KIMI_DISABLE_TELEMETRY=1 and
// KIMI_CLI_NO_AUTO_UPDATE=1. Print mode auto-approves every tool call, so
// the work dir is an empty scratch directory, never the repository under
// review. kimi records the conversation (prompt and packet) under
// sessions/<md5 of the work dir>/ in its share dir; that directory is the
// scratch dir's alone and is removed after the run. Credentials stay where kimi keeps them (its login in the share
// dir, or KIMI_API_KEY/KIMI_BASE_URL/KIMI_MODEL_NAME passed through the
// provider block's env); the plugin never puts one in argv.
//
// Settings: cli_path (the kimi binary: absolute path or a command name,
// default "kimi" on PATH), model (passed as -m).
package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// version is this plugin's version, reported by Describe.
const version = "0.1.0"

// routeName is the plugin's only route.
const routeName = "subscription"

type provider struct{}

// shareDir is kimi's state directory as the fact names it: $KIMI_SHARE_DIR
// made absolute, else "~/.kimi" (which the host expands with the same HOME
// the CLI sees). The CLI is given the same absolute value, so the directory
// the host serialises on is the one kimi writes.
func (p provider) shareDir() (fact string, abs string, err error) {
	dir := strings.TrimSpace(os.Getenv("KIMI_SHARE_DIR"))
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "", errors.New("cannot find the home directory: set HOME or KIMI_SHARE_DIR")
		}
		return "~/.kimi", filepath.Join(home, ".kimi"), nil
	}
	if dir == "~" || strings.HasPrefix(dir, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "", errors.New("cannot expand ~ in KIMI_SHARE_DIR: set HOME or make it absolute")
		}
		dir = filepath.Join(home, dir[1:])
	}
	// A relative value would be resolved by kimi against its work dir (the
	// scratch dir) but by the host against its own cwd: two different
	// directories under one name. Pin it to the plugin's cwd for both.
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", "", errors.New("cannot make KIMI_SHARE_DIR absolute: use an absolute path")
	}
	return abs, abs, nil
}

func (p provider) Describe(ctx context.Context) (sdk.Description, error) {
	fact, _, err := p.shareDir()
	if err != nil {
		// Describe cannot fail one route alone; with no home and no
		// KIMI_SHARE_DIR there is no state directory to serialise on.
		return sdk.Description{}, err
	}
	return sdk.Description{Name: "kimi", Version: version, Routes: []sdk.Route{
		{Name: routeName, Fact: sdk.SharedStateDir(fact)},
	}}, nil
}

func (p provider) Configure(_ context.Context, s sdk.Settings) []sdk.AttributeError {
	errs := checkSettings("", s.Provider)
	for route, rs := range s.Routes {
		errs = append(errs, checkSettings(route, rs)...)
	}
	return errs
}

func main() { sdk.Serve(provider{}) }
