package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

// Check is one item of a plugin's self-check, shown by `relay-host doctor`
// as one line. Texts are one line each and never hold a secret: name
// variables and files, never their values.
type Check struct {
	// Name is a short label: "cli", "credentials", "endpoint".
	Name string
	OK   bool
	// Detail says what was found ("claude 2.1.3 (Claude Code)",
	// "ANTHROPIC_API_KEY set").
	Detail string
	// Fix says how to make a failed check pass.
	Fix string
}

// DiagnoseRequest asks for the self-check of one route.
type DiagnoseRequest struct {
	// Route is one of the routes the plugin described.
	Route string
	// Settings are the route's effective settings, as in [ReviewRequest].
	Settings map[string]string
}

// Diagnoser is implemented by providers that can check themselves: is the
// CLI installed, are credentials present, is an endpoint reachable. It is
// optional; for a provider without it Serve answers UNIMPLEMENTED and the
// host shows "plugin offers no self-check".
//
// Diagnose must be read-only and must send nothing to a model: no source,
// no prompt, no request that spends quota, no file created in the user's
// home (run a CLI's --version through [CLIVersion], which gives it a
// scratch HOME). It should return within a few seconds and honour ctx like
// every provider call. An error return is shown as one failed check.
type Diagnoser interface {
	Diagnose(ctx context.Context, req DiagnoseRequest) ([]Check, error)
}

// DiagnoseClient is the host's side of [Diagnoser]: the [ProviderClient]
// that go-plugin dispenses implements it too.
type DiagnoseClient interface {
	// Diagnose returns the plugin's checks of a route, or
	// [ErrNoSelfCheck] when the plugin does not offer them.
	Diagnose(ctx context.Context, req DiagnoseRequest) ([]Check, error)
}

// ErrNoSelfCheck is the answer of a plugin that does not implement
// Diagnose (a Go plugin without [Diagnoser], or one in another language
// written before the RPC existed).
var ErrNoSelfCheck = errors.New("plugin offers no self-check")

func (s *server) Diagnose(ctx context.Context, req *relayv1.DiagnoseRequest) (*relayv1.DiagnoseResponse, error) {
	d, ok := s.provider.(Diagnoser)
	if !ok {
		return nil, status.Error(codes.Unimplemented, ErrNoSelfCheck.Error())
	}
	r := DiagnoseRequest{Route: req.GetRoute(), Settings: req.GetSettings()}
	checks, err := call(s, ctx, "Diagnose", func(ctx context.Context) ([]Check, error) { return d.Diagnose(ctx, r) })
	if err != nil {
		return nil, unaryError(err)
	}
	resp := &relayv1.DiagnoseResponse{}
	for _, c := range checks {
		resp.Checks = append(resp.Checks, &relayv1.Check{
			Name:   withhold("check name", c.Name),
			Ok:     c.OK,
			Detail: withhold("check detail", c.Detail),
			Fix:    withhold("check fix", c.Fix),
		})
	}
	return resp, nil
}

func (c *client) Diagnose(ctx context.Context, req DiagnoseRequest) ([]Check, error) {
	resp, err := c.rpc.Diagnose(ctx, &relayv1.DiagnoseRequest{Route: req.Route, Settings: req.Settings})
	if status.Code(err) == codes.Unimplemented && ctx.Err() == nil {
		return nil, ErrNoSelfCheck
	}
	if err != nil {
		return nil, rpcError(ctx, "diagnose", err)
	}
	checks := make([]Check, 0, len(resp.GetChecks()))
	for _, pc := range resp.GetChecks() {
		checks = append(checks, Check{Name: pc.GetName(), OK: pc.GetOk(), Detail: pc.GetDetail(), Fix: pc.GetFix()})
	}
	return checks, nil
}

// VersionTimeout bounds [CLIVersion].
const VersionTimeout = 10 * time.Second

// maxVersionOutput caps what CLIVersion reads of a CLI's answer.
const maxVersionOutput = 4 << 10

// CLIVersion runs `bin --version` and returns the first line it printed.
// The CLI gets a scratch HOME, TMPDIR and XDG directories (removed
// afterwards) and only PATH and the locale from the plugin's environment,
// so it can neither create state in the user's home (some CLIs write their
// config directory on any start) nor find a credential to send anything
// with. It runs for at most [VersionTimeout] and its output is capped.
func CLIVersion(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, VersionTimeout)
	defer cancel()
	scratch, err := os.MkdirTemp("", "relay-version-")
	if err != nil {
		return "", fmt.Errorf("creating a scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	cmd := Command(ctx, bin, "--version")
	cmd.Dir = scratch
	cmd.Env = []string{"HOME=" + scratch, "TMPDIR=" + scratch, "XDG_CONFIG_HOME=" + scratch,
		"XDG_STATE_HOME=" + scratch, "XDG_CACHE_HOME=" + scratch, "XDG_DATA_HOME=" + scratch, "NO_COLOR=1"}
	for _, k := range []string{"PATH", "LANG", "LC_ALL"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	out := &capped{max: maxVersionOutput}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("%s --version did not answer within %s", bin, VersionTimeout)
	}
	line, _, _ := strings.Cut(string(bytes.TrimSpace(out.buf)), "\n")
	line = strings.TrimSpace(line)
	if err != nil {
		return line, fmt.Errorf("%s --version failed: %v", bin, err)
	}
	return line, nil
}

// CLICheck is the "cli" check of a provider that runs a CLI: found where
// [FindCLI] looks (setting, else name on PATH), and what `--version`
// answers. install says how to get the CLI. It returns the path found, ""
// when the check failed.
func CLICheck(ctx context.Context, setting, name, install string) (Check, string) {
	bin, err := FindCLI(setting, name, install)
	if err != nil {
		return Check{Name: "cli", Detail: "the " + name + " CLI was not found", Fix: install + ", or set cli_path in the provider block"}, ""
	}
	v, err := CLIVersion(ctx, bin)
	if err != nil {
		return Check{Name: "cli", Detail: err.Error(), Fix: "reinstall it (" + install + "), or set cli_path in the provider block"}, ""
	}
	if v == "" {
		v = "version unknown"
	}
	return Check{Name: "cli", OK: true, Detail: name + " " + strings.TrimPrefix(v, name+" ")}, bin
}
