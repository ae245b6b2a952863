// Package jsonenc appends JSON strings the way encoding/json writes them
// with SetEscapeHTML(false), without reflection or allocation: the events
// sent to integrations and the payloads of built-in actions are built with
// it on the hot path.
//
// Escaping: '"', '\\', \b \f \n \r \t, other control characters as
// \u00XX, U+2028 and U+2029 as \u2028 and \u2029, and every byte that is
// not part of valid UTF-8 as \ufffd — so the output is always valid JSON
// and valid UTF-8.
//
// The package has no state; every function is safe for concurrent use.
package jsonenc

import "unicode/utf8"

const hex = "0123456789abcdef"

// safe[b] is true for the ASCII bytes that appear unescaped in a string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends s as a quoted JSON string.
func AppendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s)
	return append(dst, '"')
}

// AppendEscaped appends the escaped contents of s, without quotes (for
// building one string out of several pieces).
func AppendEscaped[T string | []byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		// Converting at most utf8.UTFMax bytes to a string does not
		// allocate; it lets one loop serve both []byte and string.
		n := min(len(s)-i, utf8.UTFMax)
		r, size := utf8.DecodeRuneInString(string(s[i : i+n]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// NeedsEscape reports whether AppendEscaped might change s: s holds a
// byte that needs escaping or any non-ASCII byte. When it is false,
// AppendEscaped appends s unchanged.
func NeedsEscape[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || !safe[s[i]] {
			return true
		}
	}
	return false
}
