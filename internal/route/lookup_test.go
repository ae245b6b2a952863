package route

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		doc, path string
		want      string
		found     bool
	}{
		{`{"a":1}`, "", `{"a":1}`, true},
		{"  \n[1, 2]\t", "", `[1, 2]`, true},
		{` "s" `, "", `"s"`, true},
		{`{"a":1}`, ".a", `1`, true},
		{`{"a": {"b" : [true, null, {"c":"d"}]}}`, ".a.b[2].c", `"d"`, true},
		{`{"a": {"b" : [true, null, {"c":"d"}]}}`, ".a.b[1]", `null`, true},
		{`{"a": {"b" : [true, null, {"c":"d"}]}}`, ".a.b", `[true, null, {"c":"d"}]`, true},
		{`{"a":1}`, ".b", ``, false},
		{`{}`, ".a", ``, false},
		{`[]`, "[0]", ``, false},
		{`[1]`, "[1]", ``, false},
		{`{"a":"x"}`, ".a.b", ``, false},
		{`{"a":"x"}`, ".a[0]", ``, false},
		{`{"a":1,"a":2}`, ".a", `2`, true},
		{`{"a":1,"b":{"a":3},"a":2}`, ".a", `2`, true},
		{`{"k\"ey":1}`, `['k"ey']`, `1`, true},
		{`{"k\\":1}`, `['k\\']`, `1`, true},
		{`{"\u00e9":1}`, ".é", `1`, true},
		{`{"\ud83d\ude00":1}`, "['😀']", `1`, true},
		{`{"\ud83d":1}`, "['\uFFFD']", `1`, true},
		{"{\"\xff\":1}", "['\uFFFD']", `1`, true},
		{`{"a\/b":1}`, "['a/b']", `1`, true},
		{`{"ab":1}`, ".a", ``, false},
		{`{"a":1}`, ".ab", ``, false},
		{`{"a":"\\"}`, ".a", `"\\"`, true},
		{`{"x":"\\\"","a":2}`, ".a", `2`, true},
		{`{"x":-0.5e+10,"a":2}`, ".x", `-0.5e+10`, true},
	}
	for _, tt := range tests {
		p, err := ParsePath(tt.path)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tt.path, err)
		}
		got, found := Lookup([]byte(tt.doc), p)
		if string(got) != tt.want || found != tt.found {
			t.Errorf("Lookup(%q, %q) = %q, %v; want %q, %v", tt.doc, tt.path, got, found, tt.want, tt.found)
		}
	}
}

// TestLookupInvalid feeds malformed documents: any result is acceptable,
// but Lookup must return.
func TestLookupInvalid(t *testing.T) {
	docs := []string{"", "{", "[", `{"a"`, `{"a":`, `{"a":1,`, `{"a":1 "b":2}`, `["a"`, `[1,`, `[1 2]`,
		`{"a":"`, `"\`, `{"a":]`, `}`, `]`, `,`, `{,}`, `[,]`, `{"a":1}}`, `{1:2}`, "\x00"}
	paths := []string{"", ".a", ".a.b", "[0]", "[1]", ".a[0]"}
	for _, d := range docs {
		for _, ps := range paths {
			p, _ := ParsePath(ps)
			Lookup([]byte(d), p)
		}
		Stringify([]byte(d))
	}
}

func TestLookupAllocs(t *testing.T) {
	doc := []byte(`{"a":{"b":[1,{"c":"\u0041"}]},"x":"y"}`)
	p, err := ParsePath(".a.b[1].c")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { Lookup(doc, p) }); n != 0 {
		t.Errorf("Lookup allocates %v times, want 0", n)
	}
}

func TestStringify(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`"plain"`, "plain"},
		{`""`, ""},
		{`"tab\there"`, "tab\there"},
		{`"\u00e9\u0041"`, "éA"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\udc00"`, "\uFFFD"},
		{"\"\xff\"", "\uFFFD"},
		{`"\b\f\n\r\/"`, "\b\f\n\r/"},
		{`0`, "0"},
		{`-12.50e+3`, "-12.50e+3"},
		{`true`, "true"},
		{`false`, "false"},
		{`null`, ""},
		{` null `, ""},
		{`[]`, "[]"},
		{`{}`, "{}"},
		{`["item1", "item2"]`, "[item1, item2]"},
		{`[ 1 , [ 2 , 3 ] , null ]`, "[1, [2, 3], null]"},
		{`{"a":1,"b":"x"}`, "{a=1, b=x}"},
		{`{ "b" : 1 , "a" : { "c" : [ "d" ] } }`, "{b=1, a={c=[d]}}"},
		{`{"a":1,"a":2}`, "{a=1, a=2}"},
		{`["a,b", "c:d", "[e]"]`, "[a,b, c:d, [e]]"},
		{`{"\u0041":"\"q\""}`, `{A="q"}`},
		{"\t\"ws\"\n", "ws"},
	}
	for _, tt := range tests {
		if got := Stringify([]byte(tt.raw)); got != tt.want {
			t.Errorf("Stringify(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if got := string(AppendStringify([]byte("pre:"), []byte(tt.raw))); got != "pre:"+tt.want {
			t.Errorf("AppendStringify(pre:, %q) = %q, want %q", tt.raw, got, "pre:"+tt.want)
		}
	}
}

func TestLookupDeep(t *testing.T) {
	const depth = 100000
	doc := []byte(`{"x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,"k":1}`)
	p, _ := ParsePath(".k")
	if raw, found := Lookup(doc, p); string(raw) != "1" || !found {
		t.Errorf("Lookup = %q, %v; want 1, true", raw, found)
	}
	p, _ = ParsePath(".x")
	raw, _ := Lookup(doc, p)
	if got := Stringify(raw); got != string(raw) {
		t.Errorf("Stringify of nested empty arrays changed them")
	}
}
