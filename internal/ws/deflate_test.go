package ws

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The client side of these tests compresses and inflates with the standard
// library's compress/flate, the server with klauspost/compress: each checks
// the other.

// clientDeflate compresses p as one permessage-deflate message: a
// sync-flushed DEFLATE stream without its 0x00 0x00 0xff 0xff tail.
func clientDeflate(t testing.TB, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	z := b.Bytes()
	if !bytes.HasSuffix(z, deflateTail[:]) {
		t.Fatalf("sync flush did not end with the tail: % x", z[max(0, len(z)-8):])
	}
	return z[:len(z)-4]
}

// clientInflate inflates a compressed server message.
func clientInflate(t testing.TB, z []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader(deflateTail[:])))
	p, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate server message: %v", err)
	}
	return p
}

// deflateServer is an echo server whose connections negotiate
// permessage-deflate and echo with SendMessage.
type deflateServer struct {
	*testServer
}

func newDeflateServer(t *testing.T, driver string, lim *Limits) *deflateServer {
	t.Helper()
	e, err := NewEngine(Options{Driver: driver, Tick: 20 * time.Millisecond, CloseTimeout: time.Second, Loops: 2,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, e: e, lim: lim, conns: make(chan *echoHandler, 100), done: make(chan struct{})}
	ts.srv = httptest.NewServer(ts.track(func(w http.ResponseWriter, r *http.Request) {
		if herr := CheckRequest(r); herr != nil {
			WriteHandshakeError(w, herr)
			return
		}
		h := &deflateEcho{echoHandler: &echoHandler{closes: make(chan closeEvent, 2), noEcho: true}}
		h.c = e.NewConn(h, lim)
		h.c.NegotiateDeflate(r)
		if err := h.c.Upgrade(w, r, ""); err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		ts.handOver(h.echoHandler)
	}))
	t.Cleanup(ts.stop)
	return &deflateServer{ts}
}

// deflateEcho echoes each message as a Message, so that it goes out
// compressed when the connection negotiated compression.
type deflateEcho struct{ *echoHandler }

func (h *deflateEcho) OnMessage(op Opcode, p []byte) {
	h.echoHandler.OnMessage(op, p)
	_ = h.c.SendMessage(NewMessage(NewFrame(op, p)))
}

func deflateLimits() *Limits {
	lim := testLimits()
	lim.Deflate = &DeflateOptions{MinBytes: 64}
	lim.AllowBinary = true
	return lim
}

const browserOffer = "permessage-deflate; client_max_window_bits"

func dialDeflate(t *testing.T, ts *deflateServer, offer string) *rawClient {
	t.Helper()
	h := http.Header{}
	if offer != "" {
		h.Set("Sec-WebSocket-Extensions", offer)
	}
	rc, resp := dialRaw(t, ts.srv.URL, h)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := ""
	if offer != "" && ts.lim.Deflate != nil {
		want = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	}
	if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != want {
		t.Fatalf("Sec-WebSocket-Extensions %q, want %q", got, want)
	}
	return rc
}

// readRSV reads one server frame and returns it with its RSV bits.
func (c *rawClient) readRSV() (rxFrame, byte) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return rxFrame{fin: hdr[0]&0x80 != 0, op: Opcode(hdr[0] & 0x0F), payload: p}, (hdr[0] >> 4) & 7
}

// expectDeflated reads a message that must be compressed and inflate to p.
func (c *rawClient) expectDeflated(op Opcode, p []byte) {
	c.t.Helper()
	f, rsv := c.readRSV()
	if f.op != op || !f.fin || rsv != rsv1 {
		c.t.Fatalf("got %v fin=%v rsv=%d, want a compressed %v", f.op, f.fin, rsv, op)
	}
	if got := clientInflate(c.t, f.payload); !bytes.Equal(got, p) {
		c.t.Fatalf("inflated %q, want %q", trim(got), trim(p))
	}
}

