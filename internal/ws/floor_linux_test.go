package ws

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkLoopbackFloor measures what the kernel alone charges for one
// small message to each of many loopback TCP sockets: one goroutine writes
// a 150-byte message to every socket in turn with a raw write(2), as a
// fan-out does, while another drains the peers with epoll and read(2). No
// WebSocket code runs. ns/op is per message; it is the floor under the
// gateway's cost per delivery on this machine (docs/BENCHMARKS.md).
func BenchmarkLoopbackFloor(b *testing.B) {
	const sockets = 2000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var servers, clients []int
	for range sockets {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		sfd, _, err := detachFD(s)
		if err != nil {
			b.Fatal(err)
		}
		cfd, _, err := detachFD(c)
		if err != nil {
			b.Fatal(err)
		}
		servers = append(servers, sfd)
		clients = append(clients, cfd)
	}
	defer func() {
		for _, fd := range append(servers, clients...) {
			unix.Close(fd)
		}
	}()
	epfd, err := unix.EpollCreate1(0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(epfd)
	for _, fd := range clients {
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			b.Fatal(err)
		}
	}

	var received atomic.Int64
	var quit atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		runtime.LockOSThread()
		events := make([]unix.EpollEvent, 512)
		buf := make([]byte, 64<<10)
		for !quit.Load() {
			n, err := unix.EpollWait(epfd, events, 10)
			if err != nil && err != unix.EINTR {
				return
			}
			for i := range n {
				m, _ := unix.Read(int(events[i].Fd), buf)
				if m > 0 {
					received.Add(int64(m))
				}
			}
		}
	})
	msg := make([]byte, 150)
	b.ResetTimer()
	sent := int64(0)
	for i := 0; b.Loop(); i++ {
		for {
			_, err := unix.Write(servers[i%sockets], msg)
			if err == unix.EAGAIN { // the reader fell far behind: let it catch up
				runtime.Gosched()
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
			break
		}
		sent += int64(len(msg))
	}
	for received.Load() < sent {
		runtime.Gosched()
	}
	b.StopTimer()
	quit.Store(true)
	wg.Wait()
}
