package ws

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// Opcode is a WebSocket frame opcode (RFC 6455 §5.2).
type Opcode uint8

// Opcodes defined by RFC 6455.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

func (op Opcode) isControl() bool { return op&0x8 != 0 }

func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "reserved"
}

// maxControlPayload is the largest payload of a control frame (RFC 6455 §5.5).
const maxControlPayload = 125

// Frame is one complete, encoded, unmasked server-to-client frame. A frame
// is immutable once built, so one Frame can be queued on any number of
// connections: a broadcast encodes once and every queue shares the bytes.
type Frame []byte

// NewFrame encodes a final frame with opcode op carrying payload.
func NewFrame(op Opcode, payload []byte) Frame {
	return AppendFrame(make([]byte, 0, headerLen(len(payload))+len(payload)), op, payload)
}

// TextFrame encodes a text message. The caller guarantees payload is valid
// UTF-8 (clients fail the connection on invalid text).
func TextFrame(payload []byte) Frame { return NewFrame(OpText, payload) }

// BinaryFrame encodes a binary message.
func BinaryFrame(payload []byte) Frame { return NewFrame(OpBinary, payload) }

// DataFrame encodes payload as a text frame when it is valid UTF-8 and as a
// binary frame otherwise, so that arbitrary bytes never break a client.
func DataFrame(payload []byte) Frame {
	if utf8.Valid(payload) {
		return TextFrame(payload)
	}
	return BinaryFrame(payload)
}

func headerLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xFFFF:
		return 4
	}
	return 10
}

// AppendFrame appends a final, unmasked frame to dst.
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte {
	n := len(payload)
	b0 := 0x80 | byte(op)
	switch {
	case n <= 125:
		dst = append(dst, b0, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// closeFrame encodes a close frame. Code 0 (or NoStatus) gives an empty
// close frame; the reason is cut to fit the 125-byte control payload on a
// UTF-8 boundary.
func closeFrame(code CloseCode, reason string) Frame {
	if code == 0 || code == CloseNoStatus {
		return NewFrame(OpClose, nil)
	}
	reason = truncateUTF8(reason, maxControlPayload-2)
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	p = append(p, reason...)
	return NewFrame(OpClose, p)
}

func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// header is a parsed client frame header.
type header struct {
	fin    bool
	rsv    byte // RSV1-3 bits, shifted to the low three bits
	op     Opcode
	masked bool
	mask   [4]byte
	length uint64 // payload length
	size   int    // header length in bytes
}

var errShortHeader = errors.New("short header")

// parseHeader parses a frame header at the start of b. It returns
// errShortHeader when b does not yet hold the whole header. It checks only
// what it needs to read the length; protocol rules are the reader's.
func parseHeader(b []byte) (h header, err error) {
	if len(b) < 2 {
		return h, errShortHeader
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = (b[0] >> 4) & 0x7
	h.op = Opcode(b[0] & 0x0F)
	h.masked = b[1]&0x80 != 0
	n := b[1] & 0x7F
	h.size = 2
	switch n {
	case 126:
		h.size = 4
	case 127:
		h.size = 10
	}
	if h.masked {
		h.size += 4
	}
	if len(b) < h.size {
		return h, errShortHeader
	}
	switch n {
	case 126:
		h.length = uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		h.length = binary.BigEndian.Uint64(b[2:10])
	default:
		h.length = uint64(n)
	}
	if h.masked {
		copy(h.mask[:], b[h.size-4:h.size])
	}
	return h, nil
}

// maskBytes XORs b with the 4-byte mask, starting at mask offset pos, and
// returns the next offset. Eight bytes at a time on the hot path.
func maskBytes(mask [4]byte, pos int, b []byte) int {
	if len(b) >= 16 {
		// Rotate the mask so that it lines up with b[0].
		var m [8]byte
		for i := range m {
			m[i] = mask[(pos+i)&3]
		}
		m64 := binary.LittleEndian.Uint64(m[:])
		for len(b) >= 8 {
			v := binary.LittleEndian.Uint64(b)
			binary.LittleEndian.PutUint64(b, v^m64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= mask[pos&3]
		pos++
	}
	return pos & 3
}