func TestDeflateNegotiation(t *testing.T) {
	accept := "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	cases := []struct{ offer, want string }{
		{"", ""},
		{browserOffer, accept}, // what Chrome and Firefox send
		{"permessage-deflate", accept},
		{"Permessage-Deflate", accept},
		{"permessage-deflate; client_no_context_takeover; server_no_context_takeover", accept},
		{"permessage-deflate; client_max_window_bits=10", accept},
		{`permessage-deflate; client_max_window_bits="12"`, accept},
		{"permessage-deflate; server_max_window_bits=15", accept + "; server_max_window_bits=15"},
		// Cannot be honoured: a window smaller than 32 KiB for our encoder.
		{"permessage-deflate; server_max_window_bits=10", ""},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", accept},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate; server_max_window_bits=15", accept + "; server_max_window_bits=15"},
		// Malformed offers are declined.
		{"permessage-deflate; server_max_window_bits", ""},
		{"permessage-deflate; client_max_window_bits=7", ""},
		{"permessage-deflate; client_max_window_bits=16", ""},
		{"permessage-deflate; client_max_window_bits=015", ""},
		{"permessage-deflate; client_max_window_bits=x", ""},
		{"permessage-deflate; server_no_context_takeover=1", ""},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", ""},
		{"permessage-deflate; mystery", ""},
		{"permessage-deflate; client_max_window_bits=\"1,5\"", ""},
		{"x-webkit-deflate-frame", ""},
		{"foo; bar=\"a,b\", permessage-deflate", accept},
		{"permessage-deflate;;", ""},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.offer != "" {
			h.Set("Sec-WebSocket-Extensions", c.offer)
		}
		if got := negotiateDeflate(h); got != c.want {
			t.Errorf("offer %q: answer %q, want %q", c.offer, got, c.want)
		}
	}
	// Offers on two header lines are one list.
	h := http.Header{}
	h.Add("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=9")
	h.Add("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	if got := negotiateDeflate(h); got != accept {
		t.Errorf("two header lines: %q", got)
	}

	// Over a real socket: the 101 carries the answer, and an API without
	// compression answers no extension at all.
	forDrivers(t, func(t *testing.T, d string) {
		on := newDeflateServer(t, d, deflateLimits())
		rc := dialDeflate(t, on, browserOffer)
		rc.closeNormally()
		rc = dialDeflate(t, on, "")
		rc.closeNormally()
		_, resp := dialRaw(t, on.srv.URL, http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; server_max_window_bits=8"}})
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != "" {
			t.Errorf("declined offer answered with %q", got)
		}
		off := newDeflateServer(t, d, testLimits())
		rc = dialDeflate(t, off, browserOffer)
		rc.closeNormally()
	})
}

func TestDeflateMessages(t *testing.T) {
	long := []byte(strings.Repeat(`{"action":"sendMessage","text":"hello, world"} `, 40))
	forDrivers(t, func(t *testing.T, d string) {
		ts := newDeflateServer(t, d, deflateLimits())
		rc := dialDeflate(t, ts, browserOffer)
		h := ts.handler()

		// A compressed message in one frame; the echo is compressed.
		rc.writeRaw(clientFrame(true, rsv1, OpText, clientDeflate(t, long), true))
		rc.expectDeflated(OpText, long)

		// A short message is echoed uncompressed (below MinBytes), and an
		// uncompressed message from the client is fine.
		rc.writeRaw(clientFrame(true, rsv1, OpText, clientDeflate(t, []byte("hi")), true))
		rc.expectMessage(OpText, []byte("hi"))
		rc.write(true, OpText, long)
		rc.expectDeflated(OpText, long)

		// A compressed message in three fragments, a ping in between: RSV1
		// only on the first.
		z := clientDeflate(t, long)
		rc.writeRaw(clientFrame(false, rsv1, OpText, z[:5], true))
		rc.writeRaw(clientFrame(false, 0, OpContinuation, z[5:20], true))
		rc.write(true, OpPing, []byte("p"))
		rc.expectMessage(OpPong, []byte("p"))
		rc.writeRaw(clientFrame(true, 0, OpContinuation, z[20:], true))
		rc.expectDeflated(OpText, long)

		// Binary, and a stream closed with a final block instead of a sync
		// flush, and an empty compressed message.
		bin := bytes.Repeat([]byte{0, 1, 2, 3, 0xff}, 100)
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestSpeed)
		_, _ = w.Write(bin)
		_ = w.Close()
		rc.writeRaw(clientFrame(true, rsv1, OpBinary, b.Bytes(), true))
		rc.expectDeflated(OpBinary, bin)
		rc.writeRaw(clientFrame(true, rsv1, OpText, []byte{0x00}, true))
		rc.expectMessage(OpText, nil)

		// Incompressible data is echoed uncompressed: it would not shrink.
		rnd := make([]byte, 2000)
		for i := range rnd {
			rnd[i] = byte(i*7919>>3) ^ byte(i*31)
		}
		rc.writeRaw(clientFrame(true, rsv1, OpBinary, clientDeflate(t, rnd), true))
		f, rsv := rc.readRSV()
		if rsv != 0 && !bytes.Equal(clientInflate(t, f.payload), rnd) || rsv == 0 && !bytes.Equal(f.payload, rnd) {
			t.Fatalf("incompressible echo: rsv %d, %d bytes", rsv, len(f.payload))
		}
		rc.closeNormally()
		h.expectClosed(t, CloseNormal)
		h.mu.Lock()
		n := len(h.msgs)
		h.mu.Unlock()
		if n != 7 {
			t.Fatalf("delivered %d messages, want 7", n)
		}
	})
}

