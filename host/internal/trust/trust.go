// Package trust records which repository configuration files the user
// trusted: each file's real path and the sha256 of the content they read.
//
// Invariant: a repository file is Trusted only while its content is byte
// for byte what the user trusted; the record lives in the user's state
// directory, never in a repository, so a repository cannot trust itself.
// The package uses only the standard library: the lean relay-host front
// binary links it to decide, without the HCL parser, that an untrusted
// repository file changes nothing.
package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// RepoFiles are the names a repository's own configuration may have, in
// the directory relay-host runs in.
var RepoFiles = []string{"relay.hcl", ".relay.hcl"}

// MaxFileSize bounds what is read of any one configuration file: a
// configuration is a few KiB, and a repository's file must not be able to
// stall or balloon relay-host.
const MaxFileSize = 1 << 20

// State is what the store says of a file's current content.
type State int

const (
	Untrusted State = iota // never trusted
	Trusted                // trusted with exactly this content
	Changed                // trusted once, with other content
)

// Store is the user's trust store.
type Store struct {
	path  string
	Files map[string]Entry `json:"files"` // real path → entry
}

// Entry is one trusted file.
type Entry struct {
	SHA256    string    `json:"sha256"`
	TrustedAt time.Time `json:"trusted_at"`
}

// Path is $XDG_STATE_HOME/relay/trusted-configs.json, else
// ~/.local/state/relay/trusted-configs.json.
func Path(getenv func(string) string) (string, error) {
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "relay", "trusted-configs.json"), nil
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "relay", "trusted-configs.json"), nil
	}
	return "", errors.New("neither XDG_STATE_HOME nor HOME is set to an absolute path, so there is nowhere to keep trusted configurations")
}

// Open reads the user's trust store; a missing one is empty, and so is one
// that has nowhere to be (no state directory: nothing was ever trusted).
func Open(getenv func(string) string) (*Store, error) {
	path, err := Path(getenv)
	if err != nil {
		return &Store{Files: map[string]Entry{}}, nil
	}
	return Read(path)
}

// Read reads the trust store at path; a missing one is empty.
func Read(path string) (*Store, error) {
	t := &Store{path: path, Files: map[string]Entry{}}
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
		t.Files = map[string]Entry{}
	}
	return t, nil
}

// Check says whether the file at path (its real path is looked up) with
// content src is trusted.
func (t *Store) Check(path string, src []byte) State {
	e, ok := t.Files[RealPath(path)]
	switch {
	case !ok:
		return Untrusted
	case e.SHA256 == Digest(src):
		return Trusted
	default:
		return Changed
	}
}

// Trust records the file at path with content src as trusted, in memory;
// Save writes it.
func (t *Store) Trust(path string, src []byte) {
	t.Files[RealPath(path)] = Entry{SHA256: Digest(src), TrustedAt: time.Now().UTC().Truncate(time.Second)}
}

// Save writes the store atomically (temp file, fsync, rename), 0600 in a
// 0700 directory.
func (t *Store) Save() error {
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

// Warning is the one line said about a repository file (as shown to the
// user) that is ignored in state st.
func Warning(shown string, st State) string {
	if st == Changed {
		return fmt.Sprintf("ignoring %s: it changed since you trusted it; read it, then run `relay-host config trust %s` to use it again", shown, shown)
	}
	return fmt.Sprintf("ignoring %s: a repository's relay.hcl is read only after you trust it (`relay-host config trust %s`)", shown, shown)
}

// ReadFile reads a regular file of at most MaxFileSize bytes. A FIFO or a
// device named relay.hcl in a repository would otherwise block or flood.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", MaxFileSize)}
	}
	return src, nil
}

// Digest is the sha256 of a file's content, as the store records it.
func Digest(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// RealPath is path made absolute with symlinks resolved, or as absolute
// as it gets when it cannot be resolved.
func RealPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}
