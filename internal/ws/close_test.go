package ws

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"
)

// asyncHandler answers messages on another goroutine, as the gateway's
// workers do: OnMessage holds the connection and queues the message; the
// test decides when the answer is sent (Send, then Release).
type asyncHandler struct {
	c      *Conn
	in     chan []byte
	closes chan closeEvent
}

func (h *asyncHandler) OnMessage(_ Opcode, p []byte) {
	h.c.Hold()
	h.in <- p
}

func (h *asyncHandler) OnClose(code CloseCode, reason string) { h.closes <- closeEvent{code, reason} }

// answer sends the reply to the next held message and releases it.
func (h *asyncHandler) answer(t *testing.T, reply []byte) {
	t.Helper()
	p := <-h.in
	if err := h.c.Send(TextFrame(append(reply, p...))); err != nil {
		t.Errorf("Send of a held reply: %v", err)
	}
	h.c.Release()
}

// newAsyncServer serves connections with asyncHandlers.
func newAsyncServer(t *testing.T, driver string, lim *Limits) (*httptest.Server, chan *asyncHandler) {
	e, err := NewEngine(Options{Driver: driver, Tick: 20 * time.Millisecond, CloseTimeout: time.Second, Loops: 2,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := make(chan *asyncHandler, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if herr := CheckRequest(r); herr != nil {
			WriteHandshakeError(w, herr)
			return
		}
		h := &asyncHandler{in: make(chan []byte, 100), closes: make(chan closeEvent, 2)}
		h.c = e.NewConn(h, lim)
		if err := h.c.Upgrade(w, r, ""); err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		hs <- h
	}))
	t.Cleanup(func() {
		srv.Close()
		e.Close()
	})
	return srv, hs
}

func timeout() <-chan time.Time { return time.After(5 * time.Second) }

func (h *asyncHandler) state() connState {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.c.state
}

// A reply to a message accepted before the server decided to close goes
// out before the close frame, even when it is computed after the decision
// (Autobahn 3.2–3.4, 4.1.3–4.2.5, 5.15, 7.1.6 expect the echo first).
func TestRepliesGoOutBeforeTheClose(t *testing.T) {
	text := func(s string) []byte { return clientFrame(true, 0, OpText, []byte(s), true) }
	cases := []struct {
		name  string
		bad   []byte        // written right after the message, in the same write
		close func(c *Conn) // or: the server closes
		code  CloseCode
	}{
		{name: "reserved bits", bad: clientFrame(true, 2, OpText, []byte("x"), true), code: CloseProtocolError},
		{name: "reserved opcode", bad: clientFrame(true, 0, 5, nil, true), code: CloseProtocolError},
		{name: "continuation first", bad: clientFrame(true, 0, OpContinuation, []byte("x"), true), code: CloseProtocolError},
		{name: "invalid utf8", bad: text("\xce\xba\xff"), code: CloseInvalidPayload},
		{name: "binary not allowed", bad: clientFrame(true, 0, OpBinary, []byte{1}, true), code: CloseUnsupportedData},
		{name: "too big", bad: text(string(bytes.Repeat([]byte("a"), 2000))), code: CloseMessageTooBig},
		{name: "server close", close: func(c *Conn) { c.Close(ClosePolicyViolation, "message rate exceeded") }, code: ClosePolicyViolation},
	}
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.MaxFrameBytes = 1000
		srv, hs := newAsyncServer(t, d, lim)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c, _ := dialRaw(t, srv.URL, nil)
				h := <-hs
				c.writeRaw(append(text("first"), append(text("second"), tc.bad...)...))
				if tc.close != nil {
					waitFor(t, "two messages held", func() bool { return len(h.in) == 2 })
					tc.close(h.c)
				}
				// The close is decided; the replies are computed only now.
				waitFor(t, "the close to be decided", func() bool { return h.state() == stateDraining })
				if err := h.c.Send(TextFrame([]byte("unrelated"))); err != nil {
					t.Fatalf("Send while draining: %v", err)
				}
				h.answer(t, []byte("re: "))
				h.answer(t, []byte("re: "))
				c.expectMessage(OpText, []byte("unrelated"))
				c.expectMessage(OpText, []byte("re: first"))
				c.expectMessage(OpText, []byte("re: second"))
				c.expectClose(tc.code)
				if err := h.c.Send(TextFrame([]byte("late"))); err != ErrClosed {
					t.Fatalf("Send after the close frame: %v, want ErrClosed", err)
				}
				if tc.close != nil {
					c.write(true, OpClose, closePayload(tc.code, ""))
				}
				c.expectEOF()
				select {
				case ev := <-h.closes:
					if ev.code != tc.code {
						t.Fatalf("OnClose %d, want %d", ev.code, tc.code)
					}
				case <-timeout():
					t.Fatal("OnClose not called")
				}
			})
		}
	})
}

