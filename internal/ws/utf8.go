package ws

import "unicode/utf8"

// utf8Stream validates UTF-8 text that arrives in pieces (fragments, and
// parts of a frame read so far). write fails on the piece that holds the
// first byte that no valid UTF-8 can continue with, whatever follows, so
// that a connection fails as soon as invalid text arrives (RFC 6455
// §8.1). The zero value expects the start of a character.
type utf8Stream struct {
	need   uint8 // continuation bytes still expected by the current character
	lo, hi byte  // the range of the next continuation byte
}

// write validates the next piece. It reports false when the text so far
// cannot be the start of valid UTF-8.
func (s *utf8Stream) write(b []byte) bool {
	// Finish a character begun in an earlier piece.
	for s.need > 0 && len(b) > 0 {
		if !s.cont(b[0]) {
			return false
		}
		b = b[1:]
	}
	// Complete characters go through utf8.Valid (fast on ASCII); a
	// character cut at the end of the piece is checked byte by byte.
	end := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if b[i] < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				end = i
			}
			break
		}
	}
	if !utf8.Valid(b[:end]) {
		return false
	}
	for i, x := range b[end:] {
		if i == 0 {
			if !s.lead(x) {
				return false
			}
		} else if !s.cont(x) {
			return false
		}
	}
	return true
}

// complete reports whether the text ends on a character boundary.
func (s *utf8Stream) complete() bool { return s.need == 0 }

// lead starts a multi-byte character (RFC 3629 §4: no overlong forms, no
// surrogates, nothing past U+10FFFF).
func (s *utf8Stream) lead(x byte) bool {
	s.lo, s.hi = 0x80, 0xBF
	switch {
	case x >= 0xC2 && x <= 0xDF:
		s.need = 1
	case x == 0xE0:
		s.need, s.lo = 2, 0xA0
	case x >= 0xE1 && x <= 0xEC, x == 0xEE, x == 0xEF:
		s.need = 2
	case x == 0xED:
		s.need, s.hi = 2, 0x9F
	case x == 0xF0:
		s.need, s.lo = 3, 0x90
	case x >= 0xF1 && x <= 0xF3:
		s.need = 3
	case x == 0xF4:
		s.need, s.hi = 3, 0x8F
	default:
		return false
	}
	return true
}

func (s *utf8Stream) cont(x byte) bool {
	if x < s.lo || x > s.hi {
		return false
	}
	s.lo, s.hi = 0x80, 0xBF
	s.need--
	return true
}
