//go:build linux

package function

import "syscall"

// sysProcAttr puts a worker in its own process group, so that signalling
// the group reaches its descendants, and has the kernel kill it if
// Switchboard dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func supported() error { return nil }

// killGroup sends sig to the process group pgid.
func killGroup(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }
