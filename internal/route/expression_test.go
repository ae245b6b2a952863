package route

import (
	"errors"
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name, expr, body string
		want             string
		wantOK           bool
	}{
		{"one variable", `$request.body.action`, `{"action":"sendMessage","message":"hi"}`, "sendMessage", true},
		{"wrapped", `${request.body.action}`, `{"action":"sendMessage"}`, "sendMessage", true},
		{"template", `${request.body.service}/${request.body.action}`, `{"service":"chat","action":"send"}`, "chat/send", true},
		{"template with a missing path", `${request.body.action}-${request.body.invalidPath}`, `{"action":"join"}`, "join-", true},
		{"template all missing", `${request.body.a}/${request.body.b}`, `{}`, "/", true},
		{"nested", `$request.body.service.do`, `{"service":{"do":"x"}}`, "x", true},
		{"nested wrapped", `${request.body.service.do}`, `{"service":{"do":"x"}}`, "x", true},
		{"array element", `$request.body.items[1]`, `{"items":["a","b"]}`, "b", true},
		{"element of element", `$request.body.m[1][0].k`, `{"m":[[],[{"k":"deep"}]]}`, "deep", true},
		{"index past the end", `$request.body.items[2]`, `{"items":["a","b"]}`, "", true},
		{"bracket key with dot", `$request.body['a.b']`, `{"a.b":"dot","a":{"b":"nested"}}`, "dot", true},
		{"dotted path is nested", `$request.body.a.b`, `{"a.b":"dot","a":{"b":"nested"}}`, "nested", true},
		{"double-quoted bracket key", `$request.body["a b"]`, `{"a b":"space"}`, "space", true},
		{"missing path", `$request.body.action`, `{"type":"x"}`, "", true},
		{"case-sensitive keys", `$request.body.action`, `{"Action":"x"}`, "", true},

		{"static escaped dollar", `\$default`, `{"action":"x"}`, "$default", true},
		{"static ignores a non-JSON body", `\$default`, `not json`, "$default", true},
		{"static word", `foo`, ``, "foo", true},
		{"escaped dollar before a variable", `\$${request.body.a}`, `{"a":"x"}`, "$x", true},
		{"other backslashes are literal", `a\b`, `{}`, `a\b`, true},
		{"evaluated once", `$request.body.action`, `{"action":"$request.body.x","x":"no"}`, "$request.body.x", true},

		{"unwrapped ends at a non-path character", `$request.body.a/b`, `{"a":"x"}`, "x/b", true},
		{"unwrapped ends at a space", `$request.body.a and more`, `{"a":"x"}`, "x and more", true},
		{"hyphen is part of the name", `$request.body.a-b`, `{"a-b":"hy","a":"no"}`, "hy", true},
		{"wrapped then dot", `${request.body.a}.txt`, `{"a":"x"}`, "x.txt", true},
		{"unicode name", `$request.body.名前`, `{"名前":"n"}`, "n", true},

		{"not JSON", `$request.body.action`, `hello`, "", false},
		{"empty body", `$request.body.action`, ``, "", false},
		{"truncated JSON", `$request.body.action`, `{"action":"x"`, "", false},

		{"integer", `$request.body.action`, `{"action":42}`, "42", true},
		{"number as written", `$request.body.action`, `{"action":1.50}`, "1.50", true},
		{"exponent as written", `$request.body.action`, `{"action":-1E3}`, "-1E3", true},
		{"true", `$request.body.action`, `{"action":true}`, "true", true},
		{"false", `$request.body.action`, `{"action":false}`, "false", true},
		{"null", `$request.body.action`, `{"action":null}`, "", true},
		{"null in a template", `a${request.body.action}b`, `{"action":null}`, "ab", true},
		{"array", `$request.body.action`, `{"action":["item1", "item2"]}`, "[item1, item2]", true},
		{"array of mixed", `$request.body.action`, `{"action":[1,true,null,"s",[],{}]}`, "[1, true, null, s, [], {}]", true},
		{"object", `$request.body.action`, `{"action":{"a":1,"b":"x"}}`, "{a=1, b=x}", true},
		{"nested containers", `$request.body.action`, `{"action":{"a":[1,{"b":[]}]}}`, "{a=[1, {b=[]}]}", true},

		{"unicode escape in value", `$request.body.action`, `{"action":"\u0041BC"}`, "ABC", true},
		{"unicode escape in key", `$request.body.action`, `{"\u0061ction":"x"}`, "x", true},
		{"surrogate pair", `$request.body.e`, `{"e":"\ud83d\ude00"}`, "😀", true},
		{"lone surrogate", `$request.body.e`, `{"e":"\ud83d!"}`, "\uFFFD!", true},
		{"escaped quotes", `$request.body.action`, `{"action":"say \"hi\" \\ \/"}`, `say "hi" \ /`, true},
		{"raw UTF-8", `$request.body.action`, `{"action":"héllo"}`, "héllo", true},
		{"key-like text in a string is skipped", `$request.body.action`, `{"m":"\"action\":\"no\"","action":"yes"}`, "yes", true},

		{"duplicate key: last wins", `$request.body.action`, `{"action":"a","action":"b"}`, "b", true},
		{"duplicate key spelled with an escape", `$request.body.action`, `{"action":"a","\u0061ction":"b"}`, "b", true},
		{"duplicate object: last wins, no merge", `$request.body.a.x`, `{"a":{"x":1},"a":{"y":2}}`, "", true},

		{"whitespace everywhere", `$request.body.a.b[1]`, " \r\n\t{ \"a\" :\n { \"b\" : [ 1 ,\t\"two\" ] } } \n", "two", true},
		{"top-level array", `$request.body.action`, `["a"]`, "", true},
		{"top-level array index", `$request.body[0]`, `["a"]`, "a", true},
		{"top-level string", `$request.body.action`, `"action"`, "", true},
		{"top-level number", `$request.body`, ` 12 `, "12", true},
		{"whole body string", `$request.body`, `"x"`, "x", true},
		{"whole body object", `$request.body`, `{"a":1}`, "{a=1}", true},
		{"whole body null", `$request.body`, `null`, "", true},
		{"key on an array", `$request.body.a.b`, `{"a":[{"b":1}]}`, "", true},
		{"index on an object", `$request.body.a[0]`, `{"a":{"0":1}}`, "", true},
		{"deep nesting", `$request.body` + strings.Repeat(".a", 100), strings.Repeat(`{"a":`, 100) + `"deep"` + strings.Repeat("}", 100), "deep", true},
		{"skips deep values", `$request.body.k`, `{"x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `,"k":"v"}`, "v", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			got, ok := e.Evaluate([]byte(tt.body))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Parse(%q).Evaluate(%q) = %q, %v; want %q, %v", tt.expr, tt.body, got, ok, tt.want, tt.wantOK)
			}
			if e.String() != tt.expr {
				t.Errorf("String() = %q, want %q", e.String(), tt.expr)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr    string
		offset  int
		message string // a part of the message
	}{
		{``, 0, "empty route selection expression"},
		{`$request.header.x`, 0, "route selection only supports $request.body"},
		{`a/$request.querystring.x`, 2, "$request.querystring.x is not available here"},
		{`$context.routeKey`, 0, "route selection only supports $request.body"},
		{`${stageVariables.x}`, 0, "route selection only supports $request.body"},
		{`$foo`, 0, "unknown variable $foo"},
		{`$request.bodyx`, 0, "$request.bodyx is not available"},
		{`cost $5`, 5, `write \$ for a literal dollar sign`},
		{`$`, 0, `write \$ for a literal dollar sign`},
		{`${}`, 0, "empty ${}"},
		{`${ request.body.a}`, 0, "expected a variable name after ${"},
		{`${request.body.action`, 0, "unterminated ${; close it with }"},
		{`x${request.body.a b}`, 17, `unexpected ' ' in ${...}`},
		{`${request.body.a.}`, 16, "the path ends with '.'"},
		{`$request.body..a`, 13, "two dots in a row"},
		{`$request.body.`, 13, "the path ends with '.'"},
		{`$request.body.a.`, 15, "wrap the variable in ${...}"},
		{`$request.body.a.*`, 15, "wildcards are not supported"},
		{`$request.body.a.[0]`, 15, "'.' before '['"},
		{`$request.body.a.!`, 15, `'!' cannot start a key name`},
		{`$request.body.items[`, 19, "unterminated '['"},
		{`$request.body.items[x]`, 20, "expected an index like [0] or a quoted key like ['key']"},
		{`$request.body.items[0`, 21, "expected ']' after the index"},
		{`$request.body.items[-1]`, 20, "negative array indexes are not supported"},
		{`$request.body.items[*]`, 20, "wildcards are not supported"},
		{`$request.body.items[99999999999]`, 20, "array index too large"},
		{`$request.body['a`, 13, "unterminated quoted key; close it with ']"},
		{`$request.body['a'x`, 17, "expected ']' after the quoted key"},
		{`$request.body['a\x']`, 16, `unknown escape in quoted key`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.expr, e)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T is not a *SyntaxError", tt.expr, err)
			}
			if se.Input != tt.expr || se.Offset != tt.offset || !strings.Contains(se.Msg, tt.message) {
				t.Errorf("Parse(%q) = %v (offset %d); want offset %d and a message containing %q", tt.expr, err, se.Offset, tt.offset, tt.message)
			}
		})
	}
}

func TestSyntaxErrorText(t *testing.T) {
	_, err := Parse(`$request.body..a`)
	want := `"$request.body..a", offset 13 (at "..a"): empty path segment: two dots in a row; name a key between them (recursive descent '..' is not supported)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	_, err = Parse(`${request.body.action`)
	want = `"${request.body.action", offset 0 (at "${request.body.a…"): unterminated ${; close it with }`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestEvaluateAllocs(t *testing.T) {
	e, err := Parse(`$request.body.action`)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"action":"sendMessage","message":"hello world"}`)
	if n := testing.AllocsPerRun(100, func() { e.Evaluate(body) }); n > 1 {
		t.Errorf("Evaluate allocates %v times, want at most 1 (the key)", n)
	}
	tmpl, err := Parse(`${request.body.service}/${request.body.action}`)
	if err != nil {
		t.Fatal(err)
	}
	body = []byte(`{"service":"chat","action":"send"}`)
	if n := testing.AllocsPerRun(100, func() { tmpl.Evaluate(body) }); n > 1 {
		t.Errorf("template Evaluate allocates %v times, want at most 1 (the key)", n)
	}
}
