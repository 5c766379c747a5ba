package pluginhost

import "syscall"

// procAttr puts the plugin in its own process group (the terminal's Ctrl-C
// reaches the host, which cancels the review and records it, instead of
// killing the plugin under it) and has the kernel SIGKILL it when the host
// dies, however it dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
