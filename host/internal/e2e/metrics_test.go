package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// Identity planted in the job records of TestMetricsCountsJobRecords: none
// of it may reach the metrics.
const (
	plantedHost = "build-7.corp.example.net"
	plantedUser = "alice"
	plantedPID  = "48213"
	plantedPath = "/home/alice/src/payments-service"
)

// TestMetricsCountsJobRecords: with a job store holding a completed review
// (2 min), a failed usage_limited one (10 s), one blocked at_capacity, a
// running one (its lock held by this process) and ones whose code, reason
// and route carry a host name and a path, metrics prints the expected counts and
// histogram, passes the real parsers of both formats, and shows none of the
// identity the records hold.
func TestMetricsCountsJobRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st, err := jobs.Open(filepath.Join(e.state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	leak := "pid " + plantedPID + " on " + plantedHost + " in " + plantedPath + " for " + plantedUser
	put := func(r jobs.Record) string {
		t.Helper()
		r.JobID = jobs.NewID()
		r.Fingerprint = jobs.Fingerprint(r.Provider, r.Route, "prompt-"+r.JobID, "packet-"+r.JobID)
		r.ErrorMessage, r.Review, r.Model = leak, leak, plantedHost
		r.SkippedFiles = []string{plantedPath + "/.env"}
		if err := st.Put(&r); err != nil {
			t.Fatal(err)
		}
		return r.JobID
	}
	ids := []string{
		put(jobs.Record{Provider: "claude", Route: "subscription", Status: jobs.StatusCompleted, Transmission: jobs.Sent, Verdict: "approve",
			StartedAt: start, FinishedAt: start.Add(2 * time.Minute)}),
		put(jobs.Record{Provider: "gemini", Route: "subscription", Status: jobs.StatusFailed, ErrorCode: "usage_limited", Transmission: jobs.Sent,
			StartedAt: start.Add(time.Hour), FinishedAt: start.Add(time.Hour + 10*time.Second), Diagnostics: jobs.Diagnostics{RetryAfterS: 20}}),
		put(jobs.Record{Provider: "claude", Route: "subscription", Status: jobs.StatusFailed, ErrorCode: "provider_workload_blocked", Transmission: jobs.NotSent,
			StartedAt: start.Add(2 * time.Hour), FinishedAt: start.Add(2 * time.Hour),
			Diagnostics: jobs.Diagnostics{ProviderWorkload: &jobs.Workload{Reason: "at_capacity", Capacity: jobs.Capacity{ActiveCount: 1, Limit: 1}}}}),
		put(jobs.Record{Provider: "kimi", Route: "subscription", Status: jobs.StatusFailed, ErrorCode: "provider_workload_blocked", Transmission: jobs.NotSent,
			StartedAt: start.Add(3 * time.Hour), FinishedAt: start.Add(3 * time.Hour),
			Diagnostics: jobs.Diagnostics{ProviderWorkload: &jobs.Workload{Reason: plantedPath}}}),
		put(jobs.Record{Provider: "kimi", Route: "subscription", Status: jobs.StatusFailed, ErrorCode: "host " + plantedHost, Transmission: jobs.Sent,
			StartedAt: start.Add(4 * time.Hour), FinishedAt: start.Add(4*time.Hour + 3*time.Second)}),
		put(jobs.Record{Provider: "claude", Route: plantedHost, Status: jobs.StatusCancelled, ErrorCode: "cancelled", Transmission: jobs.Sent,
			StartedAt: start.Add(4 * time.Hour), FinishedAt: start.Add(4*time.Hour + time.Second)}),
	}
	// A running review: its worker (this process) holds the job's lock, so
	// metrics does not settle it as worker_lost.
	running := jobs.NewID()
	lock, err := st.Lock(running)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := st.Put(&jobs.Record{JobID: running, Provider: "claude", Route: "subscription", Status: jobs.StatusRunning,
		Transmission: jobs.MayBeSent, Fingerprint: jobs.Fingerprint("claude", "subscription", "p", running), StartedAt: start.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, running)

	r := e.run("metrics")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("metrics: exit %d, stderr %q", r.code, r.stderr)
	}
	om := r.stdout
	for _, want := range []string{
		`relay_reviews_total{provider="claude",route="subscription",status="completed"} 1`,
		`relay_reviews_total{provider="gemini",route="subscription",status="failed",code="usage_limited"} 1`,
		`relay_reviews_total{provider="claude",route="subscription",status="failed",code="provider_workload_blocked"} 1`,
		`relay_reviews_total{provider="kimi",route="subscription",status="failed",code="other"} 1`,
		`relay_reviews_total{provider="claude",route="other",status="cancelled",code="cancelled"} 1`,
		`relay_reviews_blocked_total{provider="claude",route="subscription",reason="at_capacity"} 1`,
		`relay_reviews_blocked_total{provider="kimi",route="subscription",reason="other"} 1`,
		`relay_reviews_in_progress{provider="claude",route="subscription",status="running"} 1`,
		// 120 s falls in the 120 s bucket, 10 s in the 15 s one; blocked
		// reviews never ran and have no duration.
		`relay_review_duration_seconds_bucket{provider="claude",route="subscription",status="completed",le="60.0"} 0`,
		`relay_review_duration_seconds_bucket{provider="claude",route="subscription",status="completed",le="120.0"} 1`,
		`relay_review_duration_seconds_sum{provider="claude",route="subscription",status="completed"} 120`,
		`relay_review_duration_seconds_count{provider="claude",route="subscription",status="completed"} 1`,
		`relay_review_duration_seconds_bucket{provider="gemini",route="subscription",status="failed",le="5.0"} 0`,
		`relay_review_duration_seconds_bucket{provider="gemini",route="subscription",status="failed",le="15.0"} 1`,
		`relay_review_duration_seconds_bucket{provider="gemini",route="subscription",status="failed",le="+Inf"} 1`,
		`relay_job_store_oldest_record_timestamp_seconds ` + strconv.FormatInt(start.Unix(), 10),
		`relay_job_store_corrupt_records 0`,
		`relay_route_limit{provider="claude",route="subscription"} 1`,
		`relay_route_active_reviews{provider="claude",route="subscription"} 0`,
		`relay_route_waiting_reviews{provider="claude",route="subscription"} 0`,
	} {
		if !strings.Contains(om, want+"\n") {
			t.Errorf("metrics has no line %q", want)
		}
	}
	if n := strings.Count(om, `relay_review_duration_seconds_count{`); n != 4 {
		t.Errorf("%d duration histograms, want 4 (completed, usage_limited, the kimi failure, the cancelled one; not the blocked ones)", n)
	}
	if !strings.HasSuffix(om, "\n# EOF\n") {
		t.Errorf("the OpenMetrics text does not end with # EOF")
	}

	p := e.run("metrics", "--format", "prometheus")
	if p.code != 0 {
		t.Fatalf("metrics --format prometheus: exit %d\n%s", p.code, p.stderr)
	}
	if !strings.Contains(p.stdout, "# TYPE relay_reviews_total counter\n") || strings.Contains(p.stdout, "# EOF") {
		t.Errorf("the text format 0.0.4 does not name its counters by their samples:\n%s", p.stdout)
	}

	host, _ := os.Hostname()
	for _, out := range []string{om, p.stdout} {
		leaks := []string{plantedHost, plantedUser, plantedPID, plantedPath, e.root, e.home, e.state}
		if len(host) >= 6 {
			leaks = append(leaks, host)
		}
		for _, id := range ids {
			rec, err := st.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			leaks = append(leaks, id, rec.Fingerprint)
		}
		for _, s := range leaks {
			if strings.Contains(out, s) {
				t.Errorf("the metrics contain %q:\n%s", s, out)
			}
		}
		for _, m := range regexp.MustCompile(`([a-z_]+)="`).FindAllStringSubmatch(out, -1) {
			if !map[string]bool{"provider": true, "route": true, "status": true, "code": true, "reason": true, "le": true}[m[1]] {
				t.Errorf("label %q is not one of provider, route, status, code, reason", m[1])
			}
		}
	}

	checkPrometheusText(t, p.stdout)
	checkOpenMetrics(t, om)
}

// TestMetricsShowsTheQueue: while one review holds a limit-1 route's slot
// and another waits for it, metrics counts 1 active and 1 waiting there.
func TestMetricsShowsTheQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pidfile := filepath.Join(e.root, "pids")
	e.config(slowFault(1, pidfile))
	holder := e.command("review", "fault")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	waitForFile(t, pidfile, 20*time.Second)
	waiter := e.command("review", "fault", "--wait", "60s")
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { waiter.Process.Kill(); waiter.Wait() }()

	want := []string{
		`relay_route_active_reviews{provider="fault",route="default"} 1`,
		`relay_route_waiting_reviews{provider="fault",route="default"} 1`,
		`relay_route_limit{provider="fault",route="default"} 1`,
	}
	var out string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := e.run("metrics", "--format", "prometheus")
		if r.code != 0 {
			t.Fatalf("metrics: exit %d\n%s", r.code, r.stderr)
		}
		out = r.stdout
		if containsLines(out, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed 1 active and 1 waiting on fault/default:\n%s", out)
		}
	}
	checkPrometheusText(t, out)
}

