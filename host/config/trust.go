package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// TrustStore is the user's record of the repository configuration files
// they trusted: each file's real path and the sha256 of the content they
// read. It lives in the user's state directory, never in a repository, so
// a repository cannot trust itself.
type TrustStore struct {
	path  string
	Files map[string]TrustEntry `json:"files"` // real path → entry
}

// TrustEntry is one trusted file.
type TrustEntry struct {
	SHA256    string    `json:"sha256"`
	TrustedAt time.Time `json:"trusted_at"`
}

// TrustState is what the store says of a file's current content.
type TrustState int

const (
	Untrusted    TrustState = iota // never trusted
	Trusted                        // trusted with exactly this content
	TrustChanged                   // trusted once, with other content
)

// TrustPath is $XDG_STATE_HOME/relay/trusted-configs.json, else
// ~/.local/state/relay/trusted-configs.json.
func TrustPath(getenv func(string) string) (string, error) {
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "relay", "trusted-configs.json"), nil
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "relay", "trusted-configs.json"), nil
	}
	return "", errors.New("neither XDG_STATE_HOME nor HOME is set to an absolute path, so there is nowhere to keep trusted configurations")
}

// OpenTrustStore reads the user's trust store; a missing one is empty.
func OpenTrustStore(getenv func(string) string) (*TrustStore, error) {
	path, err := TrustPath(getenv)
	if err != nil {
		// No state directory means nothing was ever trusted.
		return &TrustStore{Files: map[string]TrustEntry{}}, nil
	}
	return ReadTrustStore(path)
}

// ReadTrustStore reads the trust store at path; a missing one is empty.
func ReadTrustStore(path string) (*TrustStore, error) {
	t := &TrustStore{path: path, Files: map[string]TrustEntry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the trusted-configs list: %w", err)
	}
	if err := json.Unmarshal(data, t); err != nil {
		return nil, fmt.Errorf("the trusted-configs list %s is corrupt (%v): delete it and trust your repositories' files again", path, err)
	}
	if t.Files == nil {
		t.Files = map[string]TrustEntry{}
	}
	return t, nil
}

// Check says whether the file at real path (absolute, symlinks resolved)
// with content digest sum is trusted.
func (t *TrustStore) Check(real, sum string) TrustState {
	e, ok := t.Files[real]
	switch {
	case !ok:
		return Untrusted
	case e.SHA256 == sum:
		return Trusted
	default:
		return TrustChanged
	}
}

// Trust records the file at path with content digest sum as trusted, in
// memory; Save writes it.
func (t *TrustStore) Trust(path, sum string) {
	t.Files[realPath(path)] = TrustEntry{SHA256: sum, TrustedAt: time.Now().UTC().Truncate(time.Second)}
}

// Save writes the store atomically (temp file, fsync, rename), 0600 in a
// 0700 directory.
func (t *TrustStore) Save() error {
	if t.path == "" {
		return errors.New("neither XDG_STATE_HOME nor HOME is set, so there is nowhere to keep trusted configurations")
	}
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(t.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".trusted-configs-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err = f.Write(append(data, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), t.path)
}
