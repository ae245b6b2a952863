package jwtauth

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/switchboardhq/switchboard/internal/config"
)

func TestEveryAlgorithm(t *testing.T) {
	k := testKeys()
	// A key of the same family that did not sign the token.
	other := map[string]any{
		"HS256": k.secret2[:32], "HS384": k.secret2[:48], "HS512": k.secret2,
		"RS256": k.rsa2, "RS384": k.rsa2, "RS512": k.rsa2, "PS256": k.rsa2, "PS384": k.rsa2, "PS512": k.rsa2,
		"ES256": mustEC(t, k.ec256), "ES384": mustEC(t, k.ec384), "ES512": mustEC(t, k.ec521),
		"EdDSA": k.ed2,
	}
	for _, s := range signers() {
		t.Run(s.alg, func(t *testing.T) {
			v := newVerifier(t, config.JWT{Keys: []config.JWTKey{s.configKey(t, "")}})
			id, err := v.Authenticate(bearer(sign(t, s, "", claims(nil))))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			want := Identity{
				User:      "user-1",
				Context:   map[string]any{"principalId": "user-1"},
				ExpiresAt: testNow.Add(time.Hour),
			}
			if diff := cmp.Diff(want, id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			forged := sign(t, signer{s.alg, other[s.alg]}, "", claims(nil))
			_, err = v.Authenticate(bearer(forged))
			wantReason(t, err, "bad signature")
			if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				t.Errorf("errors.Is(%v, ErrTokenSignatureInvalid) = false", err)
			}
		})
	}
}

// mustEC returns another ECDSA key on the curve of k.
func mustEC(t *testing.T, k *ecdsa.PrivateKey) *ecdsa.PrivateKey {
	t.Helper()
	o, err := ecdsa.GenerateKey(k.Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestPinnedAlgorithm: a key verifies only tokens of its own algorithm,
// whatever the token's header claims.
func TestPinnedAlgorithm(t *testing.T) {
	k := testKeys()
	rsaPEM := pemPublic(t, &k.rsa.PublicKey)
	rs256 := config.JWTKey{ID: "r", Algorithm: "RS256", PublicKey: rsaPEM}

	// The classic confusion: HS256 with the RSA public key as the secret.
	confused := sign(t, signer{"HS256", []byte(rsaPEM)}, "", claims(nil))
	confusedKid := sign(t, signer{"HS256", []byte(rsaPEM)}, "r", claims(nil))
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	confusedDER := sign(t, signer{"HS256", der}, "", claims(nil))
	ps256 := sign(t, signer{"PS256", k.rsa}, "", claims(nil)) // same key, other algorithm
	none := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	t.Run("rsa key only", func(t *testing.T) {
		v := newVerifier(t, config.JWT{Keys: []config.JWTKey{rs256}})
		for name, tok := range map[string]string{"HS256 PEM": confused, "HS256 PEM kid": confusedKid, "HS256 DER": confusedDER, "PS256": ps256, "none": none} {
			_, err := v.Authenticate(bearer(tok))
			wantReason(t, err, "algorithm not allowed")
			_ = name
		}
	})
	t.Run("rsa and hmac keys", func(t *testing.T) {
		hs := config.JWTKey{ID: "h", Algorithm: "HS256", Secret: string(k.secret[:32])}
		v := newVerifier(t, config.JWT{Keys: []config.JWTKey{rs256, hs}})
		// kid names the RSA key, but that key is pinned to RS256.
		_, err := v.Authenticate(bearer(confusedKid))
		wantReason(t, err, "no key for algorithm")
		// No kid: only the HS256 key is tried, and it is not the PEM.
		_, err = v.Authenticate(bearer(confused))
		wantReason(t, err, "bad signature")
		_, err = v.Authenticate(bearer(none))
		wantReason(t, err, "algorithm not allowed")
		_, err = v.Authenticate(bearer(ps256))
		wantReason(t, err, "algorithm not allowed")
		// Both genuine tokens pass.
		for _, tok := range []string{sign(t, signer{"RS256", k.rsa}, "r", claims(nil)), sign(t, signer{"HS256", k.secret[:32]}, "h", claims(nil))} {
			if _, err := v.Authenticate(bearer(tok)); err != nil {
				t.Errorf("genuine token: %v", err)
			}
		}
	})
	t.Run("same rsa key pinned twice", func(t *testing.T) {
		ps := config.JWTKey{Algorithm: "PS256", PublicKey: rsaPEM}
		v := newVerifier(t, config.JWT{Keys: []config.JWTKey{rs256, ps}})
		if _, err := v.Authenticate(bearer(ps256)); err != nil {
			t.Errorf("PS256: %v", err)
		}
	})
}

func TestKidSelection(t *testing.T) {
	k := testKeys()
	a, b := signer{"RS256", k.rsa}, signer{"RS256", k.rsa2}
	ec := signer{"ES256", k.ec256}
	v := newVerifier(t, config.JWT{Keys: []config.JWTKey{a.configKey(t, "a"), b.configKey(t, "b"), ec.configKey(t, "")}})
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(nil))
	tok.Header["kid"] = ""
	emptyKid, err := tok.SignedString(k.rsa2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tok    string
		reason string // "" for accepted
	}{
		{"kid a", sign(t, a, "a", claims(nil)), ""},
		{"kid b", sign(t, b, "b", claims(nil)), ""},
		{"kid a signed by b", sign(t, b, "a", claims(nil)), "bad signature"},
		{"no kid tries every RS256 key", sign(t, b, "", claims(nil)), ""},
		{"unknown kid, key without id", sign(t, ec, "zzz", claims(nil)), ""},
		{"unknown kid, RS256", sign(t, a, "zzz", claims(nil)), "no key for algorithm"},
		{"empty kid is no kid", emptyKid, ""},
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

	t.Run("only keys with ids", func(t *testing.T) {
		v := newVerifier(t, config.JWT{Keys: []config.JWTKey{a.configKey(t, "a"), b.configKey(t, "b")}})
		_, err := v.Authenticate(bearer(sign(t, a, "zzz", claims(nil))))
		wantReason(t, err, "unknown key id")
	})
	t.Run("kid not a string", func(t *testing.T) {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(nil))
		tok.Header["kid"] = 7
		s, err := tok.SignedString(k.rsa)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Authenticate(bearer(s))
		wantReason(t, err, "malformed token")
	})
	t.Run("crit header", func(t *testing.T) {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(nil))
		tok.Header["crit"] = []string{"b64"}
		tok.Header["b64"] = false
		s, err := tok.SignedString(k.rsa)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Authenticate(bearer(s))
		wantReason(t, err, "unsupported critical header")
	})
}

