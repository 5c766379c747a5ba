// Command relay-provider-fault is a test-only provider plugin that
// misbehaves on purpose, one way per route setting `mode`, so relay-host's
// handling of each fault can be tested end to end. It is never installed.
//
// Routes: "default" lies about its facts (stateless, default limit 1000:
// relay.hcl's limit must win); "shared" is shared_state on $FAULT_STATE_DIR
// (else ~/.fault-state).
//
// Settings (per route):
//
//	mode     ok (default) | crash | crash-early | hang | flood | stdout |
//	         garbage | badutf8 | panic |
//	         secrets | secrets-error | error | presend | cut
//	delay    Go duration to wait (honouring cancellation) before answering
//	events   file (environment variables expanded) to append "start <unix-ns>" and "end <unix-ns>" lines to
//	pidfile  file to write this plugin's pid and its children's pids to
//	children "sdk" starts a `sleep 300` helper with sdk.Command; "all" also
//	         one with plain os/exec (left in the plugin's process group),
//	         so tests can check nothing is left behind
//	code     error code for mode=error
//	at       for mode=cut, where $FAULT_API_KEY is planted straddling a
//	         place text used to be cut: panic (byte 512 of the panic
//	         message), code (byte 64 of an unknown error code), progress
//	         (byte 4096 of a progress message), stray (byte 4096 of a stdout
//	         and a stderr line after the handshake), stderr (byte 64 KiB of a
//	         raw line on the real stderr), partial (the stderr line and a
//	         stray stdout line, both left unterminated) or log (byte 64 KiB
//	         of a JSON log line)
//	verdict  APPROVE (default) or REQUEST_CHANGES
//	sigterm  "ignore": ignore SIGTERM from the start of Review (the SDK's
//	         own stop never runs), so only a kill of the plugin's groups
//	         ends it
//	watch    a FAULT_TAG value: at the start of Review, before anything
//	         else, append "holder <unix-ns> live=<n> <names>" to events, n
//	         being the number of live processes of an earlier review that
//	         held its lease: those whose environment holds FAULT_TAG=<watch>
//	         (the plugin and its helpers inherit it from relay-host), leaving
//	         out relay-host itself and a plugin that never began a Review
//	         (every plugin renames itself fault-review when it begins one,
//	         which relay-host calls only once it holds the slot), so a test
//	         can prove that no second holder of a key starts while any of
//	         them still runs
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/relay-host/relay-host/sdk"
)

type fault struct{}

func (fault) Describe(context.Context) (sdk.Description, error) {
	dir := os.Getenv("FAULT_STATE_DIR")
	if dir == "" {
		dir = "~/.fault-state"
	}
	return sdk.Description{Name: "fault", Version: "0.0.1-test", Routes: []sdk.Route{
		{Name: "default", Fact: sdk.Stateless(1000, "RELAY_FAULT_CONCURRENCY_LIMIT")},
		{Name: "shared", Fact: sdk.SharedStateDir(dir)},
	}}, nil
}

var modes = map[string]bool{"": true, "ok": true, "crash": true, "hang": true, "flood": true, "stdout": true,
	"garbage": true, "badutf8": true, "crash-early": true, "panic": true, "secrets": true, "secrets-error": true, "error": true, "presend": true,
	"cut": true}

func (fault) Configure(_ context.Context, s sdk.Settings) (errs []sdk.AttributeError) {
	for route, rs := range s.Routes {
		if !modes[rs["mode"]] {
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: "mode", Message: fmt.Sprintf("unknown mode %q; use ok, crash, hang, flood, stdout, garbage, panic, secrets, error or presend", rs["mode"])})
		}
	}
	return errs
}

func appendLine(path, line string) {
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.WriteString(line + "\n") // one small O_APPEND write: atomic across processes
	f.Close()
}

