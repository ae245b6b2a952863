package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/origin"
)

// jwtAlgorithm is what Validate needs to know of a JWS algorithm that a key
// can be pinned to. internal/auth/jwtauth, which verifies the tokens,
// holds the same table and checks the keys again when it starts.
type jwtAlgorithm struct {
	key string // the Go type of its key: "secret", "RSA", "ECDSA" or "Ed25519"
	// minSecret is the shortest HMAC secret in bytes: the hash size, as RFC
	// 7518 section 3.2 requires.
	minSecret int
	curve     string // the ECDSA curve
}

// jwtAlgorithmNames are the algorithms of keys[].algorithm, in the order
// the documentation lists them; jwksAlgorithmNames those that a key set
// may use (not HMAC: a key set is public).
var (
	jwtAlgorithmNames = []string{
		"HS256", "HS384", "HS512",
		"RS256", "RS384", "RS512",
		"PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512",
		"EdDSA",
	}
	jwksAlgorithmNames = jwtAlgorithmNames[3:]

	jwtAlgorithms = map[string]jwtAlgorithm{
		"HS256": {key: "secret", minSecret: 32},
		"HS384": {key: "secret", minSecret: 48},
		"HS512": {key: "secret", minSecret: 64},
		"RS256": {key: "RSA"},
		"RS384": {key: "RSA"},
		"RS512": {key: "RSA"},
		"PS256": {key: "RSA"},
		"PS384": {key: "RSA"},
		"PS512": {key: "RSA"},
		"ES256": {key: "ECDSA", curve: "P-256"},
		"ES384": {key: "ECDSA", curve: "P-384"},
		"ES512": {key: "ECDSA", curve: "P-521"},
		"EdDSA": {key: "Ed25519"},
	}
)

// Bounds of the auth fields.
const (
	minJWKSRefresh        = time.Minute
	maxJWKSRefresh        = 24 * time.Hour
	maxJWTLeeway          = 5 * time.Minute
	maxAuthorizerCacheTTL = time.Hour // as on AWS
	minRSAKeyBits         = 2048      // as jwtauth (RFC 7518 section 3.3)
)

// The identity source syntax of WebSocket APIs.
const (
	identityHeaderPrefix = "route.request.header."
	identityQueryPrefix  = "route.request.querystring."
)

// auth checks the auth block of the API at apiPath.
func (v *validator) auth(apiPath string, a *Auth, integrations map[string]Integration) {
	path := apiPath + ".auth"
	v.origins(path+".origins", a.Origins)
	if a.JWT != nil {
		v.jwt(path+".jwt", a.JWT)
	}
	if a.Authorizer != nil {
		v.authorizer(apiPath, path+".authorizer", a.Authorizer, integrations)
	}
}

// origins compiles each pattern with the origin package, which the gateway
// checks handshakes with, so that a pattern it would refuse is reported
// here, on its own line.
func (v *validator) origins(field string, patterns []string) {
	for i, p := range patterns {
		_, err := origin.New([]string{p})
		if err == nil {
			continue
		}
		reason := err.Error()
		if r, ok := strings.CutPrefix(reason, fmt.Sprintf("%v %q: ", origin.ErrInvalidPattern, p)); ok {
			reason = r
		}
		v.add(joinIndex(field, i), "%q is not an origin pattern (%s); write an origin as browsers send it, e.g. \"https://app.example.com\", \"https://*.example.com\" for its subdomains, or \"*\" for any origin", p, reason)
	}
}