// TestMetricsCreatesNothing: metrics in a fresh home leaves it as it was:
// no job store, no lock root, no provider directories.
func TestMetricsCreatesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.extra = defaultLevel
	before := tree(t, e.home, e.state)
	for _, args := range [][]string{{"metrics"}, {"metrics", "--format", "prometheus"}} {
		r := e.run(args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if after := tree(t, e.home, e.state); after != before {
			t.Fatalf("%v changed the home or state tree:\nbefore:\n%s\nafter:\n%s", args, before, after)
		}
		if !strings.Contains(r.stdout, `relay_route_limit{provider="claude",route="subscription"} 1`+"\n") {
			t.Errorf("%v: no limit for claude/subscription:\n%s", args, r.stdout)
		}
	}
	if r := e.run("metrics", "--format", "json"); r.code != 2 || !strings.Contains(r.stderr, `unknown --format "json"`) {
		t.Errorf("metrics --format json: exit %d, stderr %q; want 2 and the formats", r.code, r.stderr)
	}
}

func containsLines(out string, lines []string) bool {
	for _, l := range lines {
		if !strings.Contains(out, l+"\n") {
			return false
		}
	}
	return true
}

// prometheusTools is where .ci/run unpacks promtool (bin/) and the Python
// client (python/).
var prometheusTools = filepath.Join("..", "..", "..", ".cache", "prometheus-tools")

