package event

import (
	"github.com/switchboardhq/switchboard/internal/jsonenc"

	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

func FuzzAppendJSON(f *testing.F) {
	f.Add("X-Custom", "value", `{"action":"chat"}`, "Going away", "name", "me", "Mozilla/5.0", false)
	f.Add("Host", "", "", "", "", "", "", true)
	f.Add("h\xff", "v\x00\u2028", "bad \xc3 utf8 \"quoted\" \\", "\n\r\t", "q\xed\xa0\x80", "<&>", "\xf4\x90\x80\x80", false)
	f.Fuzz(func(t *testing.T, hName, hValue, body, reason, qName, qValue, userAgent string, isBase64 bool) {
		c := &Connection{
			ID: hValue, APIID: qName, Stage: qValue, DomainName: reason,
			ConnectedAt: time.UnixMilli(1705751697419),
			Identity:    Identity{SourceIP: hName, UserAgent: userAgent},
		}
		now := time.UnixMilli(1705751708326)
		connect := Connect(c, now, body, []HeaderField{{hName, hValue}}, []QueryParam{{qName, qValue}})
		message := Message(c, now, reason, hName, qName, []byte(body), isBase64)
		disconnect := Disconnect(c, now, qValue, 1006, reason, hValue)

		for _, r := range []*Request{connect, message, disconnect} {
			b := r.AppendJSON(nil)
			if !json.Valid(b) {
				t.Fatalf("%s: invalid JSON: %q", r.EventType(), b)
			}
			var ev lambdaGoRequest
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatalf("%s: typed decode: %v", r.EventType(), err)
			}
			rc := ev.RequestContext
			check := func(what, got, in string) {
				t.Helper()
				if want := fixUTF8(in); got != want {
					t.Errorf("%s %s = %q, want %q (input %q)", r.EventType(), what, got, want, in)
				}
			}
			check("connectionId", rc.ConnectionID, c.ID)
			check("apiId", rc.APIID, c.APIID)
			check("stage", rc.Stage, c.Stage)
			check("domainName", rc.DomainName, c.DomainName)
			check("sourceIp", rc.Identity.SourceIP, c.Identity.SourceIP)
			check("userAgent", rc.Identity.UserAgent, c.Identity.UserAgent)
			check("routeKey", rc.RouteKey, r.RouteKey())
			check("requestId", rc.RequestID, r.RequestID())
			check("extendedRequestId", rc.ExtendedRequestID, r.RequestID())
			if rc.ConnectedAt != 1705751697419 || rc.RequestTimeEpoch != 1705751708326 {
				t.Errorf("times: %d %d", rc.ConnectedAt, rc.RequestTimeEpoch)
			}
			switch r {
			case connect:
				check("header value", ev.Headers[fixUTF8(hName)], hValue)
				if vs := ev.MultiValueHeaders[fixUTF8(hName)]; len(vs) != 1 {
					t.Errorf("multiValueHeaders = %q", ev.MultiValueHeaders)
				}
				check("query value", ev.QueryStringParameters[fixUTF8(qName)], qValue)
			case message:
				check("body", ev.Body, body)
				check("messageId", rc.MessageID.(string), hName)
				if ev.IsBase64Encoded != isBase64 {
					t.Errorf("isBase64Encoded = %v", ev.IsBase64Encoded)
				}
			case disconnect:
				check("Host", ev.Headers["Host"], hValue)
				var raw struct {
					RequestContext struct {
						DisconnectStatusCode int    `json:"disconnectStatusCode"`
						DisconnectReason     string `json:"disconnectReason"`
					} `json:"requestContext"`
				}
				mustUnmarshal(t, b, &raw)
				check("disconnectReason", raw.RequestContext.DisconnectReason, reason)
				if raw.RequestContext.DisconnectStatusCode != 1006 {
					t.Errorf("disconnectStatusCode = %d", raw.RequestContext.DisconnectStatusCode)
				}
			}
		}

		// The string encoder is byte-for-byte encoding/json's.
		for _, s := range []string{hName, hValue, body, reason, qName, qValue, userAgent} {
			if got, want := string(jsonenc.AppendString(nil, s)), encodingJSON(t, s); got != want {
				t.Fatalf("jsonenc.AppendString(%q) = %s, encoding/json = %s", s, got, want)
			}
			if got, want := string(jsonenc.AppendString(nil, []byte(s))), encodingJSON(t, s); got != want {
				t.Fatalf("jsonenc.AppendString([]byte(%q)) = %s, encoding/json = %s", s, got, want)
			}
		}

		frame := ErrorFrame(body, hName, reason)
		var ef struct{ Message, ConnectionID, RequestID string }
		if err := json.Unmarshal(frame, &ef); err != nil || ef.Message != fixUTF8(body) {
			t.Errorf("ErrorFrame(%q): %v %q", body, err, frame)
		}
	})
}

func FuzzParseProxy(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200}`,
		`{"statusCode":200,"headers":{"a":"b"},"multiValueHeaders":{"a":["b","c"]},"body":"x","isBase64Encoded":false}`,
		`{"statusCode":200,"body":"aGVsbG8=","isBase64Encoded":true}`,
		`{"statusCode":2e2,"headers":null}`,
		`{"statusCode":"200"}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseProxy(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v does not wrap ErrMalformedResponse", err)
			}
			if r != nil {
				t.Fatal("response and error both non-nil")
			}
			return
		}
		if r.StatusCode < 100 || r.StatusCode > 599 {
			t.Fatalf("accepted StatusCode %d from %q", r.StatusCode, b)
		}
		if !r.Proxy {
			t.Fatal("ParseProxy result has Proxy false")
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
	})
}

func FuzzParseHTTP(f *testing.F) {
	f.Add(200, []byte(`{"statusCode":404,"body":"x"}`))
	f.Add(500, []byte(`plain`))
	f.Add(404, []byte(`{"statusCode":"x"}`))
	f.Add(200, []byte(` {"status\u0043ode":1e2} `))
	f.Add(-1, []byte(``))
	f.Fuzz(func(t *testing.T, status int, b []byte) {
		header := http.Header{"Content-Type": {"text/plain"}}
		r, err := ParseHTTP(status, header, b)
		if err != nil {
			var se *StatusError
			if !errors.Is(err, ErrMalformedResponse) && !errors.As(err, &se) {
				t.Fatalf("error %T %v is neither malformed nor a StatusError", err, err)
			}
			if se != nil && se.StatusCode >= 100 && se.StatusCode < 500 {
				t.Fatalf("StatusError for status %d", se.StatusCode)
			}
			return
		}
		if r.StatusCode < 100 || r.StatusCode > 599 {
			t.Fatalf("accepted StatusCode %d (HTTP %d, body %q)", r.StatusCode, status, b)
		}
		if !r.Proxy {
			if r.StatusCode != status || status >= 500 || !bytes.Equal(r.Body, b) || r.Header("content-type") != "text/plain" {
				t.Fatalf("plain response %+v from HTTP %d %q", r, status, b)
			}
		}
	})
}
