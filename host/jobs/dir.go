package jobs

import (
	"errors"
	"os"
	"path/filepath"
)

// DefaultDir returns $XDG_STATE_HOME/relay/jobs, else
// $HOME/.local/state/relay/jobs. Relative values are ignored, as the XDG
// base directory spec requires. A nil getenv means os.Getenv.
func DefaultDir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "relay", "jobs"), nil
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "relay", "jobs"), nil
	}
	return "", errors.New("cannot locate the job store: set HOME or XDG_STATE_HOME to an absolute path")
}

// checkDir refuses a store directory others could tamper with: a symlink
// (its target may change under us), a non-directory, one owned by another
// user, or one that is group- or world-writable.
func checkDir(dir string, fi os.FileInfo) error {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return newError(ErrUnsafeDir, "job store %s is a symlink: use a real directory (mode 0700, owned by you) or set XDG_STATE_HOME", dir)
	case !fi.IsDir():
		return newError(ErrUnsafeDir, "job store %s is not a directory: move it away or set XDG_STATE_HOME", dir)
	}
	if err := checkOwner(dir, fi); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return newError(ErrUnsafeDir, "job store %s is writable by other users (mode %04o): run chmod 700 %s", dir, perm, dir)
	}
	return nil
}
