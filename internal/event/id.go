package event

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// idBytes is the entropy of one id: 11 bytes encode to 15 URL-safe base64
// characters plus one '=' of padding, the 16-character shape of every
// connectionId, requestId and messageId captured from AWS (R1kmxc2VNjMCFIA=).
const (
	idBytes = 11
	idLen   = 16
)

// NewID returns a fresh AWS-like id: 11 bytes from crypto/rand, URL-safe
// base64 with padding, so 16 characters of which the last is '=' (for
// example "R1kmxc2VNjMCFIA="). It is used for connectionId,
// requestId/extendedRequestId and messageId. Safe for concurrent use.
func NewID() string {
	var raw [idBytes]byte
	// crypto/rand.Read never returns an error (it crashes the program if
	// the kernel cannot supply randomness).
	_, _ = rand.Read(raw[:])
	var out [idLen]byte
	base64.URLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// ValidID reports whether s has the shape NewID produces: 16 characters,
// 15 from A-Z a-z 0-9 '-' '_' followed by '='. It checks the shape only;
// whether such a connection exists is the caller's question.
func ValidID(s string) bool {
	if len(s) != idLen || s[idLen-1] != '=' {
		return false
	}
	for i := 0; i < idLen-1; i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// requestTimeLayout is AWS's requestTime without the zone, which is always
// UTC and appended as the literal " +0000".
const requestTimeLayout = "02/Jan/2006:15:04:05"

// FormatRequestTime formats t in UTC the way AWS writes requestTime:
// "11/Nov/2024:11:35:24 +0000" (seconds precision, English month names).
func FormatRequestTime(t time.Time) string {
	var buf [32]byte
	return string(appendRequestTime(buf[:0], t))
}

func appendRequestTime(dst []byte, t time.Time) []byte {
	dst = t.UTC().AppendFormat(dst, requestTimeLayout)
	return append(dst, " +0000"...)
}
