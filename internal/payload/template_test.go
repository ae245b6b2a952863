package payload

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

var testCtx = &Context{
	ConnectionID:     "L0SM9cOFvHcCIhw=",
	RequestID:        "L0SM9FsCvHcFRFQ=",
	MessageID:        "L0SM9d5NvHcCIhw=",
	RouteKey:         "sendMessage",
	Stage:            "dev",
	DomainName:       "localhost:8080",
	APIID:            "chat",
	EventType:        "MESSAGE",
	ConnectedAt:      1700000000000,
	RequestTimeEpoch: 1700000012345,
	SourceIP:         "127.0.0.1",
	UserAgent:        `Mozilla/5.0 "test"`,
}

// seed is the seed chat configuration's template, as YAML decodes it.
var seed = map[string]any{
	"message":   "$request.body.message",
	"sender":    "$context.connectionId",
	"timestamp": "$context.requestTimeEpoch",
}

func render(t *testing.T, tmpl any, body string, ctx *Context) string {
	t.Helper()
	tp, err := Compile(tmpl)
	if err != nil {
		t.Fatalf("Compile(%#v): %v", tmpl, err)
	}
	return string(tp.Render(nil, []byte(body), ctx))
}

func TestRenderSeed(t *testing.T) {
	got := render(t, seed, `{"action":"sendMessage","message":"hi"}`, testCtx)
	want := `{"message":"hi","sender":"L0SM9cOFvHcCIhw=","timestamp":1700000012345}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRender(t *testing.T) {
	chat := `{"action":"sendMessage","message":"hi","n":1.50,"ok":true,"nil":null,"list":["a",1],"obj":{"k":"v","n":[]}}`
	tests := []struct {
		name string
		tmpl any
		body string
		want string
	}{
		// No template.
		{"nil sends the body unchanged", nil, chat, chat},
		{"nil sends a non-JSON body unchanged", nil, "not json", "not json"},

		// One variable: a typed value.
		{"body string", "$request.body.message", chat, `"hi"`},
		{"body number as written", "$request.body.n", chat, `1.50`},
		{"body bool", "$request.body.ok", chat, `true`},
		{"body null", "$request.body.nil", chat, `null`},
		{"body list", "$request.body.list", chat, `["a",1]`},
		{"body object", "$request.body.obj", chat, `{"k":"v","n":[]}`},
		{"body element", "$request.body.list[1]", chat, `1`},
		{"wrapped body", "${request.body.message}", chat, `"hi"`},
		{"missing path is null", "$request.body.nope", chat, `null`},
		{"path on a non-JSON body is null", "$request.body.message", "hi there", `null`},
		{"whole body", "$request.body", " {\"a\": [1, 2]}\n", `{"a": [1, 2]}`},
		{"whole body, not JSON, as a string", "$request.body", "say \"hi\"\n", `"say \"hi\"\n"`},
		{"whole body, wrapped", "${request.body}", `[1]`, `[1]`},
		{"context string", "$context.connectionId", chat, `"L0SM9cOFvHcCIhw="`},
		{"context string escaped", "$context.identity.userAgent", chat, `"Mozilla/5.0 \"test\""`},
		{"context source IP", "$context.identity.sourceIp", chat, `"127.0.0.1"`},
		{"context number", "$context.connectedAt", chat, `1700000000000`},
		{"wrapped context", "${context.requestTimeEpoch}", chat, `1700000012345`},
		{"every context string", []any{"$context.requestId", "$context.messageId", "$context.routeKey", "$context.stage",
			"$context.domainName", "$context.apiId", "$context.eventType"}, "",
			`["L0SM9FsCvHcFRFQ=","L0SM9d5NvHcCIhw=","sendMessage","dev","localhost:8080","chat","MESSAGE"]`},

		// Variables mixed with text: a string.
		{"interpolation", "from ${context.connectionId}: ${request.body.message}", chat, `"from L0SM9cOFvHcCIhw=: hi"`},
		{"interpolation, unwrapped", "$context.stage/$request.body.action", chat, `"dev/sendMessage"`},
		{"interpolated number as written", "n=$request.body.n", chat, `"n=1.50"`},
		{"interpolated list", "l=$request.body.list", chat, `"l=[a, 1]"`},
		{"interpolated object", "o=$request.body.obj", chat, `"o={k=v, n=[]}"`},
		{"interpolated null is empty", "[$request.body.nil]", chat, `"[]"`},
		{"interpolated missing path is empty", "[${request.body.nope}]", chat, `"[]"`},
		{"interpolated path on non-JSON is empty", "[${request.body.a}]", "text", `"[]"`},
		{"interpolated whole non-JSON body", "got: ${request.body}", "a \"b\"", `"got: a \"b\""`},
		{"interpolated whole JSON body", "got: ${request.body}", `{"a":"x"}`, `"got: {a=x}"`},
		{"interpolated value escaped", "m=${request.body.m}", `{"m":"a\"b\\c\nd\u0001"}`, `"m=a\"b\\c\nd\u0001"`},
		{"interpolated context number", "at ${context.connectedAt}", chat, `"at 1700000000000"`},
		{"interpolated context escaped", "ua=${context.identity.userAgent}", chat, `"ua=Mozilla/5.0 \"test\""`},
		{"literal text escaped", "a\"b\t${context.stage}", chat, `"a\"b\tdev"`},

		// Everything else is copied.
		{"escaped dollar", `\$request.body.message`, chat, `"$request.body.message"`},
		{"escaped dollar in a template", `\$${request.body.n}`, chat, `"$1.50"`},
		{"plain string", "hello", chat, `"hello"`},
		{"empty string", "", chat, `""`},
		{"backslash kept", `a\b`, chat, `"a\\b"`},
		{"numbers", []any{1, int64(-2), uint64(math.MaxUint64), 1.5, float32(0.25), 1e21, 0.0}, "",
			`[1,-2,18446744073709551615,1.5,0.25,1e+21,0]`},
		{"bool and null", []any{true, false, nil}, "", `[true,false,null]`},
		{"empty list and map", []any{[]any{}, map[string]any{}}, "", `[[],{}]`},
		{"keys sorted", map[string]any{"b": 1, "a": 2, "B": 3, "é": 4}, "", `{"B":3,"a":2,"b":1,"é":4}`},
		{"keys are literal", map[string]any{"$context.stage": "$context.stage", `k"\`: 1}, chat, `{"$context.stage":"dev","k\"\\":1}`},
		{"map with any keys", map[any]any{"z": "$request.body.ok", "a": []any{"x"}}, chat, `{"a":["x"],"z":true}`},
		{"nested", map[string]any{"data": map[string]any{"text": "$request.body.message", "by": []any{"$context.connectionId", "$context.connectedAt"}}}, chat,
			`{"data":{"by":["L0SM9cOFvHcCIhw=",1700000000000],"text":"hi"}}`},

		// Output is always valid JSON and UTF-8.
		{"invalid UTF-8 in a JSON body value", "$request.body.m", "{\"m\":\"a\xffb\"}", `"a\ufffdb"`},
		{"invalid UTF-8 in a non-JSON body", "$request.body", "a\xffb", `"a\ufffdb"`},
		{"invalid UTF-8 interpolated", "x${request.body.m}", "{\"m\":\"a\xffb\"}", "\"xa\uFFFDb\""}, // Stringify decodes to U+FFFD
		{"invalid UTF-8 in a literal", "a\xff", "", `"a\ufffd"`},
		{"line separators", "\u2028\u2029", "", `"\u2028\u2029"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, tt.tmpl, tt.body, testCtx)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if tt.tmpl != nil && !json.Valid([]byte(got)) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestRenderNilContext(t *testing.T) {
	got := render(t, []any{"$context.connectionId", "$context.connectedAt", "id=${context.connectionId}"}, "", nil)
	if want := `["",0,"id="]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRenderAppends(t *testing.T) {
	tp, err := Compile(seed)
	if err != nil {
		t.Fatal(err)
	}
	got := string(tp.Render([]byte("prefix:"), []byte(`{"message":"hi"}`), testCtx))
	if want := `prefix:{"message":"hi","sender":"L0SM9cOFvHcCIhw=","timestamp":1700000012345}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var nilTemplate *Template
	if got := string(nilTemplate.Render([]byte("p:"), []byte("body"), nil)); got != "p:body" {
		t.Errorf("nil Template: got %s, want p:body", got)
	}
}

