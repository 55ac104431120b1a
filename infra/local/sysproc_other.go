//go:build unix && !linux

package local

import "syscall"

// sysProcAttr puts a service in its own process group so that Stop can end it and
// anything it spawned. Outside Linux there is no parent-death signal: a process
// killed without Stop leaves its services running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
