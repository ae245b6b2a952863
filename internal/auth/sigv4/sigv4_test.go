package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

const (
	testKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testHost   = "gw.example.com:8443"
)

// testTime is the signing time of every test request unless a test says
// otherwise.
var testTime = time.Date(2026, 3, 4, 10, 11, 12, 0, time.UTC)

func lookup(id string) (string, bool) {
	if id == testKeyID {
		return testSecret, true
	}
	return "", false
}

// spec describes one request to sign.
type spec struct {
	method string
	target string // escaped path and query, as the client sends them
	header http.Header
	body   string
	token  string // session token
	region string
}

// clientRequest builds the request as an SDK would before signing: the
// URL is opaque so that the path goes on the wire exactly as written (the
// SDK's own serializer sets RawPath to the same effect).
func clientRequest(t testing.TB, s spec) *http.Request {
	t.Helper()
	method := s.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequest(method, "http://"+testHost+"/", body)
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(s.target, "?")
	req.URL.Opaque = "//" + testHost + path
	req.URL.RawQuery = query
	for k, vs := range s.header {
		req.Header[k] = vs
	}
	return req
}

// sign signs req with the AWS SDK for Go v2's signer, as the
// apigatewaymanagementapi client does (the payload hashed, the path
// escaped by the signer).
func sign(t testing.TB, req *http.Request, body, token, region, service string, at time.Time) {
	t.Helper()
	if region == "" {
		region = "us-east-1"
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
}

// toServer writes req as the client would send it and reads it back as
// net/http's server does, so that RequestURI, Host, the header map and
// Content-Length are what a handler sees.
func toServer(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("read back %q: %v", wire.String(), err)
	}
	body, err := io.ReadAll(sr.Body)
	if err != nil {
		t.Fatal(err)
	}
	return sr, body
}

// signed returns the server's view of a request signed by the SDK at
// testTime.
func signed(t testing.TB, s spec) (*http.Request, []byte) {
	t.Helper()
	req := clientRequest(t, s)
	sign(t, req, s.body, s.token, s.region, Service, testTime)
	return toServer(t, req)
}

