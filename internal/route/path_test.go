package route

import (
	"reflect"
	"testing"
)

func TestParsePath(t *testing.T) {
	key := func(k string) segment { return segment{key: k, index: -1} }
	idx := func(i int) segment { return segment{index: i} }
	tests := []struct {
		in        string
		want      []segment
		canonical string
	}{
		{"", nil, ""},
		{".a", []segment{key("a")}, ".a"},
		{".a.b", []segment{key("a"), key("b")}, ".a.b"},
		{".items[0]", []segment{key("items"), idx(0)}, ".items[0]"},
		{"[3][007]", []segment{idx(3), idx(7)}, "[3][7]"},
		{"['odd.key']", []segment{key("odd.key")}, "['odd.key']"},
		{`["x"]`, []segment{key("x")}, ".x"},
		{`['']`, []segment{key("")}, "['']"},
		{`['it\'s']`, []segment{key("it's")}, `['it\'s']`},
		{`["a\"b\\c"]`, []segment{key(`a"b\c`)}, `['a"b\\c']`},
		{`['a"b']`, []segment{key(`a"b`)}, `['a"b']`},
		{".a_b-c9", []segment{key("a_b-c9")}, ".a_b-c9"},
		{".ключ", []segment{key("ключ")}, ".ключ"},
		{"['\xff']", []segment{key("\uFFFD")}, "['\uFFFD']"},
	}
	for _, tt := range tests {
		p, err := ParsePath(tt.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(p.segs, tt.want) {
			t.Errorf("ParsePath(%q) = %#v, want %#v", tt.in, p.segs, tt.want)
		}
		if got := p.String(); got != tt.canonical {
			t.Errorf("ParsePath(%q).String() = %q, want %q", tt.in, got, tt.canonical)
		}
		again, err := ParsePath(p.String())
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Errorf("ParsePath(%q) = %v, %v; want %#v", p.String(), again, err, p)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
	}{
		{"a", 0},        // must start with . or [
		{".a b", 2},     // trailing text
		{"..a", 0},      // empty segment
		{".", 0},        // ends with a dot
		{"[", 0},        // unterminated
		{"[0", 2},       // missing ]
		{"['a']x", 5},   // trailing text
		{"[?(@.a)]", 1}, // filters
		{"[1:2]", 2},    // slices
	}
	for _, tt := range tests {
		_, err := ParsePath(tt.in)
		se, ok := err.(*SyntaxError)
		if !ok || se.Offset != tt.offset {
			t.Errorf("ParsePath(%q) = %v, want a *SyntaxError at offset %d", tt.in, err, tt.offset)
		}
	}
}
