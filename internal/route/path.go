package route

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Path is a compiled JSON path into a message body: the part of a
// $request.body variable after "request.body". The zero Path selects the
// whole body. A Path is immutable and safe for concurrent use.
type Path struct {
	segs []segment
}

// segment is one step of a Path: an object member (index < 0) or an array
// element.
type segment struct {
	key   string // member name, decoded and valid UTF-8; used when index < 0
	index int    // array index, or -1 for a member
}

// maxIndex bounds [index] segments so that parsing never overflows; no
// message that fits the gateway's size limits has more elements.
const maxIndex = 1<<31 - 1

// ParsePath parses the text after "$request.body": "" (the whole body),
// ".a.b", ".items[0]", "['odd.key']" or `["x"]`, in any sequence. A .name
// segment is one or more letters, digits, '_' or '-'; any other key is
// written quoted in brackets, where \\, \' and \" are the only escapes.
// Wildcards, slices, filters and recursive descent are not supported.
func ParsePath(s string) (Path, error) {
	segs, end, err := scanPath(s, 0, false)
	if err != nil {
		return Path{}, err
	}
	if end < len(s) {
		return Path{}, &SyntaxError{Input: s, Offset: end, Msg: fmt.Sprintf(
			"unexpected %s; a path is a sequence of .name, [index] and ['key'] segments", describe(s, end))}
	}
	return Path{segs: segs}, nil
}

// String returns p in canonical form: .name for keys that are valid
// names, ['key'] for other keys, [n] for indexes. ParsePath(p.String())
// equals p.
func (p Path) String() string {
	var b strings.Builder
	for _, s := range p.segs {
		switch {
		case s.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case isName(s.key):
			b.WriteByte('.')
			b.WriteString(s.key)
		default:
			b.WriteString("['")
			for i := 0; i < len(s.key); i++ {
				if c := s.key[i]; c == '\'' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(s.key[i])
			}
			b.WriteString("']")
		}
	}
	return b.String()
}

// scanPath reads path segments from s starting at i and returns them with
// the offset of the first byte that cannot continue the path. With root
// set, the first segment is a bare name (the "request" of
// "request.body.x"). Errors carry offsets into s.
func scanPath(s string, i int, root bool) ([]segment, int, error) {
	var segs []segment
	if root {
		n := nameLen(s, i)
		if n == 0 {
			return nil, i, &SyntaxError{Input: s, Offset: i, Msg: "expected a variable name"}
		}
		segs = append(segs, segment{key: s[i : i+n], index: -1})
		i += n
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			n := nameLen(s, i+1)
			if n == 0 {
				return nil, i, &SyntaxError{Input: s, Offset: i, Msg: emptySegment(s, i+1)}
			}
			segs = append(segs, segment{key: s[i+1 : i+1+n], index: -1})
			i += 1 + n
		case '[':
			seg, end, err := scanBracket(s, i)
			if err != nil {
				return nil, i, err
			}
			segs = append(segs, seg)
			i = end
		default:
			return segs, i, nil
		}
	}
	return segs, i, nil
}

// emptySegment explains a '.' that is not followed by a name; j is the
// offset just after the dot.
func emptySegment(s string, j int) string {
	const fix = "; to put a '.' right after a variable, wrap the variable in ${...}"
	switch {
	case j >= len(s):
		return "empty path segment: the path ends with '.'; remove the dot or name a key after it" + fix
	case s[j] == '}':
		return "empty path segment: the path ends with '.'; remove the dot or name a key after it"
	case s[j] == '.':
		return "empty path segment: two dots in a row; name a key between them (recursive descent '..' is not supported)"
	case s[j] == '*':
		return "wildcards are not supported; select one key or index"
	case s[j] == '[':
		return "'.' before '['; write .items[0] or ['key'] without a dot before the bracket"
	default:
		return fmt.Sprintf("empty path segment: %s cannot start a key name (letters, digits, '_' and '-'); write ['...'] for other keys",
			describe(s, j)) + fix
	}
}

// scanBracket reads one [index], ['key'] or ["key"] segment at s[i] == '['
// and returns it with the offset just after its ']'.
func scanBracket(s string, i int) (segment, int, error) {
	open := i
	i++
	fail := func(at int, msg string) (segment, int, error) {
		return segment{}, at, &SyntaxError{Input: s, Offset: at, Msg: msg}
	}
	if i >= len(s) {
		return fail(open, "unterminated '['; write [0] or ['key']")
	}
	switch c := s[i]; {
	case c >= '0' && c <= '9':
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n = n*10 + int(s[i]-'0')
			if n > maxIndex {
				return fail(open+1, fmt.Sprintf("array index too large (the maximum is %d)", maxIndex))
			}
		}
		if i >= len(s) || s[i] != ']' {
			return fail(i, fmt.Sprintf("expected ']' after the index, found %s", describe(s, i)))
		}
		return segment{index: n}, i + 1, nil
	case c == '\'' || c == '"':
		quote := c
		var key []byte
		for i++; ; i++ {
			if i >= len(s) {
				return fail(open, fmt.Sprintf("unterminated quoted key; close it with %c]", quote))
			}
			c := s[i]
			if c == quote {
				break
			}
			if c == '\\' {
				if i+1 >= len(s) || (s[i+1] != '\\' && s[i+1] != '\'' && s[i+1] != '"') {
					return fail(i, `unknown escape in quoted key; only \\, \' and \" are allowed`)
				}
				i++
				c = s[i]
			}
			key = append(key, c)
		}
		i++ // the closing quote
		if i >= len(s) || s[i] != ']' {
			return fail(i, fmt.Sprintf("expected ']' after the quoted key, found %s", describe(s, i)))
		}
		return segment{key: validUTF8(key), index: -1}, i + 1, nil
	case c == '-':
		return fail(i, "negative array indexes are not supported; count from the start: [0] is the first element")
	case c == '*':
		return fail(i, "wildcards are not supported; select one key or index")
	default:
		return fail(i, fmt.Sprintf("expected an index like [0] or a quoted key like ['key'], found %s", describe(s, i)))
	}
}

// validUTF8 returns b as a string in which each byte that is not part of
// valid UTF-8 is replaced by U+FFFD, the way encoding/json decodes keys, so
// that such keys compare equal in Lookup.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		out = utf8.AppendRune(out, r)
		b = b[n:]
	}
	return string(out)
}

// nameLen returns the length of the name (letters, digits, '_', '-')
// starting at s[i], 0 when there is none.
func nameLen(s string, i int) int {
	j := i
	for j < len(s) {
		c := s[j]
		if c < utf8.RuneSelf {
			if !nameByte[c] {
				break
			}
			j++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[j:])
		if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			break
		}
		j += n
	}
	return j - i
}

// isName reports whether all of s can be written as a .name segment.
func isName(s string) bool { return s != "" && nameLen(s, 0) == len(s) }

// nameByte marks the ASCII bytes of a .name segment.
var nameByte = func() (t [utf8.RuneSelf]bool) {
	for c := 0; c < utf8.RuneSelf; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	return t
}()

// describe names the character at s[i] for an error message.
func describe(s string, i int) string {
	if i >= len(s) {
		return "end of text"
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return strconv.QuoteRune(r)
}