// TestDeflateBomb: the limits apply to the inflated message. A message
// that inflates past maxMessageBytes closes with 1009, in one frame or in
// fragments, and the compressed bytes are bounded too.
func TestDeflateBomb(t *testing.T) {
	lim := deflateLimits()
	lim.MaxMessageBytes, lim.MaxFrameBytes = 64<<10, 64<<10
	bomb := clientDeflate(t, make([]byte, 16<<20)) // 16 MiB of zeros, ~16 KiB compressed
	exact := clientDeflate(t, bytes.Repeat([]byte("a"), 64<<10))
	over := clientDeflate(t, bytes.Repeat([]byte("a"), 64<<10+1))
	cases := map[string][][]byte{
		"one frame": {clientFrame(true, rsv1, OpText, bomb, true)},
		"fragments": {
			clientFrame(false, rsv1, OpBinary, bomb[:len(bomb)/2], true),
			clientFrame(true, 0, OpContinuation, bomb[len(bomb)/2:], true),
		},
		"one byte over": {clientFrame(true, rsv1, OpText, over, true)},
		// Compressed bytes beyond the limit plus its slack fail before
		// they are buffered, whatever they would inflate to.
		"compressed too big": {clientFrame(true, rsv1, OpBinary, make([]byte, 64<<10+deflateSlack(64<<10)+1), true)},
	}
	forDrivers(t, func(t *testing.T, d string) {
		ts := newDeflateServer(t, d, lim)
		rc := dialDeflate(t, ts, browserOffer)
		h := ts.handler()
		rc.writeRaw(clientFrame(true, rsv1, OpText, exact, true))
		rc.expectDeflated(OpText, bytes.Repeat([]byte("a"), 64<<10))
		rc.closeNormally()
		h.expectClosed(t, CloseNormal)
		for name, frames := range cases {
			t.Run(name, func(t *testing.T) {
				rc := dialDeflate(t, ts, browserOffer)
				h := ts.handler()
				for _, f := range frames {
					rc.writeRaw(f)
				}
				rc.expectClose(CloseMessageTooBig)
				rc.expectEOF()
				h.expectClosed(t, CloseMessageTooBig)
			})
		}
	})
}

