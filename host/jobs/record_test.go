package jobs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRecordSkippedReasons: reasons survive a round trip, a record written
// before they were kept still loads (its paths, no reasons), and the paths
// stay where older readers look for them.
func TestRecordSkippedReasons(t *testing.T) {
	s := openStore(t)
	r := testRecord(NewID(), time.Now())
	r.SkippedFiles = []string{"notes.txt", "vendor/x.go"}
	r.Skipped = []SkippedFile{{"notes.txt", "secret_content"}, {"vendor/x.go", "relayignore"}}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(r.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.LeftOut(), r.Skipped) {
		t.Errorf("LeftOut = %v, want %v", got.LeftOut(), r.Skipped)
	}
	data, _ := os.ReadFile(filepath.Join(s.Dir(), r.JobID+".json"))
	var old struct {
		SkippedFiles []string `json:"skipped_files"`
	}
	if err := json.Unmarshal(data, &old); err != nil || !slices.Equal(old.SkippedFiles, r.SkippedFiles) {
		t.Errorf("an older reader sees skipped_files = %q, %v; want %q", old.SkippedFiles, err, r.SkippedFiles)
	}
	if !strings.Contains(string(data), `"reason": "secret_content"`) {
		t.Errorf("the reason is not in the file:\n%s", data)
	}

	// A record as relay-host wrote it before reasons were kept.
	id := NewID()
	legacy := `{"job_id": "` + id + `", "provider": "echo", "route": "default", "status": "completed",
  "error_code": "", "error_message": "", "source_content_transmission": "sent", "verdict": "approve",
  "review": "ok", "model": "echo", "fingerprint": "fp2", "skipped_files": [".env", "id_rsa"],
  "started_at": "2026-11-30T10:00:00Z", "finished_at": "2026-11-30T10:00:01Z", "diagnostics": {}}` + "\n"
	if err := os.WriteFile(filepath.Join(s.Dir(), id+".json"), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(id)
	if err != nil {
		t.Fatalf("a record without reasons does not load: %v", err)
	}
	if want := []SkippedFile{{Path: ".env"}, {Path: "id_rsa"}}; !slices.Equal(got.LeftOut(), want) {
		t.Errorf("LeftOut of an old record = %v, want %v", got.LeftOut(), want)
	}
	if (&Record{}).LeftOut() != nil {
		t.Errorf("LeftOut of a record with nothing skipped is not empty")
	}
}