// jwt checks a jwt block. The keys are checked as far as that is cheap
// (algorithm, the kind of key it needs, PEM public keys); jwtauth parses
// them again when the gateway starts.
func (v *validator) jwt(path string, j *JWT) {
	if len(j.Keys) == 0 && j.JWKSURL == "" {
		v.add(path, "has neither keys nor jwksUrl, so no token could be verified; set jwksUrl to your identity provider's key set (e.g. https://auth.example.com/.well-known/jwks.json), or give keys")
	}
	ids := map[string]int{}
	for i := range j.Keys {
		f := joinIndex(path+".keys", i)
		k := &j.Keys[i]
		v.jwtKey(f, k)
		if k.ID == "" {
			continue
		}
		if first, ok := ids[k.ID]; ok {
			v.add(f+".id", "%q is already the id of %s; give each key its own id (the kid of the tokens it verifies)", k.ID, joinIndex(path+".keys", first))
			continue
		}
		ids[k.ID] = i
	}

	if j.JWKSURL == "" {
		if j.JWKSRefresh != 0 {
			v.add(path+".jwksRefresh", "is only used with jwksUrl; remove it, or set jwksUrl")
		}
		if len(j.Algorithms) > 0 {
			v.add(path+".algorithms", "is only used with jwksUrl (the algorithms of key set entries that name none); remove it: a static key names its algorithm in keys[].algorithm")
		}
	} else {
		if msg := checkJWKSURL(j.JWKSURL); msg != "" {
			v.add(path+".jwksUrl", "%s", msg)
		}
		v.duration(path+".jwksRefresh", j.JWKSRefresh, minJWKSRefresh, maxJWKSRefresh)
		seen := map[string]bool{}
		for i, a := range j.Algorithms {
			f := joinIndex(path+".algorithms", i)
			switch {
			case jwtAlgorithms[a].key == "secret":
				v.add(f, "%s keys are secret and cannot come from a key set, which is public; remove it and put the secret in keys[].secret", a)
			case a == "":
				v.add(f, "is empty; use %s", orList(jwksAlgorithmNames))
			case seen[a]:
				v.add(f, "%s is listed twice; remove one", a)
			default:
				v.oneOf(f, a, "an algorithm of a key set", jwksAlgorithmNames)
			}
			seen[a] = true
		}
	}

	if !validHeaderName(j.Header) {
		v.add(path+".header", "%q is not a valid HTTP header name; use letters, digits and '-', e.g. Authorization", j.Header)
	}
	if !validHeaderName(j.SubprotocolPrefix) {
		v.add(path+".subprotocolPrefix", "%q cannot start a Sec-WebSocket-Protocol entry, which is an HTTP token; use letters, digits and !#$%%&'*+-.^_`|~, e.g. bearer.", j.SubprotocolPrefix)
	}
	for i, a := range j.Audience {
		if a == "" {
			v.add(joinIndex(path+".audience", i), "is empty; give an aud value your tokens carry, or remove it")
		}
	}
	v.duration(path+".leeway", j.Leeway, 0, maxJWTLeeway)
	claims := map[string]int{}
	for i, c := range j.ContextClaims {
		f := joinIndex(path+".contextClaims", i)
		if c == "" {
			v.add(f, "is empty; name a claim, or remove it")
			continue
		}
		if first, ok := claims[c]; ok {
			v.add(f, "%q is already %s; remove one", c, joinIndex(path+".contextClaims", first))
			continue
		}
		claims[c] = i
	}
}

// jwtKey checks one static key: an algorithm, and the secret or the one
// public key it needs.
func (v *validator) jwtKey(f string, k *JWTKey) {
	if k.Algorithm == "" {
		v.add(f+".algorithm", "is required; use %s", orList(jwtAlgorithmNames))
		return
	}
	if !v.oneOf(f+".algorithm", k.Algorithm, "a JWT algorithm", jwtAlgorithmNames) {
		return
	}
	alg := jwtAlgorithms[k.Algorithm]
	if alg.key == "secret" {
		if k.PublicKey != "" || k.PublicKeyFile != "" {
			field := f + ".publicKey"
			if k.PublicKey == "" {
				field = f + ".publicKeyFile"
			}
			v.add(field, "is not used by %s, which verifies with a shared secret; remove it and set secret, or use an algorithm that verifies with a public key (RS256, ES256, EdDSA...)", k.Algorithm)
		}
		switch {
		case k.Secret == "":
			v.add(f+".secret", "is required for %s; give at least %d random bytes, such as the output of `openssl rand -hex %d` (read it from the environment with ${NAME})", k.Algorithm, alg.minSecret, alg.minSecret/2)
		case len(k.Secret) < alg.minSecret:
			v.add(f+".secret", "is %d bytes; %s needs at least %d (the hash size, RFC 7518 section 3.2), such as the output of `openssl rand -hex %d`", len(k.Secret), k.Algorithm, alg.minSecret, alg.minSecret/2)
		}
		return
	}
	if k.Secret != "" {
		v.add(f+".secret", "is not used by %s, which verifies with a public key; remove it and set publicKey or publicKeyFile", k.Algorithm)
	}
	switch {
	case k.PublicKey != "" && k.PublicKeyFile != "":
		v.add(f+".publicKeyFile", "is set together with publicKey; keep one")
	case k.PublicKey != "":
		if msg := checkPublicKeyPEM(k.Algorithm, []byte(k.PublicKey)); msg != "" {
			v.add(f+".publicKey", "%s", msg)
		}
	case k.PublicKeyFile != "":
		data, ok := v.pemFile(f+".publicKeyFile", k.PublicKeyFile, "public key", "")
		if !ok {
			return
		}
		if msg := checkPublicKeyPEM(k.Algorithm, data); msg != "" {
			v.add(f+".publicKeyFile", "%q %s", k.PublicKeyFile, msg)
		}
	default:
		v.add(f+".publicKey", "is required for %s; give the PEM public key (\"-----BEGIN PUBLIC KEY-----\"...) here or its file in publicKeyFile", k.Algorithm)
	}
}

