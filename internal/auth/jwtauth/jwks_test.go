package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/internal/config"
)

// jwk is one entry of a test key set.
type jwk struct {
	s   signer // its public half is published
	kid string
	alg string // "" publishes no alg (not possible for Ed25519: jwkset adds EdDSA)
	use jwkset.USE
}

// jwksServer is a loopback JWKS endpoint whose set, availability and
// request count the test controls.
type jwksServer struct {
	t        *testing.T
	srv      *httptest.Server
	requests atomic.Int64
	down     atomic.Bool                   // answer 503
	hold     atomic.Pointer[chan struct{}] // when set, answer once it is closed

	mu   sync.Mutex
	body []byte
}

func newJWKSServer(t *testing.T, keys ...jwk) *jwksServer {
	s := &jwksServer{t: t}
	s.set(keys...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if hold := s.hold.Load(); hold != nil {
			select {
			case <-*hold:
			case <-r.Context().Done():
				return
			}
		}
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) url() string { return s.srv.URL + "/.well-known/jwks.json" }

// set replaces the published key set.
func (s *jwksServer) set(keys ...jwk) {
	s.t.Helper()
	var set jwkset.JWKSMarshal
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.s.pub(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.ALG(k.alg), USE: k.use},
		})
		if err != nil {
			s.t.Fatalf("JWK %s: %v", k.kid, err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	body, err := json.Marshal(set)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) setRaw(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func withUnknownKIDInterval(d time.Duration) func(*Options) {
	return func(o *Options) { o.unknownKIDInterval = d }
}

func TestJWKS(t *testing.T) {
	k := testKeys()
	rs, es, ed := signer{"RS256", k.rsa}, signer{"ES256", k.ec256}, signer{"EdDSA", k.ed}
	ps := signer{"PS256", k.rsa2}
	srv := newJWKSServer(t,
		jwk{s: rs, kid: "r1", alg: "RS256"},
		jwk{s: es, kid: "e1", alg: "ES256"},
		jwk{s: ed, kid: "d1"},
		jwk{s: ps, kid: "n1"}, // no alg: jwt.algorithms decides
		jwk{s: signer{"ES384", k.ec384}, kid: "enc", alg: "ES384", use: jwkset.UseEnc},
	)
	v := newVerifier(t, config.JWT{JWKSURL: srv.url()})
	tests := []struct {
		name   string
		tok    string
		reason string
	}{
		{"kid with alg", sign(t, rs, "r1", claims(nil)), ""},
		{"no kid", sign(t, rs, "", claims(nil)), ""},
		{"ES256", sign(t, es, "e1", claims(nil)), ""},
		{"EdDSA", sign(t, ed, "d1", claims(nil)), ""},
		{"no alg on the JWK, default algorithms", sign(t, signer{"RS256", k.rsa2}, "n1", claims(nil)), ""},
		{"no alg on the JWK, alg not configured", sign(t, ps, "n1", claims(nil)), "algorithm not allowed"},
		{"JWK alg differs from the token's", sign(t, signer{"PS256", k.rsa}, "r1", claims(nil)), "algorithm not allowed"},
		{"kid of another key", sign(t, rs, "e1", claims(nil)), "algorithm not allowed"},
		{"kid right, key wrong", sign(t, signer{"RS256", k.rsa2}, "r1", claims(nil)), "bad signature"},
		{"no kid, no key for alg", sign(t, signer{"ES512", k.ec521}, "", claims(nil)), "no key for algorithm"},
		{"encryption key", sign(t, signer{"ES384", k.ec384}, "enc", claims(nil)), "algorithm not allowed"},
		{"HS256 with a JWK's modulus", sign(t, signer{"HS256", k.rsa.PublicKey.N.Bytes()}, "r1", claims(nil)), "algorithm not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Authenticate(bearer(tt.tok))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				return
			}
			wantReason(t, err, tt.reason)
		})
	}

	t.Run("configured algorithms", func(t *testing.T) {
		v := newVerifier(t, config.JWT{JWKSURL: srv.url(), Algorithms: []string{"PS256"}})
		if _, err := v.Authenticate(bearer(sign(t, ps, "n1", claims(nil)))); err != nil {
			t.Errorf("PS256 on a JWK without alg: %v", err)
		}
		_, err := v.Authenticate(bearer(sign(t, signer{"RS256", k.rsa2}, "n1", claims(nil))))
		wantReason(t, err, "algorithm not allowed")
	})
	t.Run("static and JWKS keys together", func(t *testing.T) {
		hs := signer{"HS256", k.secret[:32]}
		v := newVerifier(t, config.JWT{JWKSURL: srv.url(), Keys: []config.JWTKey{hs.configKey(t, "h1")}})
		before := srv.requests.Load()
		for _, tok := range []string{sign(t, hs, "h1", claims(nil)), sign(t, hs, "", claims(nil)), sign(t, rs, "r1", claims(nil))} {
			if _, err := v.Authenticate(bearer(tok)); err != nil {
				t.Errorf("Authenticate: %v", err)
			}
		}
		// HS256 is allowed now, but never with a JWKS key.
		_, err := v.Authenticate(bearer(sign(t, signer{"HS256", k.rsa.PublicKey.N.Bytes()}, "r1", claims(nil))))
		wantReason(t, err, "algorithm not allowed")
		_, err = v.Authenticate(bearer(sign(t, signer{"HS256", k.rsa.PublicKey.N.Bytes()}, "", claims(nil))))
		wantReason(t, err, "bad signature")
		if n := srv.requests.Load() - before; n != 0 {
			t.Errorf("%d JWKS requests for known kids, want 0", n)
		}
	})
}

