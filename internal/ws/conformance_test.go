package ws

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// The conformance tests follow the Autobahn testsuite's categories
// (1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes, 5 fragmentation,
// 6 UTF-8, 7 close handling, 9 limits) with hand-built frames over real
// sockets, against every driver.

func forDrivers(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range drivers() {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

func TestFraming(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.AllowBinary = true
		ts := newTestServer(t, d, lim)
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 128 << 10} {
			p := bytes.Repeat([]byte("*"), n)
			c.write(true, OpText, p)
			c.expectMessage(OpText, p)
			b := bytes.Repeat([]byte{0xFE}, n)
			c.write(true, OpBinary, b)
			c.expectMessage(OpBinary, b)
		}
		// Many frames in one TCP write, and one frame split byte by byte.
		var burst []byte
		for i := range 50 {
			burst = append(burst, clientFrame(true, 0, OpText, []byte(strings.Repeat("x", i)), true)...)
		}
		c.writeRaw(burst)
		for i := range 50 {
			c.expectMessage(OpText, []byte(strings.Repeat("x", i)))
		}
		one := clientFrame(true, 0, OpText, []byte("split into single bytes"), true)
		for _, b := range one {
			c.writeRaw([]byte{b})
		}
		c.expectMessage(OpText, []byte("split into single bytes"))
		c.closeNormally()
		h.expectClosed(t, CloseNormal)
	})
}

func TestPingPong(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		c.write(true, OpPing, nil)
		c.expectMessage(OpPong, nil)
		p := bytes.Repeat([]byte{0xAB}, 125)
		c.write(true, OpPing, p)
		c.expectMessage(OpPong, p)
		c.write(true, OpPong, []byte("unsolicited")) // ignored
		c.write(true, OpText, []byte("still open"))
		c.expectMessage(OpText, []byte("still open"))
		c.write(true, OpPing, bytes.Repeat([]byte{1}, 126))
		c.expectClose(CloseProtocolError)
		c.expectEOF()
		h.expectClosed(t, CloseProtocolError)
	})
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		c.write(false, OpPing, []byte("fragmented"))
		c.expectClose(CloseProtocolError)
		c.expectEOF()
		h.expectClosed(t, CloseProtocolError)
	})
}

func TestReservedBitsAndOpcodes(t *testing.T) {
	type tc struct {
		name  string
		frame []byte
	}
	var cases []tc
	for rsv := byte(1); rsv < 8; rsv++ {
		cases = append(cases, tc{"rsv" + string('0'+rsv), clientFrame(true, rsv, OpText, []byte("x"), true)})
	}
	for _, op := range []Opcode{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		cases = append(cases, tc{"op" + op.String() + string('a'+byte(op)), clientFrame(true, 0, op, nil, true)})
	}
	cases = append(cases, tc{"unmasked", clientFrame(true, 0, OpText, []byte("x"), false)})
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rc, _ := dialRaw(t, ts.srv.URL, nil)
				h := ts.handler()
				rc.write(true, OpText, []byte("before"))
				rc.expectMessage(OpText, []byte("before"))
				rc.writeRaw(c.frame)
				rc.expectClose(CloseProtocolError)
				rc.expectEOF()
				h.expectClosed(t, CloseProtocolError)
			})
		}
	})
}

func TestFragmentation(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		c.write(false, OpText, []byte("frag"))
		c.write(false, OpContinuation, []byte("men"))
		c.write(false, OpContinuation, nil)
		c.write(true, OpContinuation, []byte("ted"))
		c.expectMessage(OpText, []byte("fragmented"))
		// A ping in the middle of a fragmented message is answered at once.
		c.write(false, OpText, []byte("a"))
		c.write(true, OpPing, []byte("p"))
		c.expectMessage(OpPong, []byte("p"))
		c.write(true, OpContinuation, []byte("b"))
		c.expectMessage(OpText, []byte("ab"))
		c.closeNormally()
		h.expectClosed(t, CloseNormal)
	})
	bad := map[string][][]byte{
		"continuation first": {clientFrame(true, 0, OpContinuation, []byte("x"), true)},
		"text inside text":   {clientFrame(false, 0, OpText, []byte("x"), true), clientFrame(true, 0, OpText, []byte("y"), true)},
		"fragmented close":   {clientFrame(false, 0, OpClose, nil, true)},
	}
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		for name, frames := range bad {
			t.Run(name, func(t *testing.T) {
				c, _ := dialRaw(t, ts.srv.URL, nil)
				h := ts.handler()
				for _, f := range frames {
					c.writeRaw(f)
				}
				c.expectClose(CloseProtocolError)
				c.expectEOF()
				h.expectClosed(t, CloseProtocolError)
			})
		}
	})
}

