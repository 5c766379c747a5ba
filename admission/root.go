package admission

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// totalKey is the reserved key of the global max_total cap. Its slug starts
// with "_", which KeySlug never produces for a caller's key.
const totalSlug = "_total"

// plainKey reports whether key matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
// Written by hand: compiling that regexp (its {0,63} unrolls into 63
// nested alternatives) cost 0.2 ms at every start of `admission run`.
func plainKey(key string) bool {
	if len(key) == 0 || len(key) > 64 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// KeySlug maps a concurrency key to its directory name under the lock root.
// Short keys made of safe characters keep their name, so an operator can read
// `<provider>.<route>` in the lock root; anything else (and anything that could
// be mistaken for a hashed slug) becomes "h-" + sha256. Hex identity hashes
// stay as they are: they are already opaque.
func KeySlug(key string) string {
	if plainKey(key) && !(len(key) > 2 && key[:2] == "h-") {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "h-" + hex.EncodeToString(sum[:16])
}

// prepareRoot creates root (and missing parents) 0700 and refuses a root that
// another user could tamper with. A root we own that is merely readable by
// others is tightened to 0700 rather than refused.
func prepareRoot(root string) error {
	if root == "" {
		return errors.New("admission: empty lock root")
	}
	if !filepath.IsAbs(root) {
		return &RootError{Path: root, Problem: "is not an absolute path", Fix: "set lock_root to an absolute directory"}
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && errors.Is(err, unix.ENOTDIR) {
			return &RootError{Path: pe.Path, Problem: "is a file, not a directory", Fix: "remove it or set lock_root elsewhere"}
		}
		return fmt.Errorf("admission: create lock root: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return fmt.Errorf("admission: inspect lock root: %w", err)
	}
	if err := checkOwned(root, &st, unix.S_IFDIR); err != nil {
		return err
	}
	if st.Mode&0o077 != 0 {
		if err := os.Chmod(root, 0o700); err != nil {
			return fmt.Errorf("admission: tighten lock root to 0700: %w", err)
		}
	}
	return nil
}

// checkOwned refuses a path that is a symlink, of the wrong type, owned by
// another user, or writable by group or others.
func checkOwned(path string, st *unix.Stat_t, wantType uint32) error {
	mode := uint32(st.Mode) // uint16 on darwin
	kind := "a directory"
	if wantType == unix.S_IFREG {
		kind = "a regular file"
	}
	switch {
	case mode&unix.S_IFMT == unix.S_IFLNK:
		return &RootError{Path: path, Problem: "is a symlink", Fix: "replace it with " + kind + " owned by you"}
	case mode&unix.S_IFMT != wantType:
		return &RootError{Path: path, Problem: "is not " + kind, Fix: "remove it so relay-host can recreate it"}
	case int(st.Uid) != os.Geteuid():
		return &RootError{Path: path, Problem: fmt.Sprintf("is owned by uid %d, not you", st.Uid), Fix: "use a lock_root you own"}
	case mode&0o022 != 0:
		return &RootError{Path: path, Problem: fmt.Sprintf("is writable by other users (mode %04o)", mode&0o7777), Fix: "chmod go-w it (relay-host wants 0700 dirs and 0600 files)"}
	}
	return nil
}

// openKeyDir creates and opens <root>/<slug> without following symlinks.
func openKeyDir(root, slug string) (int, error) {
	path := filepath.Join(root, slug)
	if err := unix.Mkdir(path, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("admission: create key dir: %w", err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			var st unix.Stat_t
			if unix.Lstat(path, &st) == nil {
				if cerr := checkOwned(path, &st, unix.S_IFDIR); cerr != nil {
					return -1, cerr
				}
			}
		}
		return -1, fmt.Errorf("admission: open key dir: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("admission: inspect key dir: %w", err)
	}
	if err := checkOwned(path, &st, unix.S_IFDIR); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// openLockFile opens an existing file in a key dir without following
// symlinks and checks it is ours. A missing file is reported as os.ErrNotExist.
func openLockFile(dirfd int, dir, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	path := filepath.Join(dir, name)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, os.ErrNotExist
		}
		if errors.Is(err, unix.ELOOP) {
			return nil, &RootError{Path: path, Problem: "is a symlink", Fix: "remove it (relay-host recreates slot files)"}
		}
		return nil, fmt.Errorf("admission: open %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("admission: inspect %s: %w", name, err)
	}
	if err := checkOwned(path, &st, unix.S_IFREG); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}
