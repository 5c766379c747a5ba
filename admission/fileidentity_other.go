//go:build !linux && !darwin

package admission

import "io/fs"

// fileIdentity is unavailable: shared_state directories cannot be keyed here.
func fileIdentity(fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }
