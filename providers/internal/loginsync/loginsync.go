// Package loginsync carries a login a provider's CLI refreshed in a
// review's scratch state directory back to the user's own file.
//
// A plugin that runs its CLI on a state directory of its own copies the
// user's login into it. CLIs refresh an expired access token in place, and
// a refresh may spend the refresh token the user's own copy still holds,
// so the refreshed copy must go back, and nothing else may:
//   - only a copy the CLI changed, into something the caller accepts as a
//     login (a removed or emptied copy is never propagated: the user's
//     login is theirs to remove);
//   - only over a user file that is a regular file still holding exactly
//     what was copied (a login the user's own CLI refreshed meanwhile, or
//     a new login, is theirs and stays);
//   - atomically, keeping the file's mode: a temporary file in the same
//     directory, synced, renamed over it.
package loginsync

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MaxFile bounds what is read of a login file: they are small JSON files.
const MaxFile = 4 << 20

// CopyBack replaces dst with the file at copyPath when that copy no longer
// holds orig (what was copied from dst) and valid accepts it, and dst still
// holds orig. It reports whether dst was replaced.
func CopyBack(dst, copyPath string, orig []byte, valid func([]byte) bool) (bool, error) {
	now, err := ReadFile(copyPath)
	if err != nil || bytes.Equal(now, orig) || !valid(now) {
		return false, nil
	}
	fi, err := os.Lstat(dst)
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	if cur, err := ReadFile(dst); err != nil || !bytes.Equal(cur, orig) {
		return false, nil
	}
	return true, Replace(dst, now, fi.Mode().Perm())
}

// Replace writes data to path through a temporary file in the same
// directory and a rename, so a reader sees the old file or the new one.
func Replace(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".relay-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// ReadFile reads path, refusing one larger than MaxFile.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFile+1))
	if err == nil && len(data) > MaxFile {
		err = fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), MaxFile)
	}
	return data, err
}
