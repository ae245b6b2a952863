//go:build !linux

package bench

import (
	"errors"
	"net"
)

// The fan-out client's event loop is epoll; elsewhere the command reports
// that it needs Linux.

var errNeedsLinux = errors.New("bench fanout needs Linux (epoll)")

func newFanLoop(channels, nodes int) (*fanLoop, error) { return nil, errNeedsLinux }

func (l *fanLoop) stop() {}

func (l *fanLoop) add(nc net.Conn, ch, node int, leftover []byte) error {
	nc.Close()
	return errNeedsLinux
}

func (l *fanLoop) pongLocked(c *fanConn, op byte, payload []byte) bool { return false }

func (l *fanLoop) loseLocked(c *fanConn, why string) {}

func processCPU() (user, sys int64) { return 0, 0 }
