package manage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// benchBackend accepts every post and keeps nothing, so that the
// benchmarks measure the handler alone.
type benchBackend struct{ *fakeBackend }

func (benchBackend) PostToConnection(context.Context, string, string, []byte) error { return nil }
func (benchBackend) MaxPostBytes(string) (int, error)                               { return testMaxBytes, nil }

// benchWriter is a ResponseWriter that keeps only the status.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }

// rewindBody is a request body that can be read again.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// BenchmarkServePostToConnection serves POST /prod/@connections/{id}
// with a 64-byte body as net/http hands it to the handler: signed as the
// AWS SDK for Go v2 signs it, with an API key, and from loopback without
// credentials.
func BenchmarkServePostToConnection(b *testing.B) {
	for _, kind := range []string{"sigv4", "apikey", "loopback"} {
		b.Run(kind, func(b *testing.B) {
			serve := newPostServer(b, kind)
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}

// newPostServer returns a function that serves one POST
// /prod/@connections/{id} of kind (sigv4, apikey, loopback) with a 64-byte
// body to a handler whose backend accepts it, as net/http hands it over,
// and fails tb unless the answer is 200. setup, if any, adjusts the
// handler.
func newPostServer(tb testing.TB, kind string, setup ...func(*Handler)) func() {
	body := []byte(`"` + strings.Repeat("x", 62) + `"`)
	h := NewHandler(benchBackend{newTestBackend()}, sigV4Auth(true), nil)
	for _, f := range setup {
		f(h)
	}
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/prod/@connections/R1kmxc2VNjMCFIA%3D", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26 md/GOOS#linux api/apigatewaymanagementapi#1.38.0")
	switch kind {
	case "sigv4":
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akidProd, SecretAccessKey: secretAK},
			r, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", signTime); err != nil {
			tb.Fatal(err)
		}
		r.RemoteAddr = "192.0.2.10:40000"
	case "apikey":
		r.Header.Set("Authorization", "Bearer "+secretOps)
		r.RemoteAddr = "192.0.2.10:40000"
	case "loopback":
		r.RemoteAddr = "127.0.0.1:40000"
	}
	r.RequestURI = r.URL.RequestURI()
	rb := &rewindBody{}
	w := &benchWriter{h: http.Header{}}
	return func() {
		rb.Reset(body)
		r.Body = rb
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			tb.Fatalf("%s: status %d", kind, w.status)
		}
	}
}

// The management POST path allocates a bounded, small number of objects
// per request (issue 10.10): the request id and its header slice, the
// body, the decoded id, and for SigV4 the parsed signature, its signed
// headers, the canonical request and the string to sign. Before the
// work on this path a SigV4 POST made 74 allocations and an API-key POST
// 12. The bounds leave room for a Go release to differ by a few.
func TestServePostAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -race and -cover")
	}
	for kind, bound := range map[string]float64{"sigv4": 16, "apikey": 8, "loopback": 8} {
		serve := newPostServer(t, kind)
		serve() // warm the pools and the derived key
		if n := testing.AllocsPerRun(200, serve); n > bound {
			t.Errorf("%s: %.0f allocations per POST, want at most %.0f", kind, n, bound)
		}
	}
}

// The header names the handler looks up or sets without canonicalizing
// them are net/http's canonical forms of the names on the wire.
func TestCanonicalHeaderNames(t *testing.T) {
	for wire, key := range map[string]string{headerRequestID: canonicalRequestID, "x-api-key": canonicalAPIKey} {
		if got := http.CanonicalHeaderKey(wire); got != key {
			t.Errorf("CanonicalHeaderKey(%q) = %q, the handler uses %q", wire, got, key)
		}
	}
}