// TestInflateBoundedMemory: inflating a bomb allocates about the limit,
// not what the bomb inflates to.
func TestInflateBoundedMemory(t *testing.T) {
	const limit = 64 << 10
	bomb := clientDeflate(t, make([]byte, 64<<20)) // 64 MiB of zeros
	if _, err := inflate(bomb, limit, false); !errors.Is(err, errTooBig) {
		t.Fatalf("inflate: %v, want errTooBig", err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := inflate(bomb, limit, false)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errTooBig) {
		t.Fatalf("inflate: %v, want errTooBig", err)
	}
	// The output buffer doubles up to limit+1: at most ~2×limit in all,
	// plus a pooled reader if the pool was emptied by a GC.
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*limit+256<<10 {
		t.Fatalf("inflating a 64 MiB bomb with a %d-byte limit allocated %d bytes", limit, got)
	}
}

func TestDeflateProtocolErrors(t *testing.T) {
	z := clientDeflate(t, []byte("hello hello hello"))
	cases := []struct {
		name   string
		frames [][]byte
		code   CloseCode
	}{
		{"RSV1 on a continuation", [][]byte{
			clientFrame(false, rsv1, OpText, z[:3], true),
			clientFrame(true, rsv1, OpContinuation, z[3:], true),
		}, CloseProtocolError},
		{"RSV1 on an uncompressed message's continuation", [][]byte{
			clientFrame(false, 0, OpText, []byte("a"), true),
			clientFrame(true, rsv1, OpContinuation, z, true),
		}, CloseProtocolError},
		{"RSV1 on a ping", [][]byte{clientFrame(true, rsv1, OpPing, nil, true)}, CloseProtocolError},
		{"RSV1 on a close", [][]byte{clientFrame(true, rsv1, OpClose, nil, true)}, CloseProtocolError},
		{"RSV2", [][]byte{clientFrame(true, 2, OpText, []byte("x"), true)}, CloseProtocolError},
		{"RSV1+RSV3", [][]byte{clientFrame(true, rsv1|1, OpText, z, true)}, CloseProtocolError},
		{"corrupt data", [][]byte{clientFrame(true, rsv1, OpText, []byte{0xff, 0xff, 0xff}, true)}, CloseInvalidPayload},
		{"invalid UTF-8 inflated", [][]byte{clientFrame(true, rsv1, OpText, clientDeflate(t, []byte("ok \xff")), true)}, CloseInvalidPayload},
	}
	forDrivers(t, func(t *testing.T, d string) {
		ts := newDeflateServer(t, d, deflateLimits())
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rc := dialDeflate(t, ts, browserOffer)
				h := ts.handler()
				rc.writeRaw(clientFrame(true, rsv1, OpText, z, true))
				rc.expectMessage(OpText, []byte("hello hello hello"))
				for _, f := range c.frames {
					rc.writeRaw(f)
				}
				rc.expectClose(c.code)
				rc.expectEOF()
				h.expectClosed(t, c.code)
			})
		}
		// Without negotiation RSV1 is a protocol error.
		off := newDeflateServer(t, d, testLimits())
		rc := dialDeflate(t, off, browserOffer)
		h := off.handler()
		rc.writeRaw(clientFrame(true, rsv1, OpText, z, true))
		rc.expectClose(CloseProtocolError)
		rc.expectEOF()
		h.expectClosed(t, CloseProtocolError)
		// Nor when the client did not offer it to a server that has it on.
		on := newDeflateServer(t, d, deflateLimits())
		rc = dialDeflate(t, on, "")
		h = on.handler()
		rc.writeRaw(clientFrame(true, rsv1, OpText, z, true))
		rc.expectClose(CloseProtocolError)
		rc.expectEOF()
		h.expectClosed(t, CloseProtocolError)
	})
}

