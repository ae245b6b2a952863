package server

// permessage-deflate end to end: a real Chromium with compression enabled
// in the configuration, and a raw client that sees the frames' RSV1 bit.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/browsertest"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
)

const deflateAnswer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// rawDeflateClient is a WebSocket client written by hand, so that the test
// sees whether each server frame is compressed.
type rawDeflateClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRawDeflate(t *testing.T, e *env, stage, offer string) (*rawDeflateClient, string) {
	t.Helper()
	addr := strings.TrimPrefix(e.base, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET /" + stage + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n"
	if offer != "" {
		req += "Sec-WebSocket-Extensions: " + offer + "\r\n"
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
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return &rawDeflateClient{t: t, nc: nc, br: br}, resp.Header.Get("Sec-WebSocket-Extensions")
}

// sendText sends a masked text frame, compressed when z is set.
func (c *rawDeflateClient) sendText(p []byte, z bool) {
	c.t.Helper()
	b0 := byte(0x81)
	if z {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestSpeed)
		_, _ = w.Write(p)
		_ = w.Flush()
		p = bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
		b0 |= 0x40
	}
	f := []byte{b0}
	switch n := len(p); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, 0, 0, 0, 0) // a zero mask: the payload goes as is
	if _, err := c.nc.Write(append(f, p...)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one data message: its payload (inflated) and whether it was
// compressed on the wire.
func (c *rawDeflateClient) next() ([]byte, bool) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			c.t.Fatalf("read: %v", err)
		}
		n := uint64(h[1] & 0x7f)
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
		if h[0]&0x0f >= 0x8 { // control frame
			continue
		}
		if h[0]&0x80 == 0 {
			c.t.Fatal("the server fragmented a message")
		}
		if h[0]&0x40 == 0 {
			return p, false
		}
		r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
		out, err := io.ReadAll(r)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			c.t.Fatalf("inflate: %v", err)
		}
		return out, true
	}
}

// nextWith reads messages until one whose "message" field is msg, and
// reports whether it came compressed.
func (c *rawDeflateClient) nextWith(msg string) bool {
	c.t.Helper()
	for {
		p, z := c.next()
		var m map[string]any
		if json.Unmarshal(p, &m) == nil && m["message"] == msg {
			return z
		}
	}
}

