package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/internal/config"
)

// keyKind is the family of an algorithm, which fixes the Go type of its
// verification key.
type keyKind uint8

const (
	kindHMAC    keyKind = iota + 1 // []byte
	kindRSA                        // *rsa.PublicKey (RS* and PS*)
	kindECDSA                      // *ecdsa.PublicKey on the algorithm's curve
	kindEd25519                    // ed25519.PublicKey
)

type algorithm struct {
	kind keyKind
	// minSecret is the shortest HMAC secret in bytes: the hash size, as RFC
	// 7518 section 3.2 requires (and never under 32).
	minSecret int
	// curve is the ECDSA curve the algorithm is defined on.
	curve elliptic.Curve
}

// algorithms are the JWS algorithms a key can be pinned to. "none" is not
// one of them.
var algorithms = map[string]algorithm{
	"HS256": {kind: kindHMAC, minSecret: 32},
	"HS384": {kind: kindHMAC, minSecret: 48},
	"HS512": {kind: kindHMAC, minSecret: 64},
	"RS256": {kind: kindRSA},
	"RS384": {kind: kindRSA},
	"RS512": {kind: kindRSA},
	"PS256": {kind: kindRSA},
	"PS384": {kind: kindRSA},
	"PS512": {kind: kindRSA},
	"ES256": {kind: kindECDSA, curve: elliptic.P256()},
	"ES384": {kind: kindECDSA, curve: elliptic.P384()},
	"ES512": {kind: kindECDSA, curve: elliptic.P521()},
	"EdDSA": {kind: kindEd25519},
}

const algorithmList = "HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA"

// minRSABits is the smallest RSA modulus accepted, static or from a JWKS
// (NIST SP 800-131A; RFC 7518 section 3.3 requires 2048 too).
const minRSABits = 2048

// staticKey is one keys[] entry, parsed.
type staticKey struct {
	id  string
	alg string
	key any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// parseStaticKey checks keys[i] and parses its secret or PEM public key.
func parseStaticKey(i int, k config.JWTKey, baseDir string) (staticKey, error) {
	field := fmt.Sprintf("keys[%d]", i)
	alg, ok := algorithms[k.Algorithm]
	if !ok {
		if k.Algorithm == "" {
			return staticKey{}, fmt.Errorf("%s.algorithm: missing; give one of %s", field, algorithmList)
		}
		return staticKey{}, fmt.Errorf("%s.algorithm: %q is not one of %s", field, k.Algorithm, algorithmList)
	}
	sk := staticKey{id: k.ID, alg: k.Algorithm}
	hasPEM := k.PublicKey != "" || k.PublicKeyFile != ""
	if alg.kind == kindHMAC {
		if hasPEM {
			return staticKey{}, fmt.Errorf("%s: %s takes a secret, not a public key", field, k.Algorithm)
		}
		if len(k.Secret) < alg.minSecret {
			return staticKey{}, fmt.Errorf("%s.secret: %d bytes is too short for %s; use at least %d random bytes", field, len(k.Secret), k.Algorithm, alg.minSecret)
		}
		sk.key = []byte(k.Secret)
		return sk, nil
	}
	if k.Secret != "" {
		return staticKey{}, fmt.Errorf("%s.secret: %s takes a public key (publicKey or publicKeyFile), not a secret", field, k.Algorithm)
	}
	var data []byte
	switch {
	case k.PublicKey != "" && k.PublicKeyFile != "":
		return staticKey{}, fmt.Errorf("%s: publicKey and publicKeyFile are both set; keep one", field)
	case k.PublicKey != "":
		field += ".publicKey"
		data = []byte(k.PublicKey)
	case k.PublicKeyFile != "":
		field += ".publicKeyFile"
		path := k.PublicKeyFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return staticKey{}, fmt.Errorf("%s: %w", field, err)
		}
	default:
		return staticKey{}, fmt.Errorf("%s: %s needs publicKey or publicKeyFile (PEM)", field, k.Algorithm)
	}
	pub, err := parsePublicKeyPEM(data)
	if err != nil {
		return staticKey{}, fmt.Errorf("%s: %w", field, err)
	}
	if err := checkKey(k.Algorithm, pub); err != nil {
		return staticKey{}, fmt.Errorf("%s: %w", field, err)
	}
	sk.key = pub
	return sk, nil
}

