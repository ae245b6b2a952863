package sigv4

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseAuthorization: the Authorization parser and the checks of its
// parts never panic, and what they accept is well-formed.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260304/us-east-1/execute-api/aws4_request, SignedHeaders=content-length;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=x",
		"AWS4-HMAC-SHA256 ",
		"AWS4-HMAC-SHA256",
		"AWS4-ECDSA-P256-SHA256 Credential=x",
		"Bearer abc",
		"AWS4-HMAC-SHA256 Credential=, Credential=",
		"AWS4-HMAC-SHA256 Credential==/=//, SignedHeaders=;;, Signature",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		a, err := parseAuthorization(header)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v is not an *Error with a message", err)
			}
			return
		}
		if c, err := parseCredential(a.credential); err == nil {
			if c.accessKeyID == "" || c.service != Service || c.terminator != terminator || !isDigits(c.date, 8) || c.region == "" {
				t.Fatalf("credential %q accepted as %+v", a.credential, c)
			}
			if c.accessKeyID+"/"+c.scope() != a.credential {
				t.Fatalf("credential %q does not round-trip: %+v", a.credential, c)
			}
		}
		if names, err := parseSignedHeaders(a.signedHeaders); err == nil {
			for i, n := range names {
				if n == "" || strings.ToLower(n) != n || i > 0 && names[i-1] >= n || strings.ContainsAny(n, ";:, \t\r\n") {
					t.Fatalf("signed headers %q accepted as %q", a.signedHeaders, names)
				}
			}
		}
	})
}

// FuzzVerify: Verify never panics on any request net/http can parse, and
// refuses everything but the seeds' signed requests with an *Error.
func FuzzVerify(f *testing.F) {
	for _, s := range []spec{
		{target: "/prod/@connections/R1kmxc2VNjMCFIA%3D", body: "hello", header: http.Header{"Content-Type": {"application/octet-stream"}}},
		{method: "GET", target: "/prod/%40connections/x?limit=2&cursor=a%2Fb"},
		{method: "DELETE", target: "/prod/@connections/x", token: "tok"},
	} {
		req := clientRequest(f, s)
		sign(f, req, s.body, s.token, s.region, Service, testTime)
		var wire bytes.Buffer
		if err := req.Write(&wire); err != nil {
			f.Fatal(err)
		}
		f.Add(wire.Bytes())
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: AWS4-HMAC-SHA256 Credential=x\r\nDate: Wed, 04 Mar 2026 10:11:12 GMT\r\n\r\n"))
	f.Add([]byte("GET http://h/a%zz?X-Amz-Signature=1 HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		_ = Present(r)
		res, err := Verify(r, body, func(id string) (string, bool) { return testSecret, id != "" }, testTime)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" || e.Kind == nil {
				t.Fatalf("error %v is not an *Error with a kind and a message", err)
			}
			return
		}
		if res.AccessKeyID == "" || res.Region == "" {
			t.Fatalf("accepted with an empty result: %+v", res)
		}
	})
}

// FuzzVerifySDKSigned is differential: whatever path, query, header value
// and body the SDK's signer signs, sent over HTTP/1.1 and read back as the
// server does, verifies.
func FuzzVerifySDKSigned(f *testing.F) {
	f.Add(uint8(0), "/prod/@connections/abc=", "a=1&b=2", "text/plain", []byte("hello"))
	f.Add(uint8(1), "/p/%40c/a%2Fb", "q=a+b&q=%2F&x", "  a   b ", []byte(nil))
	f.Add(uint8(2), "/✓ x/~!*'()", "k=%E2%9C%93&k=a-b&k=a/b", "v1,v2", []byte{0, 1, 2})
	f.Add(uint8(3), "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, m uint8, path, query, value string, body []byte) {
		method := []string{"POST", "GET", "DELETE", "PUT"}[m%4]
		if !validHeaderValue(value) || strings.ContainsAny(path, "?#") || strings.ContainsAny(query, "#") {
			return
		}
		req, err := http.NewRequest(method, "http://"+testHost+"/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Path = "/" + strings.TrimPrefix(path, "/")
		req.URL.RawPath = ""
		req.URL.RawQuery = query
		if strings.Contains(path, "%") {
			// Also sign paths given already escaped, as the SDK's
			// serializer sets them.
			req.URL.RawPath = "/" + strings.TrimPrefix(path, "/")
		}
		req.Header.Set("X-Custom", value)
		sign(t, req, string(body), "", "", Service, testTime)
		var wire bytes.Buffer
		if err := req.Write(&wire); err != nil {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(&wire))
		if err != nil {
			return // not a request a server would accept
		}
		got, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(r, got, lookup, testTime); err != nil {
			t.Fatalf("%s %q: %v\n%s\nwire:\n%s", method, r.RequestURI, err, message(err), wire.String())
		}
	})
}

// validHeaderValue reports whether net/http's client would send v: no
// control characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
