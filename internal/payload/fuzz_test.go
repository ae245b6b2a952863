package payload

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzRender renders a template made of fixed variables and one fuzzed
// string, for a fuzzed body and context: the output must always be valid
// JSON and UTF-8, and the whole-body and literal holes must agree with
// encoding/json.
func FuzzRender(f *testing.F) {
	seeds := []struct{ body, s, ctx string }{
		{`{"action":"sendMessage","message":"hi"}`, "$request.body.message", "L0SM9cOFvHcCIhw="},
		{`{"message":{"a":[1,"x",null]}}`, "from ${context.connectionId}: ${request.body.message}", "id"},
		{`not json`, "${request.body}!", "ua \"quoted\""},
		{"{\"message\":\"\xff\\u2028\\ud800\"}", `\$${request.body.message}`, "\xfe"},
		{``, "$context.requestTimeEpoch", ""},
		{`[1,2]`, "$request.body[1]", "x"},
		{`"str"`, "${context.identity.userAgent} $request.body", "\u2028"},
		{`{"message":1e400}`, "x${request.body.message}x", "\x00\x1f"},
		{`{"a":1,"a":2}`, "$request.body.a", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.s, s.ctx)
	}
	f.Fuzz(func(t *testing.T, body []byte, s string, ctxText string) {
		tmpl := map[string]any{
			"fuzzed":  s,
			"body":    "$request.body",
			"message": "$request.body.message",
			"text":    "m=${request.body.message} b=${request.body} ua=${context.identity.userAgent}",
			"ctx":     []any{"$context.connectionId", "$context.connectedAt", "${context.identity.userAgent}"},
		}
		tp, err := Compile(tmpl)
		if err != nil { // s is not a valid template string: render the rest
			delete(tmpl, "fuzzed")
			if tp, err = Compile(tmpl); err != nil {
				t.Fatal(err)
			}
		}
		ctx := &Context{ConnectionID: ctxText, UserAgent: ctxText, ConnectedAt: int64(len(ctxText))}
		out := tp.Render(nil, body, ctx)
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("Render(%q) = %q: not valid JSON and UTF-8", body, out)
		}
		got := map[string]any{}
		if err := decode(out, &got); err != nil {
			t.Fatalf("decoding %q: %v", out, err)
		}
		var want any
		switch {
		case json.Valid(body):
			if err := decode(body, &want); err != nil {
				t.Fatal(err)
			}
		case utf8.Valid(body):
			want = string(body)
		default:
			return // each invalid byte became U+FFFD; checked by TestRender
		}
		if !reflect.DeepEqual(got["body"], want) {
			t.Fatalf("body hole = %#v, want %#v", got["body"], want)
		}
		if m, ok := want.(map[string]any); ok && !reflect.DeepEqual(got["message"], m["message"]) {
			t.Fatalf("message hole = %#v, want %#v", got["message"], m["message"])
		}
	})
}

func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}