func TestUTF8(t *testing.T) {
	valid := "κόσμε ✓ 𝄞 Hello-µ@ßöäüàá-UTF-8!!"
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		c.write(true, OpText, []byte(valid))
		c.expectMessage(OpText, []byte(valid))
		// Split inside multi-byte characters, one byte per fragment.
		b := []byte(valid)
		c.write(false, OpText, b[:1])
		for i := 1; i < len(b)-1; i++ {
			c.write(false, OpContinuation, b[i:i+1])
		}
		c.write(true, OpContinuation, b[len(b)-1:])
		c.expectMessage(OpText, b)
		c.closeNormally()
		h.expectClosed(t, CloseNormal)
	})
	invalid := map[string][][]byte{
		"single frame":      {clientFrame(true, 0, OpText, []byte("ok\xc3\x28"), true)},
		"surrogate":         {clientFrame(true, 0, OpText, []byte("\xed\xa0\x80"), true)},
		"overlong":          {clientFrame(true, 0, OpText, []byte("\xc0\xaf"), true)},
		"beyond U+10FFFF":   {clientFrame(true, 0, OpText, []byte("\xf4\x90\x80\x80"), true)},
		"truncated at end":  {clientFrame(false, 0, OpText, []byte("a\xe2\x82"), true), clientFrame(true, 0, OpContinuation, nil, true)},
		"fail fast in frag": {clientFrame(false, 0, OpText, []byte("a\xff"), true)},
	}
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		for name, frames := range invalid {
			t.Run(name, func(t *testing.T) {
				c, _ := dialRaw(t, ts.srv.URL, nil)
				h := ts.handler()
				for _, f := range frames {
					c.writeRaw(f)
				}
				c.expectClose(CloseInvalidPayload)
				c.expectEOF()
				h.expectClosed(t, CloseInvalidPayload)
			})
		}
	})
}

func TestCloseHandling(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		for _, code := range []CloseCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
			t.Run("valid "+code.String(), func(t *testing.T) {
				c, _ := dialRaw(t, ts.srv.URL, nil)
				h := ts.handler()
				c.write(true, OpClose, closePayload(code, "reason ✓"))
				c.expectClose(code)
				c.expectEOF()
				ev := h.expectClosed(t, code)
				if ev.reason != "reason ✓" {
					t.Fatalf("reported reason %q", ev.reason)
				}
			})
		}
		for _, code := range []CloseCode{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
			t.Run("invalid "+code.String(), func(t *testing.T) {
				c, _ := dialRaw(t, ts.srv.URL, nil)
				h := ts.handler()
				c.write(true, OpClose, closePayload(code, ""))
				c.expectClose(CloseProtocolError)
				c.expectEOF()
				h.expectClosed(t, CloseProtocolError)
			})
		}
		t.Run("empty", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.write(true, OpClose, nil)
			f, err := c.read()
			if err != nil || f.op != OpClose || len(f.payload) != 0 {
				t.Fatalf("want an empty close frame, got %v %q %v", f.op, f.payload, err)
			}
			c.expectEOF()
			h.expectClosed(t, CloseNoStatus)
		})
		t.Run("one byte", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.write(true, OpClose, []byte{3})
			c.expectClose(CloseProtocolError)
			c.expectEOF()
			h.expectClosed(t, CloseProtocolError)
		})
		t.Run("invalid utf8 reason", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.write(true, OpClose, closePayload(CloseNormal, "\xff\xfe"))
			c.expectClose(CloseInvalidPayload)
			c.expectEOF()
			h.expectClosed(t, CloseInvalidPayload)
		})
		t.Run("data after close is ignored", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.writeRaw(append(clientFrame(true, 0, OpClose, closePayload(CloseNormal, ""), true),
				clientFrame(true, 0, OpText, []byte("late"), true)...))
			c.expectClose(CloseNormal)
			c.expectEOF()
			h.expectClosed(t, CloseNormal)
			h.mu.Lock()
			n := len(h.msgs)
			h.mu.Unlock()
			if n != 0 {
				t.Fatalf("a message after the close frame was delivered")
			}
		})
		t.Run("abrupt drop", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.nc.Close()
			h.expectClosed(t, CloseAbnormal)
		})
		t.Run("server initiated", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			h.c.Close(CloseNormal, "Connection Closed Normally")
			if r := c.expectClose(CloseNormal); r != "Connection Closed Normally" {
				t.Fatalf("reason %q", r)
			}
			if err := h.c.Send(TextFrame([]byte("x"))); err != ErrClosed {
				t.Fatalf("Send after Close: %v, want ErrClosed", err)
			}
			c.write(true, OpClose, closePayload(CloseNormal, ""))
			c.expectEOF()
			h.expectClosed(t, CloseNormal)
		})
		t.Run("server initiated, client never answers", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			h.c.Close(CloseGoingAway, "server shutting down")
			c.expectClose(CloseGoingAway)
			c.expectEOF() // after CloseTimeout
			h.expectClosed(t, CloseGoingAway)
		})
	})
}

