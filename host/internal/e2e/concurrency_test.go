package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/relay-host/relay-host/host/jobs"
)

// peak computes the most reviews in flight at once at the plugin from its
// "start <ns>" / "end <ns>" event lines (ends sort before starts at equal
// times, so touching intervals do not count as overlap).
func peak(t *testing.T, path string) (peak, starts int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, ts, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(ts, 10, 64)
		if !ok || err != nil {
			t.Fatalf("bad event line %q", sc.Text())
		}
		switch kind {
		case "start":
			evs = append(evs, ev{n, +1})
			starts++
		case "end":
			evs = append(evs, ev{n, -1})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].delta < evs[j].delta
	})
	cur := 0
	for _, e := range evs {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak, starts
}

// TestConcurrentReviews: six relay-host processes on a stateless route with
// limit = 2 (which the plugin claims is 1000). At most two reviews are ever
// in flight at the plugin; without --wait the rest exit 75 with a counts-only
// message and a failed/not_sent record; with --wait all six complete.
func TestConcurrentReviews(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events := filepath.Join(e.root, "events")
	e.config(faultConfig(fmt.Sprintf(`delay = "1500ms", events = %q`, events)))

	runAll := func(args ...string) []result {
		var wg sync.WaitGroup
		res := make([]result, 6)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = e.run(append([]string{"review", "fault", "--confirm-resend"}, args...)...)
			}()
		}
		wg.Wait()
		return res
	}

	res := runAll()
	ok, blocked := 0, 0
	for _, r := range res {
		switch r.code {
		case 0:
			ok++
		case 75:
			blocked++
			line := strings.TrimSpace(r.stderr)
			if strings.Count(line, "\n") != 0 || !strings.Contains(line, "at capacity (2/2 in use)") || !strings.Contains(line, "--wait") {
				t.Errorf("blocked message is not one counts-only line with the --wait hint: %q", r.stderr)
			}
			checkAbsent(t, map[string]string{"blocked stderr": r.stderr}, []string{e.state, "pid", e.home})
		default:
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	}
	if ok < 2 || blocked < 1 {
		t.Errorf("%d completed and %d blocked; want at least 2 and 1", ok, blocked)
	}
	p, starts := peak(t, events)
	if p > 2 {
		t.Errorf("peak in flight at the plugin %d > limit 2", p)
	}
	if starts != ok {
		t.Errorf("%d reviews reached the plugin but %d completed: a blocked review was sent", starts, ok)
	}
	nBlocked := 0
	for _, rec := range e.records() {
		if rec.ErrorCode != "provider_workload_blocked" {
			continue
		}
		nBlocked++
		w := rec.Diagnostics.ProviderWorkload
		if rec.Status != jobs.StatusFailed || rec.Transmission != jobs.NotSent || w == nil || w.Capacity.Limit != 2 || w.Capacity.ActiveCount != 2 || w.Reason != "at_capacity" {
			t.Errorf("blocked record: %+v, workload %+v", rec, w)
		}
	}
	if nBlocked != blocked {
		t.Errorf("%d blocked records for %d blocked runs", nBlocked, blocked)
	}

	os.Remove(events)
	for _, r := range runAll("--wait", "60s") {
		if r.code != 0 {
			t.Errorf("with --wait: exit %d: %s", r.code, r.stderr)
		}
	}
	if p, starts := peak(t, events); p > 2 || starts != 6 {
		t.Errorf("with --wait: peak %d (limit 2), %d of 6 reviews ran", p, starts)
	}
	if n := e.active("fault", "default"); n != 0 {
		t.Errorf("%d slots still held after all runs", n)
	}
}
