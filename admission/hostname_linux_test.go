package admission

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/admission/procid"
)

// A lock-backed slot written under another hostname on this kernel (a
// container sharing the state volume, a renamed host) whose holder was
// SIGKILLed is free at the next acquire, and status and clean agree. The
// holder runs in its own UTS namespace (`unshare -u`) with another hostname.
func TestRenamedHostHolderKilledFreesSlot(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) is not installed: cannot run a holder under another hostname")
	}
	const other = "relay-test-renamed"
	if out, err := exec.Command("unshare", "-u", "hostname", other).CombinedOutput(); err != nil {
		if os.Getenv("RELAY_REQUIRE_PRIVILEGED") != "" { // .ci/run sets it when it runs as root
			t.Fatalf("RELAY_REQUIRE_PRIVILEGED is set, but unshare -u is not permitted here (needs CAP_SYS_ADMIN): %v: %s", err, strings.TrimSpace(string(out)))
		}
		t.Skipf("unshare -u is not permitted here (needs CAP_SYS_ADMIN): %v: %s", err, strings.TrimSpace(string(out)))
	}
	root := t.TempDir()
	cmd := exec.Command("unshare", "-u", "--", "sh", "-c", `hostname "$0" && exec "$@"`, other, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=hold", "ROOT="+root, "KEY=k", "LIMIT=1")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	must(t, cmd.Start())
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("holder did not get a slot: %q %v", line, err)
	}

	l := openLocal(t, root)
	st, err := l.StatusAll(ctx, true)
	must(t, err)
	if len(st) != 1 || len(st[0].Slots) != 1 || st[0].Slots[0].Holder.Hostname != other || st[0].Slots[0].State != "alive" {
		t.Fatalf("live holder under %s: status %+v", other, st)
	}
	_, err = l.Acquire(ctx, Request{Key: "k", Limit: 1})
	wantBlocked(t, err, ReasonAtCapacity, 1, 1)

	sigkill(t, cmd)
	st, err = l.StatusAll(ctx, true)
	must(t, err)
	if s := st[0].Slots[0]; s.State != string(procid.Dead) || st[0].ActiveCount != 0 {
		t.Fatalf("killed holder under %s: status says %s (active %d), want dead (active 0)", other, s.State, st[0].ActiveCount)
	}
	lease, err := l.Acquire(ctx, Request{Key: "k", Limit: 1})
	if err != nil {
		t.Fatalf("the killed holder's slot, written under hostname %s on this kernel, was not free at the next acquire: %v", other, err)
	}
	lease.Release()
}
