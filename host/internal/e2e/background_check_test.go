package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// jobIDs masks job ids, which differ between two attempts.
var jobIDs = regexp.MustCompile(`r-[0-9TZ]+-[0-9a-f]+`)

// --background makes every check the foreground makes before it detaches:
// each refusal has the foreground's exit code and stderr, prints no job id
// and starts no worker (the attempt's record is failed, not queued).
func TestBackgroundChecksBeforeDetaching(t *testing.T) {
	e := newEnv(t)
	e.config(`
provider "echo" {}
provider "small" {
  plugin = "relay-provider-fault"
  route "default" {
    budget = 100
  }
}
provider "crashy" {
  plugin = "relay-provider-fault"
  route "default" {
    settings = { mode = "crash" }
  }
}
`)
	e.write("big.go", "package main\n\n// "+strings.Repeat("long line ", 40)+"\n")
	if r := e.run("review", "crashy"); r.code != 3 {
		t.Fatalf("crashy review: exit %d, want 3\n%s", r.code, r.stderr)
	}
	norepo := t.TempDir()
	cases := []struct {
		name string
		dir  string
		args []string
		exit int
		want string
	}{
		{"outside a git repository", norepo, []string{"review", "echo"}, 2, "git"},
		{"unknown provider", "", []string{"review", "nosuch"}, 2, `unknown provider "nosuch"`},
		{"unknown route", "", []string{"review", "echo", "--route", "nosuch"}, 2, `has no route "nosuch"`},
		{"over the packet budget", "", []string{"review", "small"}, 2, "over the route budget"},
		{"resend refused", "", []string{"review", "crashy"}, 2, "--confirm-resend"},
		{"bad prompt file", "", []string{"review", "echo", "--prompt-file", "/nonexistent/prompt"}, 2, "prompt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := func(args ...string) result {
				cmd := e.command(args...)
				if c.dir != "" {
					cmd.Dir = c.dir
				}
				var out, errb strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &errb
				cmd.Run()
				return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
			}
			fg := run(c.args...)
			bg := run(append(c.args, "--background")...)
			if fg.code != c.exit || !strings.Contains(fg.stderr, c.want) {
				t.Fatalf("foreground: exit %d, stderr %q; want exit %d and %q", fg.code, fg.stderr, c.exit, c.want)
			}
			if bg.code != fg.code || jobIDs.ReplaceAllString(bg.stderr, "ID") != jobIDs.ReplaceAllString(fg.stderr, "ID") {
				t.Errorf("--background: exit %d, stderr %q; want the foreground's exit %d, stderr %q", bg.code, bg.stderr, fg.code, fg.stderr)
			}
			if bg.stdout != "" {
				t.Errorf("--background printed %q on a refusal, want no job id", bg.stdout)
			}
			e.noneRunning(t)
		})
	}

	if r := e.run("review", "echo", "--background", "--fail-on", "request_changes"); r.code != 2 || !strings.Contains(r.stderr, "--fail-on") || r.stdout != "" {
		t.Errorf("--fail-on with --background: exit %d, stdout %q, stderr %q; want a usage error (2)", r.code, r.stdout, r.stderr)
	}
	// And a valid one still detaches and completes.
	r := e.run("review", "echo", "--background")
	if r.code != 0 || !jobIDs.MatchString(r.stdout) {
		t.Fatalf("valid --background: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	id := jobIDs.FindString(r.stdout)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(e.state, "relay", "jobs", id+".json"))
		if strings.Contains(string(data), `"status": "completed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("valid --background job %s did not complete within 30s: %s", id, data)
		}
	}
}