func TestLimits(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.MaxMessageBytes = 1000
		lim.MaxFrameBytes = 600
		ts := newTestServer(t, d, lim)
		t.Run("frame too big fails before the payload arrives", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			f := clientFrame(true, 0, OpText, bytes.Repeat([]byte("a"), 601), true)
			c.writeRaw(f[:8]) // the header only
			c.expectClose(CloseMessageTooBig)
			h.expectClosed(t, CloseMessageTooBig)
		})
		t.Run("message too big across fragments", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.write(false, OpText, bytes.Repeat([]byte("a"), 600))
			c.write(true, OpContinuation, bytes.Repeat([]byte("a"), 401))
			c.expectClose(CloseMessageTooBig)
			c.expectEOF()
			h.expectClosed(t, CloseMessageTooBig)
		})
		t.Run("exactly at the limit", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.write(false, OpText, bytes.Repeat([]byte("a"), 600))
			c.write(true, OpContinuation, bytes.Repeat([]byte("a"), 400))
			c.expectMessage(OpText, bytes.Repeat([]byte("a"), 1000))
			c.closeNormally()
			h.expectClosed(t, CloseNormal)
		})
		t.Run("binary not allowed", func(t *testing.T) {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			h := ts.handler()
			c.write(true, OpBinary, []byte{1, 2, 3})
			c.expectClose(CloseUnsupportedData)
			c.expectEOF()
			h.expectClosed(t, CloseUnsupportedData)
		})
	})
}

func TestHandshake(t *testing.T) {
	ts := newTestServer(t, drivers()[0], testLimits())
	t.Run("subprotocol only when chosen", func(t *testing.T) {
		_, resp := dialRaw(t, ts.srv.URL, http.Header{"Sec-WebSocket-Protocol": {"chat, other"}})
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Protocol") != "chat" {
			t.Fatalf("status %d protocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
		}
		ts.handler()
		_, resp = dialRaw(t, ts.srv.URL, http.Header{"Sec-WebSocket-Protocol": {"other"}})
		if _, ok := resp.Header["Sec-Websocket-Protocol"]; ok {
			t.Fatalf("subprotocol echoed without being chosen")
		}
		ts.handler()
	})
	for name, tc := range map[string]struct {
		header http.Header
		method string
		status int
	}{
		"plain GET":     {http.Header{}, "GET", http.StatusUpgradeRequired},
		"wrong version": {http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-WebSocket-Version": {"8"}, "Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, "GET", http.StatusUpgradeRequired},
		"bad key":       {http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-WebSocket-Version": {"13"}, "Sec-WebSocket-Key": {"short"}}, "GET", http.StatusBadRequest},
		"no connection": {http.Header{"Upgrade": {"websocket"}, "Sec-WebSocket-Version": {"13"}, "Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, "GET", http.StatusBadRequest},
		"POST":          {http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-WebSocket-Version": {"13"}, "Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, "POST", http.StatusMethodNotAllowed},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.srv.URL, nil)
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
