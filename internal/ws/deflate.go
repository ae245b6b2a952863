package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692), as docs/decisions/0018-permessage-deflate.md
// decides it:
//
//   - Off unless Limits.Deflate is set (per API). Then the first offer the
//     server can honour is accepted, and the answer always carries
//     server_no_context_takeover and client_no_context_takeover: every
//     message is compressed and decompressed on its own, so a connection
//     keeps no compressor, decompressor or window between messages. Writers
//     and readers come from pools while a message is being processed.
//   - An offer with server_max_window_bits below 15 is declined (the
//     encoder always uses a 32 KiB window); any client_max_window_bits is
//     fine (the decoder accepts every window up to 32 KiB). An offer with an
//     unknown, repeated or malformed parameter is declined.
//   - Inbound, the limits apply to the inflated message: inflation stops
//     one byte past MaxMessageBytes and fails the connection with 1009, so
//     a compression bomb costs at most the limit. The compressed bytes of a
//     message are bounded by the limit plus deflateSlack.
//   - Outbound, a Message carries the plain frame and, made at most once and
//     only when a connection that negotiated compression asks for it, the
//     compressed frame: a broadcast is compressed once per publication.
//   - RSV1 is accepted only on the first frame of a data message of a
//     connection that negotiated the extension; anywhere else it is a
//     protocol error (1002). Control frames are never compressed.

// DeflateOptions enable permessage-deflate for an API's connections.
type DeflateOptions struct {
	// MinBytes: messages with a shorter payload go out uncompressed.
	MinBytes int
}

// deflateLevel is the compression level of outbound messages: klauspost's
// level 1 (decision 0018 has the measurements).
const deflateLevel = flate.BestSpeed

const (
	rsv1 = 0x4 // RSV1 in header.rsv

	extensionName = "permessage-deflate"
)

// deflateTail is what a sender strips from the end of each compressed
// message and a receiver appends before inflating (RFC 7692 §7.2.1).
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

var (
	errTooBig         = errors.New("inflated message too big")
	errCorruptDeflate = errors.New("invalid compressed data")
)

// deflateSlack is how far the compressed bytes of a message may exceed
// its limit: incompressible data grows by a stored block header (5 bytes)
// every block, and encoders with small windows use blocks of a few hundred
// bytes.
func deflateSlack(limit int) int { return limit/64 + 64 }

// deflateAnswers are the possible Sec-WebSocket-Extensions answers; a
// connection keeps the index of its own (one byte, not a string).
var deflateAnswers = [...]string{
	"",
	extensionName + "; server_no_context_takeover; client_no_context_takeover",
	extensionName + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15",
}

// negotiateDeflate picks the first permessage-deflate offer in h that the
// server can honour and returns the Sec-WebSocket-Extensions answer, or ""
// to decline them all (the connection then runs without extensions).
func negotiateDeflate(h http.Header) string { return deflateAnswers[negotiateDeflateIndex(h)] }

func negotiateDeflateIndex(h http.Header) uint8 {
	for _, offer := range parseExtensions(h.Values("Sec-WebSocket-Extensions")) {
		if !strings.EqualFold(offer.name, extensionName) {
			continue
		}
		if answer, ok := acceptDeflateOffer(offer.params); ok {
			return answer
		}
	}
	return 0
}

// acceptDeflateOffer checks one offer's parameters (RFC 7692 §7.1) and
// returns the index of the answer in deflateAnswers.
func acceptDeflateOffer(params []extensionParam) (uint8, bool) {
	seen := map[string]bool{}
	echoServerBits := false
	for _, p := range params {
		name := strings.ToLower(p.name)
		if seen[name] {
			return 0, false // §7.1: a parameter must not appear twice
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.hasValue {
				return 0, false
			}
		case "server_max_window_bits":
			bits, ok := windowBits(p)
			if !ok || bits < 15 {
				// The encoder's window is always 32 KiB: a smaller one
				// cannot be honoured, so this offer is declined.
				return 0, false
			}
			echoServerBits = true
		case "client_max_window_bits":
			if p.hasValue {
				if _, ok := windowBits(p); !ok {
					return 0, false
				}
			}
			// The decoder takes any window up to 32 KiB, so the client
			// may use what it offered; the answer leaves the parameter out.
		default:
			return 0, false
		}
	}
	if echoServerBits {
		return 2, true
	}
	return 1, true
}

