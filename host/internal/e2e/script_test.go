package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs testdata/script/*.txtar: the CLI's behaviour as readable
// scripts against the real binaries. Each script has its own home, state
// and config directories under $WORK.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
			env.Setenv("HOME", filepath.Join(work, "home"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(work, "state"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "config"))
			env.Setenv("BIN", binDir)
			for k, v := range map[string]string{"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
				"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"} {
				env.Setenv(k, v)
			}
			return os.MkdirAll(filepath.Join(work, "home"), 0o700)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// setjob: JOB = the last command's stdout (a job id).
			"setjob": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv("JOB", strings.TrimSpace(ts.ReadFile("stdout")))
			},
			// waitjob STATUS [TRANSMISSION]: wait (at most 30 s) for job
			// $JOB to reach STATUS (and that transmission state).
			"waitjob": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 1 || len(args) > 2 {
					ts.Fatalf("usage: waitjob STATUS [TRANSMISSION]")
				}
				path := filepath.Join(ts.Getenv("XDG_STATE_HOME"), "relay", "jobs", ts.Getenv("JOB")+".json")
				var last, lastTx string
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					data, err := os.ReadFile(path)
					if err != nil {
						continue
					}
					var rec struct {
						Status string
						Tx     string `json:"source_content_transmission"`
					}
					if json.Unmarshal(data, &rec) == nil {
						last, lastTx = rec.Status, rec.Tx
						if last == args[0] && (len(args) == 1 || lastTx == args[1]) {
							return
						}
					}
				}
				ts.Fatalf("job %s is %q (%s), not %v, after 30s", ts.Getenv("JOB"), last, lastTx, args)
			},
			// fakemodel NAME: start a fake model server (OpenAI, Anthropic
			// and Gemini wire formats on 127.0.0.1) and set $NAME to its URL.
			"fakemodel": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || neg {
					ts.Fatalf("usage: fakemodel NAME")
				}
				f := launchModelFake(scriptT{ts}, ts.Defer)
				f.SetReply("Looks fine.\n\nVerdict: APPROVE")
				scriptFakes.Store(f.URL, f)
				ts.Setenv(args[0], f.URL)
			},
			// fakerequests NAME N: the fake at $NAME received N requests.
			"fakerequests": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: fakerequests NAME N")
				}
				v, ok := scriptFakes.Load(ts.Getenv(args[0]))
				if !ok {
					ts.Fatalf("no fakemodel %s", args[0])
				}
				if got := len(v.(*modelFake).Requests()); strconv.Itoa(got) != args[1] {
					ts.Fatalf("fake %s received %d request(s), want %s", args[0], got, args[1])
				}
			},
			// fakeset NAME reply FILE | fail STATUS | delay MS: what the
			// fake at $NAME answers from now on.
			"fakeset": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 || neg {
					ts.Fatalf("usage: fakeset NAME reply FILE | fail STATUS | delay MS")
				}
				f := scriptFake(ts, args[0])
				switch args[1] {
				case "reply":
					f.SetReply(ts.ReadFile(args[2]))
				case "fail":
					n, err := strconv.Atoi(args[2])
					ts.Check(err)
					f.FailWith(n, `{"error":{"message":"internal error"}}`)
				case "delay":
					n, err := strconv.Atoi(args[2])
					ts.Check(err)
					f.SetDelay(time.Duration(n) * time.Millisecond)
				default:
					ts.Fatalf("fakeset: unknown %q", args[1])
				}
			},
			// fakeinflight NAME N: the fake at $NAME never answered more
			// than N requests at once.
			"fakeinflight": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: fakeinflight NAME N")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				if got := scriptFake(ts, args[0]).MaxInFlight(); got > n {
					ts.Fatalf("fake %s had %d requests in flight at once, want at most %d", args[0], got, n)
				}
			},
			// waitfile PATH: wait (at most 30 s) for a non-empty file.
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				p := ts.MkAbs(args[0])
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
						return
					}
				}
				ts.Fatalf("%s did not appear within 30s", p)
			},
		},
	})
}

// scriptFakes are the fake model servers scripts started, by URL.
var scriptFakes sync.Map

func scriptFake(ts *testscript.TestScript, name string) *modelFake {
	v, ok := scriptFakes.Load(ts.Getenv(name))
	if !ok {
		ts.Fatalf("no fakemodel %s", name)
	}
	return v.(*modelFake)
}

// scriptT lets a modelFake fail a script.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Helper()                      {}
func (s scriptT) Fatal(args ...any)            { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptT) Fatalf(f string, args ...any) { s.ts.Fatalf(f, args...) }
