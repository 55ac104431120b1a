package local

import "syscall"

// sysProcAttr puts a service in its own process group (so that Stop can end it and
// anything it spawned) and has the kernel kill it if this process dies without
// stopping it (e.g. a test binary killed at its timeout or by Ctrl-C).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