// parsePublicKeyPEM reads the first PEM block of data: a PKIX public key
// ("PUBLIC KEY": RSA, ECDSA or Ed25519), a PKCS #1 RSA public key ("RSA
// PUBLIC KEY") or a certificate, whose key is used (its validity dates and
// chain are not checked: the key is what is pinned).
func parsePublicKeyPEM(data []byte) (any, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; give a \"-----BEGIN PUBLIC KEY-----\" block")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PUBLIC KEY: %w", err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse RSA PUBLIC KEY: %w", err)
		}
		return k, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse CERTIFICATE: %w", err)
		}
		return c.PublicKey, nil
	}
	if strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("the PEM block is a %s; give the public key (openssl pkey -in key.pem -pubout)", block.Type)
	}
	return nil, fmt.Errorf("PEM block type %q is not PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
}

// checkKey reports whether key is of the type, curve and size algName
// needs. A private key is not accepted here; callers pass public keys.
func checkKey(algName string, key any) error {
	alg := algorithms[algName]
	switch alg.kind {
	case kindRSA:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, not %s", algName, keyType(key))
		}
		if n := k.N.BitLen(); n < minRSABits {
			return fmt.Errorf("the RSA key has %d bits; %s needs at least %d", n, algName, minRSABits)
		}
	case kindECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an ECDSA key, not %s", algName, keyType(key))
		}
		if k.Curve != alg.curve {
			return fmt.Errorf("%s needs a key on %s, not %s", algName, alg.curve.Params().Name, k.Curve.Params().Name)
		}
	case kindEd25519:
		if _, ok := key.(ed25519.PublicKey); !ok {
			return fmt.Errorf("%s needs an Ed25519 key, not %s", algName, keyType(key))
		}
	default:
		return fmt.Errorf("%s takes no public key", algName)
	}
	return nil
}

// publicOf returns the public half of a private key, and key itself
// otherwise. A JWKS should hold public keys only; jwkset parses private
// material too.
func publicOf(key any) any {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	}
	return key
}

func keyType(key any) string {
	switch key.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an ECDSA key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	case []byte:
		return "a symmetric key"
	}
	return fmt.Sprintf("a %T", key)
}

// keysFor is the jwt.Keyfunc: it returns the keys a token may be verified
// with, as a jwt.VerificationKeySet, or an *Error saying why there are
// none. A static key qualifies when it is pinned to the token's alg and,
// if the token names a kid, has that ID or none. JWKS keys are looked up
// by kid (see jwksKeys) unless a static key has that ID.
func (v *Verifier) keysFor(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 section 4.1.11: extensions we do not understand must
		// make the token invalid.
		return nil, &Error{Reason: "unsupported critical header"}
	}
	alg := t.Method.Alg()
	kid := ""
	if raw, ok := t.Header["kid"]; ok {
		s, ok := raw.(string)
		if !ok {
			return nil, &Error{Reason: "malformed token", Err: errors.New("kid is not a string")}
		}
		kid = s
	}
	if kid == "" && v.jwks == nil {
		if set, ok := v.staticByAlg[alg]; ok {
			return set, nil
		}
		return nil, &Error{Reason: "no key for algorithm"}
	}

	var keys []jwt.VerificationKey
	known := false   // a static key has exactly this kid
	idMatch := false // a static key has this kid or no ID
	for _, k := range v.static {
		if kid != "" && k.id == kid {
			known = true
		}
		if kid == "" || k.id == "" || k.id == kid {
			idMatch = true
			if k.alg == alg {
				keys = append(keys, k.key)
			}
		}
	}
	if v.jwks != nil && !known {
		more, err := v.jwksKeys(ctx, alg, kid)
		if err != nil && len(keys) == 0 {
			return nil, err
		}
		keys = append(keys, more...)
	}
	if len(keys) == 0 {
		if !idMatch && v.jwks == nil {
			return nil, &Error{Reason: "unknown key id"}
		}
		return nil, &Error{Reason: "no key for algorithm"}
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}