// With the synchronous echo handler, the echo of a message that came in
// the same read as a bad frame is written before the close (it was
// dropped before), and so is the pong of a ping before it.
func TestEchoBeforeProtocolError(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		var b []byte
		b = append(b, clientFrame(true, 0, OpText, []byte("Hello, world!"), true)...)
		b = append(b, clientFrame(true, 0, OpPing, []byte("p"), true)...)
		b = append(b, clientFrame(true, 2, OpText, []byte("Hello, world!"), true)...)
		b = append(b, clientFrame(true, 0, OpPing, []byte("after"), true)...)
		c.writeRaw(b)
		// The echo and the pong, in either order (a pong goes ahead of data
		// still queued, not of data already written).
		got := map[Opcode]string{}
		for range 2 {
			f, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			got[f.op] = string(f.payload)
		}
		if got[OpText] != "Hello, world!" || got[OpPong] != "p" {
			t.Fatalf("got %q before the close", got)
		}
		c.expectClose(CloseProtocolError)
		c.expectEOF()
		h.expectClosed(t, CloseProtocolError)
	})
}

// A handler that never releases its hold cannot keep a failed connection
// open: the close frame goes after CloseTimeout, and messages that arrive
// after the close was decided are not delivered.
func TestHeldReplyTimesOut(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		srv, hs := newAsyncServer(t, d, testLimits())
		c, _ := dialRaw(t, srv.URL, nil)
		h := <-hs
		c.write(true, OpText, []byte("never answered"))
		waitFor(t, "the message held", func() bool { return len(h.in) == 1 })
		h.c.Close(CloseGoingAway, "server shutting down")
		waitFor(t, "the close to be decided", func() bool { return h.state() == stateDraining })
		c.write(true, OpText, []byte("after the close"))
		c.write(true, OpPing, []byte("still answered"))
		c.expectMessage(OpPong, []byte("still answered"))
		c.expectClose(CloseGoingAway) // after CloseTimeout (1s here)
		c.write(true, OpClose, closePayload(CloseGoingAway, ""))
		c.expectEOF()
		ev := <-h.closes
		if ev.code != CloseGoingAway {
			t.Fatalf("OnClose %d", ev.code)
		}
		if len(h.in) != 1 {
			t.Fatalf("%d messages delivered, want 1: none after the close was decided", len(h.in))
		}
	})
}

// The peer's close frame while our close waits for replies sends our close
// at once, after what is queued.
func TestPeerClosesWhileDraining(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		srv, hs := newAsyncServer(t, d, testLimits())
		c, _ := dialRaw(t, srv.URL, nil)
		h := <-hs
		c.write(true, OpText, []byte("held"))
		waitFor(t, "the message held", func() bool { return len(h.in) == 1 })
		h.c.Close(CloseNormal, "Connection Closed Normally")
		waitFor(t, "the close to be decided", func() bool { return h.state() == stateDraining })
		c.write(true, OpClose, closePayload(CloseNormal, "bye"))
		c.expectClose(CloseNormal)
		c.expectEOF()
		if ev := <-h.closes; ev.code != CloseNormal {
			t.Fatalf("OnClose %d", ev.code)
		}
		h.c.Release()
	})
}

// Every ping gets its pong, with its payload, in order (Autobahn 2.10,
// 2.11); a flood past the budget fails the connection with 1008.
func TestEveryPingGetsAPong(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		var b []byte
		for i := range 10 {
			b = append(b, clientFrame(true, 0, OpPing, fmt.Appendf(nil, "payload-%d", i), true)...)
		}
		c.writeRaw(b) // back to back, in one write (2.10)
		for i := range 10 {
			c.expectMessage(OpPong, fmt.Appendf(nil, "payload-%d", i))
		}
		for i := range 10 { // one at a time, each in pieces (2.11)
			f := clientFrame(true, 0, OpPing, fmt.Appendf(nil, "slow-%d", i), true)
			c.writeRaw(f[:3])
			c.writeRaw(f[3:])
		}
		for i := range 10 {
			c.expectMessage(OpPong, fmt.Appendf(nil, "slow-%d", i))
		}
		c.closeNormally()
		h.expectClosed(t, CloseNormal)
	})
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		var b []byte
		const n = 3 * pingBurst
		for i := range n {
			b = append(b, clientFrame(true, 0, OpPing, fmt.Appendf(nil, "%d", i), true)...)
		}
		c.writeRaw(b)
		pongs := 0
		for {
			f, err := c.read()
			if err != nil {
				t.Fatalf("after %d pongs: %v", pongs, err)
			}
			if f.op == OpClose {
				break
			}
			if f.op != OpPong || string(f.payload) != fmt.Sprint(pongs) {
				t.Fatalf("got %v %q, want pong %d", f.op, f.payload, pongs)
			}
			pongs++
		}
		// The budget refills at pingRate a second while the pings are read:
		// at least the burst is answered, far from all of them.
		if pongs < pingBurst || pongs >= n {
			t.Fatalf("%d pongs for a flood of %d pings (burst %d)", pongs, n, pingBurst)
		}
		c.expectEOF()
		if ev := h.expectClosed(t, ClosePolicyViolation); ev.reason != "ping flood" {
			t.Fatalf("reason %q", ev.reason)
		}
	})
}

