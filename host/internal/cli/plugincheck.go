package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/sdk/conformance"
)

// PluginCheckOptions are `relay-host plugin check`'s flags.
type PluginCheckOptions struct {
	g        *Globals
	Binary   string
	Route    string
	Settings []string // K=V, sent to Configure and every Review
	Env      []string // names of host variables the plugin gets
	AutoMTLS bool     // also check the transport review does not use
	Strict   bool     // a skipped check fails
	JSON     bool
}

func newPluginCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Work with provider plugins"}
	o := &PluginCheckOptions{g: g}
	check := &cobra.Command{
		Use:   "check <binary>",
		Short: "Run the plugin conformance checks against a plugin binary",
		Long: `Run the plugin conformance checks against a plugin binary: the handshake,
its capability facts, Configure, a review of a canned packet, the
transmission event, a cancelled review (made to last with the reserved
relay.hold setting, which the SDK honours for every plugin), and stray
stdout. The transport is the one review uses (RELAY_PLUGIN_AUTOMTLS);
--automtls checks the other one too. Exit 0 when no check failed, 1 when
one did (or was skipped, with --strict), 2 for bad flags.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Binary = args[0]
			return runPluginCheck(cmd.Context(), o)
		},
	}
	f := check.Flags()
	f.StringVar(&o.Route, "route", "", "route to review (default: the first the plugin describes)")
	f.StringArrayVar(&o.Settings, "setting", nil, "K=V setting for Configure and every review (repeatable)")
	f.StringArrayVar(&o.Env, "env", nil, "name of a host variable to pass to the plugin, as a provider block's env does (repeatable)")
	f.BoolVar(&o.AutoMTLS, "automtls", false, "check both transports: with and without go-plugin's AutoMTLS")
	f.BoolVar(&o.Strict, "strict", false, "fail on any skipped check")
	f.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	cmd.AddCommand(check)
	return cmd
}

// pluginCheckRun is one pass of the checks over one transport.
type pluginCheckRun struct {
	AutoMTLS bool                 `json:"automtls"`
	Results  []conformance.Result `json:"results"`
}

func runPluginCheck(ctx context.Context, o *PluginCheckOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	bin, err := filepath.Abs(o.Binary)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		return exit(exitcode.Usage, "cannot use plugin binary %s: %v", o.Binary, err)
	}
	settings := map[string]string{}
	for _, kv := range o.Settings {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return exit(exitcode.Usage, "--setting %q: want KEY=VALUE", kv)
		}
		settings[k] = v
	}
	for _, name := range o.Env {
		if name == "" || strings.ContainsAny(name, "= ") {
			return exit(exitcode.Usage, "--env %q: want the name of a variable", name)
		}
	}
	logs, err := o.g.logs()
	if err != nil {
		return err
	}
	defer logs.Close()
	// The conformance kit launches the plugin with this process's whole
	// environment; narrow it to the plugin allowlist and the named
	// variables first, so a plugin under test sees no other host secret,
	// and what it prints back never shows those it was given.
	logs.Scrubber.AddSecrets(restrictEnv(o.Env)...)

	first := pluginhost.AutoMTLSFromEnv(o.g.IO.Getenv)
	transports := []bool{first}
	if o.AutoMTLS {
		transports = append(transports, !first)
	}
	var runs []pluginCheckRun
	ok := true
	for _, mtls := range transports {
		rep := conformance.Check(ctx, bin, conformance.Options{Route: o.Route, Settings: settings, AutoMTLS: mtls, Logger: logs.Plugin()})
		run := pluginCheckRun{AutoMTLS: mtls}
		for _, r := range rep.Results {
			r.Detail = logs.Scrubber.Message(r.Detail)
			if o.Strict && r.Status == conformance.Skip {
				r.Status, r.Detail = conformance.Fail, "skipped, and --strict fails a skip: "+r.Detail
			}
			ok = ok && r.Status != conformance.Fail
			run.Results = append(run.Results, r)
		}
		ok = ok && len(run.Results) > 0
		runs = append(runs, run)
	}
	if o.JSON {
		enc := json.NewEncoder(o.g.IO.Out)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Binary string           `json:"binary"`
			OK     bool             `json:"ok"`
			Strict bool             `json:"strict"`
			Runs   []pluginCheckRun `json:"runs"`
		}{filepath.Base(bin), ok, o.Strict, runs})
	} else {
		for _, run := range runs {
			if len(runs) > 1 {
				fmt.Fprintf(o.g.IO.Out, "transport: %s\n", map[bool]string{true: "AutoMTLS", false: "plain gRPC over the private unix socket"}[run.AutoMTLS])
			}
			for _, r := range run.Results {
				line := fmt.Sprintf("%s %s", r.Status, r.Name)
				if r.Detail != "" {
					line += ": " + r.Detail
				}
				fmt.Fprintln(o.g.IO.Out, line)
			}
		}
	}
	if !ok {
		return exit(exitcode.Failure, "%s fails the plugin contract: fix the FAIL checks above (see sdk/README.md)", filepath.Base(bin))
	}
	return nil
}

// restrictEnv narrows this process's environment to what a plugin gets:
// the allowlist plus the variables named. It returns the values a plugin's
// output must not show.
func restrictEnv(names []string) []string {
	keep, secrets := pluginhost.Env(os.Environ(), names)
	os.Clearenv()
	for _, kv := range keep {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	return secrets
}
