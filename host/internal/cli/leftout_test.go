package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
)

func TestLeftOutLine(t *testing.T) {
	few := []packet.Skipped{{Path: ".env", Reason: packet.ReasonSecret}, {Path: "notes.txt", Reason: packet.ReasonSecretContent}}
	if got, want := leftOutLine("r-1", few), "relay-host: left out of the packet: .env (secret_pattern), notes.txt (secret_content)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	var many []packet.Skipped
	for i := range 600 {
		many = append(many, packet.Skipped{Path: fmt.Sprintf("gen/f%03d.go", i), Reason: packet.ReasonRelayignore})
	}
	got := leftOutLine("r-42", many)
	if strings.Count(got, "(relayignore)") != 20 || !strings.HasSuffix(got, "gen/f019.go (relayignore), … and 580 more; see relay-host show r-42") ||
		strings.Contains(got, "gen/f020.go") || strings.Contains(got, "\n") {
		t.Errorf("600 files: %q", got)
	}
	if got := leftOutLine("r-1", []packet.Skipped{{Path: "a\nrelay-host: forged\x1b[2J", Reason: "binary"}}); strings.ContainsAny(got, "\n\x1b") {
		t.Errorf("a control character in a name reaches the terminal: %q", got)
	}
	if got := leftOutLine("r-1", []packet.Skipped{{Path: "safe\u202e.txt.exe", Reason: "binary"}}); strings.Contains(got, "\u202e") {
		t.Errorf("a bidi control in a name reaches the terminal: %q", got)
	}
}

func TestShowLeftOut(t *testing.T) {
	io, out, errb, state := testIO(t)
	st, err := jobs.Open(filepath.Join(state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rec := &jobs.Record{JobID: "r-1", Provider: "echo", Route: "default", Status: jobs.StatusCompleted,
		Transmission: jobs.Sent, StartedAt: now, FinishedAt: now,
		SkippedFiles: []string{".env", "notes.txt"},
		Skipped:      []jobs.SkippedFile{{Path: ".env", Reason: "secret_pattern"}, {Path: "notes.txt", Reason: "secret_content"}}}
	old := &jobs.Record{JobID: "r-2", Provider: "echo", Route: "default", Status: jobs.StatusCompleted,
		Transmission: jobs.Sent, StartedAt: now, FinishedAt: now, SkippedFiles: []string{"id_rsa"}}
	st.Put(rec)
	st.Put(old)
	st.Close()

	if code := Main([]string{"show", "r-1"}, io, "test"); code != 0 {
		t.Fatalf("show: exit %d: %s", code, errb)
	}
	if want := "left out:     2 file(s)\n  .env (secret_pattern)\n  notes.txt (secret_content)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("show lacks\n%s\nin\n%s", want, out)
	}
	out.Reset()
	if code := Main([]string{"show", "r-2"}, io, "test"); code != 0 {
		t.Fatalf("show: exit %d: %s", code, errb)
	}
	if want := "left out:     1 file(s)\n  id_rsa\n"; !strings.Contains(out.String(), want) {
		t.Errorf("show of a record without reasons lacks\n%s\nin\n%s", want, out)
	}
}

func TestShowRetryAfter(t *testing.T) {
	io, out, errb, state := testIO(t)
	st, err := jobs.Open(filepath.Join(state, "relay", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	st.Put(&jobs.Record{JobID: "r-1", Provider: "apireviewer", Route: "deepseek", Status: jobs.StatusFailed,
		ErrorCode: "usage_limited", ErrorMessage: "rate limited", Transmission: jobs.Sent, StartedAt: now, FinishedAt: now,
		Diagnostics: jobs.Diagnostics{RetryAfterS: 30}})
	st.Close()
	if code := Main([]string{"show", "r-1"}, io, "test"); code != 0 {
		t.Fatalf("show: exit %d: %s", code, errb)
	}
	if !strings.Contains(out.String(), "retry after:  30s") {
		t.Errorf("show lacks the retry-after:\n%s", out)
	}
}
