//go:build linux

package bench

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loopWaitMillis bounds each epoll_wait, so that a stopping loop notices
// within this long.
const loopWaitMillis = 100

// newFanLoop starts a loop for connections to channels channels on
// nodes nodes (at least 1 each).
func newFanLoop(channels, nodes int) (*fanLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &fanLoop{
		epfd:       epfd,
		done:       make(chan struct{}),
		rbuf:       make([]byte, loopReadBuf),
		perChannel: make([]int, channels),
		perNode:    make([]int, max(nodes, 1)),
	}
	if nodes > 1 {
		l.nodeHist = make([]Histogram, nodes)
		l.nodeReceived = make([]uint64, nodes)
	}
	go l.run()
	return l, nil
}

func (l *fanLoop) run() {
	defer close(l.done)
	events := make([]unix.EpollEvent, 512)
	for !l.quit.Load() {
		n, err := unix.EpollWait(l.epfd, events, loopWaitMillis)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.mu.Lock()
			l.errors++
			l.firstErr = "epoll_wait: " + err.Error()
			l.mu.Unlock()
			break
		}
		if n == 0 {
			continue
		}
		l.mu.Lock()
		for i := range n {
			fd := int(events[i].Fd)
			if fd < len(l.conns) && l.conns[fd] != nil {
				l.readLocked(l.conns[fd])
			}
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for fd, c := range l.conns {
		if c != nil {
			resetClose(fd)
			l.conns[fd] = nil
		}
	}
	unix.Close(l.epfd)
}

// stop ends the loop and closes its connections; it returns when they
// are closed.
func (l *fanLoop) stop() {
	l.quit.Store(true)
	<-l.done
}

// resetClose closes a socket with an RST instead of a FIN: the client's
// ports do not sit in TIME_WAIT, where tens of thousands of them slow the
// next run's connects.
func resetClose(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	unix.Close(fd)
}

// add takes a connection that finished its subscription out of Go's
// runtime poller and registers it with the loop. leftover holds bytes
// already read past the subscription's reply; ch and node are the
// connection's channel and node indexes.
func (l *fanLoop) add(nc net.Conn, ch, node int, leftover []byte) error {
	fd, err := detachFD(nc)
	if err != nil {
		nc.Close()
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		resetClose(fd)
		return errors.New("the worker is stopping")
	}
	if fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*fanConn, fd+1-len(l.conns)+1024)...)
	}
	c := &fanConn{fd: fd, channel: int32(ch), node: int32(node)}
	l.conns[fd] = c
	l.perChannel[ch]++
	l.perNode[node]++
	if len(leftover) > 0 && !l.consumeLocked(c, leftover, time.Now().UnixNano()) {
		return nil // counted as lost
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.conns[fd] = nil
		l.perChannel[ch]--
		l.perNode[node]--
		resetClose(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// detachFD takes a socket out of Go's runtime poller, as the server's
// epoll driver does (internal/ws): it duplicates the descriptor and
// closes the original.
func detachFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, fmt.Errorf("dup socket: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	nc.Close()
	return fd, nil
}

// readLocked reads once from a ready socket (level-triggered: if more is
// left, epoll reports it again) and handles the frames read.
func (l *fanLoop) readLocked(c *fanConn) {
	buf, start := l.readBufLocked(c)
	for {
		n, err := unix.Read(c.fd, buf[start:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			l.loseLocked(c, "read: "+err.Error())
			return
		case n == 0:
			l.loseLocked(c, "the server closed a connection without a close frame")
			return
		}
		l.consumeLocked(c, buf[:start+n], time.Now().UnixNano())
		return
	}
}

// pongLocked answers a ping (op opPong) or a Pusher pusher:ping (op
// opText, the pusher:pong event). The socket's send buffer is empty (the
// client sends nothing else), so a short write means the connection is
// broken.
func (l *fanLoop) pongLocked(c *fanConn, op byte, payload []byte) bool {
	l.wbuf = appendClientFrame(l.wbuf[:0], op, payload)
	for {
		n, err := unix.Write(c.fd, l.wbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n != len(l.wbuf) {
			l.errors++
			l.loseLocked(c, fmt.Sprintf("pong: wrote %d of %d bytes: %v", n, len(l.wbuf), err))
			return false
		}
		return true
	}
}

// loseLocked counts c as lost and closes it.
func (l *fanLoop) loseLocked(c *fanConn, why string) {
	if l.conns[c.fd] != c {
		return
	}
	l.lost++
	l.perChannel[c.channel]--
	l.perNode[c.node]--
	if l.firstErr == "" {
		l.firstErr = why
	}
	l.conns[c.fd] = nil
	unix.Close(c.fd)
	c.pending = nil
}

// processCPU is the CPU time this process has used, user and system, in
// nanoseconds.
func processCPU() (user, sys int64) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return ru.Utime.Nano(), ru.Stime.Nano()
}
