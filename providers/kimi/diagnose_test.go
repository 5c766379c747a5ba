package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiagnoseCredentials(t *testing.T) {
	share := t.TempDir()
	t.Setenv("KIMI_SHARE_DIR", share)
	t.Setenv("KIMI_API_KEY", "")
	if c := (provider{}).credentialsCheck(); c.OK || c.Detail != "not logged in / KIMI_API_KEY unset" || c.Fix == "" {
		t.Errorf("nothing set up: %+v", c)
	}
	t.Setenv("KIMI_API_KEY", "sk-kimi")
	if c := (provider{}).credentialsCheck(); !c.OK || c.Detail != "KIMI_API_KEY set" {
		t.Errorf("with a key: %+v", c)
	}
	t.Setenv("KIMI_API_KEY", "")
	if err := os.WriteFile(filepath.Join(share, "config.toml"), []byte("default_model = \"kimi\"\n[models.kimi]\nprovider = \"moonshot\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := (provider{}).credentialsCheck(); !c.OK {
		t.Errorf("with a configured model: %+v", c)
	}
}
