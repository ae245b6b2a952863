package event

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProxy(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want *Response
	}{
		{"minimal", `{"statusCode":200}`, &Response{StatusCode: 200, Proxy: true}},
		{"aws-lambda-go nulls", `{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":""}`, &Response{StatusCode: 200, Proxy: true}},
		{
			"full",
			` {"statusCode": 201, "headers": {"Sec-WebSocket-Protocol": "chat"}, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "{\"ok\":true}", "isBase64Encoded": false, "cookies": ["ignored"]}` + "\n",
			&Response{
				StatusCode:        201,
				Headers:           map[string]string{"Sec-WebSocket-Protocol": "chat"},
				MultiValueHeaders: map[string][]string{"Set-Cookie": {"a=1", "b=2"}},
				Body:              []byte(`{"ok":true}`),
				Proxy:             true,
			},
		},
		{"base64", `{"statusCode":200,"body":"aGVs\nbG8=","isBase64Encoded":true}`, &Response{StatusCode: 200, Body: []byte("hello"), IsBase64Encoded: true, Proxy: true}},
		{"integral float", `{"statusCode":4.00e2}`, &Response{StatusCode: 400, Proxy: true}},
		{"599", `{"statusCode":599.0}`, &Response{StatusCode: 599, Proxy: true}},
		{"100", `{"statusCode":100}`, &Response{StatusCode: 100, Proxy: true}},
		{"duplicate member: last wins", `{"statusCode":"x","statusCode":302,"isBase64Encoded":null}`, &Response{StatusCode: 302, Proxy: true}},
		{"empty multi value", `{"statusCode":204,"multiValueHeaders":{"X":[]}}`, &Response{StatusCode: 204, MultiValueHeaders: map[string][]string{"X": {}}, Proxy: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProxy([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseProxy: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseProxyErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{``, `backend response: the reply is empty, want a JSON object like {"statusCode": 200}`},
		{`  `, `backend response: the reply is empty, want a JSON object like {"statusCode": 200}`},
		{`null`, `backend response: the reply is null, want a JSON object like {"statusCode": 200}`},
		{`"ok"`, `backend response: the reply is a string, want a JSON object like {"statusCode": 200}`},
		{`[1]`, `backend response: the reply is an array, want a JSON object like {"statusCode": 200}`},
		{`hello`, `backend response: the reply is not valid JSON, want an object like {"statusCode": 200}`},
		{`{"statusCode":200`, `backend response: the reply is not valid JSON: unexpected end of JSON input`},
		{`{}`, `backend response: statusCode is missing, want an integer between 100 and 599`},
		{`{"statusCode":"200"}`, `backend response: statusCode is a string, want an integer`},
		{`{"statusCode":null}`, `backend response: statusCode is null, want an integer`},
		{`{"statusCode":true}`, `backend response: statusCode is true, want an integer`},
		{`{"statusCode":200.5}`, `backend response: statusCode is 200.5, want an integer`},
		{`{"statusCode":1e999}`, `backend response: statusCode is 1e999, want an integer`},
		{`{"statusCode":99}`, `backend response: statusCode is 99, want an integer between 100 and 599`},
		{`{"statusCode":600}`, `backend response: statusCode is 600, want an integer between 100 and 599`},
		{`{"statusCode":-200}`, `backend response: statusCode is -200, want an integer between 100 and 599`},
		{`{"statusCode":200,"headers":[]}`, `backend response: headers is an array, want an object of strings`},
		{`{"statusCode":200,"headers":{"A":"x","B":1,"C":true}}`, `backend response: headers["B"] is a number, want a string`},
		{`{"statusCode":200,"headers":{"A":null}}`, `backend response: headers["A"] is null, want a string`},
		{`{"statusCode":200,"multiValueHeaders":{"A":"x"}}`, `backend response: multiValueHeaders["A"] is a string, want an array of strings`},
		{`{"statusCode":200,"multiValueHeaders":{"A":["x",2]}}`, `backend response: multiValueHeaders["A"][1] is a number, want a string`},
		{`{"statusCode":200,"multiValueHeaders":"x"}`, `backend response: multiValueHeaders is a string, want an object of arrays of strings`},
		{`{"statusCode":200,"body":{"a":1}}`, `backend response: body is an object, want a string (encode a JSON body into a string, e.g. JSON.stringify)`},
		{`{"statusCode":200,"body":1}`, `backend response: body is a number, want a string (encode a JSON body into a string, e.g. JSON.stringify)`},
		{`{"statusCode":200,"isBase64Encoded":"true"}`, `backend response: isBase64Encoded is a string, want true or false`},
		{`{"statusCode":200,"isBase64Encoded":true,"body":"not base64!"}`, `backend response: body is not valid base64 although isBase64Encoded is true: illegal base64 data at input byte 3`},
	} {
		_, err := ParseProxy([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseProxy(%s): no error, want %q", tc.in, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("ParseProxy(%s):\n got %q\nwant %q", tc.in, err, tc.want)
		}
		if !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("ParseProxy(%s): %v does not wrap ErrMalformedResponse", tc.in, err)
		}
	}
}

func TestParseHTTP(t *testing.T) {
	hdr := http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		want   *Response
	}{
		{"plain text", 200, hdr, "hello", &Response{
			StatusCode:        200,
			Headers:           map[string]string{"Content-Type": "text/plain", "Set-Cookie": "a=1"},
			MultiValueHeaders: map[string][]string{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}},
			Body:              []byte("hello"),
		}},
		{"plain 4xx", 403, nil, "no", &Response{StatusCode: 403, Body: []byte("no")}},
		{"plain 3xx", 302, nil, "", &Response{StatusCode: 302, Body: []byte{}}},
		{"plain JSON without statusCode", 200, nil, `{"action":"x"}`, &Response{StatusCode: 200, Body: []byte(`{"action":"x"}`)}},
		{"string statusCode is plain", 200, nil, `{"statusCode":"500"}`, &Response{StatusCode: 200, Body: []byte(`{"statusCode":"500"}`)}},
		{"invalid JSON is plain", 201, nil, `{"statusCode":500`, &Response{StatusCode: 201, Body: []byte(`{"statusCode":500`)}},
		{"nested statusCode is plain", 200, nil, `{"a":{"statusCode":500}}`, &Response{StatusCode: 200, Body: []byte(`{"a":{"statusCode":500}}`)}},
		{"proxy over HTTP 200", 200, hdr, `{"statusCode":401,"body":"nope"}`, &Response{StatusCode: 401, Body: []byte("nope"), Proxy: true}},
		{"proxy over HTTP 500", 500, nil, "\n\t{\"statusCode\":200}\r\n", &Response{StatusCode: 200, Proxy: true}},
		{"escaped key", 200, nil, `{"status\u0043ode":418}`, &Response{StatusCode: 418, Proxy: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHTTP(tc.status, tc.header, []byte(tc.body))
			if err != nil {
				t.Fatalf("ParseHTTP: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHTTPErrors(t *testing.T) {
	t.Run("5xx plain", func(t *testing.T) {
		_, err := ParseHTTP(502, nil, []byte("upstream down"))
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 502 || string(se.Body) != "upstream down" {
			t.Fatalf("err = %v, want *StatusError 502", err)
		}
		want := `backend response: HTTP 502 Bad Gateway (a plain reply with status 500 or more is an integration failure; to send a 5xx on purpose, answer with a Lambda proxy object); body starts "upstream down"`
		if err.Error() != want {
			t.Errorf("got  %q\nwant %q", err, want)
		}
	})
	t.Run("5xx long body truncated", func(t *testing.T) {
		_, err := ParseHTTP(500, nil, []byte(strings.Repeat("x", 10000)))
		var se *StatusError
		if !errors.As(err, &se) || len(se.Body) != statusErrorBodyMax {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("invalid status", func(t *testing.T) {
		_, err := ParseHTTP(42, nil, nil)
		if err == nil || err.Error() != "backend response: HTTP 42 is not a valid HTTP status (want 100-599)" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("malformed proxy", func(t *testing.T) {
		_, err := ParseHTTP(200, nil, []byte(`{"statusCode":200,"body":{"x":1}}`))
		if !errors.Is(err, ErrMalformedResponse) {
			t.Fatalf("err = %v, want ErrMalformedResponse", err)
		}
	})
}

func TestResponseHeader(t *testing.T) {
	r := &Response{
		Headers:           map[string]string{"sec-websocket-protocol": "chat", "X-A": "upper", "x-a": "lower"},
		MultiValueHeaders: map[string][]string{"Set-Cookie": {"a=1", "b=2"}, "Sec-WebSocket-Protocol": {"other"}, "Empty": {}},
	}
	for _, tc := range []struct{ name, want string }{
		{"Sec-WebSocket-Protocol", "chat"},
		{"SET-COOKIE", "a=1"},
		{"x-a", "lower"},
		{"X-A", "upper"},
		{"x-A", "upper"}, // no exact match: the smallest key ("X-A" < "x-a")
		{"Empty", ""},
		{"Missing", ""},
	} {
		if got := r.Header(tc.name); got != tc.want {
			t.Errorf("Header(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := (&Response{}).Header("X"); got != "" {
		t.Errorf("Header on empty response = %q", got)
	}
}
