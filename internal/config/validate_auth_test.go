package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboardhq/switchboard/internal/origin"
)

// pemBlock encodes der as one PEM block of type typ.
func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// publicKeyPEM returns pub as a PEM "PUBLIC KEY" block.
func publicKeyPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PUBLIC KEY", der)
}

func ecdsaKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// authFixture holds the public keys the auth tests use: an ES256 key
// inline and one in a file.
type authFixture struct {
	es256PEM  string
	es256File string
	dir       string
}

func newAuthFixture(t *testing.T) authFixture {
	t.Helper()
	dir := t.TempDir()
	f := authFixture{
		es256PEM:  publicKeyPEM(t, &ecdsaKey(t, elliptic.P256()).PublicKey),
		es256File: filepath.Join(dir, "es256.pem"),
		dir:       dir,
	}
	if err := os.WriteFile(f.es256File, []byte(publicKeyPEM(t, &ecdsaKey(t, elliptic.P256()).PublicKey)), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// authBase is validBase with an auth block that uses every field: an
// origin allowlist, a jwt block with each kind of static key and a JWKS,
// and an authorizer.
func authBase(f authFixture) *Config {
	c := validBase()
	api(c).Auth = Auth{
		Origins: []string{"https://app.example.com", "https://*.example.com", "http://localhost:3000", "null"},
		JWT: &JWT{
			Keys: []JWTKey{
				{ID: "hs", Algorithm: "HS256", Secret: strings.Repeat("s", 32)},
				{ID: "es", Algorithm: "ES256", PublicKey: f.es256PEM},
				{ID: "es-file", Algorithm: "ES256", PublicKeyFile: f.es256File},
			},
			JWKSURL:       "https://auth.example.com/.well-known/jwks.json",
			Algorithms:    []string{"RS256", "ES256"},
			Issuer:        "https://auth.example.com/",
			Audience:      []string{"chat"},
			ContextClaims: []string{"email", "roles"},
		},
		Authorizer: &Authorizer{
			Integration:     "backend",
			IdentitySources: []string{"route.request.header.Authorization", "route.request.querystring.room"},
			CacheTTL:        Duration(5 * time.Minute),
		},
	}
	return c
}

func setJWT(f func(*JWT)) func(*Config) {
	return func(c *Config) { f(api(c).Auth.JWT) }
}

func setKey(i int, f func(*JWTKey)) func(*Config) {
	return func(c *Config) { f(&api(c).Auth.JWT.Keys[i]) }
}

func setAuthorizer(f func(*Authorizer)) func(*Config) {
	return func(c *Config) { f(api(c).Auth.Authorizer) }
}

func TestAuthBaseIsValid(t *testing.T) {
	if err := authBase(newAuthFixture(t)).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestValidateAuth breaks one rule per case and expects exactly one
// problem, on the given field, whose message contains the fix.
func TestValidateAuth(t *testing.T) {
	fx := newAuthFixture(t)
	const (
		auth = "apis[0].auth"
		jwt  = auth + ".jwt"
		az   = auth + ".authorizer"
	)
	rsaSmall, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384 := publicKeyPEM(t, &ecdsaKey(t, elliptic.P384()).PublicKey)
	privDER, err := x509.MarshalPKCS8PrivateKey(ecdsaKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(fx.dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("ssh-ed25519 AAAA...\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		break_ func(*Config)
		field  string
		fix    string
	}{
		// origins
		{"origin without scheme", func(c *Config) { api(c).Auth.Origins[1] = "app.example.com" }, auth + ".origins[1]",
			`"app.example.com" is not an origin pattern (want scheme://host[:port]`},
		{"origin with path", func(c *Config) { api(c).Auth.Origins[0] = "https://app.example.com/" }, auth + ".origins[0]",
			`(an origin has no path, query, fragment or user: want scheme://host[:port]); write an origin as browsers send it, e.g. "https://app.example.com"`},
		{"origin wildcard on a TLD", func(c *Config) { api(c).Auth.Origins[1] = "https://*.com" }, auth + ".origins[1]", "at least two labels"},
		{"origin wildcard inside", func(c *Config) { api(c).Auth.Origins[1] = "https://a.*.example.com" }, auth + ".origins[1]", "whole first label"},
		{"origin empty", func(c *Config) { api(c).Auth.Origins[2] = "" }, auth + ".origins[2]", `"" is not an origin pattern (empty pattern)`},

		// jwt
		{"jwt without keys", setJWT(func(j *JWT) { j.Keys, j.JWKSURL, j.Algorithms = nil, "", nil }), jwt, "has neither keys nor jwksUrl"},
		{"key id twice", setKey(2, func(k *JWTKey) { k.ID = "hs" }), jwt + ".keys[2].id", `"hs" is already the id of apis[0].auth.jwt.keys[0]`},
		{"algorithm missing", setKey(0, func(k *JWTKey) { k.Algorithm = "" }), jwt + ".keys[0].algorithm", "is required; use HS256, HS384, HS512, RS256"},
		{"algorithm unknown", setKey(0, func(k *JWTKey) { k.Algorithm = "HS257" }), jwt + ".keys[0].algorithm", `"HS257" is not a JWT algorithm; use HS256`},
		{"algorithm case", setKey(1, func(k *JWTKey) { k.Algorithm = "es256" }), jwt + ".keys[1].algorithm", `(did you mean "ES256"?)`},
		{"algorithm none", setKey(1, func(k *JWTKey) { k.Algorithm = "none" }), jwt + ".keys[1].algorithm", `"none" is not a JWT algorithm`},
		{"HS256 secret missing", setKey(0, func(k *JWTKey) { k.Secret = "" }), jwt + ".keys[0].secret", "is required for HS256; give at least 32 random bytes"},
		{"HS256 secret short", setKey(0, func(k *JWTKey) { k.Secret = strings.Repeat("s", 31) }), jwt + ".keys[0].secret", "is 31 bytes; HS256 needs at least 32"},
		{"HS384 secret short", setKey(0, func(k *JWTKey) { k.Algorithm = "HS384" }), jwt + ".keys[0].secret", "is 32 bytes; HS384 needs at least 48"},
		{"HS512 secret short", setKey(0, func(k *JWTKey) { k.Algorithm, k.Secret = "HS512", strings.Repeat("s", 63) }), jwt + ".keys[0].secret", "is 63 bytes; HS512 needs at least 64 (the hash size, RFC 7518 section 3.2), such as the output of `openssl rand -hex 32`"},
		{"HS256 with public key", setKey(0, func(k *JWTKey) { k.PublicKey = fx.es256PEM }), jwt + ".keys[0].publicKey", "is not used by HS256, which verifies with a shared secret"},
		{"HS256 with public key file", setKey(0, func(k *JWTKey) { k.PublicKeyFile = fx.es256File }), jwt + ".keys[0].publicKeyFile", "is not used by HS256"},
		{"ES256 with secret", setKey(1, func(k *JWTKey) { k.Secret = strings.Repeat("s", 32) }), jwt + ".keys[1].secret", "is not used by ES256, which verifies with a public key"},
		{"ES256 without key", setKey(1, func(k *JWTKey) { k.PublicKey = "" }), jwt + ".keys[1].publicKey", "is required for ES256; give the PEM public key"},
		{"ES256 with both keys", setKey(1, func(k *JWTKey) { k.PublicKeyFile = fx.es256File }), jwt + ".keys[1].publicKeyFile", "is set together with publicKey; keep one"},
		{"public key not PEM", setKey(1, func(k *JWTKey) { k.PublicKey = "MFkwEwYHKoZIzj0CAQYI" }), jwt + ".keys[1].publicKey", "holds no PEM block"},
		{"public key is private", setKey(1, func(k *JWTKey) { k.PublicKey = pemBlock("PRIVATE KEY", privDER) }), jwt + ".keys[1].publicKey", "holds a PRIVATE KEY; give the public key only"},
		{"public key other block", setKey(1, func(k *JWTKey) { k.PublicKey = pemBlock("CERTIFICATE REQUEST", []byte{1}) }), jwt + ".keys[1].publicKey", `holds a PEM "CERTIFICATE REQUEST" block`},
		{"public key garbage", setKey(1, func(k *JWTKey) { k.PublicKey = pemBlock("PUBLIC KEY", []byte{1, 2, 3}) }), jwt + ".keys[1].publicKey", "holds a PUBLIC KEY block that does not parse"},
		{"ES256 on P-384", setKey(1, func(k *JWTKey) { k.PublicKey = p384 }), jwt + ".keys[1].publicKey", "holds an ECDSA key on P-384; ES256 needs one on P-256"},
		{"ES384 on P-256", setKey(1, func(k *JWTKey) { k.Algorithm = "ES384" }), jwt + ".keys[1].publicKey", "ES384 needs one on P-384"},
		{"RS256 with ECDSA key", setKey(1, func(k *JWTKey) { k.Algorithm = "RS256" }), jwt + ".keys[1].publicKey", "holds an ECDSA key; RS256 needs an RSA key"},
		{"EdDSA with ECDSA key", setKey(1, func(k *JWTKey) { k.Algorithm = "EdDSA" }), jwt + ".keys[1].publicKey", "holds an ECDSA key; EdDSA needs an Ed25519 key"},
		{"ES256 with Ed25519 key", setKey(1, func(k *JWTKey) { k.PublicKey = publicKeyPEM(t, edPub) }), jwt + ".keys[1].publicKey", "holds an Ed25519 key; ES256 needs an ECDSA key"},
		{"RSA key too small", setKey(1, func(k *JWTKey) {
			k.Algorithm, k.PublicKey = "PS256", pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaSmall.PublicKey))
		}), jwt + ".keys[1].publicKey", "holds a 1024-bit RSA key; PS256 needs at least 2048 bits"},
		{"public key file missing", setKey(2, func(k *JWTKey) { k.PublicKeyFile = filepath.Join(fx.dir, "missing.pem") }), jwt + ".keys[2].publicKeyFile",
			"missing.pem\" does not exist; fix the path (a relative path is relative to the configuration file's directory)"},
		{"public key file is a directory", setKey(2, func(k *JWTKey) { k.PublicKeyFile = fx.dir }), jwt + ".keys[2].publicKeyFile", "is not a regular file; name the file that holds the public key"},
		{"public key file not PEM", setKey(2, func(k *JWTKey) { k.PublicKeyFile = notPEM }), jwt + ".keys[2].publicKeyFile", `not.pem" holds no PEM block`},

		{"jwksUrl http", setJWT(func(j *JWT) { j.JWKSURL = "http://auth.example.com/jwks.json" }), jwt + ".jwksUrl", "is plain http to a host that is not loopback"},
		{"jwksUrl scheme", setJWT(func(j *JWT) { j.JWKSURL = "ftp://auth.example.com/jwks.json" }), jwt + ".jwksUrl", "is not an https URL"},
		{"jwksUrl relative", setJWT(func(j *JWT) { j.JWKSURL = "/jwks.json" }), jwt + ".jwksUrl", "is not an https URL"},
		{"jwksUrl without host", setJWT(func(j *JWT) { j.JWKSURL = "https:///jwks.json" }), jwt + ".jwksUrl", "has no host"},
		{"jwksUrl unparsable", setJWT(func(j *JWT) { j.JWKSURL = "https://[::1" }), jwt + ".jwksUrl", "is not a URL"},
		{"jwksRefresh short", setJWT(func(j *JWT) { j.JWKSRefresh = sec(30) }), jwt + ".jwksRefresh", "30s is out of range; use a duration from 1m to 24h"},
		{"jwksRefresh long", setJWT(func(j *JWT) { j.JWKSRefresh = Duration(25 * time.Hour) }), jwt + ".jwksRefresh", "from 1m to 24h"},
		{"jwksRefresh without jwksUrl", setJWT(func(j *JWT) { j.JWKSURL, j.Algorithms, j.JWKSRefresh = "", nil, sec(60) }), jwt + ".jwksRefresh", "is only used with jwksUrl"},
		{"algorithms without jwksUrl", setJWT(func(j *JWT) { j.JWKSURL = "" }), jwt + ".algorithms", "is only used with jwksUrl"},
		{"algorithms HMAC", setJWT(func(j *JWT) { j.Algorithms = []string{"RS256", "HS256"} }), jwt + ".algorithms[1]", "HS256 keys are secret and cannot come from a key set"},
		{"algorithms unknown", setJWT(func(j *JWT) { j.Algorithms = []string{"RS265"} }), jwt + ".algorithms[0]", `"RS265" is not an algorithm of a key set; use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA (did you mean "RS256"?)`},
		{"algorithms empty", setJWT(func(j *JWT) { j.Algorithms = []string{""} }), jwt + ".algorithms[0]", "is empty; use RS256"},
		{"algorithms twice", setJWT(func(j *JWT) { j.Algorithms = []string{"ES256", "ES256"} }), jwt + ".algorithms[1]", "ES256 is listed twice"},
		{"header", setJWT(func(j *JWT) { j.Header = "X Token" }), jwt + ".header", `"X Token" is not a valid HTTP header name`},
		{"subprotocolPrefix", setJWT(func(j *JWT) { j.SubprotocolPrefix = "bearer, " }), jwt + ".subprotocolPrefix", `"bearer, " cannot start a Sec-WebSocket-Protocol entry`},
		{"audience empty", setJWT(func(j *JWT) { j.Audience = []string{"chat", ""} }), jwt + ".audience[1]", "is empty"},
		{"leeway", setJWT(func(j *JWT) { j.Leeway = Duration(6 * time.Minute) }), jwt + ".leeway", "6m is out of range; use a duration from 0s to 5m"},
		{"context claim empty", setJWT(func(j *JWT) { j.ContextClaims = []string{""} }), jwt + ".contextClaims[0]", "is empty; name a claim"},
		{"context claim twice", setJWT(func(j *JWT) { j.ContextClaims = []string{"email", "roles", "email"} }), jwt + ".contextClaims[2]", `"email" is already apis[0].auth.jwt.contextClaims[0]`},

		// authorizer
		{"authorizer integration missing", setAuthorizer(func(a *Authorizer) { a.Integration = "" }), az + ".integration", "is required; name the integration (of apis[0].integrations)"},
		{"authorizer integration unknown", setAuthorizer(func(a *Authorizer) { a.Integration = "backnd" }), az + ".integration", `"backnd" is not defined in apis[0].integrations (defined: backend); fix the name or add the integration (did you mean "backend"?)`},
		{"identity source HTTP API syntax", setAuthorizer(func(a *Authorizer) { a.IdentitySources[0] = "$request.header.Authorization" }), az + ".identitySources[0]",
			`"$request.header.Authorization" is not the syntax of a WebSocket API; write route.request.header.Authorization`},
		{"identity source REST API syntax", setAuthorizer(func(a *Authorizer) { a.IdentitySources[1] = "method.request.querystring.room" }), az + ".identitySources[1]",
			"write route.request.querystring.room"},
		{"identity source case", setAuthorizer(func(a *Authorizer) { a.IdentitySources[0] = "route.request.Header.Authorization" }), az + ".identitySources[0]",
			"write route.request.header.Authorization"},
		{"identity source header name", setAuthorizer(func(a *Authorizer) { a.IdentitySources[0] = "route.request.header.X Token" }), az + ".identitySources[0]",
			`"X Token" is not a valid header name`},
		{"identity source header empty", setAuthorizer(func(a *Authorizer) { a.IdentitySources[0] = "route.request.header." }), az + ".identitySources[0]", `"" is not a valid header name`},
		{"identity source query empty", setAuthorizer(func(a *Authorizer) { a.IdentitySources[1] = "route.request.querystring." }), az + ".identitySources[1]", "names no query parameter"},
		{"identity source other", setAuthorizer(func(a *Authorizer) { a.IdentitySources[1] = "context.sourceIp" }), az + ".identitySources[1]",
			`"context.sourceIp" is not an identity source; write route.request.header.NAME or route.request.querystring.NAME`},
		{"identity source twice", setAuthorizer(func(a *Authorizer) { a.IdentitySources[1] = a.IdentitySources[0] }), az + ".identitySources[1]", "is already apis[0].auth.authorizer.identitySources[0]"},
		{"cacheTTL long", setAuthorizer(func(a *Authorizer) { a.CacheTTL = Duration(2 * time.Hour) }), az + ".cacheTTL", "2h is out of range; use a duration from 0s to 1h"},
		{"cacheTTL without identity sources", setAuthorizer(func(a *Authorizer) { a.IdentitySources = nil }), az + ".cacheTTL", "needs identitySources, which key the cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := authBase(fx)
			tt.break_(c)
			err := c.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%s", ve)
			}
			p := ve.Problems[0]
			if p.Field != tt.field || !strings.Contains(p.Message, tt.fix) {
				t.Errorf("got  %s: %s\nwant %s: ...%s...", p.Field, p.Message, tt.field, tt.fix)
			}
		})
	}
}

func TestValidateAuthAccepts(t *testing.T) {
	fx := newAuthFixture(t)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521 := ecdsaKey(t, elliptic.P521())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p521.PublicKey, p521)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		set  func(*Config)
	}{
		{"no auth", func(c *Config) { api(c).Auth = Auth{} }},
		{"empty origins", func(c *Config) { api(c).Auth.Origins = []string{} }},
		{"any origin", func(c *Config) { api(c).Auth.Origins = []string{"*"} }},
		{"origin IPv6 and port", func(c *Config) { api(c).Auth.Origins = []string{"http://[::1]:8080", "https://APP.example.com:443"} }},
		{"jwt with keys only", setJWT(func(j *JWT) { j.JWKSURL, j.Algorithms = "", nil })},
		{"jwt with jwksUrl only", setJWT(func(j *JWT) { j.Keys = nil })},
		{"jwksUrl default algorithms", setJWT(func(j *JWT) { j.Algorithms = nil })},
		{"jwksUrl on loopback", setJWT(func(j *JWT) { j.JWKSURL = "http://127.0.0.1:9000/jwks.json" })},
		{"jwksUrl on localhost", setJWT(func(j *JWT) { j.JWKSURL = "http://localhost:9000/jwks.json" })},
		{"jwksUrl on IPv6 loopback", setJWT(func(j *JWT) { j.JWKSURL = "http://[::1]/jwks.json" })},
		{"jwksRefresh bounds", setJWT(func(j *JWT) { j.JWKSRefresh = Duration(24 * time.Hour) })},
		{"keys without ids", setJWT(func(j *JWT) {
			for i := range j.Keys {
				j.Keys[i].ID = ""
			}
		})},
		{"HS512 secret", setKey(0, func(k *JWTKey) { k.Algorithm, k.Secret = "HS512", strings.Repeat("s", 64) })},
		{"EdDSA key", setKey(1, func(k *JWTKey) { k.Algorithm, k.PublicKey = "EdDSA", publicKeyPEM(t, edPub) })},
		{"certificate as key", setKey(1, func(k *JWTKey) { k.Algorithm, k.PublicKey = "ES512", pemBlock("CERTIFICATE", certDER) })},
		{"every field", setJWT(func(j *JWT) {
			j.JWKSRefresh, j.Query, j.Header, j.SubprotocolPrefix = Duration(time.Minute), "access_token", "X-Auth-Token", "token."
			j.Leeway, j.UserClaim, j.Optional = Duration(5*time.Minute), "uid", true
		})},
		{"authorizer without cache", setAuthorizer(func(a *Authorizer) { a.IdentitySources, a.CacheTTL = nil, 0 })},
		{"authorizer cacheTTL 1h", setAuthorizer(func(a *Authorizer) { a.CacheTTL = Duration(time.Hour) })},
		{"authorizer only", func(c *Config) { api(c).Auth.JWT = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := authBase(fx)
			tt.set(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOriginsAgreeWithGateway checks that Validate accepts exactly the
// origin patterns that origin.New, which the gateway builds its checker
// with, accepts.
func TestOriginsAgreeWithGateway(t *testing.T) {
	for _, p := range []string{
		"https://app.example.com", "https://*.example.com", "*", "null", "http://localhost:3000", "http://[::1]:8080",
		"", "app.example.com", "https://*.com", "https://*", "https://a.example.com/", "https://a.example.com:*",
		"https://é.example.com", "https://a.example.com:0", "https://1.2.3", "https://a.*.example.com",
	} {
		c := validBase()
		api(c).Auth.Origins = []string{p}
		_, originErr := origin.New([]string{p})
		configErr := c.Validate()
		if (originErr == nil) != (configErr == nil) {
			t.Errorf("origin %q: origin.New: %v; Validate: %v", p, originErr, configErr)
		}
	}
}

// TestApplyDefaultsAuth checks the jwt defaults: the JWKS fields get
// theirs only with a jwksUrl.
func TestApplyDefaultsAuth(t *testing.T) {
	c := &Config{APIs: []API{
		{Auth: Auth{JWT: &JWT{JWKSURL: "https://auth.example.com/jwks.json"}}},
		{Auth: Auth{JWT: &JWT{Keys: []JWTKey{{Algorithm: "HS256"}}}}},
		{Auth: Auth{JWT: &JWT{JWKSURL: "https://auth.example.com/jwks.json", JWKSRefresh: sec(120), Algorithms: []string{"ES256"},
			Query: "t", Header: "X-T", SubprotocolPrefix: "t.", Leeway: sec(1), UserClaim: "uid"}}},
		{},
	}}
	c.ApplyDefaults()
	want := []*JWT{
		{JWKSURL: "https://auth.example.com/jwks.json", JWKSRefresh: Duration(time.Hour), Algorithms: []string{"RS256"},
			Query: "token", Header: "Authorization", SubprotocolPrefix: "bearer.", Leeway: sec(30), UserClaim: "sub"},
		{Keys: []JWTKey{{Algorithm: "HS256"}}, Query: "token", Header: "Authorization", SubprotocolPrefix: "bearer.", Leeway: sec(30), UserClaim: "sub"},
		{JWKSURL: "https://auth.example.com/jwks.json", JWKSRefresh: sec(120), Algorithms: []string{"ES256"},
			Query: "t", Header: "X-T", SubprotocolPrefix: "t.", Leeway: sec(1), UserClaim: "uid"},
		nil,
	}
	for i, w := range want {
		if diff := cmp.Diff(w, c.APIs[i].Auth.JWT); diff != "" {
			t.Errorf("apis[%d].auth.jwt (-want +got):\n%s", i, diff)
		}
	}
}

// TestValidateDoesNotModifyAuth checks that Validate applies the jwt and
// tls defaults to a copy, not to the blocks its receiver points to.
func TestValidateDoesNotModifyAuth(t *testing.T) {
	c := authBase(newAuthFixture(t))
	c.TLS = &TLS{}
	api(c).Auth.JWT.Algorithms = nil
	before := *api(c).Auth.JWT
	_ = c.Validate() // tls has no files: only the defaults matter here
	if diff := cmp.Diff(before, *api(c).Auth.JWT); diff != "" {
		t.Errorf("Validate applied defaults to the jwt block (-before +after):\n%s", diff)
	}
	if *c.TLS != (TLS{}) {
		t.Errorf("Validate applied defaults to the tls block: %+v", c.TLS)
	}
}
