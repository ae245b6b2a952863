package pusherproto

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
)

// A Switchboard connection id is 11 bytes, the 4 of its node's incarnation
// then 7 random, in URL-safe base64 with padding: 16 characters
// (cluster.NewID). Pusher clients and SDKs need socket ids matching
// ^\d+\.\d+$ (reference §0.2, §1.2), so the two map onto each other:
// socket_id = decimal(first 4 bytes as a big-endian uint32) "."
// decimal(last 7 bytes as a big-endian uint56). Both directions are
// canonical (no leading zeros, padding bits zero), so the mapping is a
// bijection and a socket_id names exactly one connection, cluster-wide,
// for as long as its connection id does.

const (
	connIDLen    = 16
	connIDBytes  = 11
	maxHighLen   = 10 // len("4294967295")
	maxLowLen    = 17 // len("72057594037927935"), 2^56-1
	maxLowValue  = 1<<56 - 1
	maxHighValue = 1<<32 - 1
)

var connIDEncoding = base64.URLEncoding.Strict()

// SocketID returns the socket_id of the connection id connID, or an
// ErrSocketID *Error when connID does not have cluster.NewID's shape.
func SocketID(connID string) (string, error) {
	var raw [connIDLen / 4 * 3]byte // Decode needs room for 16 characters without padding
	if len(connID) != connIDLen {
		return "", errorf(ErrSocketID, "connection id %q is not 11 bytes in URL-safe base64", connID)
	}
	n, err := connIDEncoding.Decode(raw[:], []byte(connID))
	if err != nil || n != connIDBytes {
		return "", errorf(ErrSocketID, "connection id %q is not 11 bytes in URL-safe base64", connID)
	}
	// Decode ignores CR and LF: only the canonical text maps back.
	var canon [connIDLen]byte
	connIDEncoding.Encode(canon[:], raw[:connIDBytes])
	if string(canon[:]) != connID {
		return "", errorf(ErrSocketID, "connection id %q is not canonical base64", connID)
	}
	var b [maxHighLen + 1 + maxLowLen]byte
	s := strconv.AppendUint(b[:0], uint64(binary.BigEndian.Uint32(raw[:4])), 10)
	s = append(s, '.')
	var low [8]byte
	copy(low[1:], raw[4:])
	s = strconv.AppendUint(s, binary.BigEndian.Uint64(low[:]), 10)
	return string(s), nil
}

// ConnectionID returns the connection id that socketID names, or an
// ErrSocketID *Error when socketID is not two canonical decimal numbers
// (no sign, no leading zeros, no spaces) joined by "." whose first fits
// 32 bits and whose second fits 56.
func ConnectionID(socketID string) (string, error) {
	dot := -1
	for i := 0; i < len(socketID); i++ {
		if socketID[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return "", errorf(ErrSocketID, "socket_id %q is not two numbers joined by \".\"", socketID)
	}
	high, ok1 := parseDecimal(socketID[:dot], maxHighLen, maxHighValue)
	low, ok2 := parseDecimal(socketID[dot+1:], maxLowLen, maxLowValue)
	if !ok1 || !ok2 {
		return "", errorf(ErrSocketID, "socket_id %q is not a socket id of this server", socketID)
	}
	var raw [connIDBytes]byte
	binary.BigEndian.PutUint32(raw[:4], uint32(high))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], low)
	copy(raw[4:], b[1:]) // low < 2^56: b[0] is 0
	var out [connIDLen]byte
	connIDEncoding.Encode(out[:], raw[:])
	return string(out[:]), nil
}

// parseDecimal parses s as a canonical unsigned decimal of at most maxLen
// digits and at most max.
func parseDecimal(s string, maxLen int, max uint64) (uint64, bool) {
	if s == "" || len(s) > maxLen || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0') // at most 17 digits: no overflow
	}
	return v, v <= max
}

// ValidSocketID reports whether s has the shape ^\d+\.\d+$ the SDKs check
// (reference §0.2). A valid socket_id need not name a connection of this
// server: ConnectionID says whether it does.
func ValidSocketID(s string) bool {
	dot := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && dot < 0:
			dot = i
		case c < '0' || c > '9':
			return false
		}
	}
	return dot > 0 && dot < len(s)-1
}
