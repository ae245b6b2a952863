package ws

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// drivers lists the drivers every behaviour test runs against.
func drivers() []string {
	if epollSupported {
		return []string{DriverEpoll, DriverGoroutine}
	}
	return []string{DriverGoroutine}
}

func testLimits() *Limits {
	return &Limits{
		MaxMessageBytes: 128 << 10,
		MaxFrameBytes:   128 << 10,
		IdleTimeout:     time.Hour,
		MaxLifetime:     time.Hour,
		PingInterval:    time.Hour,
		PongTimeout:     time.Hour,
		WriteTimeout:    10 * time.Second,
		MaxQueueBytes:   1 << 20,
	}
}

// closeEvent is one OnClose call.
type closeEvent struct {
	code   CloseCode
	reason string
}

// echoHandler echoes every message and records closes.
type echoHandler struct {
	c      *Conn
	closes chan closeEvent
	mu     sync.Mutex
	msgs   [][]byte
	noEcho bool
}

func (h *echoHandler) OnMessage(op Opcode, p []byte) {
	h.mu.Lock()
	h.msgs = append(h.msgs, p)
	h.mu.Unlock()
	if !h.noEcho {
		_ = h.c.Send(NewFrame(op, p))
	}
}

func (h *echoHandler) OnClose(code CloseCode, reason string) {
	h.closes <- closeEvent{code, reason}
}

// testServer is an echo server on a real socket.
type testServer struct {
	t      *testing.T
	e      *Engine
	srv    *httptest.Server
	lim    *Limits
	conns  chan *echoHandler
	noEcho bool

	beforeUpgrade func(*echoHandler)

	// handlers counts the handshake handlers still running; done ends
	// their wait to hand a connection over. A client has its 101 before
	// its handler returns (the engine attaches the socket after writing
	// it), so the cleanup waits for the handlers before it closes the
	// engine: a handler must not report after its test has ended.
	handlers sync.WaitGroup
	done     chan struct{}
}

// track runs a handshake handler as one of ts.handlers.
func (ts *testServer) track(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ts.handlers.Add(1)
		defer ts.handlers.Done()
		h(w, r)
	}
}

// handOver passes an upgraded connection to the test, unless it is over.
func (ts *testServer) handOver(h *echoHandler) {
	select {
	case ts.conns <- h:
	case <-ts.done:
	}
}

// stop is the test servers' cleanup: no new handshakes, wait for the
// running handlers, then close the engine and its connections.
func (ts *testServer) stop() {
	ts.srv.Close()
	close(ts.done)
	ts.handlers.Wait()
	ts.e.Close()
}