// windowBits parses a window bits value: 8 to 15, digits without a
// leading zero (a quoted string is unquoted first, §7.1.2).
func windowBits(p extensionParam) (int, bool) {
	v := p.value
	if !p.hasValue || v == "" || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 {
		return 0, false
	}
	return n, true
}

type extensionParam struct {
	name, value string
	hasValue    bool
}

type extensionOffer struct {
	name   string
	params []extensionParam
}

// parseExtensions splits Sec-WebSocket-Extensions values into offers
// (RFC 6455 §9.1): comma-separated extensions, each a name and
// semicolon-separated parameters, values a token or a quoted string. A
// malformed offer is returned with name "" so that it is never accepted.
func parseExtensions(values []string) []extensionOffer {
	var out []extensionOffer
	for _, v := range values {
		for _, item := range splitQuoted(v, ',') {
			parts := splitQuoted(item, ';')
			offer := extensionOffer{name: strings.TrimSpace(parts[0])}
			if !isToken(offer.name) {
				offer.name = ""
			}
			for _, p := range parts[1:] {
				p = strings.TrimSpace(p)
				name, value, hasValue := strings.Cut(p, "=")
				name, value = strings.TrimSpace(name), strings.TrimSpace(value)
				if hasValue && len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
					value = strings.ReplaceAll(value[1:len(value)-1], `\`, "")
				}
				if !isToken(name) || (hasValue && !isToken(value)) {
					offer.name = ""
				}
				offer.params = append(offer.params, extensionParam{name, value, hasValue})
			}
			if offer.name != "" || len(offer.params) > 0 {
				out = append(out, offer)
			}
		}
	}
	return out
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// isToken reports whether s is an RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// NegotiateDeflate answers the client's permessage-deflate offers when the
// connection's Limits enable the extension; Upgrade then sends the
// answer. Call it before the connection is shared (before Send from any
// other goroutine). It reports whether the extension was negotiated.
func (c *Conn) NegotiateDeflate(r *http.Request) bool {
	if c.lim.Deflate == nil || c.state != stateNew {
		return false
	}
	c.pmdAnswer = negotiateDeflateIndex(r.Header)
	if c.pmdAnswer != 0 {
		c.pmd = c.lim.Deflate
	}
	return c.pmd != nil
}

// Deflate reports whether the connection negotiated permessage-deflate.
func (c *Conn) Deflate() bool { return c.pmd != nil }

// SendMessage queues m, compressed when the connection negotiated
// permessage-deflate and compression makes it smaller. Like Send, it
// never blocks.
func (c *Conn) SendMessage(m *Message) error {
	if c.pmd != nil {
		return c.Send(m.deflated(c.pmd))
	}
	return c.Send(m.plain)
}

// SendMessageDirect is SendMessage through SendDirect: for a message to
// this connection alone.
func (c *Conn) SendMessageDirect(m *Message) error {
	if c.pmd != nil {
		return c.SendDirect(m.deflated(c.pmd))
	}
	return c.SendDirect(m.plain)
}

// Message is a data message ready for any connection: the plain frame,
// and its compressed frame made at most once, the first time a connection
// with permessage-deflate needs it. A Message can be sent on any number of
// connections, concurrently.
type Message struct {
	plain Frame
	once  sync.Once
	z     Frame // compressed, or plain when compression does not pay
}

// NewMessage wraps a data frame (from NewFrame, TextFrame, BinaryFrame or
// DataFrame).
func NewMessage(f Frame) *Message { return &Message{plain: f} }

// Frame is the uncompressed frame.
func (m *Message) Frame() Frame { return m.plain }

func (m *Message) deflated(o *DeflateOptions) Frame {
	m.once.Do(func() { m.z = deflateFrame(m.plain, o.MinBytes) })
	return m.z
}

// deflateFrame returns f compressed (RSV1 set), or f itself when it is
// shorter than minBytes, not a final data frame, or does not shrink.
func deflateFrame(f Frame, minBytes int) Frame {
	h, err := parseHeader(f)
	if err != nil || !h.fin || h.rsv != 0 || (h.op != OpText && h.op != OpBinary) {
		return f
	}
	payload := f[h.size:]
	if len(payload) < minBytes || len(payload) == 0 {
		return f
	}
	// Compress after 10 reserved bytes, then put the header right in front
	// of the compressed bytes: no copy.
	w := &sliceWriter{b: make([]byte, 10, 10+len(payload)/2+16)}
	zw := writerPool.Get().(*flate.Writer)
	zw.Reset(w)
	_, err = zw.Write(payload)
	if err == nil {
		err = zw.Flush()
	}
	writerPool.Put(zw)
	b := w.b
	if err != nil || len(b) < 14 || [4]byte(b[len(b)-4:]) != deflateTail {
		return f
	}
	z := b[10 : len(b)-4]
	if len(z) >= len(payload) {
		return f
	}
	n := len(z)
	hl := headerLen(n)
	hdr := b[10-hl : 10]
	hdr[0] = 0x80 | 0x40 | byte(h.op) // FIN, RSV1: this message is compressed
	switch hl {
	case 2:
		hdr[1] = byte(n)
	case 4:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	return Frame(b[10-hl : len(b)-4])
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

var writerPool = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, deflateLevel)
	if err != nil {
		panic(err) // only for an invalid level, a constant
	}
	return w
}}

var readerPool = sync.Pool{New: func() any { return flate.NewReader(nil) }}

// inflate decompresses one message (its tail stripped) into at most limit
// bytes: past that it stops and returns errTooBig, so the output never
// grows beyond limit+1 bytes whatever the input claims. With owned set, z
// may be appended to in place.
func inflate(z []byte, limit int, owned bool) ([]byte, error) {
	// The tail goes after the data in one slice: klauspost's inflater has a
	// fast path for *bytes.Reader that a reader of two slices would miss.
	n := len(z)
	if owned {
		z = append(z, deflateTail[:]...)
	} else {
		z = append(append(make([]byte, 0, n+len(deflateTail)), z...), deflateTail[:]...)
	}
	src := bytes.NewReader(z)
	zr := readerPool.Get().(io.ReadCloser)
	defer readerPool.Put(zr)
	if err := zr.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, errCorruptDeflate
	}
	buf := make([]byte, 0, min(limit+1, max(512, 4*n)))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, errTooBig
			}
			nb := make([]byte, len(buf), min(limit+1, 2*cap(buf)))
			copy(nb, buf)
			buf = nb
		}
		n, err := zr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, errTooBig
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF) && src.Len() == 0:
			// A final block ends the stream with EOF; the usual sync-flushed
			// message ends when the input (with its tail) is used up.
			return buf, nil
		default:
			return nil, errCorruptDeflate
		}
	}
}

// checkRSV checks the reserved bits of a frame header; "" means they are
// allowed: RSV1 on the first frame of a data message of a connection that
// negotiated permessage-deflate.
func (c *Conn) checkRSV(h *header) string {
	switch {
	case h.rsv&^rsv1 != 0:
		return "reserved bits RSV2/RSV3 set without an extension"
	case c.pmd == nil:
		return "reserved bits set without an extension"
	case h.op.isControl():
		return "RSV1 set on a control frame"
	case h.op == OpContinuation:
		return "RSV1 set on a continuation frame"
	}
	return ""
}

// wireLimit is the limit on the received bytes of the frame or message
// that h belongs to: limit itself, plus deflateSlack when it is compressed
// (its inflated size is checked against limit when it is inflated).
func (c *Conn) wireLimit(h *header, limit int) uint64 {
	if h.rsv&rsv1 != 0 || (h.op == OpContinuation && c.msgDeflated) {
		return uint64(limit + deflateSlack(limit))
	}
	return uint64(limit)
}

// deflatedFrame handles a frame of a compressed data message: the
// compressed bytes are collected until the final frame, then inflated
// within MaxMessageBytes.
func (c *Conn) deflatedFrame(h *header, payload []byte, now int64) {
	if h.fin && c.msgOp == 0 {
		c.deliverInflated(h.op, payload, false, now)
		return
	}
	if c.msgOp == 0 {
		c.msgOp, c.msgDeflated = h.op, true
	}
	c.msg = append(c.msg, payload...)
	if h.fin {
		msg, op := c.msg, c.msgOp
		c.msg, c.msgOp, c.msgDeflated = nil, 0, false
		c.deliverInflated(op, msg, true, now)
	}
}

// deliverInflated inflates and delivers a compressed message; owned says
// z is the connection's own buffer (not the read buffer).
func (c *Conn) deliverInflated(op Opcode, z []byte, owned bool, now int64) {
	p, err := inflate(z, c.lim.MaxMessageBytes, owned)
	switch {
	case errors.Is(err, errTooBig):
		c.fail(CloseMessageTooBig, "message too big")
		return
	case err != nil:
		c.fail(CloseInvalidPayload, "invalid compressed data")
		return
	case op == OpText && !utf8.Valid(p):
		c.fail(CloseInvalidPayload, "invalid UTF-8 in text message")
		return
	}
	c.deliver(op, p, now)
}
