package pluginhost

import "syscall"

// procAttr puts the plugin in its own process group (the terminal's Ctrl-C
// reaches the host, which cancels the review and records it, instead of
// killing the plugin under it) and has the kernel signal it when the host
// dies, however it dies. The signal is SIGTERM, not SIGKILL, so an SDK
// plugin can cancel its work and SIGKILL its whole process group (helpers it
// started included) before it exits; a plugin that does not handle SIGTERM
// dies of it all the same.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }

func terminate(pid int) { syscall.Kill(pid, syscall.SIGTERM) }
