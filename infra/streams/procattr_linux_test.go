//go:build linux

package streams

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a started emulator exit with the test binary, even when the
// binary dies of a panic or a timeout before TestMain can stop it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
