package main

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// maxLine bounds one stdout line of kimi (a whole answer is one line).
const maxLine = 16 << 20

// input is what kimi reads on stdin: the prompt, then the packet.
func input(req sdk.ReviewRequest) string {
	return strings.TrimRight(req.Prompt, "\n") + "\n\n" + req.Packet
}

// args is kimi's argv after the binary. The prompt is not in it.
// --max-retries-per-step 1 is one attempt at each model call (kimi's
// loop_control default is 3, each resending the source).
func args(s settings, workDir, agentFile string) []string {
	a := []string{"--print", "--output-format", "stream-json", "--max-retries-per-step", "1", "-w", workDir, "--agent-file", agentFile}
	if s.model != "" {
		a = append(a, "-m", s.model)
	}
	return a
}

// noToolsAgent is a kimi-cli agent spec (version 1, as --agent-file reads
// it): the built-in default agent, whose system prompt it keeps, with its
// tools and subagents replaced by none. An explicit empty list overrides
// what extend inherits; only an absent key inherits.
const noToolsAgent = `version: 1
agent:
  extend: default
  tools: []
  subagents: {}
`

// childEnv is the plugin's environment (already reduced by the host to its
// allowlist and the provider block's env) plus kimi's quiet switches, with
// KIMI_SHARE_DIR pinned to the absolute directory the fact names.
func childEnv(environ []string, shareAbs string, shareSet bool) []string {
	env := make([]string, 0, len(environ)+3)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "KIMI_DISABLE_TELEMETRY", "KIMI_CLI_NO_AUTO_UPDATE", "KIMI_SHARE_DIR":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "KIMI_DISABLE_TELEMETRY=1", "KIMI_CLI_NO_AUTO_UPDATE=1")
	if shareSet {
		env = append(env, "KIMI_SHARE_DIR="+shareAbs)
	}
	return env
}

// mayBeLoggedIn is false only when kimi cannot possibly have credentials,
// so it would stop at "LLM not set" before any request: no KIMI_API_KEY,
// and no config file in its share dir that names a model or a provider
// (kimi writes an empty config.toml on its first run, and a login or
// `kimi` setup adds [providers.…] and [models.…] tables and default_model).
// It errs towards true: a config it cannot read, an older config.json, any
// provider or model table counts as maybe logged in, and kimi decides.
func (p provider) mayBeLoggedIn(shareAbs string) bool {
	if strings.TrimSpace(os.Getenv("KIMI_API_KEY")) != "" {
		return true
	}
	if fi, err := os.Stat(filepath.Join(shareAbs, "config.json")); err == nil && fi.Mode().IsRegular() {
		return true
	}
	data, err := os.ReadFile(filepath.Join(shareAbs, "config.toml"))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	return err != nil || configNamesAnLLM(string(data))
}

// configNamesAnLLM reports whether a kimi config.toml may configure a
// model: a non-empty default_model, or any key in a providers or models
// table (or an inline one). A line it does not understand counts as yes.
func configNamesAnLLM(toml string) bool {
	table := ""
	for _, line := range strings.Split(toml, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(strings.TrimSpace(strings.SplitN(line, "#", 2)[0]), "[] ")
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return true
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(strings.SplitN(value, "#", 2)[0])
		root, _, _ := strings.Cut(table, ".")
		switch {
		case root == "providers" || root == "models":
			return true
		case table == "" && (key == "providers" || key == "models" || strings.HasPrefix(key, "providers.") || strings.HasPrefix(key, "models.")):
			return true
		case table == "" && key == "default_model" && value != `""` && value != "''":
			return true
		}
	}
	return false
}