// Invalid UTF-8 fails the connection as soon as the invalid byte arrives,
// before its frame or message is complete (Autobahn 6.4.1–6.4.4).
func TestUTF8FailsFast(t *testing.T) {
	valid := []byte("κόσμε")
	cases := map[string][][]byte{
		// One frame of 200 bytes; only its start and the bad byte are sent.
		"inside a frame": {frameStart(OpText, true, 200, append(valid, 0xce, 0xba)), frameMore(7, []byte{0xff})},
		// The bad byte completes a character begun in an earlier read.
		"across reads": {frameStart(OpText, true, 200, append(valid, 0xe0)), frameMore(len(valid)+1, []byte{0x80})},
		// A fragmented message: the second fragment is incomplete.
		"in a fragment": {clientFrame(false, 0, OpText, valid, true), frameStart(OpContinuation, true, 200, []byte{0xf4, 0x90})},
	}
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		for name, parts := range cases {
			t.Run(name, func(t *testing.T) {
				c, _ := dialRaw(t, ts.srv.URL, nil)
				h := ts.handler()
				for _, p := range parts {
					c.writeRaw(p)
				}
				c.expectClose(CloseInvalidPayload)
				c.expectEOF()
				h.expectClosed(t, CloseInvalidPayload)
			})
		}
		// Valid text cut anywhere, in any number of reads, is delivered.
		t.Run("valid in pieces", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			msg := []byte("a€𝄞ö " + string(valid))
			f := clientFrame(true, 0, OpText, msg, true)
			for i := range f {
				c.writeRaw(f[i : i+1])
			}
			c.expectMessage(OpText, msg)
			c.closeNormally()
			h.expectClosed(t, CloseNormal)
		})
	})
}

// frameStart is the start of a masked client frame whose header announces
// length payload bytes, with only the first bytes of its payload.
func frameStart(op Opcode, fin bool, length int, first []byte) []byte {
	full := clientFrame(fin, 0, op, append(first, bytes.Repeat([]byte("a"), length-len(first))...), true)
	return full[:len(full)-(length-len(first))]
}

// frameMore masks more payload bytes of a frame built by frameStart, at
// payload offset off.
func frameMore(off int, b []byte) []byte {
	b = bytes.Clone(b)
	maskBytes([4]byte{0x12, 0x34, 0x56, 0x78}, off, b)
	return b
}

// utf8Stream agrees with utf8.Valid however the text is cut, and fails on
// the piece that holds the first byte no valid text can continue with.
func FuzzUTF8Stream(f *testing.F) {
	for _, s := range []string{"", "a", "κόσμε", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80", "a\xe2\x82", "𝄞x", "\xc0\xaf", "\xef\xbf\xbf"} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		var s utf8Stream
		ok := true
		n := (cut%7+7)%7 + 1
		for i := 0; i < len(b) && ok; i += n {
			piece := b[i:min(i+n, len(b))]
			ok = s.write(piece)
			if !ok {
				// No continuation of everything up to this piece's end
				// is valid; everything before the piece can continue.
				if canContinue(b[:i+len(piece)]) {
					t.Fatalf("%q failed at piece %d but can still be valid", b, i/n)
				}
				if !canContinue(b[:i]) {
					t.Fatalf("%q failed late, at piece %d", b, i/n)
				}
			}
		}
		if got, want := ok && s.complete(), utf8.Valid(b); got != want {
			t.Fatalf("%q: stream says %v, utf8.Valid %v", b, got, want)
		}
	})
}

// canContinue reports whether some bytes appended to b make valid UTF-8.
func canContinue(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for k := 1; k < utf8.UTFMax; k++ {
		for x := 0x80; x <= 0xBF; x++ {
			tail := append(bytes.Clone(b), byte(x))
			tail = append(tail, bytes.Repeat([]byte{0x80}, k-1)...)
			if utf8.Valid(tail) {
				return true
			}
		}
	}
	return false
}
