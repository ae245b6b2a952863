package pusherproto

import (
	"bytes"
	"encoding/json"
)

// This file walks JSON objects that are already known to be valid
// (json.Valid), so that keys are matched exactly (encoding/json matches
// struct fields case-insensitively, which would accept {"EVENT":…}) and
// the values can be kept as the raw bytes that were sent.

// isSpace reports JSON insignificant whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // a number or a literal
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
			i++
		}
		return i
	}
}

// eachMember calls fn with every key (unquoted) and raw value of the valid
// JSON object obj, in order, and refuses an object that repeats a key among
// known: JSON.parse would keep the last, encoding/json too, and a frame
// saying two things at once gets a clear error instead.
func eachMember(obj []byte, what string, known []string, fn func(key string, val []byte) error) error {
	obj = trimSpace(obj)
	var seen uint32 // bit i: known[i] was seen
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] != '}' {
		end := skipString(obj, i)
		key, err := unquote(obj[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(obj, end) + 1 // past ':'
		i = skipSpace(obj, i)
		vend := skipValue(obj, i)
		for k, name := range known {
			if key == name {
				if seen&(1<<k) != 0 {
					return errorf(ErrMalformed, "%s repeats the key %q", what, key)
				}
				seen |= 1 << k
			}
		}
		if err := fn(key, obj[i:vend]); err != nil {
			return err
		}
		i = skipSpace(obj, vend)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return nil
}

// unquote returns the string a valid JSON string token holds.
func unquote(tok []byte) (string, error) {
	if len(tok) < 2 || tok[0] != '"' {
		return "", errorf(ErrMalformed, "not a JSON string")
	}
	if bytes.IndexByte(tok, '\\') < 0 {
		return string(tok[1 : len(tok)-1]), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", errorf(ErrMalformed, "not a JSON string")
	}
	return s, nil
}

// stringField returns the string value of a member, with a clear error
// when the value is something else.
func stringField(what, key string, val []byte) (string, error) {
	if len(val) == 0 || val[0] != '"' {
		return "", errorf(ErrMalformed, "%s: %q must be a string", what, key)
	}
	return unquote(val)
}

// isObject reports whether b, valid JSON, is an object.
func isObject(b []byte) bool {
	b = trimSpace(b)
	return len(b) > 0 && b[0] == '{'
}