// checkPublicKeyPEM returns what is wrong with data as the public key of a
// key pinned to alg, or "". It accepts what jwtauth accepts: the first PEM
// block, a PKIX PUBLIC KEY, a PKCS #1 RSA PUBLIC KEY or a CERTIFICATE (whose
// key is used), of the type, curve and size alg needs.
func checkPublicKeyPEM(alg string, data []byte) string {
	block, _ := pem.Decode(data)
	if block == nil {
		return "holds no PEM block; give a \"-----BEGIN PUBLIC KEY-----\" block (openssl pkey -in key.pem -pubout prints one)"
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = c.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return fmt.Sprintf("holds a %s; give the public key only (openssl pkey -in key.pem -pubout prints it) and keep the private key with the token issuer", block.Type)
		}
		return fmt.Sprintf("holds a PEM %q block; give a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block", block.Type)
	}
	if err != nil {
		return fmt.Sprintf("holds a %s block that does not parse (%v)", block.Type, err)
	}
	want := jwtAlgorithms[alg]
	var got string
	switch k := key.(type) {
	case *rsa.PublicKey:
		got = "RSA"
		if want.key == got && k.N.BitLen() < minRSAKeyBits {
			return fmt.Sprintf("holds a %d-bit RSA key; %s needs at least %d bits", k.N.BitLen(), alg, minRSAKeyBits)
		}
	case *ecdsa.PublicKey:
		got = "ECDSA"
		if want.key == got && k.Curve.Params().Name != want.curve {
			return fmt.Sprintf("holds an ECDSA key on %s; %s needs one on %s", k.Curve.Params().Name, alg, want.curve)
		}
	case ed25519.PublicKey:
		got = "Ed25519"
	default:
		got = fmt.Sprintf("%T", key)
	}
	if got != want.key {
		return fmt.Sprintf("holds an %s key; %s needs an %s key (or fix keys[].algorithm)", got, alg, want.key)
	}
	return ""
}

// checkJWKSURL returns what is wrong with a key set URL, or "": https, or
// http only to a loopback host (a sidecar or a test), since a key set
// fetched in the clear could be replaced on the way.
func checkJWKSURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a URL (%v); write https://host/path, e.g. https://auth.example.com/.well-known/jwks.json", s, unwrapURLError(err))
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("%q is not an https URL; write https://host/path, e.g. https://auth.example.com/.well-known/jwks.json", s)
	case u.Host == "":
		return fmt.Sprintf("%q has no host; write https://host/path, e.g. https://auth.example.com/.well-known/jwks.json", s)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return fmt.Sprintf("%q is plain http to a host that is not loopback, so the keys could be replaced on the way; use https", s)
	}
	return ""
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorizer checks the authorizer block of the API at apiPath.
func (v *validator) authorizer(apiPath, path string, a *Authorizer, integrations map[string]Integration) {
	switch {
	case a.Integration == "":
		v.add(path+".integration", "is required; name the integration (of %s.integrations) that decides, e.g. integration: authorizer", apiPath)
	default:
		if _, ok := integrations[a.Integration]; !ok {
			v.add(path+".integration", "%s", unknownIntegration(apiPath, a.Integration, integrations))
		}
	}
	seen := map[string]int{}
	for i, s := range a.IdentitySources {
		f := joinIndex(path+".identitySources", i)
		if msg := checkIdentitySource(s); msg != "" {
			v.add(f, "%s", msg)
			continue
		}
		if first, ok := seen[s]; ok {
			v.add(f, "%q is already %s; remove one", s, joinIndex(path+".identitySources", first))
			continue
		}
		seen[s] = i
	}
	v.duration(path+".cacheTTL", a.CacheTTL, 0, maxAuthorizerCacheTTL)
	if a.CacheTTL > 0 && len(a.IdentitySources) == 0 {
		v.add(path+".cacheTTL", "needs identitySources, which key the cache: without them every client would share one decision; set identitySources or remove cacheTTL")
	}
}

// checkIdentitySource returns what is wrong with an identity source, or
// "". Switchboard evaluates the two kinds a WebSocket API's REQUEST
// authorizer can have that come from the handshake.
func checkIdentitySource(s string) string {
	const fix = "write " + identityHeaderPrefix + "NAME or " + identityQueryPrefix + "NAME"
	if name, ok := strings.CutPrefix(s, identityHeaderPrefix); ok {
		if !validHeaderName(name) {
			return fmt.Sprintf("%q: %q is not a valid header name; %s, e.g. %sAuthorization", s, name, fix, identityHeaderPrefix)
		}
		return ""
	}
	if name, ok := strings.CutPrefix(s, identityQueryPrefix); ok {
		if name == "" {
			return fmt.Sprintf("%q names no query parameter; %s, e.g. %stoken", s, fix, identityQueryPrefix)
		}
		return ""
	}
	// The syntaxes of HTTP and REST APIs, and the right one in another
	// case.
	for _, alt := range []struct{ prefix, fix string }{
		{"$request.header.", identityHeaderPrefix},
		{"$request.querystring.", identityQueryPrefix},
		{"method.request.header.", identityHeaderPrefix},
		{"method.request.querystring.", identityQueryPrefix},
		{identityHeaderPrefix, identityHeaderPrefix},
		{identityQueryPrefix, identityQueryPrefix},
	} {
		if len(s) >= len(alt.prefix) && strings.EqualFold(s[:len(alt.prefix)], alt.prefix) {
			return fmt.Sprintf("%q is not the syntax of a WebSocket API; write %s%s", s, alt.fix, s[len(alt.prefix):])
		}
	}
	return fmt.Sprintf("%q is not an identity source; %s", s, fix)
}
