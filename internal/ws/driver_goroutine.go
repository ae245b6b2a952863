package ws

import (
	"errors"
	"net"
	"os"
	"time"
)

// goReadBufSize is the read buffer of a goroutine-driven connection.
const goReadBufSize = 4 << 10

// attachGoroutine runs c with a reader goroutine; a writer goroutine runs
// while c has output.
func (e *Engine) attachGoroutine(c *Conn, nc net.Conn) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		nc.Close()
		return ErrEngineClosed
	}
	e.goConns[c] = struct{}{}
	e.open.Add(1)
	c.mu.Lock()
	c.nc = nc
	if c.state == stateNew {
		c.state = stateOpen
	}
	c.attached = true
	write := len(c.queue) > 0 || c.closeOut != nil
	c.scheduled = write
	c.mu.Unlock()
	e.goLocked(c.readLoop)
	if write {
		e.goLocked(c.writeLoop)
	}
	if !e.sweeper {
		e.sweeper = true
		e.goLocked(e.sweepLoop)
	}
	return nil
}

// goKick starts a writer goroutine for c (c.scheduled was set by the
// caller, so only one runs at a time).
func (e *Engine) goKick(c *Conn) {
	if !e.spawn(c.writeLoop) {
		c.mu.Lock()
		c.scheduled = false
		c.mu.Unlock()
	}
}

func (c *Conn) readLoop() {
	if len(c.rbuf) > 0 { // bytes that arrived with the handshake
		pre := c.rbuf
		c.rbuf = nil
		c.feed(pre, c.e.now())
	}
	buf := make([]byte, goReadBufSize)
	for c.waitUnpaused() {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.feed(buf[:n], c.e.now())
		}
		if err != nil {
			break
		}
	}
	c.mu.Lock()
	c.abortLocked(CloseAbnormal, "")
	c.mu.Unlock()
	c.nc.Close()
	code, reason, ok := c.markClosed()
	c.rbuf, c.msg = nil, nil
	c.e.mu.Lock()
	delete(c.e.goConns, c)
	c.e.mu.Unlock()
	if ok {
		c.e.closed(c, code, reason)
	}
}

// waitUnpaused blocks while reading is paused; it reports false when the
// connection is finishing.
func (c *Conn) waitUnpaused() bool {
	for {
		c.mu.Lock()
		if c.abortReq || c.state == stateClosed {
			c.mu.Unlock()
			return false
		}
		if !c.paused || c.readFailed {
			c.mu.Unlock()
			return true
		}
		if c.resume == nil {
			c.resume = make(chan struct{})
		}
		ch := c.resume
		c.mu.Unlock()
		<-ch
	}
}

// writeLoop writes until nothing is queued. c.scheduled stays true while
// it runs, so Send never starts a second writer.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		if c.abortReq || c.state == stateClosed {
			c.scheduled = false
			c.mu.Unlock()
			return
		}
		c.takeOutputLocked()
		if len(c.out) == 0 {
			c.mu.Unlock()
			return
		}
		c.scheduled = true
		c.mu.Unlock()

		_ = c.nc.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout))
		bufs := net.Buffers(c.out)
		n, err := bufs.WriteTo(c.nc)
		clear(c.out)
		c.out, c.outOff = c.out[:0], 0
		if err != nil {
			code, reason := CloseAbnormal, ""
			if errors.Is(err, os.ErrDeadlineExceeded) {
				code, reason = CloseTryAgainLater, "slow consumer: write timed out"
			}
			c.mu.Lock()
			c.queued -= int(n)
			c.abortLocked(code, reason)
			c.scheduled = false
			c.mu.Unlock()
			c.nc.Close()
			return
		}
		if c.afterWrite(int(n), true) {
			c.linger()
		}
	}
}

// sweepLoop enforces the time limits of goroutine-driven connections.
func (e *Engine) sweepLoop() {
	t := time.NewTicker(e.opts.Tick)
	defer t.Stop()
	var conns []*Conn
	for {
		select {
		case <-t.C:
		case <-e.quit:
			return
		}
		now := e.tickClock()
		e.mu.Lock()
		for c := range e.goConns {
			conns = append(conns, c)
		}
		e.mu.Unlock()
		for i, c := range conns {
			switch c.checkTimers(now) {
			case actKick:
				e.goKick(c)
			case actAbort:
				c.nc.Close()
			}
			conns[i] = nil
		}
		conns = conns[:0]
	}
}
