//go:build linux

package ws

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// readBufSize is each loop's read buffer, shared by all its
	// connections: an idle connection holds no read buffer at all.
	readBufSize = 64 << 10
	// maxIov is the most frames one writev carries (Linux IOV_MAX).
	maxIov = 1024
)

const epollSupported = true

// poller is one event loop: an epoll instance and the goroutine that owns
// every socket registered with it. Other goroutines reach a connection's
// socket only by scheduling the connection on its loop.
type poller struct {
	e    *Engine
	epfd int
	evfd int // eventfd that wakes the loop

	// Owned by the loop goroutine.
	conns    map[int]*Conn
	rbuf     []byte
	iov      []unix.Iovec
	events   []unix.EpollEvent
	nextTick int64

	// Guarded by mu.
	mu      sync.Mutex
	ready   []*Conn // connections to service: register, write, close
	spare   []*Conn
	woken   bool // a wakeup is pending or the loop is awake and will drain ready
	quit    bool // the engine asked the loop to stop
	stopped bool // the loop has stopped: schedule finishes connections itself
}

func newPoller(e *Engine) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	return &poller{
		e:      e,
		epfd:   epfd,
		evfd:   evfd,
		conns:  make(map[int]*Conn),
		rbuf:   make([]byte, readBufSize),
		iov:    make([]unix.Iovec, 0, maxIov),
		events: make([]unix.EpollEvent, 256),
	}, nil
}

// detachFD takes the socket out of Go's runtime poller: it duplicates the
// descriptor (which shares the non-blocking file description) and closes
// the original. ok is false for connections that are not plain sockets
// (TLS, pipes); those use the goroutine driver.
func detachFD(nc net.Conn) (fd int, ok bool, err error) {
	sc, isSys := nc.(syscall.Conn)
	if !isSys {
		return -1, false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, false, nil
	}
	var dupErr error
	ctlErr := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if ctlErr != nil {
		return -1, false, ctlErr
	}
	if dupErr != nil {
		return -1, false, fmt.Errorf("dup socket: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, false, err
	}
	nc.Close()
	return fd, true, nil
}

// schedule asks the loop to service c. Callable from any goroutine. Once
// the loop has stopped (engine shutdown), c is finished at once instead:
// a handshake that raced the shutdown must not leak its socket.
func (p *poller) schedule(c *Conn) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		p.abort(c, CloseAbnormal, "server stopped")
		return
	}
	p.ready = append(p.ready, c)
	wake := !p.woken
	p.woken = true
	p.mu.Unlock()
	if wake {
		p.wake()
	}
}

func (p *poller) wake() {
	var one = [8]byte{1}
	for {
		_, err := unix.Write(p.evfd, one[:])
		if err != unix.EINTR {
			return
		}
	}
}

func (p *poller) stop() {
	p.mu.Lock()
	p.quit = true
	p.mu.Unlock()
	p.wake()
}

func (p *poller) loop() {
	defer func() {
		unix.Close(p.epfd)
		unix.Close(p.evfd)
	}()
	tick := p.e.opts.Tick
	timeout := int(tick.Milliseconds())
	if timeout < 1 {
		timeout = 1
	}
	for {
		n, err := unix.EpollWait(p.epfd, p.events, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			p.e.log.Error("epoll_wait failed; closing this loop's connections", slog.Any("error", err))
			p.closeAll()
			return
		}
		now := p.e.tickClock()
		p.mu.Lock()
		p.woken = true // anything scheduled now is drained below without a wakeup
		p.mu.Unlock()
		for i := 0; i < n; i++ {
			ev := &p.events[i]
			fd := int(ev.Fd)
			if fd == p.evfd {
				var buf [8]byte
				_, _ = unix.Read(p.evfd, buf[:])
				continue
			}
			c := p.conns[fd]
			if c == nil {
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				p.read(c, now)
			}
			if ev.Events&unix.EPOLLOUT != 0 && c.fd >= 0 {
				p.service(c, now)
			}
		}
		if p.drainReady(now) {
			p.closeAll()
			return
		}
		if now >= p.nextTick {
			p.sweep(now)
			p.nextTick = now + int64(tick)
		}
	}
}

// drainReady services every scheduled connection; it reports whether the
// loop must stop.
func (p *poller) drainReady(now int64) bool {
	for {
		p.mu.Lock()
		list := p.ready
		if len(list) == 0 {
			p.woken = false
			quit := p.quit
			p.mu.Unlock()
			return quit
		}
		p.ready, p.spare = p.spare[:0], nil
		p.mu.Unlock()
		for i, c := range list {
			list[i] = nil
			if c.fd >= 0 {
				p.service(c, now)
			}
		}
		p.mu.Lock()
		p.spare = list[:0]
		p.mu.Unlock()
	}
}

func (p *poller) read(c *Conn, now int64) {
	for {
		n, err := unix.Read(c.fd, p.rbuf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			p.abort(c, CloseAbnormal, "")
			return
		case n == 0:
			p.abort(c, CloseAbnormal, "")
			return
		}
		c.feed(p.rbuf[:n], now)
		return
	}
}