func (p provider) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	if req.Route != routeName {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "kimi has no route %q; use --route %s", req.Route, routeName)
	}
	s, err := parseSettings(req.Settings)
	if err != nil {
		return sdk.Result{}, err
	}
	bin, err := sdk.FindCLI(s.cliPath, "kimi", "install it (uv tool install kimi-cli)")
	if err != nil {
		return sdk.Result{}, err
	}
	_, shareAbs, err := p.shareDir()
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "%v", err)
	}
	if !p.mayBeLoggedIn(shareAbs) {
		return sdk.Result{}, sdk.Errorf(sdk.CodeNotAuthenticated, "kimi has no model or login set up for this user: run `kimi` and /login once, or pass KIMI_API_KEY (with KIMI_BASE_URL and KIMI_MODEL_NAME) through the provider's env in relay.hcl")
	}

	// Print mode auto-approves every tool call: kimi works in an empty
	// scratch dir, never in the repository under review.
	scratch, err := os.MkdirTemp("", "relay-kimi-")
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "cannot create a scratch directory: %v; check TMPDIR", errors.Unwrap(err))
	}
	defer os.RemoveAll(scratch)
	// kimi records the whole conversation, prompt and packet included,
	// under sessions/<md5 of the work dir>/ in its share dir. The work dir
	// is this review's own new scratch dir, so that directory holds this
	// review's session and nothing else: it goes when kimi is done (after
	// Wait on every path below, and before the scratch dir goes).
	sessions := sessionDirs(shareAbs, scratch)
	defer func() {
		for _, d := range sessions {
			os.RemoveAll(d)
		}
	}()

	// The agent the CLI runs: its default one (system prompt included)
	// with no tools and no subagents. Print mode approves every tool call
	// by itself, so the model gets nothing to call. Outside the work dir:
	// kimi lists the work dir in its system prompt.
	agentDir, err := os.MkdirTemp("", "relay-kimi-agent-")
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "cannot create a scratch directory: %v; check TMPDIR", errors.Unwrap(err))
	}
	defer os.RemoveAll(agentDir)
	agentFile := filepath.Join(agentDir, "agent.yaml")
	if err := os.WriteFile(agentFile, []byte(noToolsAgent), 0o600); err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeInternal, "writing kimi's agent file: %v", err)
	}

	cmd := sdk.Command(ctx, bin, args(s, scratch, agentFile)...)
	cmd.Dir = scratch
	cmd.Env = childEnv(os.Environ(), shareAbs, strings.TrimSpace(os.Getenv("KIMI_SHARE_DIR")) != "")
	ev.Progress("starting kimi")
	var st stream
	run, err := sdk.StreamCLI(ctx, ev, cmd, sdk.CLIStream{
		Input:   input(req), // the packet leaves the plugin on kimi's stdin
		MaxLine: maxLine,
		Line: func(line string) {
			if note := st.line(line); note != "" {
				ev.Progress(note)
			}
		},
	})
	if err != nil {
		return sdk.Result{}, err
	}
	exit := run.ExitCode
	if exit != exitOK {
		out := st.plain.String()
		if e := run.Stderr; e != "" {
			out = strings.TrimSpace(out + "\n" + e)
		}
		return sdk.Result{}, classify(exit, out)
	}
	if strings.TrimSpace(st.final) == "" {
		e := sdk.Errorf(sdk.CodeBadOutput, "kimi exited 0 without an answer in its stream-json output (%s)", summary(st.plain.String()))
		return sdk.Result{}, e
	}
	// Only the model the plugin chose is reported: kimi's stream-json does
	// not name the model, and KIMI_MODEL_NAME comes through the provider
	// block's env, whose values the host redacts as secrets.
	return sdk.Result{Review: st.final, Model: s.model}, nil
}

// sessionDirs are the directories kimi keeps work dir's sessions in:
// sessions/<md5 of the path> in the share dir, for the path as given and,
// if it differs, with symlinks resolved (whichever kimi hashes).
func sessionDirs(shareAbs, workDir string) []string {
	paths := []string{workDir}
	if real, err := filepath.EvalSymlinks(workDir); err == nil && real != workDir {
		paths = append(paths, real)
	}
	dirs := make([]string, 0, len(paths))
	for _, p := range paths {
		dirs = append(dirs, filepath.Join(shareAbs, "sessions", fmt.Sprintf("%x", md5.Sum([]byte(p)))))
	}
	return dirs
}