// planted is everything a plugin could leak: the values of its environment
// (API keys the host passed it), paths under home and the state dirs, and
// this host's holder identity.
func planted() string {
	var b strings.Builder
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FAULT_") || strings.HasSuffix(k, "_KEY") || strings.HasSuffix(k, "_TOKEN") {
			fmt.Fprintf(&b, "env %s=%s\n", k, v)
		}
	}
	home, _ := os.UserHomeDir()
	host, _ := os.Hostname()
	state := os.Getenv("XDG_STATE_HOME")
	fmt.Fprintf(&b, "home file %s/.ssh/config\n", home)
	fmt.Fprintf(&b, "lock %s/relay/locks/v2/fault.default/slot-0.json\n", state)
	fmt.Fprintf(&b, "jobs %s/relay/jobs\n", state)
	fmt.Fprintf(&b, "holder pid=%d host=%s\n", os.Getppid(), host)
	fmt.Fprintf(&b, "slot held by pid %d on %s\n", os.Getppid(), host)
	return b.String()
}

func (fault) Review(ctx context.Context, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	s := req.Settings
	for _, k := range []string{"events", "pidfile"} {
		s[k] = os.ExpandEnv(s[k]) // "$HOME/x": scripts know no other absolute path
	}
	// Linux: the thread group leader's name, which /proc/<pid>/stat shows.
	os.WriteFile("/proc/self/comm", []byte(reviewingName), 0)
	if s["sigterm"] == "ignore" {
		signal.Ignore(syscall.SIGTERM)
	}
	if tag := s["watch"]; tag != "" {
		n, names := tagged("FAULT_TAG=" + tag)
		appendLine(s["events"], fmt.Sprintf("holder %d live=%d %s", time.Now().UnixNano(), n, strings.Join(names, ",")))
	}
	appendLine(s["events"], fmt.Sprintf("start %d", time.Now().UnixNano()))
	if s["scratch"] != "" {
		// A scratch directory in $TMPDIR, as the real providers make one,
		// that a crash leaves behind.
		if d, err := os.MkdirTemp("", "fault-scratch-"); err == nil {
			os.WriteFile(filepath.Join(d, "state-copy"), []byte("x"), 0o600)
			appendLine(s["events"], "scratch "+d)
		}
	}
	defer appendLine(s["events"], fmt.Sprintf("end %d", time.Now().UnixNano()))
	pids := []string{fmt.Sprint(os.Getpid())}
	if s["children"] != "" {
		cmds := []*exec.Cmd{sdk.Command(ctx, "sleep", "300")}
		if s["children"] == "all" {
			cmds = append(cmds, exec.Command("sleep", "300"))
		}
		for _, c := range cmds {
			if err := c.Start(); err == nil {
				pids = append(pids, fmt.Sprint(c.Process.Pid))
				go c.Wait()
			}
		}
	}
	if p := s["pidfile"]; p != "" {
		tmp := p + ".tmp"
		os.WriteFile(tmp, []byte(strings.Join(pids, "\n")+"\n"), 0o600)
		os.Rename(tmp, p)
	}
	verdict := "APPROVE"
	if s["verdict"] != "" {
		verdict = s["verdict"]
	}
	if s["mode"] == "crash-early" {
		os.Exit(2) // before the transmission event
	}
	if s["mode"] == "presend" {
		return sdk.Result{}, sdk.Errorf(sdk.CodeNotAuthenticated, "no API key: set FAULT_API_KEY")
	}
	ev.Progress("sending")
	ev.Transmission()
	if d, err := time.ParseDuration(s["ignore_cancel"]); err == nil {
		time.Sleep(d) // a provider that ignores its cancelled context
	}
	if d, err := time.ParseDuration(s["delay"]); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return sdk.Result{}, ctx.Err()
		}
	}
	switch s["mode"] {
	case "crash":
		os.Exit(2)
	case "hang":
		time.Sleep(time.Hour) // ignores ctx: the SDK ends the process after its grace
	case "panic":
		panic("fault plugin: deliberate panic")
	case "stdout":
		fmt.Println("stray stdout line from the fault plugin")
		fmt.Fprintln(os.Stderr, "stray stderr line from the fault plugin")
	case "flood":
		line := strings.Repeat("flood ", 200)
		for range 2000 {
			fmt.Println(line)
			sdk.Logger(ctx).Warn(line)
		}
		return sdk.Result{Review: strings.Repeat("x", 3<<20) + "\nVerdict: " + verdict + "\n", Model: strings.Repeat("m", 10000)}, nil
	case "badutf8":
		// proto3 strings must be UTF-8: gRPC refuses to send this.
		return sdk.Result{Review: "bad utf8 \xff\xfe here\nVerdict: " + verdict + "\n"}, nil
	case "garbage":
		review := "c1 \u009b31m csi and \u009d8;;x\u009c osc\n" +
			"\x1b[31mred\x1b[0m and \x1b[2J clear screen\n" +
			"\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\\n" +
			"title \x1b]0;pwned\x07 bell\x07 cr\roverwrite\n" +
			"Verdict: " + verdict + "\n"
		return sdk.Result{Review: review, Model: "m\x1b[1mx"}, nil
	case "secrets":
		p := planted()
		sdk.Logger(ctx).Warn("leaking in a log line: " + strings.ReplaceAll(p, "\n", " | "))
		fmt.Println("leaking on stdout: " + strings.ReplaceAll(p, "\n", " | "))
		return sdk.Result{Review: "Review.\n" + p + "Verdict: " + verdict + "\n", Model: "model " + os.Getenv("FAULT_API_KEY")}, nil
	case "secrets-error":
		return sdk.Result{}, sdk.Errorf(sdk.CodeProviderUnavailable, "upstream said: %s", strings.ReplaceAll(planted(), "\n", " | "))
	case "cut":
		if err := cut(ctx, s["at"], ev); err != nil {
			return sdk.Result{}, err
		}
	case "error":
		code := sdk.ErrorCode(s["code"])
		if code == "" {
			code = sdk.CodeUsageLimited
		}
		return sdk.Result{}, &sdk.Error{Code: code, Message: "fault plugin error " + string(code), NotSent: true}
	}
	return sdk.Result{Review: fmt.Sprintf("fault review of %d bytes on route %s.\n\nVerdict: %s\n", len(req.Packet), req.Route, verdict), Model: "fault-model"}, nil
}

