package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/admission"
	etcdadm "github.com/relay-host/relay-host/admission/etcd"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/review"
)

// ProvidersOptions are `relay-host providers`'s flags.
type ProvidersOptions struct {
	g    *Globals
	JSON bool
}

func newProvidersCmd(g *Globals) *cobra.Command {
	o := &ProvidersOptions{g: g}
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "List providers: plugin, version, routes, capability fact and effective limit",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runProviders(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

func runProviders(ctx context.Context, o *ProvidersOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := o.g.loadConfig()
	if err != nil {
		return err
	}
	logs, err := o.g.logs()
	if err != nil {
		return err
	}
	defer logs.Close()
	views := describeProviders(ctx, o.g, cfg, logs, "")
	out := o.g.IO.Out
	if o.JSON {
		printJSON(out, views)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	// The BACKEND column appears when relay.hcl configures a fleet
	// backend; with the local one every route is local and the table keeps
	// its columns (the JSON always carries "backend").
	withBackend := fleetBackend(cfg)
	col := func(s string) string {
		if withBackend {
			return "\t" + s
		}
		return ""
	}
	fmt.Fprintln(tw, "PROVIDER\tROUTE\tVERSION\tFACT\tLIMIT\tSOURCE"+col("BACKEND"))
	for _, v := range views {
		if v.Error != "" && len(v.Routes) == 0 {
			status := "not installed"
			if v.Installed {
				status = "unusable"
			}
			fmt.Fprintf(tw, "%s\t-\t%s\t-\t-\t-%s\n", v.Provider, status, col("-"))
			continue
		}
		for _, r := range v.Routes {
			limit, source := "-", "-"
			if r.Error == "" {
				limit, source = strconv.Itoa(r.Limit), r.LimitSource
			} else {
				source = "refused"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", v.Provider, r.Route, v.Version, r.Fact, limit, source, col(r.Backend))
		}
	}
	tw.Flush()
	for _, v := range views {
		if v.Error != "" {
			fmt.Fprintf(o.g.IO.Err, "relay-host: %s\n", v.Error)
		}
		for _, r := range v.Routes {
			if r.Error != "" {
				fmt.Fprintf(o.g.IO.Err, "relay-host: %s\n", r.Error)
			}
		}
	}
	return nil
}

// CapacityOptions are `relay-host capacity`'s flags.
type CapacityOptions struct {
	g        *Globals
	Provider string
	JSON     bool
}

func newCapacityCmd(g *Globals) *cobra.Command {
	o := &CapacityOptions{g: g}
	cmd := &cobra.Command{
		Use:   "capacity [provider]",
		Short: "Show reviews in flight and the limit of each route (counts only)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Provider = args[0]
			}
			return runCapacity(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

type capacityRow struct {
	Provider    string `json:"provider"`
	Route       string `json:"route"`
	ActiveCount int    `json:"active_count"`
	Limit       int    `json:"limit"`
	Backend     string `json:"backend"`
}

func runCapacity(ctx context.Context, o *CapacityOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := o.g.loadConfig()
	if err != nil {
		return err
	}
	if o.Provider != "" && cfg.Provider(o.Provider) == nil {
		return exit(2, "unknown provider %q: see relay-host providers", o.Provider)
	}
	logs, err := o.g.logs()
	if err != nil {
		return err
	}
	defer logs.Close()
	views := describeProviders(ctx, o.g, cfg, logs, o.Provider)
	backends := map[string]*admission.Local{}
	var etcdB *etcdadm.Backend
	rows := []capacityRow{}
	failed := false
	for _, v := range views {
		if v.Error != "" {
			fmt.Fprintf(o.g.IO.Err, "relay-host: %s\n", v.Error)
			failed = failed || o.Provider != ""
			continue
		}
		for _, r := range v.Routes {
			if r.Error != "" {
				fmt.Fprintf(o.g.IO.Err, "relay-host: %s\n", r.Error)
				continue
			}
			var b admission.Backend
			if r.Backend == "etcd" {
				if etcdB == nil {
					if etcdB, err = review.OpenEtcd(cfg, o.g.IO.Getenv, logs.Host); err != nil {
						return exit(2, "admission backend etcd: %s", logs.Scrubber.Message(err.Error()))
					}
					defer etcdB.Close()
				}
				b = etcdB
			} else {
				lb := backends[r.lockRoot]
				if lb == nil {
					if lb, err = admission.OpenLocal(r.lockRoot, admission.Options{GateTimeout: admission.GateTimeoutFromEnv(o.g.IO.Getenv), Logger: logs.Host}); err != nil {
						return exit(2, "%v", err)
					}
					defer lb.Close()
					backends[r.lockRoot] = lb
				}
				b = lb
			}
			c, err := b.Status(ctx, r.key)
			if err != nil {
				fmt.Fprintf(o.g.IO.Err, "relay-host: %s/%s: cannot read its slots: %s\n", v.Provider, r.Route, logs.Scrubber.Message(err.Error()))
				continue
			}
			rows = append(rows, capacityRow{v.Provider, r.Route, c.ActiveCount, r.Limit, r.Backend})
		}
	}
	if o.JSON {
		printJSON(o.g.IO.Out, rows)
	} else {
		tw := tabwriter.NewWriter(o.g.IO.Out, 0, 4, 2, ' ', 0)
		withBackend := fleetBackend(cfg)
		if withBackend {
			fmt.Fprintln(tw, "PROVIDER\tROUTE\tACTIVE\tLIMIT\tBACKEND")
		} else {
			fmt.Fprintln(tw, "PROVIDER\tROUTE\tACTIVE\tLIMIT")
		}
		for _, r := range rows {
			if withBackend {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", r.Provider, r.Route, r.ActiveCount, r.Limit, r.Backend)
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", r.Provider, r.Route, r.ActiveCount, r.Limit)
			}
		}
		tw.Flush()
	}
	if failed {
		return silentExit(3)
	}
	return nil
}

// fleetBackend reports whether relay.hcl configures a backend other than
// the local one, so that tables show which backend each route uses.
func fleetBackend(cfg *config.Config) bool {
	return cfg.Admission.Backend != "" && cfg.Admission.Backend != "local"
}
