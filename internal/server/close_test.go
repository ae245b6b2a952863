package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawConn is a client that writes frames by hand, so that a test can put
// a valid message and a bad frame in one TCP write.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (e *env) dialRaw(stage string) *rawConn {
	e.t.Helper()
	addr := strings.TrimPrefix(e.base, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(nc, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", stage, addr, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		e.t.Fatalf("handshake: %v %v", resp, err)
	}
	return &rawConn{t: e.t, nc: nc, br: br}
}

// frame is a masked client frame; rsv sets reserved bits.
func frame(op byte, rsv byte, payload string) []byte {
	b := []byte{0x80 | rsv<<4 | op, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i := range len(payload) {
		b = append(b, payload[i]^b[2+i%4])
	}
	return b
}

// next reads one frame: its opcode and payload.
func (c *rawConn) next() (byte, []byte) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	n := int(h[1] & 0x7F)
	if n == 126 {
		var l [2]byte
		_, _ = io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return h[0] & 0x0F, p
}

// The echo of a message that shares a TCP write with a bad frame is sent
// before the close frame (Autobahn 3.2: it was dropped), although the
// gateway's worker produces it after the reader failed the connection.
func TestEchoBeforeProtocolErrorClose(t *testing.T) {
	e := startServer(t, `
apis:
  - id: echo
    stage: echo
    routeSelectionExpression: $request.body.action
    routes:
      $default: {action: {type: echo}}
`)
	for name, bad := range map[string][]byte{
		"reserved bits": frame(1, 2, "Hello, World!"),
		"invalid utf8":  frame(1, 0, "\xce\xba\xff"),
		"binary":        frame(2, 0, "\x01"),
	} {
		t.Run(name, func(t *testing.T) {
			c := e.dialRaw("echo")
			if _, err := c.nc.Write(append(append(frame(1, 0, "Hello, World!"), frame(9, 0, "p")...), bad...)); err != nil {
				t.Fatal(err)
			}
			seen := map[byte]string{}
			for len(seen) < 2 {
				op, p := c.next()
				if op == 8 {
					t.Fatalf("close %q before the echo and the pong (got %v)", p, seen)
				}
				seen[op] = string(p)
			}
			if seen[1] != "Hello, World!" || seen[10] != "p" {
				t.Fatalf("got %v", seen)
			}
			if op, p := c.next(); op != 8 || len(p) < 2 {
				t.Fatalf("got %d %q, want a close frame", op, p)
			}
		})
	}
}

// The replies to messages accepted before the message-rate limit closed
// the connection reach the client before the 1008 close, even when the
// backend answers only after the close was decided.
func TestRepliesBeforeRateLimitClose(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, `    limits:
      messagesPerSecond: 5
      messageBurst: 5
`))
	be.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) != "twoway" {
			return 200, ""
		}
		// Answer only once the rate limit has closed the connection.
		for i := 0; i < 1000 && !e.logs.contains("message rate exceeded; closing"); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		return 200, "re: " + fmt.Sprint(ev["body"])
	})
	c := e.dial("test", nil)
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"action":"twoway","n":%d}`, i))
		cancel()
		if err != nil {
			break
		}
	}
	replies := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, b, err := c.Read(ctx)
		cancel()
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
				t.Fatalf("after %d replies: %v, want close 1008", replies, err)
			}
			break
		}
		if want := fmt.Sprintf(`re: {"action":"twoway","n":%d}`, replies); string(b) != want {
			t.Fatalf("reply %q, want %q", b, want)
		}
		replies++
	}
	if accepted := len(be.eventsFor("twoway")); replies < 5 || replies != accepted {
		t.Fatalf("%d replies for %d accepted messages (burst 5)", replies, accepted)
	}
}

// DeleteConnection while a reply is being computed: the management API
// answers 410 at once, the reply still reaches the client, then 1000.
func TestDeleteConnectionWithReplyInFlight(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	release := make(chan struct{})
	be.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) != "twoway" {
			return 200, ""
		}
		<-release
		return 200, "late reply"
	})
	c := e.dial("test", nil)
	write(t, c, `{"action":"twoway"}`)
	id := ctxField(be.waitEvents("twoway", 1)[0], "connectionId")
	path := "/test/@connections/" + id
	if status, b := e.manage("DELETE", path, ""); status != http.StatusNoContent && status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", status, b)
	}
	if status, _ := e.manage("GET", path, ""); status != http.StatusGone {
		t.Fatalf("GET after DELETE: %d, want 410", status)
	}
	if status, _ := e.manage("POST", path, "x"); status != http.StatusGone {
		t.Fatalf("POST after DELETE: %d, want 410", status)
	}
	close(release)
	if _, b := read(t, c); string(b) != "late reply" {
		t.Fatalf("got %q", b)
	}
	if code := closeStatus(t, c); code != websocket.StatusNormalClosure {
		t.Fatalf("close %d, want 1000", code)
	}
}

// Under the default configuration (binary: reject), a switchboard.v1
// client's binary frame is answered with error 400 and the connection
// stays open, as docs/protocol.md says; a raw client's is closed with 1003.
func TestV1BinaryFrameGetsError400(t *testing.T) {
	e := startServer(t, "")
	c, _ := e.v1("production", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	m := readJSON(t, c)
	errObj, _ := m["error"].(map[string]any)
	if m["type"] != "error" || errObj["code"] != float64(400) {
		t.Fatalf("binary frame answered with %v, want error 400", m)
	}
	if reply, _ := call(t, c, 7, `{"type":"ping","id":7}`); reply["error"] != nil {
		t.Fatalf("connection not usable after the binary frame: %v", reply)
	}
	raw := e.dial("production", nil)
	if err := raw.Write(ctx, websocket.MessageBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if code := closeStatus(t, raw); code != websocket.StatusUnsupportedData {
		t.Fatalf("raw connection: %v, want 1003", code)
	}
}

// Shutdown while a reply is being computed: the reply goes out before
// the 1001 close.
func TestShutdownWithReplyInFlight(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	be.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) != "twoway" {
			return 200, ""
		}
		// Answer only once the drain has begun.
		for i := 0; i < 1000 && !e.logs.contains(`"msg":"draining"`); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		return 200, "reply during the drain"
	})
	c := e.dial("test", nil)
	write(t, c, `{"action":"twoway"}`)
	be.waitEvents("twoway", 1)
	e.stop() // as SIGTERM does
	if _, b := read(t, c); string(b) != "reply during the drain" {
		t.Fatalf("got %q", b)
	}
	if code := closeStatus(t, c); code != websocket.StatusGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
}
