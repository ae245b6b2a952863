//go:build unix && !linux

package function

import "syscall"

// sysProcAttr puts a worker in its own process group, so that signalling
// the group reaches its descendants.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func supported() error { return nil }

// killGroup sends sig to the process group pgid.
func killGroup(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }
