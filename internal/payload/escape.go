package payload

import (
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safe marks the ASCII bytes that appear unescaped inside a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendQuoted appends s as a JSON string (see appendEscaped). decode is
// utf8.DecodeRuneInString or utf8.DecodeRune, matching T.
func appendQuoted[T string | []byte](dst []byte, s T, decode func(T) (rune, int)) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s, decode)
	return append(dst, '"')
}

// appendEscaped appends the contents of a JSON string holding s, escaped
// as encoding/json does (without its HTML escaping): '"', '\\' and control
// characters are escaped, U+2028 and U+2029 become \u2028 and \u2029, and
// each byte of invalid UTF-8 becomes \ufffd, so the result is always valid
// JSON and valid UTF-8.
func appendEscaped[T string | []byte](dst []byte, s T, decode func(T) (rune, int)) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decode(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// needsEscape reports whether appendEscaped would change b.
func needsEscape(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf || !safe[c] {
			return true
		}
	}
	return false
}

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