func TestJWKSRotation(t *testing.T) {
	k := testKeys()
	k1, k2, k3 := signer{"RS256", k.rsa}, signer{"ES256", k.ec256}, signer{"EdDSA", k.ed}
	srv := newJWKSServer(t, jwk{s: k1, kid: "k1", alg: "RS256"})
	v := newVerifier(t, config.JWT{JWKSURL: srv.url()}, withUnknownKIDInterval(300*time.Millisecond))
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests after New, want 1", n)
	}

	// The issuer publishes k2 and signs with it: the first token naming k2
	// refreshes the set at once.
	srv.set(jwk{s: k1, kid: "k1", alg: "RS256"}, jwk{s: k2, kid: "k2", alg: "ES256"})
	if _, err := v.Authenticate(bearer(sign(t, k2, "k2", claims(nil)))); err != nil {
		t.Fatalf("token with the new kid: %v", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}

	// Another rotation right away: the limiter's next token is under the
	// fetch timeout away, so the lookup waits for it and then refreshes.
	srv.set(jwk{s: k2, kid: "k2", alg: "ES256"}, jwk{s: k3, kid: "k3"})
	start := time.Now()
	if _, err := v.Authenticate(bearer(sign(t, k3, "k3", claims(nil)))); err != nil {
		t.Fatalf("token with the second new kid: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v", d)
	}
	// k1 was dropped from the set: its tokens fail from that refresh on.
	_, err := v.Authenticate(bearer(sign(t, k1, "k1", claims(nil))))
	wantReason(t, err, "unknown key id")
}

