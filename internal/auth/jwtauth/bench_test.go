package jwtauth

import (
	"testing"

	"github.com/switchboardhq/switchboard/internal/config"
)

// BenchmarkAuthenticate measures one handshake's token check: find the
// token in the Authorization header, verify it with the one static key,
// check the claims and build the identity with two context claims.
func BenchmarkAuthenticate(b *testing.B) {
	k := testKeys()
	for _, s := range []signer{{"HS256", k.secret[:32]}, {"RS256", k.rsa}, {"ES256", k.ec256}} {
		b.Run(s.alg, func(b *testing.B) {
			v := newVerifier(b, config.JWT{
				Keys:          []config.JWTKey{s.configKey(b, "")},
				Issuer:        "https://auth.example.com/",
				Audience:      []string{"chat"},
				ContextClaims: []string{"email", "tenant"},
			})
			r := bearer(sign(b, s, "", claims(map[string]any{
				"iss": "https://auth.example.com/", "aud": "chat", "email": "a@example.com", "tenant": 42,
			})))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
