package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/relay-host/relay-host/host/jobs"
)

// startEtcd runs a one-member embedded etcd on loopback ports in a temp
// dir for one test; stop (idempotent) ends it, and cleanup calls it.
func startEtcd(t *testing.T) (endpoint string, stop func()) {
	t.Helper()
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port()))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port()))
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "e2e"
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "fatal"
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		t.Fatal("embedded etcd not ready after 20s")
	}
	var once sync.Once
	stop = func() { once.Do(e.Close) }
	t.Cleanup(stop)
	return cu.String(), stop
}

// etcdConfig is relay.hcl with the etcd backend and the fault plugin: its
// "default" route is stateless (limit 1), "shared" is shared_state.
func etcdConfig(endpoint, settings string) string {
	return fmt.Sprintf(`
admission {
  backend   = "etcd"
  endpoints = [%q]
  prefix    = "/e2e"
  ttl       = "3s"
}
provider "fault" {
  env = ["FAULT_STATE_DIR"]
  route "default" {
    limit    = 1
    settings = { %s }
  }
}
`, endpoint, settings)
}

func waitForLine(t *testing.T, path, prefix string, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		data, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, prefix) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q line in %s within %s", prefix, path, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startReview starts `relay-host review fault` in the background.
func startReview(t *testing.T, e *env) <-chan result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- e.run("review", "fault", "--route", "default", "--confirm-resend") }()
	return done
}

