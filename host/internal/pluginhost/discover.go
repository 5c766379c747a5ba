package pluginhost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/relay-host/relay-host/host/config"
)

// Search says where Find looks for a plugin named by a bare binary name, in
// this order: PluginDirs (relay.hcl plugin_dirs), SelfDir (the directory of
// the running relay-host binary, symlinks resolved), then PATH.
type Search struct {
	PluginDirs []string
	SelfDir    string
	PATH       string
}

// SelfDir is the directory of the running executable with symlinks
// resolved: relay-host-core lives beside relay-host and the plugins in bin/.
func SelfDir() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	return filepath.Dir(self)
}

// NotFoundError is a provider whose plugin binary is not installed.
type NotFoundError struct {
	Provider, Binary string
	Absolute         bool
}

func (e *NotFoundError) Error() string {
	if e.Absolute {
		return fmt.Sprintf("plugin for provider %q is not installed: %s does not exist; install it there or fix plugin in relay.hcl", e.Provider, e.Binary)
	}
	return fmt.Sprintf("plugin %s for provider %q is not installed: put it in a plugin_dirs directory, beside relay-host or on PATH (`make` builds bin/%s), or set plugin = \"/path/%s\" in relay.hcl", e.Binary, e.Provider, e.Binary, e.Binary)
}

// UnsafeError is a plugin binary that another user could replace.
type UnsafeError struct {
	Path, Problem, Fix string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("refusing plugin %s: %s; %s", e.Path, e.Problem, e.Fix)
}

// Find returns the absolute, symlink-resolved path of p's plugin binary,
// refusing one that is writable by other users.
func Find(p *config.Provider, s Search) (string, error) {
	name := p.Plugin
	if name == "" {
		name = "relay-provider-" + p.Name
	}
	var path string
	if strings.ContainsRune(name, '/') {
		if !isExecutable(name) {
			return "", &NotFoundError{Provider: p.Name, Binary: name, Absolute: true}
		}
		path = name
	} else {
		var dirs []string
		dirs = append(dirs, s.PluginDirs...)
		if s.SelfDir != "" {
			dirs = append(dirs, s.SelfDir)
		}
		dirs = append(dirs, filepath.SplitList(s.PATH)...)
		for _, d := range dirs {
			// An empty or relative PATH entry would search the current
			// directory: a repository under review could plant a plugin.
			if d == "" || !filepath.IsAbs(d) {
				continue
			}
			if c := filepath.Join(d, name); isExecutable(c) {
				path = c
				break
			}
		}
		if path == "" {
			return "", &NotFoundError{Provider: p.Name, Binary: name}
		}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", &NotFoundError{Provider: p.Name, Binary: path, Absolute: true}
	}
	if err := CheckNotWritableByOthers(real); err != nil {
		return "", err
	}
	return real, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// CheckNotWritableByOthers refuses a binary, or a directory holding it, that
// a user other than the current one (or root) could modify: group- or
// world-writable, or owned by someone else. A sticky world-writable
// directory (like /tmp) is accepted because others cannot replace a file
// they do not own there.
func CheckNotWritableByOthers(binary string) error {
	me := uint32(os.Getuid())
	fi, err := os.Stat(binary)
	if err != nil {
		return err
	}
	if err := checkEntry(binary, fi, me, false); err != nil {
		return err
	}
	dir := filepath.Dir(binary)
	di, err := os.Stat(dir)
	if err != nil {
		return err
	}
	return checkEntry(dir, di, me, true)
}

func checkEntry(path string, fi fs.FileInfo, me uint32, isDir bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && st.Uid != me && st.Uid != 0 {
		return &UnsafeError{Path: path, Problem: fmt.Sprintf("it is owned by uid %d, not by you or root", st.Uid),
			Fix: "reinstall it as your own file or root's"}
	}
	perm := fi.Mode().Perm()
	if perm&0o022 == 0 {
		return nil
	}
	if isDir && fi.Mode()&fs.ModeSticky != 0 {
		return nil
	}
	what := "it"
	if isDir {
		what = "its directory"
	}
	return &UnsafeError{Path: path, Problem: fmt.Sprintf("%s is writable by other users (mode %04o)", what, perm),
		Fix: "run chmod go-w " + path}
}

// IsNotFound reports whether err is a *NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}
