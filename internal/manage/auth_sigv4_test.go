package manage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	akidProd  = "AKIAPRODEXAMPLE00001"
	akidDev   = "AKIADEVEXAMPLE000001"
	secretAK  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	secretAK2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
)

// signTime is the clock of the SigV4 tests: requests are signed at it and
// the handler's Auth.Now returns it.
var signTime = time.Date(2026, 3, 4, 10, 11, 12, 0, time.UTC)

func sigV4Auth(allowLoopback bool) Auth {
	return Auth{
		AccessKeys: []AccessKey{
			{ID: akidProd, Secret: secretAK},
			{ID: akidDev, Secret: secretAK2, Stages: []string{"dev"}},
		},
		APIKeys:       testKeys,
		AllowLoopback: allowLoopback,
		Now:           func() time.Time { return signTime },
	}
}

// signedReq is one signed request to send.
type signedReq struct {
	method, target string
	body           []byte
	chunked        bool   // send the body without Content-Length
	id, secret     string // default akidProd, secretAK
	token          string
	service        string      // default execute-api
	at             time.Time   // default signTime
	sentBody       []byte      // a body other than the signed one
	header         http.Header // unsigned headers added after signing
	tamper         func(*http.Request)
}

// sendSigned signs a request with the AWS SDK for Go v2's signer and sends
// it to srv.
func sendSigned(t *testing.T, srv *httptest.Server, s signedReq) response {
	t.Helper()
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
		if s.chunked {
			body = unsized{body}
		}
	}
	req, err := http.NewRequest(s.method, srv.URL+s.target, body)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, service, at := s.id, s.secret, s.service, s.at
	if id == "" {
		id, secret = akidProd, secretAK
	}
	if service == "" {
		service = "execute-api"
	}
	if at.IsZero() {
		at = signTime
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	sum := sha256.Sum256(s.body)
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: s.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	if s.sentBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(s.sentBody))
		req.ContentLength = int64(len(s.sentBody))
	}
	for k, vs := range s.header {
		req.Header[k] = vs
	}
	if s.tamper != nil {
		s.tamper(req)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func TestSigV4Admits(t *testing.T) {
	const conn = "/prod/@connections/R1kmxc2VNjMCFIA%3D"
	for _, allowLoopback := range []bool{false, true} {
		b := newTestBackend()
		srv := newTestServer(t, b, sigV4Auth(allowLoopback))
		if r := sendSigned(t, srv, signedReq{method: "POST", target: conn, body: []byte("signed data")}); r.status != http.StatusOK {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
		if posts := b.postsSnapshot(); len(posts) != 1 || string(posts[0].data) != "signed data" || posts[0].id != "R1kmxc2VNjMCFIA=" {
			t.Errorf("posts %+v", posts)
		}
		if r := sendSigned(t, srv, signedReq{method: "POST", target: conn, body: []byte("chunked"), chunked: true, token: "session-token"}); r.status != http.StatusOK {
			t.Errorf("POST chunked with a session token: %d %s", r.status, r.body)
		}
		if r := sendSigned(t, srv, signedReq{method: "POST", target: conn}); r.status != http.StatusOK {
			t.Errorf("POST empty: %d %s", r.status, r.body)
		}
		if r := sendSigned(t, srv, signedReq{method: "GET", target: "/prod/%40connections/R1kmxc2VNjMCFIA%3D"}); r.status != http.StatusOK {
			t.Errorf("GET %%40connections: %d %s", r.status, r.body)
		}
		if r := sendSigned(t, srv, signedReq{method: "GET", target: "/prod/@connections?limit=1&cursor=c1"}); r.status != http.StatusOK {
			t.Errorf("GET list: %d %s", r.status, r.body)
		}
		if r := sendSigned(t, srv, signedReq{method: "GET", target: "/dev/@connections", id: akidDev, secret: secretAK2}); r.status != http.StatusOK {
			t.Errorf("GET with a key scoped to dev: %d %s", r.status, r.body)
		}
		batch := `{"operations":[{"connectionId":"R1kmxc2VNjMCFIA=","text":"x"}]}`
		if r := sendSigned(t, srv, signedReq{method: "POST", target: "/prod/@batch", body: []byte(batch)}); r.status != http.StatusOK {
			t.Errorf("POST batch: %d %s", r.status, r.body)
		}
		if r := sendSigned(t, srv, signedReq{method: "DELETE", target: conn, header: http.Header{"X-Unsigned": {"ignored"}}}); r.status != http.StatusNoContent {
			t.Errorf("DELETE: %d %s", r.status, r.body)
		}
	}
}

func TestSigV4Refuses(t *testing.T) {
	const conn = "/prod/@connections/R1kmxc2VNjMCFIA%3D"
	tests := []struct {
		name   string
		req    signedReq
		status int
		msg    string
	}{
		{"wrong secret", signedReq{method: "POST", target: conn, body: []byte("x"), secret: secretAK2, id: akidProd}, 403,
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."},
		{"unknown key", signedReq{method: "GET", target: conn, id: "AKIAUNKNOWN000000000", secret: secretAK}, 403, msgUnknownAccessKey},
		{"expired", signedReq{method: "GET", target: conn, at: signTime.Add(-10 * time.Minute)}, 403,
			"Signature expired: 20260304T100112Z is now earlier than 20260304T100612Z (20260304T101112Z - 5 min.)"},
		{"not yet current", signedReq{method: "GET", target: conn, at: signTime.Add(6 * time.Minute)}, 403, "Signature not yet current:"},
		{"other service", signedReq{method: "GET", target: conn, service: "apigateway"}, 403, "Credential should be scoped to correct service: 'execute-api'. "},
		{"body changed", signedReq{method: "POST", target: conn, body: []byte("abc"), sentBody: []byte("abd")}, 403, "does not match the signature you provided"},
		{"path changed", signedReq{method: "GET", target: conn, tamper: func(r *http.Request) {
			r.URL.RawPath = "/dev/@connections/R1kmxc2VNjMCFIA%3D"
			r.URL.Path = "/dev/@connections/R1kmxc2VNjMCFIA="
		}}, 403,
			"does not match the signature you provided"},
		{"query changed", signedReq{method: "GET", target: "/prod/@connections?limit=1", tamper: func(r *http.Request) { r.URL.RawQuery = "limit=2" }}, 403,
			"does not match the signature you provided"},
		{"method changed", signedReq{method: "GET", target: conn, tamper: func(r *http.Request) { r.Method = "DELETE" }}, 403,
			"does not match the signature you provided"},
		{"scoped key on another stage", signedReq{method: "GET", target: conn, id: akidDev, secret: secretAK2}, 403,
			`User: ` + akidDev + ` is not authorized to perform: execute-api:ManageConnections on stage "prod"`},
		{"scoped key, no stage", signedReq{method: "GET", target: "/@connections/x", id: akidDev, secret: secretAK2}, 403, "is not authorized"},
		{"too large", signedReq{method: "POST", target: conn, body: bytes.Repeat([]byte("z"), testMaxBytes+1)}, 413, "limit of 64 bytes"},
		{"too large chunked", signedReq{method: "POST", target: conn, body: bytes.Repeat([]byte("z"), testMaxBytes+1), chunked: true}, 413, "limit of 64 bytes"},
		{"ignored body too large", signedReq{method: "GET", target: conn, body: bytes.Repeat([]byte("z"), maxIgnoredBodyBytes+1)}, 413, "at most 65536 bytes"},
		{"wrong x-api-key with a right signature", signedReq{method: "GET", target: conn, header: http.Header{"X-Api-Key": {"nope"}}}, 403, msgInvalidKey},
		{"presigned", signedReq{method: "GET", target: conn, tamper: func(r *http.Request) {
			r.Header.Del("Authorization")
			r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc"
		}}, 403, "Presigned URLs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, allowLoopback := range []bool{false, true} {
				b := newTestBackend()
				srv := newTestServer(t, b, sigV4Auth(allowLoopback))
				r := sendSigned(t, srv, tt.req)
				typ := "ForbiddenException"
				if tt.status == 413 {
					typ = "PayloadTooLargeException"
				}
				checkError(t, r, tt.status, typ, tt.msg)
				if calls := b.callsSnapshot(); len(calls) > 0 || len(b.postsSnapshot()) > 0 {
					t.Errorf("a refused request reached the backend: %+v", calls)
				}
			}
		})
	}
}

// TestSigV4Unsigned: with access keys configured and loopback off, a
// request without credentials is refused; with loopback on, admitted.
func TestSigV4Unsigned(t *testing.T) {
	const path = "/prod/@connections/R1kmxc2VNjMCFIA%3D"
	checkError(t, do(t, newTestServer(t, newTestBackend(), sigV4Auth(false)), "GET", path, nil, nil), 403, "ForbiddenException", msgMissingAuth)
	if r := do(t, newTestServer(t, newTestBackend(), sigV4Auth(true)), "GET", path, nil, nil); r.status != 200 {
		t.Errorf("loopback without credentials: %d %s", r.status, r.body)
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r *strings.Reader
	n *int
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += n
	return n, err
}

func (countingBody) Close() error { return nil }

// TestSigV4BodyReadOnce: the body is read once, for the hash, and the
// handler gets the same bytes from memory.
func TestSigV4BodyReadOnce(t *testing.T) {
	const data = "read me once"
	b := newTestBackend()
	h := NewHandler(b, sigV4Auth(false), testLogger(t))
	req := httptest.NewRequest("POST", "http://gw.example.com/prod/@connections/R1kmxc2VNjMCFIA%3D", nil)
	sum := sha256.Sum256([]byte(data))
	req.ContentLength = int64(len(data))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akidProd, SecretAccessKey: secretAK}, req,
		hex.EncodeToString(sum[:]), "execute-api", "us-east-1", signTime); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Length", "12")
	var n int
	req.Body = countingBody{strings.NewReader(data), &n}
	req.RemoteAddr = "203.0.113.7:5"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if n != len(data) {
		t.Errorf("read %d bytes of the body, want %d", n, len(data))
	}
	if posts := b.postsSnapshot(); len(posts) != 1 || string(posts[0].data) != data {
		t.Errorf("posts %+v", posts)
	}
}