func newTestServer(t *testing.T, driver string, lim *Limits, opts ...func(*Options)) *testServer {
	t.Helper()
	o := Options{Driver: driver, Tick: 20 * time.Millisecond, CloseTimeout: time.Second, Loops: 2,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	for _, f := range opts {
		f(&o)
	}
	e, err := NewEngine(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, e: e, lim: lim, conns: make(chan *echoHandler, 100), done: make(chan struct{})}
	ts.srv = httptest.NewServer(ts.track(ts.serve))
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) serve(w http.ResponseWriter, r *http.Request) {
	if herr := CheckRequest(r); herr != nil {
		WriteHandshakeError(w, herr)
		return
	}
	h := &echoHandler{closes: make(chan closeEvent, 2), noEcho: ts.noEcho}
	h.c = ts.e.NewConn(h, ts.lim)
	if ts.beforeUpgrade != nil {
		ts.beforeUpgrade(h)
	}
	sub := ""
	if p := Subprotocols(r); len(p) > 0 && p[0] == "chat" {
		sub = "chat"
	}
	if err := h.c.Upgrade(w, r, sub); err != nil {
		ts.t.Errorf("upgrade: %v", err)
		return
	}
	ts.handOver(h)
}

// handler returns the server side of the next accepted connection.
func (ts *testServer) handler() *echoHandler {
	ts.t.Helper()
	select {
	case h := <-ts.conns:
		return h
	case <-time.After(5 * time.Second):
		ts.t.Fatal("no connection accepted")
		return nil
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// rawClient speaks RFC 6455 by hand so tests can send any frame at all.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, url string, header http.Header) (*rawClient, *http.Response) {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n"
	for k, vs := range header {
		for _, v := range vs {
			req += k + ": " + v + "\r\n"
		}
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if got, want := resp.Header.Get("Sec-WebSocket-Accept"), acceptKey(base64.StdEncoding.EncodeToString(key)); got != want {
			t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
		}
	}
	return &rawClient{t: t, nc: nc, br: br}, resp
}

// frame builds a masked client frame with full control over its bits.
func clientFrame(fin bool, rsv byte, op Opcode, payload []byte, masked bool) []byte {
	b0 := byte(op) | rsv<<4
	if fin {
		b0 |= 0x80
	}
	var b []byte
	n := len(payload)
	var m byte
	if masked {
		m = 0x80
	}
	switch {
	case n <= 125:
		b = append(b, b0, m|byte(n))
	case n <= 0xFFFF:
		b = append(b, b0, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	maskBytes(mask, 0, b[start:])
	return b
}

func (c *rawClient) write(fin bool, op Opcode, payload []byte) {
	c.t.Helper()
	c.writeRaw(clientFrame(fin, 0, op, payload, true))
}

func (c *rawClient) writeRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

type rxFrame struct {
	fin     bool
	op      Opcode
	payload []byte
}

func (c *rawClient) read() (rxFrame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return rxFrame{}, err
	}
	if hdr[1]&0x80 != 0 {
		return rxFrame{}, errors.New("server frame is masked")
	}
	if hdr[0]&0x70 != 0 {
		return rxFrame{}, errors.New("server frame has reserved bits")
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return rxFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return rxFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return rxFrame{}, err
	}
	return rxFrame{fin: hdr[0]&0x80 != 0, op: Opcode(hdr[0] & 0x0F), payload: p}, nil
}

func (c *rawClient) expectMessage(op Opcode, payload []byte) {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if f.op != op || !f.fin || string(f.payload) != string(payload) {
		c.t.Fatalf("got %v fin=%v %q, want %v %q", f.op, f.fin, trim(f.payload), op, trim(payload))
	}
}

// expectClose reads until a close frame and checks its code; then the
// server must end the TCP connection.
func (c *rawClient) expectClose(code CloseCode) string {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for close %d: %v", code, err)
		}
		if f.op != OpClose {
			continue
		}
		var got CloseCode = CloseNoStatus
		reason := ""
		if len(f.payload) >= 2 {
			got = CloseCode(binary.BigEndian.Uint16(f.payload))
			reason = string(f.payload[2:])
		}
		if got != code {
			c.t.Fatalf("close code %d (%q), want %d", got, reason, code)
		}
		return reason
	}
}

// expectEOF checks that the server closes the TCP connection, then closes
// the client side as a real client does.
func (c *rawClient) expectEOF() {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
				c.nc.Close()
				return
			}
			c.t.Fatalf("want EOF, got %v", err)
		}
		if f.op != OpClose {
			c.t.Fatalf("want EOF, got a %v frame", f.op)
		}
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// closeNormally sends a close frame, expects the echo and EOF.
func (c *rawClient) closeNormally() {
	c.t.Helper()
	c.write(true, OpClose, closePayload(CloseNormal, "bye"))
	c.expectClose(CloseNormal)
	c.expectEOF()
}

func closePayload(code CloseCode, reason string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(b, reason...)
}

func (h *echoHandler) expectClosed(t *testing.T, code CloseCode) closeEvent {
	t.Helper()
	select {
	case ev := <-h.closes:
		if ev.code != code {
			t.Fatalf("OnClose code %d (%q), want %d", ev.code, ev.reason, code)
		}
		select {
		case ev2 := <-h.closes:
			t.Fatalf("OnClose called twice: %v then %v", ev, ev2)
		case <-time.After(50 * time.Millisecond):
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("OnClose(%d) not called", code)
	}
	return closeEvent{}
}

func trim(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%s…(%d bytes)", b[:40], len(b))
	}
	return string(b)
}

// waitFor polls cond until it holds or the deadline passes.
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
