//go:build unix

package sdk

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

func isolate(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	setPdeathsig(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		// The child leads its own group, so its pid is the pgid. The pid
		// cannot be handed to a new process while the group still has
		// members, so this never signals a stranger's group while any of
		// the CLI's processes are alive.
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}
