package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

// Cooldowns: a review that the provider refuses with a rate limit puts the
// route in a cooldown that every later review on it honours (issue 15).

// failOnce makes the fake's next request answer status with body and a
// Retry-After of retryAfter seconds (0: none); later ones succeed.
func failOnce(f *modelFake, status int, body string, retryAfter int) {
	c := map[string]any{"fail_status": status, "fail_body": body, "fail_next": 1}
	if retryAfter > 0 {
		c["fail_headers"] = map[string]string{"Retry-After": fmt.Sprint(retryAfter)}
	}
	f.set(c)
}

// capacityRow is one row of `capacity --json`.
type capacityRow struct {
	Route       string `json:"route"`
	ActiveCount int    `json:"active_count"`
	Waiting     int    `json:"waiting"`
	CooldownS   int64  `json:"cooldown_s"`
	Cooldown    string `json:"cooldown"`
}

func capacityOf(t *testing.T, e *env, route string) capacityRow {
	t.Helper()
	r := e.run("capacity", "apireviewer", "--json")
	var rows []capacityRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("capacity --json: exit %d: %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	for _, row := range rows {
		if row.Route == route {
			return row
		}
	}
	t.Fatalf("capacity has no route %s: %s", route, r.stdout)
	return capacityRow{}
}

// wantCooling checks that r was refused at once for the route's cooldown:
// exit 75, one line with the reason and about wantS seconds left, the
// record saying so, and nothing sent.
func wantCooling(t *testing.T, e *env, r result, after string, wantS int64) {
	t.Helper()
	line := strings.TrimSpace(r.stderr)
	if r.code != 75 || strings.Contains(line, "\n") || !strings.Contains(line, "relay-host: admission blocked: apireviewer/deepseek is cooling down after "+after+" (retry in ") {
		t.Fatalf("exit %d, stderr %q; want 75 and the cooling-down line", r.code, r.stderr)
	}
	rec := e.latest()
	w := rec.Diagnostics.ProviderWorkload
	if rec.ErrorCode != "provider_workload_blocked" || rec.Transmission != jobs.NotSent || w == nil || w.Reason != "cooling_down" ||
		w.RetryAfterS > wantS || w.RetryAfterS < wantS-5 {
		t.Fatalf("record: %s %s %+v; want provider_workload_blocked, not_sent, cooling_down with ~%ds", rec.ErrorCode, rec.Transmission, w, wantS)
	}
}

// Review 1 gets a 429 with retry-after 20: usage_limited. Review 2 right
// after is refused with cooling_down, ~20 s left, and sends nothing;
// capacity and admission status show the cooldown; an operator's clear (or
// --ignore-cooldown) lets the next review through.
func TestCooldownAfterRateLimit(t *testing.T) {
	t.Parallel()
	fake := startModelFake(t)
	e := apiEnv(t, fake, "")
	fake.FailWithRetryAfter(429, fake.Canned("OpenAIRateLimit"), 20)
	r1 := e.run("review", "apireviewer", "--route", "deepseek")
	if r1.code != 3 || e.latest().ErrorCode != "usage_limited" || !strings.Contains(r1.stderr, "cools down for 20s") {
		t.Fatalf("review 1: exit %d, %s\n%s", r1.code, e.latest().ErrorCode, r1.stderr)
	}
	r2 := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend")
	wantCooling(t, e, r2, "a rate limit", 20)
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests at the fake, want 1: review 2 sent during the cooldown", n)
	}
	if c := capacityOf(t, e, "deepseek"); c.Cooldown != "rate_limited" || c.CooldownS < 15 || c.CooldownS > 20 || c.ActiveCount != 0 {
		t.Errorf("capacity: %+v", c)
	}
	st := e.run("admission", "status", "--json")
	if !strings.Contains(st.stdout, `"key": "apireviewer.deepseek"`) || !strings.Contains(st.stdout, `"cooldown": "rate_limited"`) {
		t.Errorf("admission status --json:\n%s%s", st.stdout, st.stderr)
	}
	apiCheckNoSecrets(t, e, r1, r2, st)

	fake.set(map[string]any{"clear": true})
	if r := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend", "--ignore-cooldown"); r.code != 0 {
		t.Fatalf("--ignore-cooldown: exit %d\n%s", r.code, r.stderr)
	}
	if r := e.run("admission", "cooldown", "clear", "--key", "apireviewer.deepseek"); r.code != 0 || !strings.Contains(r.stdout, "cleared the cooldown on apireviewer.deepseek") {
		t.Fatalf("cooldown clear: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend"); r.code != 0 {
		t.Fatalf("after clear: exit %d\n%s", r.code, r.stderr)
	}
	if c := capacityOf(t, e, "deepseek"); c.CooldownS != 0 || c.Cooldown != "" {
		t.Errorf("capacity after clear: %+v", c)
	}
}