// service applies what other goroutines asked of c: registration, the
// pause flag, queued frames, an abort.
func (p *poller) service(c *Conn, now int64) {
	c.mu.Lock()
	if c.abortReq || c.state == stateClosed {
		c.mu.Unlock()
		p.finish(c)
		return
	}
	c.takeOutputLocked()
	c.mu.Unlock()

	if !c.registered {
		p.conns[c.fd] = c
		c.registered = true
		c.interest = unix.EPOLLIN | unix.EPOLLRDHUP
		if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: c.interest, Fd: int32(c.fd)}); err != nil {
			p.e.log.Error("epoll_ctl add failed", slog.Any("error", err))
			p.abort(c, CloseInternalError, "server could not watch the socket")
			return
		}
		if len(c.rbuf) > 0 { // bytes that arrived with the handshake
			pre := c.rbuf
			c.rbuf = nil
			c.feed(pre, now)
		}
	}
	p.flush(c, now)
	if c.fd >= 0 {
		p.setInterest(c, len(c.out) > 0)
	}
}

// setInterest updates what epoll reports for c: input unless the reader
// is paused (a failed or lingering connection always reads, to see EOF),
// output while frames wait.
func (p *poller) setInterest(c *Conn, wantOut bool) {
	var want uint32
	if !c.readPaused() {
		want = unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if wantOut {
		want |= unix.EPOLLOUT
	}
	if want == c.interest {
		return
	}
	c.interest = want
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: want, Fd: int32(c.fd)}); err != nil {
		p.abort(c, CloseInternalError, "server could not watch the socket")
	}
}

// flush writes out with as few writev calls as the socket allows: every
// frame queued since the last flush goes in one call.
func (p *poller) flush(c *Conn, now int64) {
	written := 0
	for len(c.out) > 0 {
		iov := appendIovecs(p.iov[:0], c.out, c.outOff)
		if len(iov) == 0 { // only already-written bytes remain
			clear(c.out)
			c.out, c.outOff = c.out[:0], 0
			break
		}
		n, err := writev(c.fd, iov)
		clear(iov)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			c.afterWrite(written, false)
			p.abort(c, CloseAbnormal, "")
			return
		}
		written += n
		c.advanceOut(n)
	}
	drained := len(c.out) == 0
	switch {
	case drained:
		c.stallSince.Store(0)
	case written > 0 || c.stallSince.Load() == 0:
		c.stallSince.Store(now)
	}
	if c.afterWrite(written, drained) {
		c.linger()
	}
}

// appendIovecs appends to iov the bytes of frames, the first from off on,
// leaving out empty ones, up to maxIov entries in all.
func appendIovecs(iov []unix.Iovec, frames [][]byte, off int) []unix.Iovec {
	for i, b := range frames {
		if i == 0 {
			b = b[off:]
		}
		if len(b) == 0 {
			continue
		}
		iov = append(iov, unix.Iovec{Base: &b[0], Len: uint64(len(b))})
		if len(iov) == maxIov {
			break
		}
	}
	return iov
}

// writev is a raw system call: the socket is non-blocking, so the call
// never sleeps, and skipping the runtime's syscall bookkeeping saves a few
// hundred nanoseconds per write on the fan-out path (docs/BENCHMARKS.md).
func writev(fd int, iov []unix.Iovec) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// writeFrames writes frames to the non-blocking socket fd in one writev
// from the calling goroutine (Conn.SendDirect, with c.mu held). It returns
// how many bytes the socket took: 0 when it is full (EAGAIN) or on an
// error, which the loop sees when it writes the rest.
func writeFrames(fd int, frames [][]byte) int {
	var arr [8]unix.Iovec
	iov := appendIovecs(arr[:0], frames, 0)
	if len(iov) == 0 {
		return 0
	}
	for {
		n, err := writev(fd, iov)
		switch err {
		case nil:
			return n
		case unix.EINTR:
			continue
		}
		return 0
	}
}

// shutdownWrite sends our FIN after the close frame.
func (p *poller) shutdownWrite(c *Conn) {
	if c.fd >= 0 {
		_ = unix.Shutdown(c.fd, unix.SHUT_WR)
	}
}

// abort finishes c now, reporting code unless a close frame decided it.
func (p *poller) abort(c *Conn, code CloseCode, reason string) {
	c.mu.Lock()
	c.abortLocked(code, reason)
	c.mu.Unlock()
	p.finish(c)
}

// finish closes the socket and reports the close. Loop only.
func (p *poller) finish(c *Conn) {
	if c.fd < 0 {
		return
	}
	code, reason, ok := c.markClosed()
	if c.registered {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		delete(p.conns, c.fd)
	}
	unix.Close(c.fd)
	c.fd = -1
	clear(c.out)
	c.out, c.rbuf, c.msg = nil, nil, nil
	if ok {
		p.e.closed(c, code, reason)
	}
}

func (p *poller) sweep(now int64) {
	for _, c := range p.conns {
		switch c.checkTimers(now) {
		case actKick:
			p.service(c, now)
		case actAbort:
			p.finish(c)
		}
	}
}

// closeAll finishes every connection of the loop and marks the loop
// stopped (engine shutdown). Connections scheduled but never registered
// are finished too; later ones are finished by schedule.
func (p *poller) closeAll() {
	for _, c := range p.conns {
		p.abort(c, CloseAbnormal, "server stopped")
	}
	p.mu.Lock()
	p.stopped = true
	list := p.ready
	p.ready = nil
	p.mu.Unlock()
	for _, c := range list {
		if c.fd >= 0 {
			p.abort(c, CloseAbnormal, "server stopped")
		}
	}
}
