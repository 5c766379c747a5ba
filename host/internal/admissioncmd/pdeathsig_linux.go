package admissioncmd

import "syscall"

// dieWithParent makes the child get SIGKILL when relay-host dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
