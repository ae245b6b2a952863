package ws

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// HandshakeError is a rejected opening handshake: the HTTP status to answer
// with and a message for the client.
type HandshakeError struct {
	Status  int
	Message string
}

func (e *HandshakeError) Error() string { return e.Message }

// CheckRequest validates the client's opening handshake (RFC 6455 §4.2.1)
// without answering it, so the server can run $connect first and upgrade
// or refuse afterwards. A plain GET without Upgrade gets 426.
func CheckRequest(r *http.Request) *HandshakeError {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return &HandshakeError{http.StatusUpgradeRequired, "this is a WebSocket endpoint: connect with a WebSocket client"}
	}
	if r.Method != http.MethodGet {
		return &HandshakeError{http.StatusMethodNotAllowed, "the WebSocket handshake must use GET"}
	}
	if r.ProtoMajor < 1 || (r.ProtoMajor == 1 && r.ProtoMinor < 1) {
		return &HandshakeError{http.StatusBadRequest, "the WebSocket handshake needs HTTP/1.1"}
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return &HandshakeError{http.StatusBadRequest, "missing \"Connection: Upgrade\""}
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return &HandshakeError{http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version: only 13 is supported"}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 16 {
		return &HandshakeError{http.StatusBadRequest, "Sec-WebSocket-Key must be 16 base64-encoded bytes"}
	}
	return nil
}

// WriteHandshakeError answers a rejected handshake. 426 answers carry the
// headers RFC 6455 asks for.
func WriteHandshakeError(w http.ResponseWriter, e *HandshakeError) {
	if e.Status == http.StatusUpgradeRequired {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	http.Error(w, e.Message, e.Status)
}

// Subprotocols returns the subprotocols the client offered, in order.
func Subprotocols(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// responseHead is the 101 answer. subprotocol is sent only when set: like
// API Gateway, Switchboard never echoes a subprotocol by itself.
// extensions, when set, is the Sec-WebSocket-Extensions answer.
func responseHead(key, subprotocol, extensions string) ([]byte, error) {
	if strings.ContainsAny(subprotocol, "\r\n") {
		return nil, fmt.Errorf("subprotocol %q contains a line break", subprotocol)
	}
	b := make([]byte, 0, 160)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, acceptKey(key)...)
	b = append(b, "\r\n"...)
	if subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, subprotocol...)
		b = append(b, "\r\n"...)
	}
	if extensions != "" {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, extensions...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

// headerHasToken reports whether the comma-separated header name contains
// token, case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Refuse completes a handshake that CheckRequest accepted only to refuse
// the connection in the protocol itself: it writes the 101 response, the
// given frames and a close frame with code and reason, waits up to wait
// for the client's close (or EOF), and closes the socket. The connection
// is never attached to the engine. Protocols whose clients act on a close
// code rather than on an HTTP status use it (Pusher's 4001 unknown app,
// 4004 over quota).
func Refuse(w http.ResponseWriter, r *http.Request, frames []Frame, code CloseCode, reason string, wait time.Duration) error {
	head, err := responseHead(r.Header.Get("Sec-WebSocket-Key"), "", "")
	if err != nil {
		return err
	}
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(wait))
	for _, f := range frames {
		head = append(head, f...)
	}
	head = append(head, closeFrame(code, reason)...)
	if _, err := nc.Write(head); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, 4096)) // the client's close, until EOF or the deadline
	return nil
}
