package protocol

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small strict JSON scanner over the raw bytes of a
// frame. It accepts exactly what json.Valid accepts (including its limit of
// maxDepth nested arrays and objects), and in addition requires valid
// UTF-8 inside strings. It neither allocates nor recurses, so no input
// can exhaust the stack.

// maxDepth is how deeply arrays and objects may nest, counting the
// message object itself: encoding/json's limit, so that every "data"
// value Decode accepts is also json.Valid.
const maxDepth = 10000

// strSafe[b] is true for the bytes that may appear in a JSON string as
// they are and need no further checks: printable ASCII but '"' and '\\'.
var strSafe = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// syntaxError returns the error for a frame that is not valid JSON.
func syntaxError(off int, what string) *Error {
	return badRequest("invalid JSON at offset " + strconv.Itoa(off) + ": " + what)
}

// skipSpace returns the offset of the first byte at or after i that is
// not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// trimSpace returns b without leading and trailing JSON whitespace.
func trimSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i {
		switch b[j-1] {
		case ' ', '\t', '\n', '\r':
			j--
			continue
		}
		break
	}
	return b[i:j]
}

// unexpected returns the syntax error for the byte at b[i], or for the
// end of input when i is past it.
func unexpected(b []byte, i int, want string) *Error {
	if i >= len(b) {
		return syntaxError(len(b), "unexpected end of input, want "+want)
	}
	c := b[i]
	var q string
	if c >= 0x20 && c < utf8.RuneSelf {
		q = strconv.QuoteRune(rune(c))
	} else {
		q = "byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
	return syntaxError(i, "unexpected "+q+", want "+want)
}

// scanString checks the string whose opening quote is b[i] and returns the
// offset just after its closing quote and whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped bool, err *Error) {
	j := i + 1
	for {
		for j < len(b) && strSafe[b[j]] {
			j++
		}
		if j >= len(b) {
			return 0, false, syntaxError(len(b), "unterminated string")
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return 0, false, syntaxError(len(b), "unterminated string")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if _, ok := hex4(b, j+2); !ok {
					return 0, false, syntaxError(j, `invalid \u escape, want 4 hex digits`)
				}
				j += 6
			default:
				return 0, false, syntaxError(j, "invalid escape in string")
			}
		case c < 0x20:
			return 0, false, syntaxError(j, "control character in string (escape it)")
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, badRequest("invalid UTF-8 at offset " + strconv.Itoa(j))
			}
			j += size
		}
	}
}

// hex4 decodes the 4 hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape appends the decoded contents of a string checked by scanString
// (s is what lies between the quotes) to dst. Surrogate escapes that do
// not form a pair become U+FFFD, as with encoding/json.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return dst // not reached for checked strings
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return dst // not reached for checked strings
			}
			i += 6
			if utf16.IsSurrogate(r) {
				d := utf8.RuneError
				if r2, ok := hex4(s, i+2); ok && s[i] == '\\' && s[i+1] == 'u' {
					if d = utf16.DecodeRune(r, r2); d != utf8.RuneError {
						i += 6
					}
				}
				r = d
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// scanNumber checks the number that starts at b[i] and returns the offset
// just after it.
func scanNumber(b []byte, i int) (int, *Error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		j = digits(b, j+1)
	default:
		return 0, unexpected(b, j, "a digit")
	}
	if j < len(b) && b[j] == '.' {
		k := digits(b, j+1)
		if k == j+1 {
			return 0, unexpected(b, k, "a digit after '.'")
		}
		j = k
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := digits(b, j)
		if k == j {
			return 0, unexpected(b, k, "a digit in the exponent")
		}
		j = k
	}
	return j, nil
}

// digits returns the offset of the first non-digit at or after i.
func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// scanLiteral checks that lit (true, false or null) is at b[i].
func scanLiteral(b []byte, i int, lit string) (int, *Error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return 0, unexpected(b, i+k, "the literal "+lit)
		}
	}
	return i + len(lit), nil
}

// scanKey checks the object key at b[i] and the colon after it, and
// returns the key's bounds (with quotes), whether it holds escapes and the
// offset of the member's value.
func scanKey(b []byte, i int) (kend int, escaped bool, value int, err *Error) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, 0, unexpected(b, i, "a string key")
	}
	kend, escaped, err = scanString(b, i)
	if err != nil {
		return 0, false, 0, err
	}
	j := skipSpace(b, kend)
	if j >= len(b) || b[j] != ':' {
		return 0, false, 0, unexpected(b, j, "':' after the key")
	}
	return kend, escaped, skipSpace(b, j+1), nil
}

// scanValue checks the JSON value that starts at b[i] (not at whitespace)
// and returns the offset just after it. depth is how many arrays and
// objects enclose the value.
func scanValue(b []byte, i, depth int) (int, *Error) {
	// stack holds the closing bracket of each open array or object.
	var buf [32]byte
	stack := buf[:0]
	var err *Error
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return 0, unexpected(b, i, "a value")
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth+len(stack)+1 > maxDepth {
				return 0, syntaxError(i, "arrays and objects nested more than "+strconv.Itoa(maxDepth)+" deep")
			}
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == closer {
				i++
				break // an empty array or object
			}
			stack = append(stack, closer)
			if closer == '}' {
				if _, _, i, err = scanKey(b, i); err != nil {
					return 0, err
				}
			}
			continue
		case '"':
			if i, _, err = scanString(b, i); err != nil {
				return 0, err
			}
		case 't':
			if i, err = scanLiteral(b, i, "true"); err != nil {
				return 0, err
			}
		case 'f':
			if i, err = scanLiteral(b, i, "false"); err != nil {
				return 0, err
			}
		case 'n':
			if i, err = scanLiteral(b, i, "null"); err != nil {
				return 0, err
			}
		default:
			if c != '-' && (c < '0' || c > '9') {
				return 0, unexpected(b, i, "a value")
			}
			if i, err = scanNumber(b, i); err != nil {
				return 0, err
			}
		}
		// A value ended at b[i]: close containers until one goes on.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			closer := stack[len(stack)-1]
			i = skipSpace(b, i)
			if i < len(b) && b[i] == closer {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if i >= len(b) || b[i] != ',' {
				return 0, unexpected(b, i, "',' or '"+string(closer)+"'")
			}
			i = skipSpace(b, i+1)
			if closer == '}' {
				if _, _, i, err = scanKey(b, i); err != nil {
					return 0, err
				}
			}
			break
		}
	}
}