func TestCompileErrors(t *testing.T) {
	type custom struct{}
	tests := []struct {
		name string
		tmpl any
		want []string // parts of the message
	}{
		{"unknown context name", map[string]any{"a": "$context.connectionID"},
			[]string{`at "a"`, "unknown variable $context.connectionID", "$context.connectionId", "$context.identity.sourceIp", "$context.stage"}},
		{"context without identity", "$context.sourceIp", []string{"unknown variable $context.sourceIp", "$context.identity.sourceIp"}},
		{"other request variable", "${request.header.x}", []string{"$request.header.x is not available in payload templates"}},
		{"unknown root", "$stage", []string{"unknown variable $stage", `write \$ for a literal dollar sign`}},
		{"lone dollar", "costs $5", []string{`write \$ for a literal dollar sign`}},
		{"bad path", map[string]any{"x": []any{"$request.body..a"}}, []string{`at "x[0]"`, "offset 13", "two dots in a row"}},
		{"trailing dot", "sent by $context.connectionId.", []string{"the path ends with '.'", "${...}"}},
		{"unterminated", "${context.stage", []string{"unterminated ${"}},
		{"non-string key", map[any]any{"a": map[any]any{1: "x"}}, []string{`at "a"`, "map key 1 is a int; keys must be strings"}},
		{"NaN", math.NaN(), []string{"NaN is not a JSON number"}},
		{"infinity", []any{math.Inf(1)}, []string{`at "[0]"`, "+Inf is not a JSON number"}},
		{"timestamp", map[string]any{"d": time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}, []string{"YAML timestamp (2024-01-02T00:00:00Z)", "quote it"}},
		{"unsupported type", custom{}, []string{"unsupported value of type payload.custom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := Compile(tt.tmpl)
			if err == nil {
				t.Fatalf("Compile = %+v, want an error", tp)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRenderAllocs(t *testing.T) {
	templates := map[string]any{
		"seed":         seed,
		"interpolated": map[string]any{"text": "from ${context.connectionId}: ${request.body.message}", "at": "$context.requestTimeEpoch"},
		"whole body":   map[string]any{"body": "$request.body"},
		"escaping":     map[string]any{"m": "<${request.body.message}>", "ua": "$context.identity.userAgent"},
	}
	body := []byte(`{"action":"sendMessage","message":"hello \"world\""}`)
	for name, v := range templates {
		tp, err := Compile(v)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, 0, 1024)
		if n := testing.AllocsPerRun(100, func() { tp.Render(dst[:0], body, testCtx) }); n != 0 {
			t.Errorf("%s: Render allocates %v times with enough capacity in dst, want 0", name, n)
		}
		if n := testing.AllocsPerRun(100, func() { tp.Render(dst[:0], body, nil) }); n != 0 {
			t.Errorf("%s: Render with a nil Context allocates %v times, want 0", name, n)
		}
		if n := testing.AllocsPerRun(100, func() { tp.Render(nil, body, testCtx) }); n > 1 && !raceEnabled {
			t.Errorf("%s: Render into a nil dst allocates %v times, want 1", name, n)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	templates := []struct {
		name string
		tmpl any
	}{
		{"seed", seed},
		{"interpolated", map[string]any{"text": "from ${context.connectionId}: ${request.body.message}", "at": "$context.requestTimeEpoch"}},
		{"whole-body", map[string]any{"body": "$request.body", "sender": "$context.connectionId"}},
	}
	body := []byte(`{"action":"sendMessage","message":"hello world"}`)
	for _, tt := range templates {
		b.Run(tt.name, func(b *testing.B) {
			tp, err := Compile(tt.tmpl)
			if err != nil {
				b.Fatal(err)
			}
			var dst []byte
			b.ReportAllocs()
			for b.Loop() {
				dst = tp.Render(dst[:0], body, testCtx)
			}
		})
	}
	b.Run("fresh-dst", func(b *testing.B) {
		tp, _ := Compile(seed)
		b.ReportAllocs()
		for b.Loop() {
			tp.Render(nil, body, testCtx)
		}
	})
}
