package manage

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		status  int
		header  string // x-amzn-ErrorType
		body    string
		typ     string
		message string
		text    string // Error()
	}{
		{410, "GoneException", `{"__type":"GoneException","message":"gone"}`, "GoneException", "gone", "GoneException: gone (HTTP 410)"},
		{403, "", `{"__type":"ForbiddenException","message":"no"}`, "ForbiddenException", "no", "ForbiddenException: no (HTTP 403)"},
		{400, "ValidationException:http://internal.amazon.com/coral/com.amazon.coral.validate/", `{"Message":"bad"}`, "ValidationException", "bad", "ValidationException: bad (HTTP 400)"},
		{400, "", `{"__type":"com.amazonaws.apigateway#BadRequestException","message":"x"}`, "BadRequestException", "x", "BadRequestException: x (HTTP 400)"},
		{502, "", "<html>\n<body>Bad   Gateway</body></html>", "HTTP 502 Bad Gateway", "<html> <body>Bad Gateway</body></html>", "HTTP 502 Bad Gateway: <html> <body>Bad Gateway</body></html>"},
		{599, "", "", "HTTP 599", "", "HTTP 599"},
		{500, "InternalServerErrorException", "not json", "InternalServerErrorException", "not json", "InternalServerErrorException: not json (HTTP 500)"},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("x-amzn-ErrorType", tc.header)
		}
		h.Set("x-amzn-RequestId", "rid")
		e := decodeError(tc.status, h, []byte(tc.body))
		if e.Status != tc.status || e.Type != tc.typ || e.Message != tc.message || e.RequestID != "rid" || e.Error() != tc.text {
			t.Errorf("decodeError(%d, %q, %q) = %+v %q, want %s %q %q", tc.status, tc.header, tc.body, e, e.Error(), tc.typ, tc.message, tc.text)
		}
	}
	long := decodeError(502, http.Header{}, bytes.Repeat([]byte("é"), 1000))
	if len(long.Message) > maxPlainMessage+len("…") || !utf8.ValidString(long.Message) {
		t.Errorf("long body: %d bytes, valid %v", len(long.Message), utf8.ValidString(long.Message))
	}
}

// FuzzDecodeError: any answer decodes to an *Error with a type, and its
// text is one line of valid UTF-8 when the body is not JSON.
func FuzzDecodeError(f *testing.F) {
	f.Add(410, "GoneException", []byte(`{"__type":"GoneException","message":"gone"}`))
	f.Add(502, "", []byte("<html>bad gateway</html>"))
	f.Add(400, "a#b:c", []byte(`{"__type":"x#y","Message":"m"}`))
	f.Add(500, "", []byte("\xff\xfe\n\t"))
	f.Fuzz(func(t *testing.T, status int, typ string, body []byte) {
		h := http.Header{}
		h.Set("x-amzn-ErrorType", typ)
		e := decodeError(status, h, body)
		if e == nil || e.Type == "" && strings.TrimSpace(typ) != "" && !json.Valid(body) {
			t.Fatalf("decodeError = %+v", e)
		}
		if !json.Valid(body) && (!utf8.ValidString(e.Message) || strings.ContainsAny(e.Message, "\n\r")) {
			t.Fatalf("message %q", e.Message)
		}
		_ = e.Error()
	})
}

// FuzzPayload: whatever bytes are encoded decode to the same bytes, and
// decoding arbitrary JSON never panics.
func FuzzPayload(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"text":"hi"}`))
	f.Add([]byte("plain"), []byte(`{"b64":"/w=="}`))
	f.Add([]byte{0xff, 0}, []byte(`{"data":null}`))
	f.Add([]byte(""), []byte(`{"data":1,"text":"x"}`))
	f.Add([]byte(`{"a":"<&>\u2028"}`), []byte(`{}`))
	f.Add([]byte("\"\u2028\""), []byte(`{}`))
	f.Fuzz(func(t *testing.T, b, wire []byte) {
		enc, err := marshal(encodePayload(b))
		if err != nil {
			t.Fatal(err)
		}
		var p payload
		if err := json.Unmarshal(enc, &p); err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		got, err := p.bytes()
		// An empty message is "text":"" (not JSON, valid UTF-8).
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%q -> %s -> %q, %v", b, enc, got, err)
		}
		var q payload
		if json.Unmarshal(wire, &q) == nil {
			_, _ = q.bytes()
		}
		var pub Publication
		_ = json.Unmarshal(wire, &pub)
	})
}

// A publication's JSON carries its exact bytes, and reads back as them
// (written by an encoder that does not escape HTML, as the CLI's).
func TestPublicationJSON(t *testing.T) {
	for _, data := range [][]byte{[]byte(`{"a":"<b>&"}`), []byte(` {"a": 1} `), []byte("text"), {0xff}, {}} {
		b, err := marshal(Publication{Offset: 3, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		var p Publication
		if err := json.Unmarshal(b, &p); err != nil || !bytes.Equal(p.Data, data) || p.Offset != 3 {
			t.Errorf("%q -> %s -> %+v, %v", data, b, p, err)
		}
	}
	var p Publication
	for _, bad := range []string{`{"offset":1}`, `{"offset":1,"text":"a","b64":"YQ=="}`, `{"offset":1,"b64":"!"}`} {
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