// With --wait, review 2 waits in the queue until the cooldown ends and then
// succeeds: the fake sees nothing from it before then.
func TestCooldownWaitThenSend(t *testing.T) {
	t.Parallel()
	fake := startModelFake(t)
	e := apiEnv(t, fake, "")
	const retryAfter = 4 * time.Second
	failOnce(fake, 429, fake.Canned("OpenAIRateLimit"), int(retryAfter/time.Second))
	start := time.Now()
	if r := e.run("review", "apireviewer", "--route", "deepseek"); r.code != 3 {
		t.Fatalf("review 1: exit %d\n%s", r.code, r.stderr)
	}
	// The cooldown was set after start: it ends no sooner than this.
	ends := start.Add(retryAfter)
	done := make(chan result, 1)
	go func() {
		done <- e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend", "--wait", "40s")
	}()
	for time.Until(ends) > 300*time.Millisecond {
		if n := len(fake.Requests()); n != 1 {
			t.Fatalf("%d requests at the fake %s before the cooldown ends; want 1", n, time.Until(ends))
		}
		select {
		case r := <-done:
			t.Fatalf("review 2 ended during the cooldown: exit %d\n%s", r.code, r.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	r := <-done
	if r.code != 0 || e.latest().Status != jobs.StatusCompleted {
		t.Fatalf("review 2: exit %d\n%s", r.code, r.stderr)
	}
	if time.Now().Before(ends) {
		t.Error("review 2 finished before the cooldown ended")
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("%d requests at the fake, want 2", n)
	}
}

// insufficient_balance cools the route down for cooldown_max, with its own
// reason.
func TestCooldownInsufficientBalance(t *testing.T) {
	t.Parallel()
	fake := startModelFake(t)
	e := apiEnv(t, fake, "")
	cfg, _ := os.ReadFile(filepath.Join(e.home, ".config", "relay", "relay.hcl"))
	e.config(string(cfg) + "admission {\n  cooldown = \"5s\"\n  cooldown_max = \"2m\"\n}\n")
	failOnce(fake, 402, fake.Canned("DeepSeekInsufficientBalance"), 0)
	if r := e.run("review", "apireviewer", "--route", "deepseek"); r.code != 3 || e.latest().ErrorCode != "insufficient_balance" {
		t.Fatalf("review 1: exit %d\n%s", r.code, r.stderr)
	}
	r := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend")
	wantCooling(t, e, r, "an insufficient balance", 120)
	if c := capacityOf(t, e, "deepseek"); c.Cooldown != "insufficient_balance" {
		t.Errorf("capacity: %+v", c)
	}
}

// Repeated rate limits without a retry-after double the configured
// cooldown, up to cooldown_max.
func TestCooldownEscalates(t *testing.T) {
	t.Parallel()
	fake := startModelFake(t)
	e := apiEnv(t, fake, "")
	cfg, _ := os.ReadFile(filepath.Join(e.home, ".config", "relay", "relay.hcl"))
	e.config(string(cfg) + "admission {\n  cooldown = \"10s\"\n  cooldown_max = \"25s\"\n}\n")
	fake.FailWith(429, fake.Canned("OpenAIRateLimit"))
	var got []string
	for i := 0; i < 3; i++ {
		r := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend", "--ignore-cooldown")
		if r.code != 3 {
			t.Fatalf("review %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		_, after, ok := strings.Cut(r.stderr, "cools down for ")
		if !ok {
			t.Fatalf("review %d set no cooldown:\n%s", i+1, r.stderr)
		}
		got = append(got, strings.Fields(after)[0])
	}
	if want := []string{"10s", "20s", "25s"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cooldowns %v, want %v", got, want)
	}
}

// A cooldown record that cannot be read fails closed (every review is
// refused, nothing sent) until `admission clean`; one that has ended is
// ignored.
func TestCooldownLocalRecord(t *testing.T) {
	t.Parallel()
	fake := startModelFake(t)
	e := apiEnv(t, fake, "")
	if r := e.run("review", "apireviewer", "--route", "deepseek"); r.code != 0 {
		t.Fatalf("review: exit %d\n%s", r.code, r.stderr)
	}
	rec := filepath.Join(e.state, "relay", "locks", "v2", "apireviewer.deepseek", "cooldown")
	expired := fmt.Sprintf(`{"v":1,"until_unix_ms":%d,"reason":"rate_limited","strikes":1}`, time.Now().Add(-time.Second).UnixMilli())
	if err := os.WriteFile(rec, []byte(expired+strings.Repeat(" ", 127-len(expired))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend"); r.code != 0 {
		t.Fatalf("an ended cooldown refused: exit %d\n%s", r.code, r.stderr)
	}
	if err := os.WriteFile(rec, []byte("{\"v\":1,\"until\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sent := len(fake.Requests())
	r := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend", "--wait", "30s")
	if r.code != 75 || !strings.Contains(r.stderr, "cooldown record of apireviewer/deepseek is unreadable") {
		t.Fatalf("corrupt record: exit %d, stderr %q; want 75, fails closed", r.code, r.stderr)
	}
	if len(fake.Requests()) != sent {
		t.Error("a review was sent past a corrupt cooldown record")
	}
	if c := e.run("admission", "clean", "--yes"); c.code != 0 || !strings.Contains(c.stdout, "apireviewer.deepseek cooldown: corrupt") {
		t.Fatalf("clean: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}
	if r := e.run("review", "apireviewer", "--route", "deepseek", "--confirm-resend"); r.code != 0 {
		t.Fatalf("after clean: exit %d\n%s", r.code, r.stderr)
	}
}

// On etcd, a second "machine" (its own home, state and lock root; the same
// cluster and prefix) sees the cooldown the first one's rate limit set.
func TestCooldownEtcdSharedAcrossMachines(t *testing.T) {
	t.Parallel()
	ep, _ := startEtcd(t)
	fake := startModelFake(t)
	machines := []*env{apiEnv(t, fake, ""), apiEnv(t, fake, "")}
	for _, m := range machines {
		cfg, _ := os.ReadFile(filepath.Join(m.home, ".config", "relay", "relay.hcl"))
		m.config(string(cfg) + fmt.Sprintf("admission {\n  backend = \"etcd\"\n  endpoints = [%q]\n  prefix = \"/e2e-cool\"\n}\n", ep))
	}
	fake.FailWithRetryAfter(429, fake.Canned("OpenAIRateLimit"), 20)
	if r := machines[0].run("review", "apireviewer", "--route", "deepseek"); r.code != 3 {
		t.Fatalf("machine 1: exit %d\n%s", r.code, r.stderr)
	}
	r := machines[1].run("review", "apireviewer", "--route", "deepseek")
	wantCooling(t, machines[1], r, "a rate limit", 20)
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests at the fake, want 1: machine 2 sent during the cooldown", n)
	}
	if c := capacityOf(t, machines[1], "deepseek"); c.Cooldown != "rate_limited" {
		t.Errorf("machine 2's capacity: %+v", c)
	}
	checkAbsent(t, map[string]string{"blocked stderr": r.stderr}, []string{"/e2e-cool", ep})
}

// `capacity --json` counts the reviews queued for a slot: one review holds
// the only slot, three wait.
func TestCapacityShowsWaiters(t *testing.T) {
	t.Parallel()
	fake := startModelFake(t)
	fake.Hold()
	e := apiEnv(t, fake, "limit = 1")
	var seen capacityRow
	res := apiBurst(e, 4, []string{"--wait", "2m"}, func(*atomic.Int32) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			seen = capacityOf(t, e, "deepseek")
			if seen.ActiveCount == 1 && seen.Waiting == 3 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		fake.Release()
	})
	if seen.ActiveCount != 1 || seen.Waiting != 3 {
		t.Errorf("capacity while 1 holds and 3 wait: %+v", seen)
	}
	for i, r := range res {
		if r.code != 0 {
			t.Errorf("review %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
}
