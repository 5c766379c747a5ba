package main

import (
	"os"
	"path/filepath"
	"testing"
)

// userDirs makes a user's claude state: dir (~/.claude) with a login, and
// the global config beside it.
func userDirs(t *testing.T, creds, global string) userState {
	t.Helper()
	home := t.TempDir()
	u := userState{dir: filepath.Join(home, ".claude"), globalConfig: filepath.Join(home, ".claude.json")}
	if err := os.Mkdir(u.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if creds != "" {
		os.WriteFile(filepath.Join(u.dir, ".credentials.json"), []byte(creds), 0o600)
	}
	if global != "" {
		os.WriteFile(u.globalConfig, []byte(global), 0o600)
	}
	return u
}

const loginV1 = `{"claudeAiOauth":{"accessToken":"a1","refreshToken":"r1","expiresAt":1}}`
const loginV2 = `{"claudeAiOauth":{"accessToken":"a2","refreshToken":"r2","expiresAt":2}}`

func TestRunStateCopiesOnlyWhatTheReviewNeeds(t *testing.T) {
	u := userDirs(t, loginV1, `{"userID":"u-1","oauthAccount":{"accountUuid":"acc"},"mcpServers":{"x":{"command":"sh"}},"primaryApiKey":"sk-stored","projects":{"/repo":{}}}`)
	os.WriteFile(filepath.Join(u.dir, "CLAUDE.md"), []byte("memory"), 0o600)
	s, err := newRunState(filepath.Join(t.TempDir(), "config"), u)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(s.dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != ".claude.json" || names[1] != ".credentials.json" {
		t.Errorf("state directory holds %v, want only .claude.json and .credentials.json", names)
	}
	if data, _ := os.ReadFile(filepath.Join(s.dir, ".credentials.json")); string(data) != loginV1 {
		t.Errorf("credentials copy %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(s.dir, ".claude.json")); string(data) != `{"oauthAccount":{"accountUuid":"acc"},"userID":"u-1"}`+"\n" {
		t.Errorf("global config seed %s", data)
	}
	if fi, _ := os.Stat(filepath.Join(s.dir, ".credentials.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials copy mode %v", fi.Mode())
	}
}

func TestRunStateWithoutLoginOrConfig(t *testing.T) {
	u := userDirs(t, "", "not json")
	s, err := newRunState(filepath.Join(t.TempDir(), "config"), u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, ".credentials.json")); !os.IsNotExist(err) {
		t.Errorf("a login was made up: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(s.dir, ".claude.json")); string(data) != "{}\n" {
		t.Errorf("seed %q, want {}", data)
	}
	if copied, err := s.syncBack(); copied || err != nil {
		t.Errorf("syncBack without a login: %v %v", copied, err)
	}
}

// TestSyncBack: a login the CLI refreshed during the review replaces the
// user's, unless the user's changed meanwhile; a removed, emptied or
// garbled copy is never propagated.
func TestSyncBack(t *testing.T) {
	for _, tt := range []struct {
		name     string
		cli      func(copyPath string) // what the "CLI" does to its copy
		user     string                // the user's file changes to this meanwhile ("" = untouched)
		want     string                // the user's file afterwards
		replaced bool
	}{
		{"unchanged", func(string) {}, "", loginV1, false},
		{"refreshed", func(p string) { os.WriteFile(p, []byte(loginV2), 0o600) }, "", loginV2, true},
		{"refreshed by rename", func(p string) {
			tmp := p + ".tmp"
			os.WriteFile(tmp, []byte(loginV2), 0o600)
			os.Rename(tmp, p)
		}, "", loginV2, true},
		{"user logged in meanwhile", func(p string) { os.WriteFile(p, []byte(loginV2), 0o600) }, `{"claudeAiOauth":{"accessToken":"mine"}}`, `{"claudeAiOauth":{"accessToken":"mine"}}`, false},
		{"removed", func(p string) { os.Remove(p) }, "", loginV1, false},
		{"emptied", func(p string) { os.WriteFile(p, nil, 0o600) }, "", loginV1, false},
		{"no login left", func(p string) { os.WriteFile(p, []byte(`{"claudeAiOauth":{}}`), 0o600) }, "", loginV1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := userDirs(t, loginV1, "")
			s, err := newRunState(filepath.Join(t.TempDir(), "config"), u)
			if err != nil {
				t.Fatal(err)
			}
			tt.cli(filepath.Join(s.dir, ".credentials.json"))
			userFile := filepath.Join(u.dir, ".credentials.json")
			if tt.user != "" {
				os.WriteFile(userFile, []byte(tt.user), 0o600)
			}
			replaced, err := s.syncBack()
			if err != nil || replaced != tt.replaced {
				t.Errorf("syncBack = %v, %v; want %v", replaced, err, tt.replaced)
			}
			data, _ := os.ReadFile(userFile)
			if string(data) != tt.want {
				t.Errorf("user's credentials %s, want %s", data, tt.want)
			}
			if fi, _ := os.Stat(userFile); fi.Mode().Perm() != 0o600 {
				t.Errorf("user's credentials mode %v", fi.Mode())
			}
			ents, _ := os.ReadDir(u.dir)
			if len(ents) != 1 {
				t.Errorf("user's state directory holds %d entries, want only .credentials.json (no temp file left)", len(ents))
			}
		})
	}
}

// TestSyncBackFollowsASymlinkedLogin: a .credentials.json that is a
// symlink (a dotfiles manager's) has its target replaced, not the link.
func TestSyncBackFollowsASymlinkedLogin(t *testing.T) {
	u := userDirs(t, "", "")
	target := filepath.Join(t.TempDir(), "creds")
	os.WriteFile(target, []byte(loginV1), 0o600)
	link := filepath.Join(u.dir, ".credentials.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	s, err := newRunState(filepath.Join(t.TempDir(), "config"), u)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.dir, ".credentials.json"), []byte(loginV2), 0o600)
	if replaced, err := s.syncBack(); !replaced || err != nil {
		t.Fatalf("syncBack = %v, %v", replaced, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi, err)
	}
	if data, _ := os.ReadFile(target); string(data) != loginV2 {
		t.Errorf("target holds %s", data)
	}
}

func TestReadStoredAuth(t *testing.T) {
	u := userDirs(t, "", `{"primaryApiKey":"sk-stored"}`)
	os.WriteFile(filepath.Join(u.dir, "settings.json"), []byte(`{"apiKeyHelper":"/usr/local/bin/key"}`), 0o600)
	if a := readStoredAuth(u); a.key != "sk-stored" || a.helper != "/usr/local/bin/key" {
		t.Errorf("readStoredAuth = %+v", a)
	}
	if a := readStoredAuth(userDirs(t, "", "")); a != (storedAuth{}) {
		t.Errorf("nothing stored: %+v", a)
	}
}