func TestVerifyAcceptsSDKRequests(t *testing.T) {
	tests := []struct {
		name string
		spec
	}{
		{"post data", spec{target: "/prod/@connections/R1kmxc2VNjMCFIA%3D", body: `{"hello":"world"}`,
			header: http.Header{"Content-Type": {"application/octet-stream"}}}},
		{"post empty body", spec{target: "/prod/@connections/R1kmxc2VNjMCFIA%3D"}},
		{"post binary", spec{target: "/prod/@connections/x", body: "\x00\xff\xfe\x80"}},
		{"get", spec{method: "GET", target: "/prod/@connections/JC1dgf9yoAMCK-g%3D"}},
		{"delete", spec{method: "DELETE", target: "/prod/@connections/BFaT_fALIAMCKug%3D"}},
		{"encoded @", spec{method: "GET", target: "/prod/%40connections/R1kmxc2VNjMCFIA%3D"}},
		{"encoded slash", spec{target: "/prod/@channels/a%2Fb", body: "x"}},
		{"encoded unicode and space", spec{target: "/prod/@users/%E2%9C%93%20me", body: "x"}},
		{"reserved characters", spec{method: "GET", target: "/prod/@channels/a!$&'()*+,;=:@b"}},
		{"root path", spec{method: "GET", target: "/"}},
		{"list with trailing slash", spec{method: "GET", target: "/prod/@connections/"}},
		{"query", spec{method: "GET", target: "/prod/@connections?limit=2&cursor=abc%3D%3D"}},
		{"query repeated and unsorted", spec{method: "GET", target: "/prod/@channels/c/history?since=5&b=2&b=1&a=&z"}},
		{"query escapes", spec{method: "GET", target: "/p/@connections?q=a+b%20c%2Bd&%E2%9C%93=~-._&x=a%2Fb"}},
		{"query sorting after encoding", spec{method: "GET", target: "/p/@connections?k=a%2Fb&k=a-b"}},
		{"session token", spec{target: "/prod/@connections/x", body: "data", token: "FwoGZXIvYXdzEJr//////////wEaDOh+token/with+plus=="}},
		{"other region", spec{method: "GET", target: "/prod/@connections/x", region: "ap-southeast-2"}},
		{"header spaces", spec{method: "GET", target: "/p/@connections/x",
			header: http.Header{"X-Custom": {"  a   b  c  "}, "Content-Type": {"text/plain;  charset=utf-8"}}}},
		{"header several values", spec{method: "GET", target: "/p/@connections/x",
			header: http.Header{"X-Custom": {"one", " two  three ", "four"}}}},
		{"sdk headers", spec{target: "/p/@connections/x", body: "x", header: http.Header{
			"Amz-Sdk-Invocation-Id": {"6f1c2f0e-5d39-4a4e-9a53-2a7c7e2f4d11"},
			"Amz-Sdk-Request":       {"attempt=1; max=3"},
			"User-Agent":            {"aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26 md/GOOS#linux api/apigatewaymanagementapi#1.38.0"},
			"X-Amzn-Trace-Id":       {"Root=1-5759e988-bd862e3fe1be46a994272793"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := signed(t, tt.spec)
			res, err := Verify(r, body, lookup, testTime)
			if err != nil {
				t.Fatalf("Verify: %v\n%s", err, message(err))
			}
			region := tt.region
			if region == "" {
				region = "us-east-1"
			}
			want := Result{AccessKeyID: testKeyID, Region: region, Time: testTime, SessionToken: tt.token != ""}
			if res != want {
				t.Errorf("result %+v, want %+v", res, want)
			}
		})
	}
}

// TestVerifyInProcessRequest: the request the SDK signed, before it goes
// on the wire (no RequestURI, Content-Length only in ContentLength), also
// verifies.
func TestVerifyInProcessRequest(t *testing.T) {
	for _, target := range []string{"/prod/@connections/abc%3D?b=2&a=1", "/prod/%40connections/x"} {
		req := clientRequest(t, spec{target: target, body: "hello"})
		sign(t, req, "hello", "", "", Service, testTime)
		if _, err := Verify(req, []byte("hello"), lookup, testTime); err != nil {
			t.Errorf("%s: %v\n%s", target, err, message(err))
		}
		req.URL.Opaque = ""
		req.URL.RawPath = strings.Split(target, "?")[0]
		req.URL.Path = strings.ReplaceAll(strings.ReplaceAll(req.URL.RawPath, "%3D", "="), "%40", "@")
		if _, err := Verify(req, []byte("hello"), lookup, testTime); err != nil {
			t.Errorf("%s (RawPath): %v\n%s", target, err, message(err))
		}
	}
}

// TestCanonicalURIIsDoubleEncoded pins the rule found with the SDK's
// signer: the wire path, percent-encoded once more.
func TestCanonicalURIIsDoubleEncoded(t *testing.T) {
	tests := map[string]string{
		"/prod/@connections/R1kmxc2VNjMCFIA%3D": "/prod/%40connections/R1kmxc2VNjMCFIA%253D",
		"/prod/%40connections/x":                "/prod/%2540connections/x",
		"/prod/@channels/a%2Fb":                 "/prod/%40channels/a%252Fb",
		"/p/%E2%9C%93%20x~-._":                  "/p/%25E2%259C%2593%2520x~-._",
		"":                                      "/",
	}
	for wire, want := range tests {
		req := clientRequest(t, spec{method: "GET", target: wire})
		if wire == "" {
			req.URL.Opaque = ""
			req.URL.Path = ""
		}
		var log bytes.Buffer
		sum := sha256.Sum256(nil)
		err := v4.NewSigner(func(o *v4.SignerOptions) {
			o.LogSigning = true
			o.Logger = logging.NewStandardLogger(&log)
		}).SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, req, hex.EncodeToString(sum[:]), Service, "us-east-1", testTime)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "GET\n"+want+"\n") {
			t.Errorf("SDK canonical request for %q does not have URI %q:\n%s", wire, want, log.String())
		}
		sr, _ := toServer(t, req)
		s, err := Parse(sr, testTime)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(s.canonicalRequest([]byte(emptySHA256))); !strings.HasPrefix(got, "GET\n"+want+"\n") {
			t.Errorf("canonical request for %q:\n%s\nwant URI %q", wire, got, want)
		}
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	base := spec{target: "/prod/@connections/abc%3D?limit=2", body: "payload",
		header: http.Header{"Content-Type": {"text/plain"}}, token: "session"}
	tests := []struct {
		name   string
		tamper func(r *http.Request, body *[]byte)
		kind   error
		msg    string
	}{
		{"method", func(r *http.Request, _ *[]byte) { r.Method = "PUT" }, ErrSignature, msgMismatch},
		{"path", func(r *http.Request, _ *[]byte) { r.RequestURI = "/prod/@connections/abd%3D?limit=2" }, ErrSignature, msgMismatch},
		{"path encoding", func(r *http.Request, _ *[]byte) { r.RequestURI = "/prod/%40connections/abc%3D?limit=2" }, ErrSignature, msgMismatch},
		{"stage", func(r *http.Request, _ *[]byte) { r.RequestURI = "/test/@connections/abc%3D?limit=2" }, ErrSignature, msgMismatch},
		{"query value", func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "limit=3" }, ErrSignature, msgMismatch},
		{"query added", func(r *http.Request, _ *[]byte) { r.URL.RawQuery += "&cursor=x" }, ErrSignature, msgMismatch},
		{"host", func(r *http.Request, _ *[]byte) { r.Host = "evil.example.com" }, ErrSignature, msgMismatch},
		{"signed header", func(r *http.Request, _ *[]byte) { r.Header.Set("Content-Type", "text/html") }, ErrSignature, msgMismatch},
		{"signed header added value", func(r *http.Request, _ *[]byte) { r.Header.Add("Content-Type", "x") }, ErrSignature, msgMismatch},
		{"session token", func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Security-Token", "other") }, ErrSignature, msgMismatch},
		{"body", func(_ *http.Request, b *[]byte) { *b = []byte("payloaD") }, ErrSignature, msgMismatch},
		{"body extended", func(_ *http.Request, b *[]byte) { *b = append(*b, '!') }, ErrSignature, msgMismatch},
		{"date within skew", func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "20260304T101113Z") }, ErrSignature, msgMismatch},
		{"signature", func(r *http.Request, _ *[]byte) { replaceAuth(r, "Signature=", "Signature=0") }, ErrSignature, msgMismatch},
		{"signature upper case", func(r *http.Request, _ *[]byte) {
			a := r.Header.Get("Authorization")
			i := strings.Index(a, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
		}, ErrSignature, msgMismatch},
		{"signed headers dropped", func(r *http.Request, _ *[]byte) { replaceAuth(r, "content-type;", "") }, ErrSignature, msgMismatch},
		{"unknown key", func(r *http.Request, _ *[]byte) { replaceAuth(r, testKeyID, "AKIAOTHER") }, ErrUnknownKey, msgUnknownKey},
		{"date header removed", func(r *http.Request, _ *[]byte) { r.Header.Del("X-Amz-Date") }, ErrMalformed,
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential="},
		{"token unsigned", func(r *http.Request, _ *[]byte) { replaceAuth(r, ";x-amz-security-token", "") }, ErrMalformed,
			"'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization."},
		{"host unsigned", func(r *http.Request, _ *[]byte) { replaceAuth(r, "host;", "") }, ErrMalformed,
			"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{"date unsigned", func(r *http.Request, _ *[]byte) { replaceAuth(r, ";x-amz-date", "") }, ErrMalformed,
			"'x-amz-date' must be a 'SignedHeader' in the AWS Authorization."},
		{"scope date", func(r *http.Request, _ *[]byte) { replaceAuth(r, "/20260304/", "/20260305/") }, ErrMalformed,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260305' != '20260304', from '20260304T101112Z'."},
		{"service", func(r *http.Request, _ *[]byte) { replaceAuth(r, "/execute-api/", "/apigateway/") }, ErrWrongService,
			"Credential should be scoped to correct service: 'execute-api'. "},
		{"terminator", func(r *http.Request, _ *[]byte) { replaceAuth(r, "/aws4_request", "/aws5_request") }, ErrMalformed,
			"Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "},
		{"credential elements", func(r *http.Request, _ *[]byte) { replaceAuth(r, "/us-east-1/", "/") }, ErrMalformed,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + testKeyID + "/20260304/execute-api/aws4_request'"},
		{"empty region", func(r *http.Request, _ *[]byte) { replaceAuth(r, "/us-east-1/", "//") }, ErrMalformed,
			"Credential should be scoped to a valid region, not ''. "},
		{"algorithm sigv4a", func(r *http.Request, _ *[]byte) { replaceAuth(r, Algorithm, "AWS4-ECDSA-P256-SHA256") }, ErrUnsupported, msgSigV4a},
		{"algorithm other", func(r *http.Request, _ *[]byte) { replaceAuth(r, Algorithm, "AWS4-HMAC-SHA512") }, ErrUnsupported, "Unsupported signing algorithm"},
		{"missing signature", func(r *http.Request, _ *[]byte) { replaceAuth(r, ", Signature=", ", Sig=") }, ErrMalformed,
			"Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential="},
		{"bearer", func(r *http.Request, _ *[]byte) { r.Header.Set("Authorization", "Bearer abc") }, ErrMalformed,
			"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc"},
		{"missing equal sign", func(r *http.Request, _ *[]byte) { replaceAuth(r, "SignedHeaders=", "SignedHeaders ") }, ErrMalformed,
			"not a valid key=value pair (missing equal-sign) in Authorization header"},
		{"duplicate parameter", func(r *http.Request, _ *[]byte) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Signature=ab")
		}, ErrMalformed,
			"Authorization header has the 'Signature' parameter twice"},
		{"unsorted signed headers", func(r *http.Request, _ *[]byte) {
			replaceAuth(r, "content-length;content-type", "content-type;content-length")
		}, ErrMalformed,
			"SignedHeaders must be lower-case header names"},
		{"upper-case signed header", func(r *http.Request, _ *[]byte) { replaceAuth(r, ";host;", ";Host;") }, ErrMalformed,
			"SignedHeaders must be lower-case header names"},
		{"two authorization headers", func(r *http.Request, _ *[]byte) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, ErrMalformed,
			"2 Authorization headers"},
		{"no authorization", func(r *http.Request, _ *[]byte) { r.Header.Del("Authorization") }, ErrMissing, msgMissing},
		{"presigned as well", func(r *http.Request, _ *[]byte) { r.URL.RawQuery += "&X-Amz-Signature=abc" }, ErrUnsupported, msgBothAuth},
		{"bad date format", func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "2026-03-04T10:11:12Z") }, ErrMalformed,
			"Invalid x-amz-date header '2026-03-04T10:11:12Z'"},
		{"impossible date", func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "20260230T101112Z") }, ErrMalformed, "Invalid x-amz-date header"},
		{"fractional seconds", func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Date", "20260304T101112.5Z") }, ErrMalformed, "Invalid x-amz-date header"},
		{"two dates", func(r *http.Request, _ *[]byte) { r.Header.Add("X-Amz-Date", "20260304T101112Z") }, ErrMalformed, "2 x-amz-date headers"},
		{"body hash header wrong", func(r *http.Request, _ *[]byte) {
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			replaceAuth(r, "host;", "host;x-amz-content-sha256;")
		}, ErrSignature, msgBodyHash},
		{"body hash header unsigned", func(r *http.Request, b *[]byte) {
			sum := sha256.Sum256(*b)
			r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		}, ErrMalformed, "'x-amz-content-sha256' must be a 'SignedHeader'"},
		{"unsigned payload", func(r *http.Request, _ *[]byte) {
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			replaceAuth(r, "host;", "host;x-amz-content-sha256;")
		}, ErrUnsupported, "UNSIGNED-PAYLOAD is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := signed(t, base)
			if _, err := Verify(r, body, lookup, testTime); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			tt.tamper(r, &body)
			_, err := Verify(r, body, lookup, testTime)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want %v", err, tt.kind)
			}
			if !strings.Contains(message(err), tt.msg) {
				t.Errorf("message %q does not contain %q", message(err), tt.msg)
			}
			if strings.Contains(message(err), testSecret) || strings.Contains(err.Error(), testSecret) {
				t.Error("the error contains the secret")
			}
		})
	}
}

