package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiagnoseCredentials(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	g := gemini{getenv: envOf(env)}
	if c := g.credentialsCheck(); c.OK || c.Detail != "not logged in / GEMINI_API_KEY unset" || c.Fix == "" {
		t.Errorf("fresh home: %+v", c)
	}
	if _, err := os.Stat(filepath.Join(home, ".gemini")); !os.IsNotExist(err) {
		t.Errorf("the check created ~/.gemini: %v", err)
	}
	env["GEMINI_API_KEY"] = "AIza-test"
	if c := g.credentialsCheck(); !c.OK || c.Detail != "GEMINI_API_KEY set" {
		t.Errorf("with a key: %+v", c)
	}
}