// TestMessageCompressedOnce: a Message sent on many connections that
// negotiated compression is compressed once, and all of them queue the
// same bytes; connections without compression get the plain frame, and a
// Message that only they get is never compressed.
func TestMessageCompressedOnce(t *testing.T) {
	e := &Engine{opts: Options{CloseTimeout: 1}}
	lim := deflateLimits()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Sec-WebSocket-Extensions", browserOffer)
	var zconns, plain []*Conn
	for range 3 {
		c := e.NewConn(&recorder{}, lim)
		if !c.NegotiateDeflate(req) {
			t.Fatal("not negotiated")
		}
		zconns = append(zconns, c)
		plain = append(plain, e.NewConn(&recorder{}, lim))
	}
	payload := bytes.Repeat([]byte("compress me once "), 20)

	m := NewMessage(TextFrame(payload))
	for _, c := range plain {
		if err := c.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if m.z != nil {
		t.Fatal("a message sent only to connections without compression was compressed")
	}
	for _, c := range zconns {
		if err := c.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	first := zconns[0].queue[0]
	if first[0] != 0xC1 {
		t.Fatalf("first byte %#x, want FIN|RSV1|text", first[0])
	}
	for _, c := range zconns {
		if &c.queue[0][0] != &first[0] {
			t.Fatal("connections with compression do not share one compressed frame")
		}
	}
	for _, c := range plain {
		if &c.queue[0][0] != &m.plain[0] {
			t.Fatal("a connection without compression did not get the plain frame")
		}
	}
	h, err := parseHeader(first)
	if err != nil {
		t.Fatal(err)
	}
	if got := clientInflate(t, first[h.size:]); !bytes.Equal(got, payload) {
		t.Fatalf("inflated %q", got)
	}
}

// parseDeflate feeds data to a detached connection that negotiated
// permessage-deflate, as parseAll does.
func parseDeflate(data []byte, n int) []string {
	e := &Engine{opts: Options{CloseTimeout: 1}}
	r := &recorder{}
	lim := testLimits()
	lim.MaxMessageBytes, lim.MaxFrameBytes, lim.AllowBinary = 1<<12, 1<<11, true
	lim.Deflate = &DeflateOptions{MinBytes: 1}
	c := e.NewConn(r, lim)
	c.pmd = lim.Deflate
	c.state, c.scheduled = stateOpen, true
	if n <= 0 {
		n = len(data) + 1
	}
	for len(data) > 0 {
		k := min(n, len(data))
		c.feed(bytes.Clone(data[:k]), 1)
		data = data[k:]
	}
	out := r.got
	if c.localInit {
		out = append(out, "fail:"+c.localCode.String())
	}
	return out
}

// fuzzWriter is reused by FuzzInflate (one fuzz worker runs one input at a
// time): a new compress/flate writer per input would spend most of the
// fuzzing time allocating its 1 MB of state.
var fuzzWriter, _ = flate.NewWriter(nil, flate.BestSpeed)

// FuzzInflate feeds arbitrary compressed payloads, whole and fragmented,
// to a connection with permessage-deflate: never a panic, never a message
// past the limit, the same result however the frames are split, and what
// a real compressor made comes back intact.
func FuzzInflate(f *testing.F) {
	f.Add([]byte("hello, hello, hello"), true, 3)
	f.Add(bytes.Repeat([]byte{0}, 10000), true, 1)
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, false, 2) // "Hello" compressed
	f.Add([]byte{0x00}, false, 1)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, false, 1)
	f.Add([]byte("\xce\xc8\x07\x00\xff\xfe"), false, 5)
	f.Fuzz(func(t *testing.T, data []byte, compress bool, split int) {
		z := data
		if compress {
			var b bytes.Buffer
			w := fuzzWriter
			w.Reset(&b)
			_, _ = w.Write(data)
			_ = w.Flush()
			z = bytes.TrimSuffix(b.Bytes(), deflateTail[:])
		}
		// Inflating directly: bounded, and a round trip when compressed.
		const limit = 1 << 12
		p, err := inflate(z, limit, false)
		if len(p) > limit {
			t.Fatalf("inflated %d bytes past the %d limit", len(p), limit)
		}
		if compress && len(data) <= limit && (err != nil || !bytes.Equal(p, data)) {
			t.Fatalf("round trip: %v, %d bytes back of %d", err, len(p), len(data))
		}
		if compress && len(data) > limit && !errors.Is(err, errTooBig) {
			t.Fatalf("%d bytes inflated within a %d limit: %v", len(data), limit, err)
		}
		// Through the frame reader, in one frame and in two fragments.
		if split < 0 {
			split = -split
		}
		one := clientFrame(true, rsv1, OpBinary, z, true)
		k := split % (len(z) + 1)
		two := append(clientFrame(false, rsv1, OpBinary, z[:k], true), clientFrame(true, 0, OpContinuation, z[k:], true)...)
		a, b := parseDeflate(one, 0), parseDeflate(two, split%13+1)
		if len(z) <= 1<<11 && strings.Join(a, "|") != strings.Join(b, "|") {
			t.Fatalf("fragmenting changed the result:\none: %v\ntwo: %v", a, b)
		}
	})
}
