//go:build linux || darwin

package admission

import (
	"io/fs"
	"syscall"
)

// fileIdentity returns the device and inode numbers of a stat result.
func fileIdentity(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true
}
