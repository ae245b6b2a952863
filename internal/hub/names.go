package hub

import (
	"unicode"
	"unicode/utf8"
)

// maxUserBytes bounds user ids.
const maxUserBytes = 128

// ValidChannel reports whether name is a usable channel name of at most
// maxBytes bytes: valid UTF-8 with no control characters, spaces or
// commas (docs/protocol.md, "Channel names").
func ValidChannel(name string, maxBytes int) bool {
	if name == "" || len(name) > maxBytes {
		return false
	}
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f || c == ',' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
		i += size
	}
	return true
}

// ValidUser reports whether s can be a user id: 1 to 128 bytes of UTF-8
// with no control characters and no commas.
func ValidUser(s string) bool {
	if s == "" || len(s) > maxUserBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == ',' {
			return false
		}
	}
	return true
}