func TestTimeClaims(t *testing.T) {
	s := signer{"HS256", testKeys().secret[:32]}
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	tests := []struct {
		name   string
		leeway time.Duration // 0: default 30s
		extra  jwt.MapClaims
		reason string
		is     error
	}{
		{"valid", 0, nil, "", nil},
		{"no exp", 0, jwt.MapClaims{"exp": nil}, "", nil},
		{"expired within leeway", 0, jwt.MapClaims{"exp": at(-29 * time.Second)}, "", nil},
		{"expired", 0, jwt.MapClaims{"exp": at(-31 * time.Second)}, "token expired", jwt.ErrTokenExpired},
		{"expired within custom leeway", 2 * time.Minute, jwt.MapClaims{"exp": at(-90 * time.Second)}, "", nil},
		{"expired past custom leeway", 2 * time.Minute, jwt.MapClaims{"exp": at(-3 * time.Minute)}, "token expired", jwt.ErrTokenExpired},
		{"nbf within leeway", 0, jwt.MapClaims{"nbf": at(29 * time.Second)}, "", nil},
		{"nbf in the future", 0, jwt.MapClaims{"nbf": at(31 * time.Second)}, "token not valid yet", jwt.ErrTokenNotValidYet},
		{"iat within leeway", 0, jwt.MapClaims{"iat": at(29 * time.Second)}, "", nil},
		{"iat in the future", 0, jwt.MapClaims{"iat": at(time.Minute)}, "token issued in the future", jwt.ErrTokenUsedBeforeIssued},
		{"exp not a number", 0, jwt.MapClaims{"exp": "tomorrow"}, "invalid claims", jwt.ErrInvalidType},
		{"fractional exp", 0, jwt.MapClaims{"exp": float64(at(time.Hour)) + 0.5}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, config.JWT{Keys: []config.JWTKey{s.configKey(t, "")}, Leeway: config.Duration(tt.leeway)})
			id, err := v.Authenticate(bearer(sign(t, s, "", claims(tt.extra))))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if _, ok := claims(tt.extra)["exp"]; !ok && !id.ExpiresAt.IsZero() {
					t.Errorf("ExpiresAt = %v, want zero", id.ExpiresAt)
				}
				return
			}
			wantReason(t, err, tt.reason)
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestIssuerAudience(t *testing.T) {
	s := signer{"HS256", testKeys().secret[:32]}
	v := newVerifier(t, config.JWT{
		Keys:     []config.JWTKey{s.configKey(t, "")},
		Issuer:   "https://auth.example.com/",
		Audience: []string{"chat", "admin"},
	})
	good := jwt.MapClaims{"iss": "https://auth.example.com/", "aud": "chat"}
	with := func(k string, val any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		c[k] = val
		return c
	}
	tests := []struct {
		name   string
		extra  jwt.MapClaims
		reason string
	}{
		{"good", good, ""},
		{"aud list with one match", with("aud", []string{"other", "admin"}), ""},
		{"wrong audience", with("aud", "other"), "wrong audience"},
		{"wrong audience list", with("aud", []string{"x", "y"}), "wrong audience"},
		{"missing audience", jwt.MapClaims{"iss": "https://auth.example.com/"}, "missing audience"},
		{"empty audience", with("aud", ""), "missing audience"},
		{"wrong issuer", with("iss", "https://evil.example.com/"), "wrong issuer"},
		{"issuer differs in case", with("iss", "https://AUTH.example.com/"), "wrong issuer"},
		{"missing issuer", jwt.MapClaims{"aud": "chat"}, "missing issuer"},
		{"issuer not a string", with("iss", 5), "invalid claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Authenticate(bearer(sign(t, s, "", claims(tt.extra))))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				return
			}
			wantReason(t, err, tt.reason)
		})
	}
}

func TestUserClaim(t *testing.T) {
	s := signer{"HS256", testKeys().secret[:32]}
	tests := []struct {
		name   string
		claim  string
		extra  jwt.MapClaims
		user   string
		reason string
	}{
		{"sub", "", nil, "user-1", ""},
		{"missing", "", jwt.MapClaims{"sub": nil}, "", "missing user claim"},
		{"empty", "", jwt.MapClaims{"sub": ""}, "", "missing user claim"},
		{"bool", "", jwt.MapClaims{"sub": true}, "", "user claim is not a string"},
		{"object", "", jwt.MapClaims{"sub": map[string]any{"a": 1}}, "", "user claim is not a string"},
		{"custom claim", "email", jwt.MapClaims{"email": "a@example.com"}, "a@example.com", ""},
		{"custom claim missing", "email", nil, "", "missing user claim"},
		{"big integer kept exactly", "uid", jwt.MapClaims{"uid": json64("12345678901234567890")}, "12345678901234567890", ""},
		{"exponent expanded", "uid", jwt.MapClaims{"uid": json64("1.5e3")}, "1500", ""},
		{"fraction", "uid", jwt.MapClaims{"uid": json64("2.50")}, "2.5", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, config.JWT{Keys: []config.JWTKey{s.configKey(t, "")}, UserClaim: tt.claim})
			id, err := v.Authenticate(bearer(sign(t, s, "", claims(tt.extra))))
			if tt.reason != "" {
				wantReason(t, err, tt.reason)
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if id.User != tt.user || id.Context["principalId"] != tt.user {
				t.Errorf("User = %q, principalId = %v, want %q", id.User, id.Context["principalId"], tt.user)
			}
		})
	}
}