func TestEtcdBackend(t *testing.T) {
	t.Parallel()
	ep, _ := startEtcd(t)

	// Two reviews on a stateless route with limit 1 on one etcd: the second
	// is refused with exit 75, counts only, while the first holds the slot;
	// `capacity` reads the holder from etcd.
	t.Run("at_capacity", func(t *testing.T) {
		e := newEnv(t)
		events := filepath.Join(e.root, "events")
		e.config(etcdConfig(ep, fmt.Sprintf(`delay = "3s", events = %q`, events)))
		first := startReview(t, e)
		waitForLine(t, events, "start ", 20*time.Second)

		var rows []struct {
			Route       string `json:"route"`
			ActiveCount int    `json:"active_count"`
			Backend     string `json:"backend"`
		}
		c := e.run("capacity", "fault", "--json")
		if err := json.Unmarshal([]byte(c.stdout), &rows); err != nil {
			t.Fatalf("capacity --json: exit %d: %v\n%s%s", c.code, err, c.stdout, c.stderr)
		}
		for _, r := range rows {
			if r.Route == "default" && (r.ActiveCount != 1 || r.Backend != "etcd") {
				t.Errorf("capacity of the etcd route while held: %+v", r)
			}
		}

		second := e.run("review", "fault", "--route", "default", "--confirm-resend")
		line := strings.TrimSpace(second.stderr)
		if second.code != 75 || strings.Contains(line, "\n") || !strings.Contains(line, "at capacity (1/1 in use)") {
			t.Errorf("second review: exit %d, stderr %q; want 75 and one counts-only line", second.code, second.stderr)
		}
		checkAbsent(t, map[string]string{"blocked stderr": second.stderr}, []string{"/e2e", ep, e.state, e.home})
		if r := <-first; r.code != 0 {
			t.Errorf("first review: exit %d: %s", r.code, r.stderr)
		}
		blocked := 0
		for _, rec := range e.records() {
			if rec.ErrorCode != "provider_workload_blocked" {
				continue
			}
			blocked++
			w := rec.Diagnostics.ProviderWorkload
			if rec.Status != jobs.StatusFailed || rec.Transmission != jobs.NotSent || w == nil || w.Reason != "at_capacity" || w.Capacity.ActiveCount != 1 || w.Capacity.Limit != 1 {
				t.Errorf("blocked record %+v, workload %+v", rec, w)
			}
		}
		if blocked != 1 {
			t.Errorf("%d blocked records, want 1", blocked)
		}
	})

	// The lease is revoked (as when a partition outlasts the TTL) while the
	// review runs: the review is cancelled, the plugin stopped, and the
	// record says admission_lost with transmission sent (the plugin
	// reported it before its delay).
	t.Run("lease_lost", func(t *testing.T) {
		e := newEnv(t)
		events := filepath.Join(e.root, "events")
		pidfile := filepath.Join(e.root, "pids")
		e.config(etcdConfig(ep, fmt.Sprintf(`delay = "60s", events = %q, pidfile = %q`, events, pidfile)))
		start := time.Now()
		done := startReview(t, e)
		waitForLine(t, events, "start ", 20*time.Second)
		waitForFile(t, pidfile, 10*time.Second)
		pids := readPids(t, pidfile)

		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ls, err := cli.Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls.Leases) == 0 {
			t.Fatal("no etcd lease while the review holds its slot")
		}
		for _, l := range ls.Leases {
			if _, err := cli.Revoke(ctx, l.ID); err != nil {
				t.Fatal(err)
			}
		}

		var r result
		select {
		case r = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the review still runs 30s after its lease was revoked")
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("the review ran %s: it was not cancelled when its lease was lost", time.Since(start))
		}
		if r.code != 75 || !strings.Contains(r.stderr, "admission slot was lost") {
			t.Errorf("exit %d, stderr %q; want 75 and the admission_lost line", r.code, r.stderr)
		}
		rec := e.latest()
		if rec.Status != jobs.StatusFailed || rec.ErrorCode != "admission_lost" || rec.Transmission != jobs.Sent {
			t.Errorf("record: status %s, code %s, transmission %s; want failed/admission_lost/sent", rec.Status, rec.ErrorCode, rec.Transmission)
		}
		requireGone(t, pids, 10*time.Second)
	})

	// providers: the backend per route; shared_state stays local.
	t.Run("providers", func(t *testing.T) {
		e := newEnv(t)
		e.config(etcdConfig(ep, `mode = "ok"`))
		r := e.run("providers", "--json")
		if r.code != 0 {
			t.Fatalf("providers: exit %d: %s", r.code, r.stderr)
		}
		var views []struct {
			Provider string `json:"provider"`
			Routes   []struct {
				Route   string `json:"route"`
				Fact    string `json:"fact"`
				Backend string `json:"backend"`
			} `json:"routes"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &views); err != nil {
			t.Fatalf("providers --json: %v\n%s", err, r.stdout)
		}
		got := map[string]string{}
		for _, v := range views {
			for _, rt := range v.Routes {
				got[v.Provider+"/"+rt.Route+"/"+rt.Fact] = rt.Backend
			}
		}
		want := map[string]string{"fault/default/stateless": "etcd", "fault/shared/shared_state": "local"}
		for k, b := range want {
			if got[k] != b {
				t.Errorf("%s: backend %q, want %q (all: %v)", k, got[k], b, got)
			}
		}
		r = e.run("providers")
		for _, re := range []string{`(?m)^PROVIDER\s.*\sBACKEND$`, `(?m)^fault\s+default\s.*\sstateless\s.*\setcd$`, `(?m)^fault\s+shared\s.*\sshared_state\s.*\slocal\b`} {
			if !regexp.MustCompile(re).MatchString(r.stdout) {
				t.Errorf("providers table does not match %s:\n%s", re, r.stdout)
			}
		}
		r = e.run("capacity")
		for _, re := range []string{`(?m)^fault\s+default\s+0\s+1\s+0\s+-\s+etcd$`, `(?m)^fault\s+shared\s+0\s+1\s+0\s+-\s+local\b`} {
			if !regexp.MustCompile(re).MatchString(r.stdout) {
				t.Errorf("capacity table does not match %s:\n%s%s", re, r.stdout, r.stderr)
			}
		}
		// A shared_state review never touches etcd: it works with the
		// cluster configured (and up) but acquires on the local backend.
		if r := e.run("review", "fault", "--route", "shared", "--confirm-resend"); r.code != 0 {
			t.Errorf("shared_state review under backend = etcd: exit %d: %s", r.code, r.stderr)
		}
	})
}

// TestEtcdUnavailable: etcd is down at acquire ⇒ fail closed: exit 75 with
// backend_unavailable and a failed/not_sent record; nothing reaches the
// plugin.
func TestEtcdUnavailable(t *testing.T) {
	t.Parallel()
	ep, stop := startEtcd(t)
	stop()
	e := newEnv(t)
	events := filepath.Join(e.root, "events")
	e.config(etcdConfig(ep, fmt.Sprintf(`events = %q`, events)))
	r := e.run("review", "fault", "--route", "default", "--confirm-resend")
	if r.code != 75 || !strings.Contains(r.stderr, "backend_unavailable") {
		t.Errorf("exit %d, stderr %q; want 75 naming backend_unavailable", r.code, r.stderr)
	}
	rec := e.latest()
	w := rec.Diagnostics.ProviderWorkload
	if rec.Status != jobs.StatusFailed || rec.Transmission != jobs.NotSent || rec.ErrorCode != "provider_workload_blocked" || w == nil || w.Reason != "backend_unavailable" {
		t.Errorf("record %+v, workload %+v; want failed/not_sent backend_unavailable", rec, w)
	}
	if _, err := os.Stat(events); err == nil {
		t.Error("the review reached the plugin although admission failed closed")
	}
}

// TestAdmissionRunEtcd: `relay-host admission run|status --backend etcd`
// (the front execs relay-host-core for it). A holder blocks a second run
// (exit 75, counts only); status reads the holder from etcd; SIGKILLing
// relay-host kills CMD too (Pdeathsig: nothing renews the lease once
// relay-host is dead) and the slot is free again within the TTL.
func TestAdmissionRunEtcd(t *testing.T) {
	t.Parallel()
	ep, _ := startEtcd(t)
	e := newEnv(t)
	fleet := []string{"--backend", "etcd", "--endpoints", ep + ",", "--prefix", "/adm", "--ttl", "3s"}
	adm := func(sub string, args ...string) []string {
		return append(append([]string{"admission", sub}, fleet...), args...)
	}
	pidfile := filepath.Join(e.root, "cmd.pid")
	holder := e.command(adm("run", "--key", "api", "--limit", "1", "--", "sh", "-c", `echo $$ > "$0"; exec sleep 60`, pidfile)...)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { holder.Wait(); close(waited) }()
	t.Cleanup(func() { holder.Process.Kill(); <-waited })
	waitForFile(t, pidfile, 20*time.Second)
	cmdPids := readPids(t, pidfile)

	r := e.run(adm("run", "--key", "api", "--limit", "1", "--", "true")...)
	if r.code != 75 || !strings.Contains(r.stderr, "at capacity (1/1 in use)") {
		t.Errorf("second run: exit %d, stderr %q; want 75 at capacity 1/1", r.code, r.stderr)
	}
	r = e.run(adm("status", "--key", "api", "--json")...)
	var rows []struct {
		Key         string `json:"key"`
		ActiveCount int    `json:"active_count"`
		Limit       int    `json:"limit"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 || rows[0].ActiveCount != 1 || rows[0].Limit != 1 {
		t.Errorf("status --backend etcd: exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
	}

	killed := time.Now()
	holder.Process.Kill() // relay-host (the core, same pid after exec)
	<-waited
	requireGone(t, cmdPids, 5*time.Second)
	r = e.run(adm("run", "--key", "api", "--limit", "1", "--wait", "10s", "--", "true")...)
	if r.code != 0 {
		t.Errorf("after the holder was killed: exit %d: %s", r.code, r.stderr)
	}
	if d := time.Since(killed); d > 3*time.Second+time.Second+2*time.Second {
		t.Errorf("the killed holder's slot freed after %s (TTL 3s)", d)
	}

	// A stopped cluster fails closed.
	ep2, stop := startEtcd(t)
	stop()
	r = e.run("admission", "run", "--backend", "etcd", "--endpoints", ep2, "--key", "api", "--limit", "1", "--", "true")
	if r.code != 75 || !strings.Contains(r.stderr, "backend_unavailable") {
		t.Errorf("etcd down: exit %d, stderr %q; want 75 backend_unavailable", r.code, r.stderr)
	}
}

// An operator who configured fleet mode in relay.hcl gets it from
// `admission run` and `status` too, without repeating it in flags: the
// same key held by one run blocks a second, while --backend local (a flag
// wins) is a different, per-host semaphore.
func TestAdmissionRunEtcdFromConfig(t *testing.T) {
	t.Parallel()
	ep, _ := startEtcd(t)
	e := newEnv(t)
	e.config(etcdConfig(ep, ""))
	pidfile := filepath.Join(e.root, "cmd.pid")
	holder := e.command("admission", "run", "--key", "api", "--limit", "1", "--", "sh", "-c", `echo $$ > "$0"; exec sleep 60`, pidfile)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { holder.Wait(); close(waited) }()
	t.Cleanup(func() { holder.Process.Kill(); <-waited })
	waitForFile(t, pidfile, 20*time.Second)

	if r := e.run("admission", "run", "--key", "api", "--limit", "1", "--", "true"); r.code != 75 || !strings.Contains(r.stderr, "at capacity (1/1 in use)") {
		t.Errorf("second run on the configured etcd: exit %d, stderr %q; want 75 at capacity", r.code, r.stderr)
	}
	if r := e.run("admission", "status", "--key", "api", "--json"); !strings.Contains(r.stdout, `"active_count": 1`) {
		t.Errorf("status on the configured etcd: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run("admission", "run", "--backend", "local", "--key", "api", "--limit", "1", "--", "true"); r.code != 0 {
		t.Errorf("--backend local: exit %d: %s", r.code, r.stderr)
	}
}
