// Package rawhead recovers the request headers as the client wrote them.
//
// net/http canonicalizes header names ("Sec-WebSocket-Protocol" becomes
// "Sec-Websocket-Protocol", "HeaderAuth1" becomes "Headerauth1"), but API
// Gateway hands $connect handlers the names as sent, and handlers index
// them that way (event.headers['Sec-WebSocket-Protocol']). Listener wraps
// accepted connections so that the first request head of each connection
// is kept as raw bytes; Headers parses it back, with the original case and
// order, for the request it belongs to.
//
// Only the first request of a connection is captured (WebSocket clients
// open a fresh connection for the handshake); for any other request, or a
// head over MaxHead bytes, Headers falls back to net/http's canonical
// names.
//
// Concurrency: a Conn is read by its HTTP server goroutine while handlers
// read the captured head; a mutex guards the capture.
package rawhead

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// MaxHead is the most bytes of a request head that are captured.
const MaxHead = 16 << 10

// Field is one header line as the client sent it.
type Field struct{ Name, Value string }

// Listener wraps l so that its connections capture their first request head.
func Listener(l net.Listener) net.Listener { return listener{l} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c}, nil
}

// Conn captures the first request head read through it.
type Conn struct {
	net.Conn
	mu   sync.Mutex
	head []byte
	done bool // the head is complete (or abandoned)
	// captured mirrors done for Read's fast path: once set, the reads
	// of every later request skip the mutex.
	captured atomic.Bool
}

// NetConn returns the wrapped connection (so the WebSocket transport can
// take over the socket after the handshake).
func (c *Conn) NetConn() net.Conn { return c.Conn }

func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.captured.Load() {
		c.mu.Lock()
		if !c.done {
			c.head = append(c.head, p[:n]...)
			if i := bytes.Index(c.head, []byte("\r\n\r\n")); i >= 0 {
				c.head = c.head[:i+2]
				c.done = true
			} else if len(c.head) > MaxHead {
				c.head, c.done = nil, true
			}
			c.captured.Store(c.done)
		}
		c.mu.Unlock()
	}
	return n, err
}

type ctxKey struct{}

// ConnContext is an http.Server.ConnContext that makes the connection
// available to Headers.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, ctxKey{}, rc)
	}
	return ctx
}

// Headers returns r's headers in the client's order and case when the raw
// head of r was captured, and otherwise r.Header with canonical names.
func Headers(r *http.Request) []Field {
	if rc, ok := r.Context().Value(ctxKey{}).(*Conn); ok {
		rc.mu.Lock()
		head, done := rc.head, rc.done
		rc.mu.Unlock()
		if done && head != nil {
			if fields, ok := parse(head, r); ok {
				return fields
			}
		}
	}
	var fields []Field
	for name, values := range r.Header {
		if n, ok := wellKnown[name]; ok {
			name = n
		}
		for _, v := range values {
			fields = append(fields, Field{name, v})
		}
	}
	if r.Host != "" {
		fields = append([]Field{{"Host", r.Host}}, fields...)
	}
	return fields
}

// wellKnown restores the usual spelling of names that canonicalization
// changes, for requests whose raw head was not captured.
var wellKnown = map[string]string{
	"Sec-Websocket-Key":        "Sec-WebSocket-Key",
	"Sec-Websocket-Version":    "Sec-WebSocket-Version",
	"Sec-Websocket-Protocol":   "Sec-WebSocket-Protocol",
	"Sec-Websocket-Extensions": "Sec-WebSocket-Extensions",
}

// parse reads a raw head and checks that it is r's: same method and
// target, and exactly r's header values (a keep-alive connection's later
// request must not be answered with its first head). ok is false
// otherwise.
func parse(head []byte, r *http.Request) ([]Field, bool) {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	parts := bytes.SplitN(line, []byte(" "), 3)
	if len(parts) != 3 || string(parts[0]) != r.Method || string(parts[1]) != r.RequestURI {
		return nil, false
	}
	var fields []Field
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, false // obsolete line folding: let net/http's view stand
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, false
		}
		fields = append(fields, Field{string(name), string(bytes.Trim(value, " \t"))})
	}
	// net/http moves Host out of the header map; every other line must be
	// one of r's values, in order per name, and none may be left over.
	seen := make(map[string]int, len(r.Header))
	n := 0
	for _, f := range fields {
		name := http.CanonicalHeaderKey(f.Name)
		if name == "Host" {
			continue
		}
		values := r.Header[name]
		i := seen[name]
		if i >= len(values) || values[i] != f.Value {
			return nil, false
		}
		seen[name] = i + 1
		n++
	}
	want := 0
	for _, v := range r.Header {
		want += len(v)
	}
	if n != want {
		return nil, false
	}
	return fields, true
}
