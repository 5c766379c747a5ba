package cli

// `relay-host metrics`: the local host's admission and job-store counts as
// OpenMetrics text (or the Prometheus text format that node_exporter's
// textfile collector and promtool read).
//
// Invariants: every label is one of provider, route, status, code and
// reason, and every value is a count, a limit, a duration or a timestamp:
// no pid, host name, path, job id, fingerprint or user appears in the
// output. A label value that is not a plain name (what relay.hcl and the
// SDK allow for provider and route names, and what codes and reasons are)
// is shown as "other", so a record cannot carry identity into a label.
// Like capacity, it creates nothing: a route whose admission key has no
// directory yet is shown with nothing active, without opening the lock
// root, and a missing job store is not created.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/relay-host/relay-host/admission"
	etcdadm "github.com/relay-host/relay-host/admission/etcd"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/internal/review"
	"github.com/relay-host/relay-host/host/jobs"
)

// MetricsOptions are `relay-host metrics`'s flags.
type MetricsOptions struct {
	g      *Globals
	Format string
}

const (
	formatOpenMetrics = "openmetrics"
	formatPrometheus  = "prometheus"
)

func newMetricsCmd(g *Globals) *cobra.Command {
	o := &MetricsOptions{g: g}
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Print the local host's admission and review counts as OpenMetrics text (counts only)",
		Long: `Print the local host's metrics: per route the reviews holding a slot, the
limit and the reviews waiting in the queue; from the job store the reviews
by status and error code, the blocked ones by reason and a histogram of
review durations. Counts only: no process, host, path, job or user.

--format openmetrics (the default) is OpenMetrics 1.0.0
(application/openmetrics-text; version=1.0.0; charset=utf-8).
--format prometheus is the Prometheus text format 0.0.4
(text/plain; version=0.0.4), which node_exporter's textfile collector and
promtool check metrics read: the two differ in how a counter is named.

The job-store counts are since the oldest record still kept
(relay_job_store_oldest_record_timestamp_seconds); relay-host jobs prune
lowers them, which Prometheus reads as a counter reset. Like jobs and
capacity, a job whose worker died is first recorded as worker_lost.

Exit status: 0 whenever the metrics could be printed (a route that cannot
be read is left out, with the reason on stderr); 2 for a bad flag or
relay.hcl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMetrics(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.Format, "format", formatOpenMetrics, "openmetrics or prometheus (text format 0.0.4, for node_exporter's textfile collector)")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{formatOpenMetrics, formatPrometheus}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// routeGauge is one route's admission counts.
type routeGauge struct {
	provider, route        string
	active, limit, waiting int
	cooldown               time.Duration // left of the key's cooldown; 0 when none
}

func runMetrics(ctx context.Context, o *MetricsOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Format != formatOpenMetrics && o.Format != formatPrometheus {
		return exit(exitcode.Usage, "unknown --format %q: use openmetrics or prometheus", o.Format)
	}
	cfg, logs, err := o.g.open("")
	if err != nil {
		return err
	}
	defer logs.Close()
	recs, err := metricsRecords(o.g)
	if err != nil {
		return err
	}
	views := describeProviders(ctx, o.g, cfg, logs, "")
	var routes []routeGauge
	// One StatusAll per local lock root: it reads every key's slots and
	// waiters under the root at once.
	statuses := map[string]map[string]admission.KeyStatus{}
	var etcdB *etcdadm.Backend
	for _, v := range views {
		if v.Error != "" {
			fmt.Fprintf(o.g.IO.Err, "relay-host: %s\n", v.Error)
			continue
		}
		for _, r := range v.Routes {
			if r.Error != "" {
				fmt.Fprintf(o.g.IO.Err, "relay-host: %s\n", r.Error)
				continue
			}
			rg := routeGauge{provider: v.Provider, route: r.Route, limit: r.Limit}
			switch {
			case r.WouldCreate:
				// No shared_state directory, so no key and no lease on it.
			case r.Backend == "etcd":
				if etcdB == nil {
					if etcdB, err = review.OpenEtcd(cfg, o.g.IO.Getenv, logs.Host); err != nil {
						return exit(exitcode.Usage, "admission backend etcd: %s", logs.Scrubber.Message(err.Error()))
					}
					defer etcdB.Close()
				}
				st, err := etcdB.KeyStatus(ctx, r.key)
				if err != nil {
					fmt.Fprintf(o.g.IO.Err, "relay-host: %s/%s: cannot read its slots: %s\n", v.Provider, r.Route, logs.Scrubber.Message(err.Error()))
					continue
				}
				rg.active, rg.waiting, rg.cooldown = st.ActiveCount, st.Waiting, st.Cooldown.Remaining(time.Now())
			case keyDirExists(r.lockRoot, r.key):
				// The key's directory exists, so its lock root does too:
				// opening the backend creates nothing.
				byKey, ok := statuses[r.lockRoot]
				if !ok {
					if byKey, err = localStatuses(ctx, o.g, r.lockRoot, logs.Host); err != nil {
						fmt.Fprintf(o.g.IO.Err, "relay-host: %s/%s: cannot read its slots: %s\n", v.Provider, r.Route, logs.Scrubber.Message(err.Error()))
						continue
					}
					statuses[r.lockRoot] = byKey
				}
				st := byKey[admission.KeySlug(r.key)]
				rg.active, rg.waiting, rg.cooldown = st.ActiveCount, st.Waiting, st.Cooldown.Remaining(time.Now())
			}
			routes = append(routes, rg)
		}
	}
	writeMetrics(o.g.IO.Out, o.Format, routes, recs)
	return nil
}

// localStatuses is every key's status under lockRoot, by key slug.
func localStatuses(ctx context.Context, g *Globals, lockRoot string, log admission.Logger) (map[string]admission.KeyStatus, error) {
	lb, err := admission.OpenLocal(lockRoot, admission.Options{GateTimeout: admission.GateTimeoutFromEnv(g.IO.Getenv), Logger: log})
	if err != nil {
		return nil, err
	}
	defer lb.Close()
	all, err := lb.StatusAll(ctx, false)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]admission.KeyStatus, len(all))
	for _, st := range all {
		byKey[st.Slug] = st
	}
	return byKey, nil
}

// metricsRecords is every job record, settled as `relay-host jobs` does;
// none when the job store does not exist yet (it is not created).
func metricsRecords(g *Globals) ([]*jobs.Record, error) {
	dir, err := jobs.DefaultDir(g.IO.Getenv)
	if err != nil {
		return nil, exit(exitcode.Usage, "%v", err)
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	st, err := jobs.Open(dir)
	if err != nil {
		return nil, exit(exitcode.Usage, "%v", err)
	}
	defer st.Close()
	return settledList(g, st)
}

// durationBuckets are the review duration histogram's upper bounds, in
// seconds: a review takes from about a second to the longest timeouts
// (30 min).
var durationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800}

// plainLabel is what a label value must look like: a provider or route
// name as relay.hcl and the SDK allow them, a status, a code or a reason.
var plainLabel = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func plain(s string) string {
	if plainLabel.MatchString(s) {
		return s
	}
	return "other"
}

// series is one labelled sample set, keyed by its label string.
type series map[string]float64

type histogram struct {
	buckets []int // cumulative counts per durationBuckets bound
	count   int
	sum     float64
}

func writeMetrics(w io.Writer, format string, routes []routeGauge, recs []*jobs.Record) {
	m := &metricWriter{w: w, format: format}

	active, limit, waiting, cooling := series{}, series{}, series{}, series{}
	for _, r := range routes {
		l := labels("provider", r.provider, "route", r.route)
		active[l], limit[l], waiting[l] = float64(r.active), float64(r.limit), float64(r.waiting)
		cooling[l] = math.Ceil(r.cooldown.Seconds())
	}
	m.family("relay_route_active_reviews", "gauge", "", "Reviews holding an admission slot on the route now.", active)
	m.family("relay_route_limit", "gauge", "", "Reviews the route admits at once (its effective limit).", limit)
	m.family("relay_route_waiting_reviews", "gauge", "", "Reviews waiting in the route's admission queue now (relay-host review --wait).", waiting)
	m.family("relay_route_cooldown_seconds", "gauge", "seconds", "Seconds left of the route's cooldown after a rate limit or an empty balance (0: not cooling down).", cooling)

	finished, live, blocked, corrupt := series{}, series{}, series{}, series{"": 0}
	durations := map[string]*histogram{}
	var oldest time.Time
	for _, r := range recs {
		if r.Corrupt() {
			corrupt[""]++
			continue
		}
		if !r.StartedAt.IsZero() && (oldest.IsZero() || r.StartedAt.Before(oldest)) {
			oldest = r.StartedAt
		}
		if r.Live() {
			live[labels("provider", r.Provider, "route", r.Route, "status", string(r.Status))]++
			continue
		}
		status := string(r.Status)
		finished[labels("provider", r.Provider, "route", r.Route, "status", status, "code", r.ErrorCode)]++
		if r.ErrorCode == review.CodeWorkloadBlocked {
			reason := ""
			if wl := r.Diagnostics.ProviderWorkload; wl != nil {
				reason = wl.Reason
			}
			blocked[labels("provider", r.Provider, "route", r.Route, "reason", reason)]++
			continue // it never ran: it has no review duration
		}
		if r.FinishedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
			continue
		}
		l := labels("provider", r.Provider, "route", r.Route, "status", status)
		h := durations[l]
		if h == nil {
			h = &histogram{buckets: make([]int, len(durationBuckets))}
			durations[l] = h
		}
		d := r.FinishedAt.Sub(r.StartedAt).Seconds()
		for i, b := range durationBuckets {
			if d <= b {
				h.buckets[i]++
			}
		}
		h.count++
		h.sum += d
	}
	const since = " Counted from the job store's records, so since its oldest record still kept (relay_job_store_oldest_record_timestamp_seconds); pruning records lowers it."
	m.family("relay_reviews", "counter", "", "Reviews that ended, by status and error code (code absent when completed)."+since, finished)
	m.family("relay_reviews_blocked", "counter", "", "Reviews admission refused before anything was sent (error code provider_workload_blocked), by reason."+since, blocked)
	m.histogram("relay_review_duration_seconds", "Time from a review's start to its end, for reviews that ran (not blocked ones)."+since, durations)
	m.family("relay_reviews_in_progress", "gauge", "", "Reviews queued or running now, by status.", live)
	m.family("relay_job_store_corrupt_records", "gauge", "", "Job records that cannot be read back (see relay-host jobs).", corrupt)
	first := series{}
	if !oldest.IsZero() {
		first[""] = float64(oldest.Unix())
	}
	m.family("relay_job_store_oldest_record_timestamp_seconds", "gauge", "seconds", "Start time of the oldest job record still kept: the job-store counters count from here.", first)
	if format == formatOpenMetrics {
		fmt.Fprintln(w, "# EOF")
	}
}

// labels renders name/value pairs as `{a="x",b="y"}`, each value through
// plain (so none needs escaping), leaving out empty values (which Prometheus treats as absent
// anyway).
func labels(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i] + `="` + plain(kv[i+1]) + `"`)
	}
	if b.Len() == 0 {
		return ""
	}
	return "{" + b.String() + "}"
}

// metricWriter writes families in one of the two text formats. They differ
// in a counter's metadata: OpenMetrics names the family without _total
// (its sample has the suffix) and has # UNIT and # EOF; the text format
// 0.0.4 names the sample itself.
type metricWriter struct {
	w      io.Writer
	format string
}

func (m *metricWriter) meta(name, typ, unit, help string) {
	if m.format == formatPrometheus {
		if typ == "counter" {
			name += "_total"
		}
		fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		return
	}
	fmt.Fprintf(m.w, "# TYPE %s %s\n", name, typ)
	if unit != "" {
		fmt.Fprintf(m.w, "# UNIT %s %s\n", name, unit)
	}
	fmt.Fprintf(m.w, "# HELP %s %s\n", name, help)
}

func (m *metricWriter) family(name, typ, unit, help string, s series) {
	m.meta(name, typ, unit, help)
	sample := name
	if typ == "counter" {
		sample += "_total"
	}
	for _, l := range sortedKeys(s) {
		fmt.Fprintf(m.w, "%s%s %s\n", sample, l, number(s[l]))
	}
}

func (m *metricWriter) histogram(name, help string, hs map[string]*histogram) {
	m.meta(name, "histogram", "seconds", help)
	for _, l := range sortedKeys(hs) {
		h := hs[l]
		for i, b := range durationBuckets {
			fmt.Fprintf(m.w, "%s_bucket%s %d\n", name, withLE(l, leBound(b)), h.buckets[i])
		}
		fmt.Fprintf(m.w, "%s_bucket%s %d\n", name, withLE(l, "+Inf"), h.count)
		fmt.Fprintf(m.w, "%s_sum%s %s\n", name, l, number(h.sum))
		fmt.Fprintf(m.w, "%s_count%s %d\n", name, l, h.count)
	}
}

// withLE adds the le label to a rendered label string.
func withLE(l, le string) string {
	if l == "" {
		return `{le="` + le + `"}`
	}
	return l[:len(l)-1] + `,le="` + le + `"}`
}

// number formats a sample value: a count as a whole number.
func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// leBound formats a bucket bound in OpenMetrics' canonical form ("1.0",
// not "1").
func leBound(b float64) string {
	if b == math.Trunc(b) {
		return strconv.FormatFloat(b, 'f', 1, 64)
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
