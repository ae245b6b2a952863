//go:build linux

package bench

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tcpPair is a connected client and server socket on loopback.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// A connection handed to a loop: the bytes read during setup, frames
// split across writes, several frames per write, a ping answered with a
// masked pong, and a close frame that counts the connection as lost.
func TestLoopSocket(t *testing.T) {
	client, server := tcpPair(t)
	l, err := newFanLoop(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.stop()
	now := time.Now().UnixNano()
	f1 := serverFrame(true, opText, pubMsg(now, 100))
	f2 := serverFrame(true, opText, pubMsg(now, 70000))
	leftover := append(append([]byte(nil), f1...), f2[:30]...)
	if err := l.add(client, 0, 0, leftover); err != nil {
		t.Fatal(err)
	}
	rest := f2[30:]
	for _, n := range []int{1, 2, 1000, 40000} {
		if _, err := server.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
		time.Sleep(2 * time.Millisecond)
	}
	var batch []byte
	batch = append(batch, rest...)
	for range 3 {
		batch = append(batch, serverFrame(true, opText, pubMsg(now, 300))...)
	}
	batch = append(batch, serverFrame(true, opText, []byte(`{"type":"join"}`))...)
	if _, err := server.Write(batch); err != nil {
		t.Fatal(err)
	}
	counters := func() (received, other uint64, lost, live int) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.received, l.other, l.lost, l.perChannel[0]
	}
	waitFor(t, "5 pubs and 1 other message", func() bool {
		r, o, _, _ := counters()
		return r == 5 && o == 1
	})

	if _, err := server.Write(serverFrame(true, opPing, []byte("hello"))); err != nil {
		t.Fatal(err)
	}
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	pong := make([]byte, 2+4+5)
	if _, err := io.ReadFull(server, pong); err != nil {
		t.Fatal(err)
	}
	if pong[0] != 0x80|opPong || pong[1] != 0x80|5 {
		t.Fatalf("pong header % x", pong[:2])
	}
	for i := range 5 {
		pong[6+i] ^= pong[2+i&3]
	}
	if string(pong[6:]) != "hello" {
		t.Fatalf("pong payload %q", pong[6:])
	}

	if _, err := server.Write(serverFrame(true, opClose, []byte{0x03, 0xE8})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection to be lost", func() bool {
		_, _, lost, live := counters()
		return lost == 1 && live == 0
	})
	if _, err := server.Read(make([]byte, 1)); err == nil {
		t.Fatal("the lost connection is still open")
	}
}

// Stopping a loop resets its connections: no TIME_WAIT on the client's
// ports.
func TestLoopStopResets(t *testing.T) {
	client, server := tcpPair(t)
	l, err := newFanLoop(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.add(client, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	l.stop()
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := server.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after stop: %v, want a reset", err)
	}
	client2, _ := tcpPair(t)
	if err := l.add(client2, 0, 0, nil); err == nil {
		t.Fatal("a stopped loop took a connection")
	}
}
