package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// plainHTTPResponse answers a client that speaks plain HTTP to the TLS
// listener, as net/http does for its own TLS connections.
const plainHTTPResponse = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"Client sent an HTTP request to an HTTPS server; use https:// (or wss:// for WebSocket).\n"

// tlsListener serves TLS on ln like tls.NewListener, and answers plain
// HTTP with 400 instead of hanging up. net/http does that itself only for
// connections it sees as *tls.Conn; here rawhead wraps them, so each
// connection does its handshake on its first Read (within the deadline
// the HTTP server has set for the request head) and writes the 400 when
// the first bytes are an HTTP request line.
func tlsListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return &tlsGuardListener{Listener: ln, cfg: cfg}
}

type tlsGuardListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *tlsGuardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsGuardConn{Conn: tls.Server(c, l.cfg)}, nil
}

// tlsGuardConn is a server-side *tls.Conn that handshakes on its first
// Read. Its NetConn is the *tls.Conn (not the socket under it), so the
// WebSocket engine keeps reading through TLS.
type tlsGuardConn struct {
	*tls.Conn
	once sync.Once
	err  error // of the handshake
}

// NetConn returns the TLS connection.
func (c *tlsGuardConn) NetConn() net.Conn { return c.Conn }

func (c *tlsGuardConn) Read(p []byte) (int, error) {
	c.once.Do(func() { c.err = c.handshake() })
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

func (c *tlsGuardConn) handshake() error {
	err := c.Conn.Handshake()
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
		_ = re.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = re.Conn.Write([]byte(plainHTTPResponse))
		_ = re.Conn.Close()
	}
	return err
}

// looksLikeHTTP reports whether the first five bytes of a connection are
// the start of an HTTP/1 request line (net/http's test).
func looksLikeHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE", "TRACE"} {
		if bytes.HasPrefix(hdr, []byte(m)) {
			return true
		}
	}
	return false
}
