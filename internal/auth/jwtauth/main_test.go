package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNow is the fixed clock of the verifiers built by newVerifier.
var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// testKeys are generated once per test binary (RSA generation is slow).
type testKeySet struct {
	rsa, rsa2           *rsa.PrivateKey
	ec256, ec384, ec521 *ecdsa.PrivateKey
	ed, ed2             ed25519.PrivateKey
	secret, secret2     []byte // 64 bytes: enough for HS512
}

var testKeys = sync.OnceValue(func() *testKeySet {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var k testKeySet
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.ec521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	_, k.ed2, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.secret = []byte(strings.Repeat("0123456789abcdef", 4))
	k.secret2 = []byte(strings.Repeat("fedcba9876543210", 4))
	return &k
})

// signer is a private key (or HMAC secret) and the algorithm it signs with.
type signer struct {
	alg string
	key any // private key or []byte
}

// pub returns the public half of s.key (the secret for HMAC).
func (s signer) pub() any {
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	}
	return s.key
}

// configKey is the keys[] entry that verifies s's tokens.
func (s signer) configKey(t testing.TB, id string) config.JWTKey {
	if b, ok := s.key.([]byte); ok {
		return config.JWTKey{ID: id, Algorithm: s.alg, Secret: string(b)}
	}
	return config.JWTKey{ID: id, Algorithm: s.alg, PublicKey: pemPublic(t, s.pub())}
}

// signers has one signer per supported algorithm.
func signers() []signer {
	k := testKeys()
	return []signer{
		{"HS256", k.secret[:32]}, {"HS384", k.secret[:48]}, {"HS512", k.secret},
		{"RS256", k.rsa}, {"RS384", k.rsa}, {"RS512", k.rsa},
		{"PS256", k.rsa}, {"PS384", k.rsa}, {"PS512", k.rsa},
		{"ES256", k.ec256}, {"ES384", k.ec384}, {"ES512", k.ec521},
		{"EdDSA", k.ed},
	}
}

func pemPublic(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// claims returns the claims of a good token at testNow, with extra merged
// in (a nil value deletes the claim).
func claims(extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "user-1",
		"iat": testNow.Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// sign makes a token signed by s, with kid in the header when not empty.
func sign(t testing.TB, s signer, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(s.alg), c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatalf("sign %s: %v", s.alg, err)
	}
	return out
}

// newVerifier builds a verifier on the fixed clock with logs to t, closed
// at the end of the test.
func newVerifier(t testing.TB, cfg config.JWT, mods ...func(*Options)) *Verifier {
	t.Helper()
	o := Options{Config: cfg, Logger: testLogger(t), Now: func() time.Time { return testNow }}
	for _, m := range mods {
		m(&o)
	}
	v, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// testLogger routes logs to t.Log until the test ends (a late log from a
// goroutine would otherwise panic).
func testLogger(t testing.TB) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// bearer is a handshake carrying tok in the Authorization header.
func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/stage", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// wantReason asserts that err is an *Error with reason.
func wantReason(t testing.TB, err error, reason string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error %q", err, err, reason)
	}
	if e.Reason != reason {
		t.Fatalf("reason = %q (%v), want %q", e.Reason, err, reason)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
