package e2e

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/host/jobs"
)

// TestSecretContentLeftOut: a private key in notes.txt and an API key in
// settings.txt, both untracked under names no name pattern catches, never
// reach the plugin; each is listed as secret_content on stderr, in the
// record and by show; "!settings.txt" in .relayignore sends that one.
//
// The echo plugin answers with the number of files and lines it received,
// which is how the test sees what was sent. The keys are made here at run
// time, so the repository holds none.
func TestSecretContentLeftOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // main.go modified: one line added, one removed
	e.config(`provider "echo" {}`)

	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE" + " KEY", Bytes: der}))
	keyBody := strings.Split(key, "\n")[1]
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	apiKey := make([]byte, 32)
	for i := range apiKey {
		apiKey[i] = alnum[rand.IntN(len(alnum))]
	}
	e.write("notes.txt", "deploy key for the staging box:\n"+key)
	e.write("settings.txt", "[upstream]\napi_key = "+string(apiKey)+"\n")
	e.write("readme.txt", "two lines\nof notes\n")

	r := e.run("review", "echo")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	// main.go (+1 -1) and readme.txt (+2): nothing of the other two.
	if !strings.Contains(r.stdout, "echo review: 2 file(s) changed, 3 line(s) added, 1 removed") {
		t.Errorf("the plugin received more than main.go and readme.txt:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "left out of the packet: notes.txt (secret_content), settings.txt (secret_content)") {
		t.Errorf("stderr does not list both files as secret_content:\n%s", r.stderr)
	}
	rec := e.latest()
	want := []jobs.SkippedFile{{Path: "notes.txt", Reason: "secret_content"}, {Path: "settings.txt", Reason: "secret_content"}}
	if !slices.Equal(rec.LeftOut(), want) {
		t.Errorf("record lists %v, want %v", rec.LeftOut(), want)
	}
	show := e.run("show", rec.JobID)
	if !strings.Contains(show.stdout, "  notes.txt (secret_content)\n  settings.txt (secret_content)\n") {
		t.Errorf("show:\n%s", show.stdout)
	}
	checkAbsent(t, map[string]string{
		"stdout": r.stdout, "stderr": r.stderr, "show": show.stdout,
		"job files": readAll(t, filepath.Join(e.state, "relay", "jobs")),
	}, []string{keyBody, string(apiKey)})

	// An explicit re-include sends settings.txt; the key stays out.
	e.write(".relayignore", "!settings.txt\n")
	r = e.run("review", "echo")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	// + settings.txt (+2) and .relayignore (+1).
	if !strings.Contains(r.stdout, "echo review: 4 file(s) changed, 6 line(s) added, 1 removed") {
		t.Errorf("settings.txt was not re-included:\n%s", r.stdout)
	}
	if want := []jobs.SkippedFile{{Path: "notes.txt", Reason: "secret_content"}}; !slices.Equal(e.latest().LeftOut(), want) {
		t.Errorf("record lists %v, want %v", e.latest().LeftOut(), want)
	}
}
