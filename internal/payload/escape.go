package payload

import (
	"unicode/utf8"
)

// appendRaw appends a raw JSON value taken from a valid JSON body. JSON
// syntax confines invalid UTF-8 to the inside of strings, where each bad
// byte is replaced by \ufffd.
func appendRaw(dst, raw []byte) []byte {
	if utf8.Valid(raw) {
		return append(dst, raw...)
	}
	start := 0
	for i := 0; i < len(raw); {
		if raw[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, raw[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + 1
		}
		i += size
	}
	return append(dst, raw[start:]...)
}