func TestJWKSUnknownKIDFlood(t *testing.T) {
	k := testKeys()
	rs := signer{"RS256", k.rsa}
	srv := newJWKSServer(t, jwk{s: rs, kid: "k1", alg: "RS256"})
	v := newVerifier(t, config.JWT{JWKSURL: srv.url()}) // default interval: one refresh a minute

	es := signer{"ES256", k.ec256} // the alg does not matter; ES256 signs fast
	toks := make([][]string, 16)
	for g := range toks {
		for i := range 25 {
			toks[g] = append(toks[g], sign(t, es, fmt.Sprintf("made-up-%d-%d", g, i), claims(nil)))
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for g := range toks {
		wg.Go(func() {
			for _, tok := range toks[g] {
				_, err := v.Authenticate(bearer(tok))
				var e *Error
				if !errors.As(err, &e) || e.Reason != "unknown key id" {
					t.Errorf("made-up kid: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := srv.requests.Load(); n > 2 {
		t.Errorf("%d JWKS requests for 400 made-up kids, want at most 2 (first fetch + one refresh)", n)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the flood took %v: rate-limited lookups should fail at once", d)
	}
	// Known kids are unaffected.
	if _, err := v.Authenticate(bearer(sign(t, rs, "k1", claims(nil)))); err != nil {
		t.Errorf("known kid during the flood: %v", err)
	}
}

func TestJWKSServerDownAtStart(t *testing.T) {
	k := testKeys()
	rs := signer{"RS256", k.rsa}
	srv := newJWKSServer(t, jwk{s: rs, kid: "k1", alg: "RS256"})
	srv.down.Store(true)
	start := time.Now()
	v := newVerifier(t, config.JWT{JWKSURL: srv.url()}, withUnknownKIDInterval(100*time.Millisecond))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %v with the key server down", d)
	}
	for _, kid := range []string{"k1", ""} {
		_, err := v.Authenticate(bearer(sign(t, rs, kid, claims(nil))))
		wantReason(t, err, "signing keys unavailable")
	}

	srv.down.Store(false)
	for _, kid := range []string{"", "k1"} {
		waitFor(t, fmt.Sprintf("a token with kid %q to verify", kid), func() bool {
			_, err := v.Authenticate(bearer(sign(t, rs, kid, claims(nil))))
			return err == nil
		})
	}
}

func TestJWKSSlowServerAtStart(t *testing.T) {
	k := testKeys()
	rs := signer{"RS256", k.rsa}
	srv := newJWKSServer(t, jwk{s: rs, kid: "k1", alg: "RS256"})
	hold := make(chan struct{})
	srv.hold.Store(&hold)
	start := time.Now()
	v := newVerifier(t, config.JWT{JWKSURL: srv.url()}, func(o *Options) {
		o.fetchTimeout = 200 * time.Millisecond
		o.unknownKIDInterval = 50 * time.Millisecond
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %v; the first fetch should give up after 200ms", d)
	}
	close(hold)
	waitFor(t, "the keys to arrive", func() bool {
		_, err := v.Authenticate(bearer(sign(t, rs, "k1", claims(nil))))
		return err == nil
	})
}

func TestJWKSPeriodicRefresh(t *testing.T) {
	k := testKeys()
	k1, k2 := signer{"RS256", k.rsa}, signer{"RS256", k.rsa2}
	srv := newJWKSServer(t, jwk{s: k1, kid: "k1", alg: "RS256"})
	v := newVerifier(t, config.JWT{JWKSURL: srv.url(), JWKSRefresh: config.Duration(50 * time.Millisecond)})
	if _, err := v.Authenticate(bearer(sign(t, k1, "", claims(nil)))); err != nil {
		t.Fatalf("k1: %v", err)
	}
	// A token without kid never triggers a refresh; the ticker brings k2.
	srv.set(jwk{s: k2, kid: "k2", alg: "RS256"})
	waitFor(t, "k2 to verify", func() bool {
		_, err := v.Authenticate(bearer(sign(t, k2, "", claims(nil))))
		return err == nil
	})
	_, err := v.Authenticate(bearer(sign(t, k1, "", claims(nil))))
	wantReason(t, err, "bad signature")
}

func TestJWKSBadResponses(t *testing.T) {
	k := testKeys()
	rs := signer{"RS256", k.rsa}
	for name, body := range map[string][]byte{
		"too large": append(append([]byte(`{"keys":[`), []byte(strings.Repeat(" ", maxJWKSBytes))...), []byte(`]}`)...),
		"not json":  []byte("<html>"),
		"no keys":   []byte(`{"keys":[]}`),
		"symmetric": []byte(`{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}`),
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.setRaw(body)
			v := newVerifier(t, config.JWT{JWKSURL: srv.url()})
			_, err := v.Authenticate(bearer(sign(t, rs, "", claims(nil))))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v", err)
			}
			// A symmetric JWK is never used, even when a token asks for it.
			hs := sign(t, signer{"HS256", []byte("0123456789abcdef0123456789abcdef")}, "k1", claims(nil))
			_, err = v.Authenticate(bearer(hs))
			wantReason(t, err, "algorithm not allowed")
		})
	}
}

func TestLimitedBody(t *testing.T) {
	read := func(n int) error {
		b := &limitedBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("x", n))), left: 10}
		_, err := io.ReadAll(b)
		return err
	}
	if err := read(10); err != nil {
		t.Errorf("10 bytes: %v", err)
	}
	if err := read(11); !errors.Is(err, errJWKSTooLarge) {
		t.Errorf("11 bytes: %v, want errJWKSTooLarge", err)
	}
}

func TestJWKSNewContext(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, jwk{s: signer{"RS256", k.rsa}, kid: "k1", alg: "RS256"})

	t.Run("cancelled during the first fetch", func(t *testing.T) {
		hold := make(chan struct{})
		srv.hold.Store(&hold)
		defer func() { srv.hold.Store(nil); close(hold) }()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		v, err := New(ctx, Options{Config: config.JWT{JWKSURL: srv.url()}})
		if err == nil {
			v.Close()
			t.Fatal("New succeeded with its context done")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("refresher outlives ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		v, err := New(ctx, Options{Config: config.JWT{JWKSURL: srv.url()}, Now: func() time.Time { return testNow }, unknownKIDInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		cancel()
		k2 := signer{"ES256", k.ec256}
		srv.set(jwk{s: k2, kid: "k2", alg: "ES256"})
		if _, err := v.Authenticate(bearer(sign(t, k2, "k2", claims(nil)))); err != nil {
			t.Errorf("after ctx was cancelled: %v", err)
		}
	})
}

// TestJWKSNoneHeader makes sure "none" stays refused when JWKS keys widen
// the set of algorithms.
func TestJWKSNoneHeader(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, jwk{s: signer{"RS256", k.rsa}, kid: "k1"})
	v := newVerifier(t, config.JWT{JWKSURL: srv.url()})
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Authenticate(bearer(s))
	wantReason(t, err, "algorithm not allowed")
}