// checkPrometheusText runs the real `promtool check metrics` (from Debian's
// prometheus package) on text format 0.0.4, which is what it parses and
// lints. Without promtool the test is skipped, unless RELAY_REQUIRE_CLIS=1
// (.ci/run), which makes it fail.
func checkPrometheusText(t *testing.T, text string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if promtool, err = filepath.Abs(filepath.Join(prometheusTools, "bin", "promtool")); err != nil || exec.Command(promtool, "--version").Run() != nil {
			missingTool(t, "promtool")
			return
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\non:\n%s", err, out, text)
	}
}

// checkOpenMetrics parses OpenMetrics text with the Prometheus Python
// client's strict OpenMetrics parser (Debian's python3-prometheus-client):
// promtool reads only the text format 0.0.4.
func checkOpenMetrics(t *testing.T, text string) {
	t.Helper()
	const parse = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nlist(p(sys.stdin.read()))\n"
	env := os.Environ()
	if dir, err := filepath.Abs(filepath.Join(prometheusTools, "python")); err == nil {
		env = append(env, "PYTHONPATH="+strings.Trim(dir+":"+os.Getenv("PYTHONPATH"), ":"))
	}
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		probe := exec.Command(py, "-c", "import prometheus_client.openmetrics.parser")
		probe.Env = env
		if probe.Run() != nil {
			continue
		}
		cmd := exec.Command(py, "-c", parse)
		cmd.Env, cmd.Stdin = env, strings.NewReader(text)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Run(); err != nil {
			t.Errorf("the OpenMetrics parser refused the text: %v\n%s\non:\n%s", err, errb.String(), text)
		}
		return
	}
	missingTool(t, "the Python prometheus_client OpenMetrics parser")
}

func missingTool(t *testing.T, what string) {
	t.Helper()
	const how = "run the prometheus-tools lines of .ci/run (they unpack Debian's prometheus and python3-prometheus-client into .cache/prometheus-tools)"
	if os.Getenv("RELAY_REQUIRE_CLIS") == "1" {
		t.Fatalf("%s is not installed: %s", what, how)
	}
	t.Skipf("%s is not installed, so the metrics are not checked with it: %s", what, how)
}

// TestMetricsShowsACooldown: a route that answered a rate limit cools down,
// and metrics says for how long (0 on every route that does not).
func TestMetricsShowsACooldown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.config(`
admission {
  cooldown = "40s"
}
provider "fault" {
  route "default" {
    settings = { mode = "error", code = "usage_limited" }
  }
}
`)
	if r := e.run("review", "fault"); r.code != 3 {
		t.Fatalf("rate-limited review: exit %d, want 3\n%s", r.code, r.stderr)
	}
	r := e.run("metrics", "--format", "prometheus")
	if r.code != 0 {
		t.Fatalf("metrics: exit %d\n%s", r.code, r.stderr)
	}
	var left float64 = -1
	for _, line := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, `relay_route_cooldown_seconds{provider="fault",route="default"} `); ok {
			fmt.Sscan(v, &left)
		}
	}
	if left < 30 || left > 40 {
		t.Errorf("fault/default cooldown %v s, want about 40:\n%s", left, r.stdout)
	}
	if !strings.Contains(r.stdout, `relay_route_cooldown_seconds{provider="claude",route="subscription"} 0`+"\n") {
		t.Errorf("a route that never rate-limited shows no 0 cooldown:\n%s", r.stdout)
	}
	checkPrometheusText(t, r.stdout)
}