// TestBrowserCompression: with compression enabled for the API, Chromium's
// default offer is accepted (WebSocket.extensions shows the answer), the
// browser's messages (which it compresses) are inflated and routed, and a
// broadcast reaches the browser and a raw client compressed. Every
// goroutine and browser process is gone at the end.
func TestBrowserCompression(t *testing.T) {
	browsertest.Path(t)
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })

	e := startServer(t, "", func(c *config.Config) {
		c.APIs[0].Compression = config.Compression{Enabled: true, MinBytes: 200}
	})
	raw, answer := dialRawDeflate(t, e, "production", "permessage-deflate; client_max_window_bits")
	if answer != deflateAnswer {
		t.Fatalf("raw client: Sec-WebSocket-Extensions %q, want %q", answer, deflateAnswer)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx)
	defer br.Stop()
	tab, cancelTab := chromedp.NewContext(br.Ctx, br.Options()...)
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate(e.base+"/healthz")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	// The page's WebSocket, with the browser's own default offer.
	ext, err := chromedp.Run(tab, chromedp.Evaluate[string](`new Promise((resolve, reject) => {
		const ws = new WebSocket(`+jsString(e.wsURL("production"))+`);
		window.got = [];
		ws.onmessage = (ev) => { try { window.got.push(JSON.parse(ev.data).message); } catch (e) {} };
		ws.onopen = () => { window.sb = ws; resolve(ws.extensions); };
		ws.onerror = () => reject(new Error("WebSocket error"));
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browser WebSocket: %v", err)
	}
	if ext != deflateAnswer {
		t.Fatalf("browser: WebSocket.extensions %q, want %q", ext, deflateAnswer)
	}
	var connects int
	for _, l := range e.logs.lines("connect") {
		if ua, _ := l["userAgent"].(string); strings.Contains(ua, "Chrome") && l["deflate"] == true {
			connects++
		}
	}
	if connects != 1 {
		t.Errorf("%d connect log lines of Chrome with deflate: true, want 1", connects)
	}
	poll := []chromedp.PollOption{chromedp.WithPollingInterval(20 * time.Millisecond), chromedp.WithPollingTimeout(10 * time.Second)}

	// The browser sends a long message (compressed by Chromium); the route
	// broadcasts it; the browser and the raw client get it, compressed.
	fromBrowser := "from the browser " + event.NewID() + " " + strings.Repeat("la ", 200)
	if _, err := chromedp.Run(tab, chromedp.Evaluate[*runtime.RemoteObject](`window.sb.send(JSON.stringify({action: "sendMessage", message: `+jsString(fromBrowser)+`}))`)); err != nil {
		t.Fatalf("browser send: %v", err)
	}
	if !raw.nextWith(fromBrowser) {
		t.Error("the broadcast of the browser's message reached the raw client uncompressed")
	}
	if _, err := chromedp.Run(tab, chromedp.PollFunction[bool](`(m) => window.got.includes(m)`, append(poll, chromedp.WithPollingArgs(fromBrowser))...)); err != nil {
		t.Fatalf("browser: its own broadcast did not arrive: %v", err)
	}

	// The raw client sends a compressed message; the broadcast reaches the
	// browser, which inflates it.
	fromRaw := "from the raw client " + event.NewID() + " " + strings.Repeat("tra ", 200)
	raw.sendText([]byte(`{"action":"sendMessage","message":"`+fromRaw+`"}`), true)
	if !raw.nextWith(fromRaw) {
		t.Error("the broadcast of the raw client's message came back uncompressed")
	}
	if _, err := chromedp.Run(tab, chromedp.PollFunction[bool](`(m) => window.got.includes(m)`, append(poll, chromedp.WithPollingArgs(fromRaw))...)); err != nil {
		got, _ := chromedp.Run(tab, chromedp.Evaluate[[]any](`window.got`))
		t.Fatalf("browser: the raw client's broadcast did not arrive (%v); got %d messages", err, len(got))
	}

	// A short message goes out uncompressed (below minBytes) and still
	// reaches the browser.
	short := "hi " + event.NewID()[:6]
	raw.sendText([]byte(`{"action":"sendMessage","message":"`+short+`"}`), false)
	if raw.nextWith(short) {
		t.Error("a broadcast shorter than minBytes came compressed")
	}
	if _, err := chromedp.Run(tab, chromedp.PollFunction[bool](`(m) => window.got.includes(m)`, append(poll, chromedp.WithPollingArgs(short))...)); err != nil {
		t.Fatalf("browser: the short broadcast did not arrive: %v", err)
	}

	if err := chromedp.Cancel(tab); err != nil {
		t.Errorf("close the browser: %v", err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestCompressionGoClient: another implementation (coder/websocket, which
// compresses with the standard library) negotiates compression against
// the gateway in both of its modes, and switchboard.v1 requests and a
// channel publication of 2 KiB round-trip through it; a client that does
// not offer compression on the same API is served uncompressed.
func TestCompressionGoClient(t *testing.T) {
	e := startServer(t, channelsAPI, func(c *config.Config) {
		c.APIs[0].Compression = config.Compression{Enabled: true, MinBytes: 64}
	})
	var conns []*websocket.Conn
	for _, mode := range []websocket.CompressionMode{websocket.CompressionContextTakeover, websocket.CompressionNoContextTakeover, websocket.CompressionDisabled} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, resp, err := websocket.Dial(ctx, e.wsURL("chan"), &websocket.DialOptions{
			Subprotocols: []string{"switchboard.v1"}, CompressionMode: mode, CompressionThreshold: 1,
		})
		cancel()
		if err != nil {
			t.Fatalf("dial (mode %v): %v", mode, err)
		}
		t.Cleanup(func() { c.CloseNow() })
		c.SetReadLimit(1 << 20)
		want := deflateAnswer
		if mode == websocket.CompressionDisabled {
			want = ""
		}
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != want {
			t.Fatalf("mode %v: Sec-WebSocket-Extensions %q, want %q", mode, got, want)
		}
		if hello := readJSON(t, c); hello["type"] != "connected" {
			t.Fatalf("mode %v: first message %v", mode, hello)
		}
		// A subscribe (compressed by the client past its threshold).
		if r, _ := call(t, c, 1, `{"type":"subscribe","id":1,"channel":"room:z","pad":"`+strings.Repeat("p", 300)+`"}`); r["error"] != nil {
			t.Fatalf("mode %v: subscribe: %v", mode, r)
		}
		conns = append(conns, c)
	}
	big := strings.Repeat("compressible publication ", 80)
	out := e.manageJSON("POST", "/chan/@channels/room:z", jsString(big), 200)
	if out["recipients"] != 3.0 {
		t.Fatalf("publish answered %v", out)
	}
	for i, c := range conns {
		for {
			m := readJSON(t, c)
			if m["type"] == "pub" {
				if m["data"] != big {
					t.Fatalf("client %d: publication %q", i, m["data"])
				}
				break
			}
		}
	}
	// A client publish of its own, fanned out to all three.
	if r, _ := call(t, conns[0], 2, `{"type":"publish","id":2,"channel":"room:z","data":`+jsString(big+"again")+`}`); r["error"] != nil {
		t.Fatalf("publish: %v", r)
	}
	for i, c := range conns[1:] {
		for {
			m := readJSON(t, c)
			if m["type"] == "pub" {
				if m["data"] != big+"again" {
					t.Fatalf("client %d: publication %q", i+1, m["data"])
				}
				break
			}
		}
	}
}