// reviewingName is the process name of a fault plugin inside Review.
const reviewingName = "fault-review"

// tagged counts the live (not zombie) processes of a review whose
// environment holds the entry kv: not relay-host-core, and not a plugin
// that has not begun a Review (still named after its binary, cut to 15
// bytes). A process that is gone or not ours cannot be read and is not
// counted; a reused pid has another environment.
func tagged(kv string) (n int, names []string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), kv) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		i := strings.LastIndexByte(string(stat), ')')
		if err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		switch string(stat[strings.IndexByte(string(stat), '(')+1 : i]) {
		case "relay-host", "relay-host-core", "relay-provider-":
			continue
		}
		n++
		names = append(names, string(stat[:i+1]))
	}
	return n, names
}

// straddle returns text of which byte at lies inside $FAULT_API_KEY,
// 100 bytes into it, after prefix bytes that precede the text there.
func straddle(prefix, at int) string {
	key := os.Getenv("FAULT_API_KEY")
	return strings.Repeat("p", at-100-prefix) + key + " end"
}

// cut plants the key across one place where the SDK or go-plugin used to
// cut text before the host could redact it.
func cut(ctx context.Context, at string, ev sdk.Events) error {
	switch at {
	case "panic":
		panic(straddle(len("provider panicked in Review: "), 512))
	case "code":
		// An unknown code: the key spans bytes 10 to 10+len(key) of it.
		return &sdk.Error{Code: sdk.ErrorCode("not_a_code" + os.Getenv("FAULT_API_KEY")), Message: "bogus code"}
	case "progress":
		ev.Progress(straddle(0, 4096))
	case "stray":
		fmt.Println(straddle(0, 4096))
		fmt.Fprintln(os.Stderr, straddle(0, 4096))
	case "stderr":
		// The real stderr, which go-plugin reads as the plugin's log (Serve
		// points os.Stderr at a stream of its own).
		os.NewFile(2, "stderr").WriteString(straddle(0, 64<<10) + "\n")
	case "partial":
		// The same, and a stray stdout line, without their newlines: the
		// host holds each until the plugin exits, then logs it.
		os.NewFile(2, "stderr").WriteString(straddle(0, 64<<10))
		fmt.Print(straddle(0, 4096))
	case "log":
		sdk.Logger(ctx).Warn(straddle(len(`{"@level":"warn","@message":"`), 64<<10))
	default:
		return fmt.Errorf("unknown cut %q", at)
	}
	return nil
}

func main() { sdk.Serve(fault{}) }
