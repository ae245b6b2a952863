package redistest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// ping sends PING on conn and reads one line of reply within wait.
func ping(conn net.Conn, wait time.Duration) (string, error) {
	_ = conn.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// TestProxy: the proxy forwards; Cut drops the forwarded connections and
// blackholes new ones (accepted, never answered); Heal closes the
// blackholed ones and forwards again; Close ends everything.
func TestProxy(t *testing.T) {
	s := redistest.StartServer(t)
	p := redistest.StartProxy(t, s.Addr)
	if got, err := redistest.Do(p.Addr, "SET", "k", "v"); err != nil || got != "OK" {
		t.Fatalf("SET through the proxy = %q, %v", got, err)
	}
	if got, err := s.Do("GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET on the server = %q, %v; want the value written through the proxy", got, err)
	}
	before, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if got, err := ping(before, 5*time.Second); err != nil || got != "+PONG\r\n" {
		t.Fatalf("PING = %q, %v", got, err)
	}

	p.Cut()
	if _, err := ping(before, 5*time.Second); err == nil {
		t.Error("a connection forwarded before Cut still answers")
	} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("a connection forwarded before Cut timed out (%v); want it dropped", err)
	}
	held, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatalf("dial while cut: %v; want the dial accepted (blackholed)", err)
	}
	defer held.Close()
	// Nothing comes back while cut: the read ends only by its deadline.
	if _, err := ping(held, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("PING while cut: %v; want no answer (deadline exceeded)", err)
	}

	p.Heal()
	_ = held.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil {
		t.Error("a connection blackholed while cut was not closed by Heal")
	}
	if got, err := redistest.Do(p.Addr, "GET", "k"); err != nil || got != "v" {
		t.Errorf("GET through the healed proxy = %q, %v", got, err)
	}
	p.Close()
	p.Close()
	if _, err := net.Dial("tcp", p.Addr); err == nil {
		t.Error("the closed proxy still accepts")
	}
}

// TestProxyStall: a stalled proxy keeps the connection open and answers
// nothing, so a command waits for its deadline instead of failing at once.
func TestProxyStall(t *testing.T) {
	srv := redistest.StartServer(t)
	p := redistest.StartProxy(t, srv.Addr)
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING through the proxy: %q, %v", line, err)
	}
	p.Stall()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatalf("write while stalled: %v (the connection must stay open)", err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = r.ReadString('\n')
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read while stalled: %v; want a timeout (no answer, no close)", err)
	}
}
