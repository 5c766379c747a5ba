package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv switches the test binary into a child process that Puts
// records, for the cross-process test.
const helperEnv = "RELAY_JOBS_TEST_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(helperPut(spec))
	}
	os.Exit(m.Run())
}

// helperPut handles "dir|prefix|n": Put n records named prefix-0..n-1.
func helperPut(spec string) int {
	parts := strings.Split(spec, "|")
	n, _ := strconv.Atoi(parts[2])
	s, err := Open(parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := range n {
		if err := s.Put(testRecord(fmt.Sprintf("%s-%d", parts[1], i), time.Now())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func testRecord(id string, started time.Time) *Record {
	return &Record{
		JobID: id, Provider: "claude", Route: "subscription",
		Status: StatusCompleted, Transmission: Sent, Verdict: "approve",
		Review: "looks fine\nVerdict: APPROVE", Model: "m", Fingerprint: "fp",
		StartedAt: started, FinishedAt: started.Add(time.Second),
	}
}

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state", "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, "/x/state/relay/jobs"},
		{map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/u"}, "/home/u/.local/state/relay/jobs"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/relay/jobs"},
		{map[string]string{}, ""},
	}
	for _, tt := range tests {
		got, err := DefaultDir(func(k string) string { return tt.env[k] })
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("DefaultDir(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}

func TestPutWritesPrivateFileAtomically(t *testing.T) {
	s := openStore(t)
	if fi, err := os.Stat(s.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	r := testRecord(NewID(), time.Now().UTC().Truncate(time.Second))
	r.FinishedAt = time.Time{}
	r.Status, r.Verdict = StatusRunning, ""
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	r.Status, r.Verdict, r.FinishedAt = StatusCompleted, "approve", r.StartedAt.Add(time.Minute)
	r.Diagnostics.ProviderWorkload = &Workload{Reason: "provider_workload_blocked", Capacity: Capacity{ActiveCount: 1, Limit: 1}}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	entries := recordFiles(t, s.Dir())
	if len(entries) != 1 || entries[0].Name() != r.JobID+".json" {
		t.Fatalf("store holds %v, want only %s.json (no temp files)", names(entries), r.JobID)
	}
	fi, _ := os.Stat(filepath.Join(s.Dir(), r.JobID+".json"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := s.Get(r.JobID)
	if err != nil || got.Status != StatusCompleted || !got.FinishedAt.Equal(r.FinishedAt) || got.Diagnostics.ProviderWorkload.Capacity.Limit != 1 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}

func TestRecordJSONFields(t *testing.T) {
	s := openStore(t)
	r := testRecord("r-1", time.Now())
	r.FinishedAt = time.Time{}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(s.Dir(), "r-1.json"))
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"job_id", "provider", "route", "status", "error_code", "error_message",
		"source_content_transmission", "verdict", "review", "model", "fingerprint", "skipped_files",
		"started_at", "diagnostics"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing from %s", k, data)
		}
	}
	if _, ok := m["finished_at"]; ok {
		t.Error("finished_at present although zero")
	}
	if m["skipped_files"] == nil {
		t.Error("skipped_files is null, want []")
	}
	if d := m["diagnostics"].(map[string]any); len(d) != 0 {
		t.Errorf("diagnostics = %v, want {} without a workload", d)
	}
	if len(m) != 14 {
		t.Errorf("record has %d fields, want exactly the 14 documented ones (finished_at omitted): %s", len(m), data)
	}

	r.Diagnostics.ProviderWorkload = &Workload{Reason: "blocked", Capacity: Capacity{ActiveCount: 2, Limit: 2}}
	s.Put(r)
	data, _ = os.ReadFile(filepath.Join(s.Dir(), "r-1.json"))
	if !strings.Contains(string(data), `"provider_workload": {`) || !strings.Contains(string(data), `"active_count": 2`) || !strings.Contains(string(data), `"limit": 2`) {
		t.Errorf("provider_workload not encoded as documented: %s", data)
	}
}

// TestPutIsAtomicForReaders fails if Put ever exposes a partly written
// record: readers hammer Get while a writer keeps replacing the record with
// versions of different sizes.
func TestPutIsAtomicForReaders(t *testing.T) {
	s := openStore(t)
	id := NewID()
	big := testRecord(id, time.Now())
	big.Review = strings.Repeat("a long review line\n", 30000) // ~570 KB
	small := testRecord(id, time.Now())
	if err := s.Put(small); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var torn sync.Map
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Get(id); err != nil {
					torn.Store(err.Error(), true)
				}
			}
		})
	}
	for i := range 60 {
		r := small
		if i%2 == 0 {
			r = big
		}
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	torn.Range(func(k, _ any) bool {
		t.Errorf("reader saw a partial record: %v", k)
		return false
	})
}

func TestConcurrentPutGoroutines(t *testing.T) {
	s := openStore(t)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 10 {
				if err := s.Put(testRecord(fmt.Sprintf("g%d-%d", g, i), time.Now())); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	list, err := s.List()
	if err != nil || len(list) != 320 {
		t.Fatalf("List = %d records, %v; want 320", len(list), err)
	}
	for _, r := range list {
		if r.Corrupt() {
			t.Errorf("corrupt record %s: %s", r.JobID, r.ErrorMessage)
		}
	}
}

func TestConcurrentPutProcesses(t *testing.T) {
	s := openStore(t)
	const procs, each = 6, 40
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|p%d|%d", helperEnv, s.Dir(), p, each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	// This process writes too, while the children run.
	for i := range each {
		if err := s.Put(testRecord(fmt.Sprintf("parent-%d", i), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range list {
		if r.Corrupt() {
			t.Errorf("corrupt record %s", r.JobID)
		}
		seen[r.JobID] = true
	}
	for p := range procs {
		for i := range each {
			if id := fmt.Sprintf("p%d-%d", p, i); !seen[id] {
				t.Errorf("record %s lost", id)
			}
		}
	}
	if len(list) != (procs+1)*each {
		t.Errorf("List = %d records, want %d", len(list), (procs+1)*each)
	}
	entries := recordFiles(t, s.Dir())
	if len(entries) != len(list) {
		t.Errorf("store holds %d files for %d records (temp files left behind?)", len(entries), len(list))
	}
}

func TestOpenRefusesUnsafeDir(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	os.Mkdir(real, 0o700)
	link := filepath.Join(base, "link")
	os.Symlink(real, link)
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	group := filepath.Join(base, "group")
	os.Mkdir(group, 0o700)
	os.Chmod(group, 0o720)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)

	cases := map[string]string{link: "symlink", open: "chmod 700", group: "chmod 700", file: "not a directory"}
	if os.Geteuid() == 0 {
		foreign := filepath.Join(base, "foreign")
		os.Mkdir(foreign, 0o700)
		if err := os.Chown(foreign, 4242, 4242); err == nil {
			cases[foreign] = "owned by uid 4242"
		}
	}
	for dir, want := range cases {
		_, err := Open(dir)
		if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v; want ErrUnsafeDir naming the path and %q", filepath.Base(dir), err, want)
		}
	}
	if s, err := Open(real); err != nil {
		t.Errorf("Open(real 0700 dir) = %v", err)
	} else {
		s.Close()
	}
}

func TestGetValidatesID(t *testing.T) {
	s := openStore(t)
	// A record outside the store that traversal would reach.
	os.WriteFile(filepath.Join(filepath.Dir(s.Dir()), "x.json"), []byte(`{"job_id":"x"}`), 0o600)
	for _, id := range []string{"../x", "..", "a/b", "", ".hidden", "x.json", "-rf", strings.Repeat("a", 200), "a\x00b"} {
		if _, err := s.Get(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Get(%q) = %v, want ErrInvalidID", id, err)
		}
		if err := s.Put(&Record{JobID: id}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Put(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	_, err := s.Get("r-20260101T000000Z-abcdef")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "r-20260101T000000Z-abcdef") {
		t.Errorf("unknown id: %v", err)
	}
}

func TestNewID(t *testing.T) {
	a := NewID()
	if !validID(a) || !strings.HasPrefix(a, "r-") {
		t.Fatalf("NewID() = %q", a)
	}
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestListOrderAndCorruptFiles(t *testing.T) {
	s := openStore(t)
	t0 := time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC)
	for _, r := range []*Record{
		testRecord("r-b", t0.Add(time.Minute)),
		testRecord("r-a", t0.Add(time.Minute)), // tie: higher id first
		testRecord("r-old", t0),
		testRecord("r-new", t0.Add(time.Hour)),
	} {
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(s.Dir(), "r-broken.json"), []byte(`{"job_id": "r-bro`), 0o600)
	os.WriteFile(filepath.Join(s.Dir(), ".r-x.json.1234.tmp"), []byte(`{`), 0o600)
	os.WriteFile(filepath.Join(s.Dir(), "notes.txt"), []byte(`hi`), 0o600)
	s.PutWorker("r-new", Worker{PID: 1, StartTime: "1", Argv0: "relay-host"})

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range list {
		got = append(got, r.JobID)
	}
	if want := "r-new r-b r-a r-old r-broken"; strings.Join(got, " ") != want {
		t.Errorf("List order = %v, want %s", got, want)
	}
	last := list[len(list)-1]
	if !last.Corrupt() || last.Status != "" || last.ErrorCode != CodeCorruptRecord || last.ErrorMessage == "" {
		t.Errorf("corrupt file reported as %+v", last)
	}
	if _, err := s.Get("r-broken"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get(corrupt) = %v, want ErrCorrupt", err)
	}
}

func TestWorkerSidecar(t *testing.T) {
	s := openStore(t)
	id := NewID()
	r := testRecord(id, time.Now())
	s.Put(r)
	w := Worker{PID: 424242, StartTime: "98765", Argv0: "/usr/bin/relay-host"}
	if err := s.PutWorker(id, w); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWorker(id)
	if err != nil || got != w {
		t.Fatalf("GetWorker = %+v, %v", got, err)
	}
	fi, _ := os.Stat(filepath.Join(s.Dir(), id+".worker"))
	if fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("worker file mode wrong or missing: %v", fi)
	}
	s.Put(r) // rewriting the record must not pull identity into it
	data, _ := os.ReadFile(filepath.Join(s.Dir(), id+".json"))
	for _, leak := range []string{"424242", "98765", "/usr/bin/relay-host", "pid"} {
		if strings.Contains(string(data), leak) {
			t.Errorf("job record contains worker identity %q", leak)
		}
	}
	if _, err := s.GetWorker(NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetWorker(unknown) = %v", err)
	}
	if _, err := s.GetWorker("../x"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("GetWorker(../x) = %v", err)
	}
	if err := s.PutWorker(id, Worker{}); err == nil {
		t.Error("PutWorker accepted an empty identity")
	}
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// recordFiles lists the store's files, leaving out the fingerprint index.
func recordFiles(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	all, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []os.DirEntry
	for _, e := range all {
		if e.Name() != byFingerprint {
			out = append(out, e)
		}
	}
	return out
}
