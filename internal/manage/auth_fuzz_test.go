package manage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzAuth sends arbitrary credentials (Authorization, x-api-key, the
// request's date) with arbitrary requests, from loopback or not, to a
// handler with access keys and API keys, and checks that it does not
// panic, answers a documented status, refuses with 403 (or 413 for a
// signed body too large) and never admits a request whose credentials are
// neither a configured key nor absent from loopback.
func FuzzAuth(f *testing.F) {
	signedHeader := func(method, target string, body []byte) (string, string) {
		req := httptest.NewRequest(method, "http://example.com"+target, bytes.NewReader(body))
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akidProd, SecretAccessKey: secretAK}, req,
			hex.EncodeToString(sum[:]), "execute-api", "us-east-1", signTime); err != nil {
			f.Fatal(err)
		}
		return req.Header.Get("Authorization"), req.Header.Get("X-Amz-Date")
	}
	for _, s := range []struct {
		method, target string
		body           []byte
	}{
		{"POST", "/prod/@connections/R1kmxc2VNjMCFIA%3D", []byte("hello")},
		{"GET", "/prod/%40connections/R1kmxc2VNjMCFIA%3D", nil},
		{"POST", "/prod/@batch", []byte(`{"operations":[{"connectionId":"R1kmxc2VNjMCFIA=","text":"x"}]}`)},
		{"GET", "/dev/@connections?limit=1", nil},
	} {
		auth, date := signedHeader(s.method, s.target, s.body)
		f.Add(s.method, s.target, auth, date, "", s.body, false)
		f.Add(s.method, s.target, auth, date, "", s.body, true)
		f.Add(s.method, s.target, auth, date, secretOps, s.body, false)
	}
	f.Add("GET", "/prod/@connections", "Bearer "+secretDev, "", "", []byte(nil), false)
	f.Add("GET", "/prod/@connections?X-Amz-Signature=1", "", "", "", []byte(nil), true)
	f.Add("POST", "/prod/@users/u", "AWS4-HMAC-SHA256 Credential=/20260304/x/execute-api/aws4_request", "20260304T101112Z", "", []byte("x"), false)
	f.Fuzz(func(t *testing.T, method, target, authorization, date, apiKey string, body []byte, loopback bool) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		b := newTestBackend()
		h := NewHandler(b, sigV4Auth(true), nil)
		req := &http.Request{
			Method: method, URL: u, RequestURI: target,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "example.com",
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
			RemoteAddr: "203.0.113.7:40000",
		}
		if loopback {
			req.RemoteAddr = "127.0.0.1:40000"
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		if date != "" {
			req.Header.Set("X-Amz-Date", date)
		}
		if apiKey != "" {
			req.Header.Set("X-Api-Key", apiKey)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !documentedStatuses[rec.Code] {
			t.Fatalf("undocumented status %d", rec.Code)
		}
		if rec.Code >= 400 {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Type != rec.Header().Get("x-amzn-ErrorType") {
				t.Fatalf("%d error body %q", rec.Code, rec.Body)
			}
		}
		noCredentials := authorization == "" && apiKey == "" && !bytes.Contains([]byte(u.RawQuery), []byte("X-Amz-"))
		if rec.Code < 400 && !loopback && noCredentials {
			t.Fatalf("%s %q admitted without credentials from a remote peer: %d", method, target, rec.Code)
		}
	})
}