// TestSigV4Logging: rejections are logged with their reason, never with a
// secret or a session token.
func TestSigV4Logging(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(NewHandler(newTestBackend(), sigV4Auth(false), logger))
	t.Cleanup(srv.Close)
	const conn = "/prod/@connections/R1kmxc2VNjMCFIA%3D"
	sendSigned(t, srv, signedReq{method: "GET", target: conn, secret: secretAK2, id: akidProd, token: "TOKEN-VALUE-123"})
	sendSigned(t, srv, signedReq{method: "GET", target: conn, at: signTime.Add(-time.Hour)})
	sendSigned(t, srv, signedReq{method: "GET", target: conn, token: "TOKEN-VALUE-123"})

	recs := buf.records(t)
	all, _ := json.Marshal(recs)
	for _, secret := range []string{secretAK, secretAK2, "TOKEN-VALUE-123"} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("the log contains %q: %s", secret, all)
		}
	}
	var reasons []string
	var principal any
	for _, r := range recs {
		if r["msg"] == "management request rejected" {
			reasons = append(reasons, r["reason"].(string))
		}
		if r["msg"] == "management call" {
			principal = r["principal"]
		}
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "signature does not match") || !strings.Contains(reasons[0], akidProd) ||
		!strings.Contains(reasons[1], "Signature expired") {
		t.Errorf("rejection reasons %q", reasons)
	}
	if principal != akidProd {
		t.Errorf("principal %v, want %s", principal, akidProd)
	}
}