func TestVerifyWrongSecret(t *testing.T) {
	r, body := signed(t, spec{target: "/prod/@connections/x", body: "data"})
	_, err := Verify(r, body, func(string) (string, bool) { return testSecret + "x", true }, testTime)
	if !errors.Is(err, ErrSignature) {
		t.Fatalf("got %v, want ErrSignature", err)
	}
	// API Gateway appends the canonical request and the string to sign.
	msg := message(err)
	for _, want := range []string{
		msgMismatch + "\n\nThe Canonical String for this request should have been\n'POST\n/prod/%40connections/x\n\ncontent-length:4\nhost:" + testHost + "\nx-amz-date:20260304T101112Z\n\ncontent-length;host;x-amz-date\n",
		"'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20260304T101112Z\n20260304/us-east-1/execute-api/aws4_request\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	if err.Error() != "sigv4: signature does not match" {
		t.Errorf("Error() = %q: it must not quote the request", err.Error())
	}
}

func TestVerifySkew(t *testing.T) {
	r, body := signed(t, spec{method: "GET", target: "/prod/@connections/x"})
	tests := []struct {
		now time.Time
		msg string // "" means accepted
	}{
		{testTime, ""},
		{testTime.Add(MaxSkew), ""},
		{testTime.Add(MaxSkew + 999*time.Millisecond), ""}, // same second
		{testTime.Add(MaxSkew + time.Second), "Signature expired: 20260304T101112Z is now earlier than 20260304T101113Z (20260304T101613Z - 5 min.)"},
		{testTime.Add(time.Hour), "Signature expired: 20260304T101112Z is now earlier than 20260304T110612Z (20260304T111112Z - 5 min.)"},
		{testTime.Add(-MaxSkew), ""},
		{testTime.Add(-MaxSkew - time.Second), "Signature not yet current: 20260304T101112Z is still later than 20260304T101111Z (20260304T100611Z + 5 min.)"},
		{testTime.Add(-24 * time.Hour).In(time.FixedZone("X", 3600)), "Signature not yet current: 20260304T101112Z is still later than 20260303T101612Z (20260303T101112Z + 5 min.)"},
	}
	for _, tt := range tests {
		_, err := Verify(r, body, lookup, tt.now)
		switch {
		case tt.msg == "" && err != nil:
			t.Errorf("now %v: %v", tt.now, err)
		case tt.msg != "" && !errors.Is(err, ErrExpired):
			t.Errorf("now %v: got %v, want ErrExpired", tt.now, err)
		case tt.msg != "" && message(err) != tt.msg:
			t.Errorf("now %v: message\n%q, want\n%q", tt.now, message(err), tt.msg)
		}
	}
}

