//go:build unix

package jobs

import (
	"os"
	"syscall"
)

func checkOwner(dir string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return newError(ErrUnsafeDir, "job store %s is owned by uid %d, not by you (uid %d): chown it or set XDG_STATE_HOME", dir, st.Uid, uid)
	}
	return nil
}
