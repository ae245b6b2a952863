//go:build !unix

package function

import (
	"errors"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// supported fails New: workers are managed through Unix process groups.
func supported() error {
	return errors.New("the function integration needs a Unix system (process groups)")
}

func killGroup(int, syscall.Signal) error { return syscall.EWINDOWS }