// json64 is a JSON number literal, signed into a token verbatim.
func json64(s string) jsonNumber { return jsonNumber(s) }

type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func TestContextClaims(t *testing.T) {
	s := signer{"HS256", testKeys().secret[:32]}
	v := newVerifier(t, config.JWT{
		Keys:          []config.JWTKey{s.configKey(t, "")},
		ContextClaims: []string{"email", "tenant", "admin", "guest", "score", "big", "roles", "org", "nothing", "absent", "principalId"},
	})
	id, err := v.Authenticate(bearer(sign(t, s, "", claims(jwt.MapClaims{
		"email":       "a@example.com",
		"tenant":      42,
		"admin":       true,
		"guest":       false,
		"score":       json64("1.25e2"),
		"big":         json64("9007199254740993"),
		"roles":       []string{"a", "b"},
		"org":         map[string]any{"id": 1, "name": "x"},
		"nothing":     json64("null"),
		"principalId": "spoofed",
		"secret":      "not listed",
	}))))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	want := map[string]any{
		"email":       "a@example.com",
		"tenant":      "42",
		"admin":       "true",
		"guest":       "false",
		"score":       "125",
		"big":         "9007199254740993",
		"roles":       `["a","b"]`,
		"org":         `{"id":1,"name":"x"}`,
		"principalId": "user-1",
	}
	if diff := cmp.Diff(want, id.Context); diff != "" {
		t.Errorf("Context (-want +got):\n%s", diff)
	}
}

func TestTokenSources(t *testing.T) {
	s := signer{"HS256", testKeys().secret[:32]}
	good := sign(t, s, "", claims(nil))
	bad := sign(t, signer{"HS256", testKeys().secret2[:32]}, "", claims(nil))
	req := func(target string, headers ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		for i := 0; i < len(headers); i += 2 {
			r.Header.Add(headers[i], headers[i+1])
		}
		return r
	}
	const proto = "Sec-WebSocket-Protocol"
	tests := []struct {
		name        string
		cfg         config.JWT
		r           *http.Request
		reason      string // "" accepted; "none" ErrNoToken
		subprotocol string
	}{
		{"query", config.JWT{}, req("/s?a=1&token=" + good), "", ""},
		{"query escaped", config.JWT{}, req("/s?token=" + strings.ReplaceAll(good, ".", "%2E")), "", ""},
		{"query first of two", config.JWT{}, req("/s?token=" + good + "&token=" + bad), "", ""},
		{"custom query", config.JWT{Query: "access_token"}, req("/s?access_token=" + good), "", ""},
		{"other query name", config.JWT{}, req("/s?tok=" + good), "none", ""},
		{"header bearer", config.JWT{}, req("/s", "Authorization", "Bearer "+good), "", ""},
		{"header lower bearer", config.JWT{}, req("/s", "Authorization", "bearer "+good), "", ""},
		{"header upper bearer, blanks", config.JWT{}, req("/s", "Authorization", "  BEARER \t "+good+" "), "", ""},
		{"header without scheme", config.JWT{}, req("/s", "Authorization", good), "", ""},
		{"header other scheme", config.JWT{}, req("/s", "Authorization", "Basic dXNlcjpwYXNz"), "malformed token", ""},
		{"custom header", config.JWT{Header: "X-Token"}, req("/s", "X-Token", good), "", ""},
		{"subprotocol", config.JWT{}, req("/s", proto, "chat.v1, bearer."+good), "", "bearer." + good},
		{"subprotocol second header line", config.JWT{}, req("/s", proto, "chat.v1", proto, "bearer."+good+" , x"), "", "bearer." + good},
		{"custom prefix", config.JWT{SubprotocolPrefix: "jwt-"}, req("/s", proto, "jwt-"+good), "", "jwt-" + good},
		{"prefix is case-sensitive", config.JWT{}, req("/s", proto, "Bearer."+good), "none", ""},
		{"empty subprotocol token", config.JWT{}, req("/s", proto, "bearer."), "none", ""},
		{"query wins over header", config.JWT{}, req("/s?token="+bad, "Authorization", "Bearer "+good), "bad signature", ""},
		{"header wins over subprotocol", config.JWT{}, req("/s", "Authorization", "Bearer "+bad, proto, "bearer."+good), "bad signature", ""},
		{"empty query falls through", config.JWT{}, req("/s?token=", "Authorization", "Bearer "+good), "", ""},
		{"nothing", config.JWT{}, req("/s"), "none", ""},
		{"blank header", config.JWT{}, req("/s", "Authorization", "  "), "none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Keys = []config.JWTKey{s.configKey(t, "")}
			v := newVerifier(t, cfg)
			id, err := v.Authenticate(tt.r)
			switch tt.reason {
			case "":
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if id.Subprotocol != tt.subprotocol {
					t.Errorf("Subprotocol = %q, want %q", id.Subprotocol, tt.subprotocol)
				}
			case "none":
				if !errors.Is(err, ErrNoToken) {
					t.Fatalf("error = %v, want ErrNoToken", err)
				}
			default:
				wantReason(t, err, tt.reason)
			}
		})
	}
}

