package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
)

// WebSocket opcodes (RFC 6455 §5.2) that the fan-out client tells apart.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxServerFrame bounds the frames the fan-out client accepts: a larger
// length is a broken stream, not a publication.
const maxServerFrame = 16 << 20

var (
	errMaskedServerFrame = errors.New("the server sent a masked frame")
	errFrameTooLarge     = errors.New("the server sent a frame larger than 16 MiB")
)

// frame is one parsed server frame; payload aliases the read buffer.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// nextFrame parses the frame at the start of b. It returns the frame and
// its encoded size, or size 0 and need > 0 (the total bytes the frame
// needs, as far as the header tells) when b holds only part of it.
// Server frames are unmasked (RFC 6455 §5.1).
func nextFrame(b []byte) (f frame, size, need int, err error) {
	if len(b) < 2 {
		return f, 0, 2, nil
	}
	if b[1]&0x80 != 0 {
		return f, 0, 0, errMaskedServerFrame
	}
	hdr, n := 2, uint64(b[1]&0x7F)
	switch n {
	case 126:
		hdr = 4
		if len(b) < hdr {
			return f, 0, hdr, nil
		}
		n = uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		hdr = 10
		if len(b) < hdr {
			return f, 0, hdr, nil
		}
		n = binary.BigEndian.Uint64(b[2:10])
	}
	if n > maxServerFrame {
		return f, 0, 0, errFrameTooLarge
	}
	total := hdr + int(n)
	if len(b) < total {
		return f, 0, total, nil
	}
	f = frame{fin: b[0]&0x80 != 0, op: b[0] & 0x0F, payload: b[hdr:total]}
	return f, total, 0, nil
}

// appendClientFrame appends a final, masked client frame (RFC 6455 §5.3)
// carrying payload, with a random masking key.
func appendClientFrame(dst []byte, op byte, payload []byte) []byte {
	return appendMaskedFrame(dst, op, payload, rand.Uint32())
}

func appendMaskedFrame(dst []byte, op byte, payload []byte, key uint32) []byte {
	n := len(payload)
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	binary.BigEndian.PutUint32(mask[:], key)
	dst = append(dst, mask[:]...)
	for i, c := range payload {
		dst = append(dst, c^mask[i&3])
	}
	return dst
}

var (
	dataKey = []byte(`"data":`)
	tKey    = []byte(`"t":`)
	tFirst  = []byte(`{"t":`)
	// A Pusher channel event carries the publication as a JSON string
	// ("data":"{\"t\":…"), so its keys are escaped.
	tKeyEscaped   = []byte(`\"t\":`)
	tFirstEscaped = []byte(`"{\"t\":`)
)

// extractT finds the publication time in a pub message without decoding
// it: the integer after the first `"t":` inside `"data":` (or anywhere,
// for a message without "data": a raw connection receives the payload
// alone). A Pusher channel event's data is a JSON string holding the
// payload, so there the key is `\"t\":`, found the same way. It reports
// false when there is none. The payload the publisher sends is
// {"t":<unix nanos>,"seq":…,"pad":…}, so the key is the first thing after
// `"data":{` (or `"data":"{`) and the search is short.
func extractT(msg []byte) (int64, bool) {
	if i := bytes.Index(msg, dataKey); i >= 0 {
		msg = msg[i+len(dataKey):]
	}
	switch {
	case bytes.HasPrefix(msg, tFirst): // what the publisher sends
		msg = msg[len(tFirst):]
	case bytes.HasPrefix(msg, tFirstEscaped): // the same, in a Pusher event
		msg = msg[len(tFirstEscaped):]
	default:
		if j := bytes.Index(msg, tKey); j >= 0 {
			msg = msg[j+len(tKey):]
		} else if j := bytes.Index(msg, tKeyEscaped); j >= 0 {
			msg = msg[j+len(tKeyEscaped):]
		} else {
			return 0, false
		}
	}
	for len(msg) > 0 && (msg[0] == ' ' || msg[0] == '\t' || msg[0] == '\n' || msg[0] == '\r') {
		msg = msg[1:]
	}
	var v int64
	digits := 0
	for _, c := range msg {
		if c < '0' || c > '9' {
			break
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		digits++
	}
	return v, digits > 0
}
