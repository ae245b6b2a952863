package route

import (
	"bytes"
	"unicode/utf8"
)

// Stringify renders a raw JSON value the way AWS turns a selected value
// into a route key:
//
//   - a string: its contents, escapes decoded (invalid UTF-8 and unpaired
//     surrogates become U+FFFD);
//   - a number: as written ("1.50" stays "1.50", "1e3" stays "1e3");
//   - true, false: "true", "false";
//   - null: "" (like a missing path);
//   - an array: "[item1, item2]", as Java's List.toString;
//   - an object: "{a=1, b=x}", as Java's Map.toString, in document order
//     (a key that appears twice is printed twice).
//
// Inside arrays and objects, elements are rendered by the same rules
// except null, which is "null" as in Java; whitespace between tokens is
// dropped. raw should be one valid JSON value, as returned by Lookup; on
// anything else Stringify returns some text without panicking.
func Stringify(raw []byte) string {
	i := skipSpace(raw, 0)
	if i < len(raw) && raw[i] == '"' {
		end, ok := skipString(raw, i)
		if ok && bytes.IndexByte(raw[i+1:end-1], '\\') < 0 && utf8.Valid(raw[i+1:end-1]) {
			return string(raw[i+1 : end-1]) // the common case: one allocation
		}
	}
	return string(AppendStringify(nil, raw))
}

// AppendStringify appends Stringify(raw) to dst.
func AppendStringify(dst, raw []byte) []byte {
	raw = bytes.TrimRight(raw[skipSpace(raw, 0):], " \t\r\n")
	if len(raw) == 0 || string(raw) == "null" {
		return dst
	}
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case '"':
			end, ok := skipString(raw, i)
			if !ok {
				end = len(raw) + 1 // unterminated: take the rest
			}
			dst = appendUnquoted(dst, raw[i+1:end-1])
			i = min(end, len(raw))
		case ',':
			dst = append(dst, ',', ' ')
			i++
		case ':':
			dst = append(dst, '=')
			i++
		case '{', '}', '[', ']':
			dst = append(dst, c)
			i++
		case ' ', '\t', '\r', '\n':
			i++
		default: // a number or a literal, as written
			j := i + 1
			for j < len(raw) && !delim[raw[j]] {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
		}
	}
	return dst
}

// appendUnquoted appends the decoded contents of a JSON string.
func appendUnquoted(dst, content []byte) []byte {
	for i := 0; i < len(content); {
		start := i
		for i < len(content) && content[i] != '\\' && content[i] < utf8.RuneSelf {
			i++
		}
		dst = append(dst, content[start:i]...)
		if i < len(content) {
			var r rune
			r, i = decodeRune(content, i)
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}
