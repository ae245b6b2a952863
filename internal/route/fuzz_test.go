package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzBodies = []string{
	`{"action":"sendMessage","message":"hello world"}`,
	`{"service":{"do":"x"},"items":[1,"two",null,true,{"a":[]}]}`,
	`{"a":1,"a":{"b":2},"\u0061":"esc","a.b":"dot"}`,
	`{"e":"\ud83d\ude00\ud800x\u0041\"\\\/","k\"q":"v"}`,
	" \r\n\t{ \"a\" :\n [ 1 ,\t\"two\" ] } \n",
	`["a",["b"],{"c":"d"}]`,
	`"just a string"`, `12.5e-3`, `null`, `true`,
	"{\"\xff\":\"\xfe\"}",
	`not json`, ``, `{"a":`, `{"a":"unterminated}`, `[1,2`, `}{`,
}

func FuzzExpression(f *testing.F) {
	exprs := []string{
		`$request.body.action`, `${request.body.action}`, `${request.body.service}/${request.body.action}`,
		`\$default`, `$default`, `foo`, `$request.body.service.do`, `${request.body.action}-${request.body.invalidPath}`,
		`$request.body`, `$request.body.items[1]`, `$request.body['a.b']`, `$request.body["k\"q"]`,
		`$request.body.a/b`, `$request.header.x`, `${request.body`, `$request.body..a`, `$request.body.e`,
		`$request.body[0][1]`, ``, `$`, `\`, `${}`,
	}
	for i, e := range exprs {
		f.Add(e, []byte(fuzzBodies[i%len(fuzzBodies)]))
	}
	f.Fuzz(func(t *testing.T, expr string, body []byte) {
		e, err := Parse(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Input != expr || se.Offset < 0 || se.Offset > len(expr) || se.Msg == "" {
				t.Fatalf("Parse(%q) error %#v: want a *SyntaxError inside the input", expr, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
		} else {
			if e.String() != expr {
				t.Fatalf("String() = %q, want %q", e.String(), expr)
			}
			_, ok := e.Evaluate(body)
			if !ok && (e.parts == nil || json.Valid(body)) {
				t.Fatalf("Parse(%q).Evaluate(%q) not ok", expr, body)
			}
		}
		checkAgainstEncodingJSON(t, body)
	})
}

// checkAgainstEncodingJSON checks that Lookup agrees with encoding/json on
// every key of a top-level object (and of the objects inside it), and on
// every element of a top-level array.
func checkAgainstEncodingJSON(t *testing.T, body []byte) {
	if !json.Valid(body) {
		return
	}
	doc, err := decode(body)
	if err != nil {
		t.Fatalf("decoding a valid document: %v", err)
	}
	var walk func(prefix string, v any, depth int)
	walk = func(prefix string, v any, depth int) {
		if depth > 2 {
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for k, kv := range v {
				path := prefix + quoteKey(k)
				checkPath(t, body, path, kv)
				walk(path, kv, depth+1)
			}
		case []any:
			for i, iv := range v {
				path := prefix + "[" + strconv.Itoa(i) + "]"
				checkPath(t, body, path, iv)
				walk(path, iv, depth+1)
			}
		}
	}
	walk("", doc, 0)
}

func checkPath(t *testing.T, body []byte, path string, want any) {
	p, err := ParsePath(path)
	if err != nil {
		t.Fatalf("ParsePath(%q): %v", path, err)
	}
	raw, found := Lookup(body, p)
	if !found {
		t.Fatalf("Lookup(%q, %q) found nothing; encoding/json has %#v", body, path, want)
	}
	got, err := decode(raw)
	if err != nil {
		t.Fatalf("Lookup(%q, %q) = %q, not JSON: %v", body, path, raw, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup(%q, %q) = %q (%#v); encoding/json has %#v", body, path, raw, got, want)
	}
	if s, ok := want.(string); ok {
		if got := Stringify(raw); got != s {
			t.Fatalf("Stringify(%q) = %q; encoding/json decodes %q", raw, got, s)
		}
		e, err := Parse("$request.body" + path)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if key, ok := e.Evaluate(body); key != s || !ok {
			t.Fatalf("Evaluate(%q) on %q = %q, %v; want %q", e, body, key, ok, s)
		}
	}
}

// decode decodes one JSON value with encoding/json, keeping numbers as
// written (json.Number) so that numbers beyond float64 compare too.
func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// quoteKey writes k as a ['key'] path segment.
func quoteKey(k string) string {
	return "['" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(k) + "']"
}

func FuzzLookup(f *testing.F) {
	paths := []string{"", ".a", ".action", ".service.do", ".items[1]", ".items[4].a", "['a.b']", `["k\"q"]`, ".e", "[0]", "[1][0]", ".a.b"}
	for i, b := range fuzzBodies {
		f.Add([]byte(b), paths[i%len(paths)])
	}
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		p, err := ParsePath(path)
		if err != nil {
			return
		}
		again, err := ParsePath(p.String())
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("ParsePath(%q) = %#v, %v; want %#v (round trip of %q)", p.String(), again, err, p, path)
		}
		raw, found := Lookup(doc, p)
		s := Stringify(raw)
		Stringify(doc)
		if !json.Valid(doc) {
			return
		}
		if found && !json.Valid(raw) {
			t.Fatalf("Lookup(%q, %q) = %q, not valid JSON", doc, path, raw)
		}
		if found && !utf8.ValidString(s) {
			t.Fatalf("Stringify(%q) = %q, not valid UTF-8", raw, s)
		}
		checkAgainstEncodingJSON(t, doc)
	})
}
