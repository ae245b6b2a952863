//go:build !linux

package ws

import "net"

const epollSupported = false

// poller exists only on Linux; elsewhere every connection uses the
// goroutine driver.
type poller struct{}

func newPoller(*Engine) (*poller, error) { panic("ws: no event loop on this platform") }

func (p *poller) loop()                    {}
func (p *poller) stop()                    {}
func (p *poller) schedule(*Conn)           {}
func (p *poller) shutdownWrite(*Conn)      {}
func detachFD(net.Conn) (int, bool, error) { return -1, false, nil }

// writeFrames is never called: no connection has a poller here.
func writeFrames(int, [][]byte) int { return 0 }