// TestParseThenVerify: Parse needs neither the body nor the secret, so a
// caller can look the key up before it reads the body.
func TestParseThenVerify(t *testing.T) {
	r, body := signed(t, spec{target: "/prod/@connections/x", body: "data", region: "eu-west-1"})
	s, err := Parse(r, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if s.AccessKeyID() != testKeyID || s.Region() != "eu-west-1" {
		t.Errorf("AccessKeyID %q Region %q", s.AccessKeyID(), s.Region())
	}
	if _, err := s.Verify(body, testSecret); err != nil {
		t.Error(err)
	}
	if _, err := s.Verify(body, "other"); !errors.Is(err, ErrSignature) {
		t.Errorf("other secret: %v", err)
	}
}

func TestPresigned(t *testing.T) {
	req := clientRequest(t, spec{method: "GET", target: "/prod/@connections/x"})
	sum := sha256.Sum256(nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), Service, "us-east-1", testTime)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !Present(r) {
		t.Error("Present: false for a presigned URL")
	}
	_, err = Verify(r, nil, lookup, testTime)
	if !errors.Is(err, ErrUnsupported) || message(err) != msgPresigned {
		t.Errorf("got %v (%s), want ErrUnsupported", err, message(err))
	}
}

func TestPresent(t *testing.T) {
	for v, want := range map[string]bool{
		"":                                  false,
		"Bearer x":                          false,
		"AWS4-HMAC-SHA256 Credential=a":     true,
		" AWS4-ECDSA-P256-SHA256 x":         true,
		"aws4-hmac-sha256 Credential=a":     false,
		"Basic QUtJRDpzZWNyZXQ=":            false,
		"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8D": false, // SigV2
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://h/p?X-Amz-Date=1", nil)
		if v != "" {
			r.Header.Set("Authorization", v)
		}
		if got := Present(r); got != want {
			t.Errorf("Present(%q) = %v, want %v", v, got, want)
		}
	}
}

