package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/admission"
	etcdadm "github.com/relay-host/relay-host/admission/etcd"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/admissioncmd"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/hostlog"
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
		Long: `List every provider: its plugin and version, its routes, each route's
capability fact, effective limit and where the limit came from. A plugin
that is missing or unusable, and a route that is refused, are listed with
the reason on stderr.

Exit status: 0 whenever the listing could be made, even when a provider is
unusable (it is a listing: relay-host doctor says whether reviews can run);
2 for a bad flag or relay.hcl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProviders(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

func runProviders(ctx context.Context, o *ProvidersOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, logs, err := o.g.open("")
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s%s\n", v.Provider, r.Route, v.Version, r.Fact, limit, source, col(r.Backend), wouldCreateNote(r.WouldCreate))
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
		Short: "Show reviews in flight, waiting, the limit and any cooldown of each route (counts only)",
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
	WouldCreate bool   `json:"would_create,omitempty"`
	// Waiting counts the reviews queued for a slot; CooldownS and
	// Cooldown are the seconds left of the route's cooldown and why (see
	// admissioncmd.CooldownView). Counts only.
	Waiting   int    `json:"waiting"`
	CooldownS int64  `json:"cooldown_s"`
	Cooldown  string `json:"cooldown,omitempty"`
	cool      admission.Cooldown
}

// keyStatuser is what capacity reads of a key on either backend.
type keyStatuser interface {
	KeyStatus(ctx context.Context, key string) (admission.KeyStatus, error)
}

func runCapacity(ctx context.Context, o *CapacityOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, logs, err := o.g.open(o.Provider)
	if err != nil {
		return err
	}
	defer logs.Close()
	rows, problems, failed, err := capacityRows(ctx, o.g, cfg, logs, o.Provider)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(o.g.IO.Err, "relay-host: %s\n", p)
	}
	if o.JSON {
		printJSON(o.g.IO.Out, rows)
	} else {
		tw := tabwriter.NewWriter(o.g.IO.Out, 0, 4, 2, ' ', 0)
		withBackend := fleetBackend(cfg)
		now := time.Now()
		if withBackend {
			fmt.Fprintln(tw, "PROVIDER\tROUTE\tACTIVE\tLIMIT\tWAITING\tCOOLDOWN\tBACKEND")
		} else {
			fmt.Fprintln(tw, "PROVIDER\tROUTE\tACTIVE\tLIMIT\tWAITING\tCOOLDOWN")
		}
		for _, r := range rows {
			cool := admissioncmd.CooldownText(r.cool, now)
			if withBackend {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s%s\n", r.Provider, r.Route, r.ActiveCount, r.Limit, r.Waiting, cool, r.Backend, wouldCreateNote(r.WouldCreate))
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s%s\n", r.Provider, r.Route, r.ActiveCount, r.Limit, r.Waiting, cool, wouldCreateNote(r.WouldCreate))
			}
		}
		tw.Flush()
	}
	if failed {
		return silentExit(exitcode.Provider)
	}
	return nil
}

// capacityRows reads the slots in use of every usable route (of provider
// only, when not ""): `capacity` and the MCP capacity tool. problems are
// one line each for a provider or route that could not be read; failed
// says the one provider asked for was unusable.
func capacityRows(ctx context.Context, g *Globals, cfg *config.Config, logs *hostlog.Logs, provider string) (rows []capacityRow, problems []string, failed bool, err error) {
	settleJobs(g)
	views := describeProviders(ctx, g, cfg, logs, provider)
	backends := map[string]*admission.Local{}
	var etcdB *etcdadm.Backend
	defer func() {
		for _, lb := range backends {
			lb.Close()
		}
		if etcdB != nil {
			etcdB.Close()
		}
	}()
	rows = []capacityRow{}
	for _, v := range views {
		if v.Error != "" {
			problems = append(problems, v.Error)
			failed = failed || provider != ""
			continue
		}
		for _, r := range v.Routes {
			if r.Error != "" {
				problems = append(problems, r.Error)
				continue
			}
			if r.WouldCreate {
				// No directory, so no key and no lease on it.
				rows = append(rows, capacityRow{Provider: v.Provider, Route: r.Route, Limit: r.Limit, Backend: r.Backend, WouldCreate: true})
				continue
			}
			if r.Backend != "etcd" && !keyDirExists(r.lockRoot, r.key) {
				rows = append(rows, capacityRow{Provider: v.Provider, Route: r.Route, Limit: r.Limit, Backend: r.Backend})
				continue
			}
			var b keyStatuser
			if r.Backend == "etcd" {
				if etcdB == nil {
					if etcdB, err = review.OpenEtcd(cfg, g.IO.Getenv, logs.Host); err != nil {
						return nil, nil, false, exit(exitcode.Usage, "admission backend etcd: %s", logs.Scrubber.Message(err.Error()))
					}
				}
				b = etcdB
			} else {
				lb := backends[r.lockRoot]
				if lb == nil {
					if lb, err = admission.OpenLocal(r.lockRoot, admission.Options{GateTimeout: admission.GateTimeoutFromEnv(g.IO.Getenv), Logger: logs.Host}); err != nil {
						return nil, nil, false, exit(exitcode.Usage, "%v", err)
					}
					backends[r.lockRoot] = lb
				}
				b = lb
			}
			st, err := b.KeyStatus(ctx, r.key)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s/%s: cannot read its slots: %s", v.Provider, r.Route, logs.Scrubber.Message(err.Error())))
				continue
			}
			row := capacityRow{Provider: v.Provider, Route: r.Route, ActiveCount: st.ActiveCount, Limit: r.Limit, Backend: r.Backend, Waiting: st.Waiting, cool: st.Cooldown}
			row.CooldownS, row.Cooldown = admissioncmd.CooldownView(st.Cooldown, time.Now())
			rows = append(rows, row)
		}
	}
	return rows, problems, failed, nil
}

// wouldCreateNote trails a table row whose shared_state directory does not
// exist yet. It is not a tab-separated cell, so the columns keep their
// widths, and it names no directory (a state dir's path is not printed).
func wouldCreateNote(wouldCreate bool) string {
	if wouldCreate {
		return "  (state directory would be created)"
	}
	return ""
}

// keyDirExists reports whether key has a directory under the local lock
// root. Every lease is a slot file in its key's directory, so a key
// without one has no holders: capacity says 0 without opening the
// backend, which would create the lock root and the key's directory (a
// look must not create state). An error other than "does not exist"
// counts as existing, so that Status reports it.
func keyDirExists(lockRoot, key string) bool {
	_, err := os.Lstat(filepath.Join(lockRoot, admission.KeySlug(key)))
	return !errors.Is(err, fs.ErrNotExist)
}

// fleetBackend reports whether relay.hcl configures a backend other than
// the local one, so that tables show which backend each route uses.
func fleetBackend(cfg *config.Config) bool {
	return cfg.Admission.Backend != "" && cfg.Admission.Backend != "local"
}