func TestOversizedToken(t *testing.T) {
	s := signer{"HS256", testKeys().secret[:32]}
	v := newVerifier(t, config.JWT{Keys: []config.JWTKey{s.configKey(t, "")}})
	big := sign(t, s, "", claims(jwt.MapClaims{"pad": strings.Repeat("x", MaxTokenBytes)}))
	_, err := v.Authenticate(bearer(big))
	wantReason(t, err, "token too large")
	// Just under the limit is parsed.
	var tok string
	for n := (MaxTokenBytes - 400) * 3 / 4; ; n++ {
		tok = sign(t, s, "", claims(jwt.MapClaims{"pad": strings.Repeat("x", n)}))
		if len(tok) >= MaxTokenBytes-3 {
			break
		}
	}
	if len(tok) > MaxTokenBytes {
		t.Fatalf("test token is %d bytes", len(tok))
	}
	if _, err := v.Authenticate(bearer(tok)); err != nil {
		t.Errorf("%d-byte token: %v", len(tok), err)
	}
}

func TestGarbageTokens(t *testing.T) {
	k := testKeys()
	s := signer{"RS256", k.rsa}
	v := newVerifier(t, config.JWT{Keys: []config.JWTKey{s.configKey(t, ""), {Algorithm: "HS256", Secret: string(k.secret[:32])}}})
	b64 := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	good := sign(t, s, "", claims(nil))
	parts := strings.Split(good, ".")
	tests := []struct {
		tok, reason string
	}{
		{"x", "malformed token"},
		{"a.b", "malformed token"},
		{"..", "malformed token"},
		{"a.b.c.d", "malformed token"},
		{good + ".", "malformed token"},
		{"!!!." + parts[1] + "." + parts[2], "malformed token"},
		{b64("not json") + "." + parts[1] + "." + parts[2], "malformed token"},
		{parts[0] + "." + b64("[1,2]") + "." + parts[2], "malformed token"},
		{parts[0] + "." + parts[1] + ".***", "malformed token"},
		{parts[0] + "." + parts[1] + "." + b64("short"), "bad signature"},
		{parts[0] + "." + b64(`{"sub":"admin"}`) + "." + parts[2], "bad signature"},
		{b64(`{"typ":"JWT"}`) + "." + parts[1] + "." + parts[2], "malformed token"},
		{b64(`{"alg":7}`) + "." + parts[1] + "." + parts[2], "malformed token"},
		{b64(`{"alg":"HS999"}`) + "." + parts[1] + "." + parts[2], "algorithm not allowed"},
		{b64(`{"alg":"none"}`) + "." + parts[1] + ".", "algorithm not allowed"},
		{b64(`{"alg":"NONE"}`) + "." + parts[1] + ".", "algorithm not allowed"},
		{b64(`{"alg":"ES256"}`) + "." + parts[1] + "." + parts[2], "algorithm not allowed"},
		{b64(`{"alg":"HS256"}`) + "." + parts[1] + "." + parts[2], "bad signature"},
	}
	for _, tt := range tests {
		_, err := v.Authenticate(bearer(tt.tok))
		var e *Error
		if !errors.As(err, &e) || e.Reason != tt.reason {
			t.Errorf("%q: error %v, want reason %q", tt.tok, err, tt.reason)
			continue
		}
		if len(tt.tok) > 8 && strings.Contains(err.Error(), tt.tok) {
			t.Errorf("%q: the error repeats the token: %v", tt.tok, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	k := testKeys()
	rsaPEM := pemPublic(t, &k.rsa.PublicKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.ec256)
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	key := func(alg, secret, pub string) []config.JWTKey {
		return []config.JWTKey{{Algorithm: alg, Secret: secret, PublicKey: pub}}
	}
	tests := []struct {
		name string
		cfg  config.JWT
		want string
	}{
		{"nothing to verify with", config.JWT{}, "keys: none given and no jwksUrl"},
		{"missing algorithm", config.JWT{Keys: key("", "", rsaPEM)}, "keys[0].algorithm: missing"},
		{"unknown algorithm", config.JWT{Keys: key("RS255", "", rsaPEM)}, `keys[0].algorithm: "RS255" is not one of`},
		{"none algorithm", config.JWT{Keys: key("none", "x", "")}, `keys[0].algorithm: "none" is not one of`},
		{"lowercase algorithm", config.JWT{Keys: key("rs256", "", rsaPEM)}, `keys[0].algorithm: "rs256"`},
		{"short HS256 secret", config.JWT{Keys: key("HS256", strings.Repeat("s", 31), "")}, "keys[0].secret: 31 bytes is too short for HS256; use at least 32"},
		{"short HS512 secret", config.JWT{Keys: key("HS512", strings.Repeat("s", 48), "")}, "keys[0].secret: 48 bytes is too short for HS512; use at least 64"},
		{"HS with public key", config.JWT{Keys: key("HS256", string(k.secret), rsaPEM)}, "keys[0]: HS256 takes a secret, not a public key"},
		{"RS with secret", config.JWT{Keys: key("RS256", string(k.secret), "")}, "keys[0].secret: RS256 takes a public key"},
		{"RS without key", config.JWT{Keys: key("RS256", "", "")}, "keys[0]: RS256 needs publicKey or publicKeyFile"},
		{"both key and file", config.JWT{Keys: []config.JWTKey{{Algorithm: "RS256", PublicKey: rsaPEM, PublicKeyFile: "k.pem"}}}, "keys[0]: publicKey and publicKeyFile are both set"},
		{"missing file", config.JWT{Keys: []config.JWTKey{{Algorithm: "RS256", PublicKeyFile: "nope.pem"}}}, "keys[0].publicKeyFile: open"},
		{"not PEM", config.JWT{Keys: key("RS256", "", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")}, "keys[0].publicKey: no PEM block found"},
		{"private key", config.JWT{Keys: key("ES256", "", privPEM)}, "keys[0].publicKey: the PEM block is a PRIVATE KEY; give the public key"},
		{"wrong curve", config.JWT{Keys: key("ES256", "", pemPublic(t, &k.ec384.PublicKey))}, "keys[0].publicKey: ES256 needs a key on P-256, not P-384"},
		{"ECDSA key for RS256", config.JWT{Keys: key("RS256", "", pemPublic(t, &k.ec256.PublicKey))}, "keys[0].publicKey: RS256 needs an RSA key, not an ECDSA key"},
		{"RSA key for EdDSA", config.JWT{Keys: key("EdDSA", "", rsaPEM)}, "keys[0].publicKey: EdDSA needs an Ed25519 key, not an RSA key"},
		{"RSA 1024", config.JWT{Keys: key("RS256", "", pemPublic(t, &small.PublicKey))}, "keys[0].publicKey: the RSA key has 1024 bits; RS256 needs at least 2048"},
		{"second key bad", config.JWT{Keys: []config.JWTKey{{Algorithm: "RS256", PublicKey: rsaPEM}, {Algorithm: "HS384", Secret: "x"}}}, "keys[1].secret: 1 bytes is too short for HS384"},
		{"jwks over http", config.JWT{JWKSURL: "http://auth.example.com/jwks.json"}, "jwksUrl: \"http://auth.example.com/jwks.json\" is plain http to a host that is not loopback; use https"},
		{"jwks ftp", config.JWT{JWKSURL: "ftp://auth.example.com/jwks.json"}, `jwksUrl: "ftp://auth.example.com/jwks.json": scheme "ftp" is not https`},
		{"jwks no host", config.JWT{JWKSURL: "/jwks.json"}, "jwksUrl: \"/jwks.json\" has no host"},
		{"jwks HMAC algorithm", config.JWT{JWKSURL: "https://auth.example.com/jwks.json", Algorithms: []string{"RS256", "HS256"}}, "algorithms[1]: HS256 keys are secret and cannot come from a JWKS"},
		{"jwks none algorithm", config.JWT{JWKSURL: "https://auth.example.com/jwks.json", Algorithms: []string{"none"}}, `algorithms[0]: "none" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(t.Context(), Options{Config: tt.cfg, BaseDir: t.TempDir()})
			if err == nil {
				v.Close()
				t.Fatalf("New succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPEMForms(t *testing.T) {
	k := testKeys()
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "issuer"},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(time.Hour),
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.ec256.PublicKey, k.ec256)
	if err != nil {
		t.Fatal(err)
	}
	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ed.pem"), []byte(pemPublic(t, k.ed.Public())), 0o600); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "rsa.pem")
	if err := os.WriteFile(abs, []byte("# comment before the block\n"+pemPublic(t, &k.rsa.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  config.JWTKey
		s    signer
	}{
		{"PKCS1 RSA PUBLIC KEY", config.JWTKey{Algorithm: "RS256", PublicKey: pkcs1}, signer{"RS256", k.rsa}},
		{"certificate", config.JWTKey{Algorithm: "ES256", PublicKey: cert}, signer{"ES256", k.ec256}},
		{"relative file", config.JWTKey{Algorithm: "EdDSA", PublicKeyFile: "ed.pem"}, signer{"EdDSA", k.ed}},
		{"absolute file, text before the block", config.JWTKey{Algorithm: "PS512", PublicKeyFile: abs}, signer{"PS512", k.rsa}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, config.JWT{Keys: []config.JWTKey{tt.key}}, func(o *Options) { o.BaseDir = dir })
			if _, err := v.Authenticate(bearer(sign(t, tt.s, "", claims(nil)))); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Reason: "token expired"}
	if e.Error() != "jwt: token expired" {
		t.Errorf("Error() = %q", e.Error())
	}
	e = &Error{Reason: "bad signature", Err: jwt.ErrTokenSignatureInvalid}
	if e.Error() != "jwt: bad signature: token signature is invalid" || !errors.Is(e, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("Error() = %q", e.Error())
	}
}