// refSign is a plain transcription of the SigV4 steps, used to sign what
// the SDK cannot produce (a request dated by Date alone). It is checked
// against the SDK on an ordinary request first.
func refSign(r *http.Request, body []byte, signedHeaders []string, date string, amzDate string) string {
	sum := sha256.Sum256(body)
	var canon strings.Builder
	canon.WriteString(r.Method + "\n" + string(appendEscaped(nil, requestPath(r), true)) + "\n" + string(appendCanonicalQuery(nil, r.URL.RawQuery)) + "\n")
	for _, h := range signedHeaders {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canon.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	canon.WriteString("\n" + strings.Join(signedHeaders, ";") + "\n" + hex.EncodeToString(sum[:]))
	csum := sha256.Sum256([]byte(canon.String()))
	scope := date + "/us-east-1/execute-api/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(csum[:])
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	k := mac(mac(mac(mac([]byte("AWS4"+testSecret), date), "us-east-1"), "execute-api"), "aws4_request")
	return "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/" + scope + ", SignedHeaders=" + strings.Join(signedHeaders, ";") +
		", Signature=" + hex.EncodeToString(mac(k, sts))
}

func TestVerifyDateHeader(t *testing.T) {
	r, body := signed(t, spec{target: "/prod/@connections/x", body: "data"})
	if got, want := refSign(r, body, []string{"content-length", "host", "x-amz-date"}, "20260304", "20260304T101112Z"), r.Header.Get("Authorization"); got != want {
		t.Fatalf("the reference signer disagrees with the SDK:\n%s\n%s", got, want)
	}
	for _, date := range []string{"20260304T101112Z", "Wed, 04 Mar 2026 10:11:12 GMT", "Wednesday, 04-Mar-26 10:11:12 GMT"} {
		r, body := signed(t, spec{target: "/prod/@connections/x", body: "data"})
		r.Header.Del("X-Amz-Date")
		r.Header.Set("Date", date)
		r.Header.Set("Authorization", refSign(r, body, []string{"content-length", "date", "host"}, "20260304", "20260304T101112Z"))
		if _, err := Verify(r, body, lookup, testTime); err != nil {
			t.Errorf("Date %q: %v\n%s", date, err, message(err))
		}
		if _, err := Verify(r, body, lookup, testTime.Add(time.Hour)); !errors.Is(err, ErrExpired) {
			t.Errorf("Date %q an hour later: %v, want ErrExpired", date, err)
		}
	}
}

func message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func replaceAuth(r *http.Request, old, new string) {
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
}

// BenchmarkVerify verifies a PostToConnection as the Go SDK signs it: a
// 1 KiB body and the SDK's headers.
func BenchmarkVerify(b *testing.B) {
	r, body := signed(b, spec{target: "/production/@connections/R1kmxc2VNjMCFIA%3D", body: strings.Repeat("x", 1024), header: http.Header{
		"Content-Type":          {"application/octet-stream"},
		"Amz-Sdk-Invocation-Id": {"6f1c2f0e-5d39-4a4e-9a53-2a7c7e2f4d11"},
		"Amz-Sdk-Request":       {"attempt=1; max=3"},
		"User-Agent":            {"aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26 md/GOOS#linux api/apigatewaymanagementapi#1.38.0"},
	}})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Verify(r, body, lookup, testTime); err != nil {
			b.Fatal(err)
		}
	}
}
