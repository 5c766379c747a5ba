package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
)

func TestJobsListsTheNewest50(t *testing.T) {
	io, out, errb, state := testIO(t)
	st, err := jobs.Open(filepath.Join(state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC()
	for i := range 53 {
		at := t0.Add(time.Duration(i) * time.Second)
		st.Put(&jobs.Record{JobID: fmt.Sprintf("r-%02d", i), Provider: "echo", Route: "default", Status: jobs.StatusCompleted,
			Transmission: jobs.Sent, Verdict: "approve", StartedAt: at, FinishedAt: at})
	}
	st.Close()
	count := func(args ...string) int {
		out.Reset()
		errb.Reset()
		if code := Main(append([]string{"jobs", "--json"}, args...), io, "test"); code != 0 {
			t.Fatalf("jobs: exit %d: %s", code, errb)
		}
		var recs []jobs.Record
		if err := json.Unmarshal(out.Bytes(), &recs); err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 && recs[0].JobID != "r-52" {
			t.Errorf("first listed %s, want the newest, r-52", recs[0].JobID)
		}
		return len(recs)
	}
	if n := count(); n != 50 {
		t.Errorf("jobs lists %d, want the newest 50", n)
	}
	if n := count("--all"); n != 53 {
		t.Errorf("jobs --all lists %d, want 53", n)
	}
	out.Reset()
	errb.Reset()
	Main([]string{"jobs"}, io, "test")
	if !strings.Contains(errb.String(), "3 older job(s) not shown; pass --all") {
		t.Errorf("jobs table stderr: %q", errb)
	}
}
