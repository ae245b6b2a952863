package route

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Lookup returns the raw JSON bytes of the value at p inside doc, without
// surrounding whitespace, and whether it exists. The result aliases doc.
//
// doc must be valid JSON (callers check json.Valid first): Lookup scans the
// raw bytes, skipping the values it does not need, and neither decodes nor
// allocates. On invalid input it returns a meaningless result but never
// panics or loops.
//
// Keys are compared after decoding escapes, so the path key "A" finds
// "\u0041"; bytes of invalid UTF-8 and unpaired surrogate escapes in keys
// compare as U+FFFD, as encoding/json decodes them. When an object holds a
// key more than once, the last one wins, as with encoding/json and
// JavaScript's JSON.parse. An index past the end of an array, a key on a
// non-object and an index on a non-array are not found.
func Lookup(doc []byte, p Path) (raw []byte, found bool) {
	start := skipSpace(doc, 0)
	end := -1 // not yet known
	for _, s := range p.segs {
		var ok bool
		if s.index < 0 {
			start, end, ok = member(doc, start, s.key)
		} else {
			start, end, ok = element(doc, start, s.index)
		}
		if !ok {
			return nil, false
		}
	}
	if end < 0 {
		var ok bool
		if end, ok = skipValue(doc, start); !ok {
			return nil, false
		}
	}
	return doc[start:end:end], true
}

// member finds the last member named key of the object at doc[i] and
// returns the bounds of its value.
func member(doc []byte, i int, key string) (start, end int, ok bool) {
	if i >= len(doc) || doc[i] != '{' {
		return 0, 0, false
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return 0, 0, false
	}
	for i < len(doc) && doc[i] == '"' {
		kend, kok := skipString(doc, i)
		if !kok {
			return 0, 0, false
		}
		match := keyEqual(doc[i+1:kend-1], key)
		i = skipSpace(doc, kend)
		if i >= len(doc) || doc[i] != ':' {
			return 0, 0, false
		}
		vstart := skipSpace(doc, i+1)
		vend, vok := skipValue(doc, vstart)
		if !vok {
			return 0, 0, false
		}
		if match {
			start, end, ok = vstart, vend, true
		}
		i = skipSpace(doc, vend)
		if i >= len(doc) {
			break
		}
		switch doc[i] {
		case '}':
			return start, end, ok
		case ',':
			i = skipSpace(doc, i+1)
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// element finds element n of the array at doc[i] and returns its bounds.
func element(doc []byte, i int, n int) (start, end int, ok bool) {
	if i >= len(doc) || doc[i] != '[' {
		return 0, 0, false
	}
	i = skipSpace(doc, i+1)
	for k := 0; i < len(doc) && doc[i] != ']'; k++ {
		vend, vok := skipValue(doc, i)
		if !vok {
			return 0, 0, false
		}
		if k == n {
			return i, vend, true
		}
		i = skipSpace(doc, vend)
		if i >= len(doc) || doc[i] != ',' {
			return 0, 0, false
		}
		i = skipSpace(doc, i+1)
	}
	return 0, 0, false
}

// skipValue returns the offset just after the value that starts at doc[i].
func skipValue(doc []byte, i int) (int, bool) {
	if i >= len(doc) {
		return i, false
	}
	switch doc[i] {
	case '"':
		return skipString(doc, i)
	case '{', '[':
		return skipContainer(doc, i)
	}
	j := i
	for j < len(doc) && !delim[doc[j]] {
		j++
	}
	return j, j > i
}

// skipString returns the offset just after the string whose opening quote
// is doc[i].
func skipString(doc []byte, i int) (int, bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(doc[j:], '"')
		if k < 0 {
			return len(doc), false
		}
		q := j + k
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for p := q - 1; p > i && doc[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
}

// skipContainer returns the offset just after the object or array that
// starts at doc[i].
func skipContainer(doc []byte, i int) (int, bool) {
	depth := 0
	for j := i; j < len(doc); j++ {
		switch doc[j] {
		case '"':
			end, ok := skipString(doc, j)
			if !ok {
				return len(doc), false
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return len(doc), false
}

// skipSpace returns the offset of the first non-whitespace byte at or
// after doc[i].
func skipSpace(doc []byte, i int) int {
	for i < len(doc) && space[doc[i]] {
		i++
	}
	return i
}

var (
	// space marks JSON whitespace.
	space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}
	// delim marks the bytes that end a number or a literal.
	delim = [256]bool{' ': true, '\t': true, '\n': true, '\r': true,
		',': true, ':': true, '"': true, '{': true, '}': true, '[': true, ']': true}
)

// keyEqual reports whether the raw contents of a JSON string (between its
// quotes) decode to key.
func keyEqual(content []byte, key string) bool {
	j := 0
	for i := 0; i < len(content); {
		c := content[i]
		if c != '\\' && c < utf8.RuneSelf {
			if j >= len(key) || key[j] != c {
				return false
			}
			i++
			j++
			continue
		}
		var r rune
		r, i = decodeRune(content, i)
		var buf [utf8.UTFMax]byte
		n := utf8.EncodeRune(buf[:], r)
		if len(key)-j < n || key[j:j+n] != string(buf[:n]) {
			return false
		}
		j += n
	}
	return j == len(key)
}

// decodeRune decodes the character at s[i] of the raw contents of a JSON
// string, one escape sequence or one UTF-8 sequence, and returns it with
// the offset of the next one. It follows encoding/json: invalid UTF-8
// bytes and unpaired surrogates decode to U+FFFD. It always advances.
func decodeRune(s []byte, i int) (rune, int) {
	c := s[i]
	if c != '\\' {
		if c < utf8.RuneSelf {
			return rune(c), i + 1
		}
		r, n := utf8.DecodeRune(s[i:])
		return r, i + n
	}
	if i+1 >= len(s) {
		return utf8.RuneError, len(s)
	}
	switch s[i+1] {
	case '"', '\\', '/':
		return rune(s[i+1]), i + 2
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(s[i:])
		if r < 0 {
			return utf8.RuneError, i + 2
		}
		i += 6
		if utf16.IsSurrogate(r) {
			if dec := utf16.DecodeRune(r, hex4(s[i:])); dec != unicode.ReplacementChar {
				return dec, i + 6
			}
			return utf8.RuneError, i
		}
		return r, i
	}
	return utf8.RuneError, i + 2
}

// hex4 decodes the \uXXXX escape at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
