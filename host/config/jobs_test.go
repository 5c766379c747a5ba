package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJobsKeep(t *testing.T) {
	e := newLoadEnv(t)
	if cfg := e.load(t, ""); cfg.Jobs.Keep != 30*24*time.Hour {
		t.Errorf("only the embedded relay.hcl: keep = %v, want its 30d", cfg.Jobs.Keep)
	}
	write(t, e.userFile(), "jobs {\n  keep = \"14d\"\n}\n")
	cfg := e.load(t, "")
	if cfg.Jobs.Keep != 14*24*time.Hour {
		t.Errorf("keep = %v, want 336h", cfg.Jobs.Keep)
	}
	if o, ok := cfg.Origin("jobs.keep"); !ok || o.File != e.userFile() || o.Line != 2 {
		t.Errorf("origin of jobs.keep = %+v, %v", o, ok)
	}
	// A later layer replaces it; one that does not set it keeps it.
	explicit := filepath.Join(e.root, "explicit.hcl")
	write(t, explicit, "jobs { keep = \"12h\" }\n")
	if cfg := e.load(t, explicit); cfg.Jobs.Keep != 12*time.Hour {
		t.Errorf("explicit layer: keep = %v, want 12h", cfg.Jobs.Keep)
	}
	write(t, explicit, "admission { wait = \"1s\" }\n")
	if cfg := e.load(t, explicit); cfg.Jobs.Keep != 14*24*time.Hour {
		t.Errorf("a layer without jobs changed keep to %v", cfg.Jobs.Keep)
	}

	for _, bad := range []string{`"0d"`, `"-1h"`, `"forever"`, `30`, `"1.5d"`} {
		write(t, explicit, "jobs { keep = "+bad+" }\n")
		_, err := Load(LoadOptions{Explicit: explicit, Dir: e.repo, Getenv: e.getenv})
		var de *DiagError
		if !errors.As(err, &de) || !strings.Contains(de.Error(), "keep") {
			t.Errorf("keep = %s: err = %v, want a diagnostic naming keep", bad, err)
		}
	}
}

// A repository may not choose how long the user's job records live.
func TestJobsKeepNotFromARepository(t *testing.T) {
	e := newLoadEnv(t)
	repoFile := filepath.Join(e.repo, "relay.hcl")
	write(t, repoFile, "jobs {\n  keep = \"1d\"\n}\n")
	trustFile(t, e, repoFile)
	_, err := Load(LoadOptions{Dir: e.repo, Getenv: e.getenv})
	var de *DiagError
	if !errors.As(err, &de) || len(de.Diags) != 1 || de.Diags[0].Summary != "Not allowed in a repository's relay.hcl" || de.Diags[0].Subject.Start.Line != 2 {
		t.Fatalf("trusted repository setting jobs.keep: err = %v", err)
	}
}
