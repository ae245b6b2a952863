package jwtauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/internal/config"
)

// FuzzAuthenticate feeds arbitrary token strings, from each of the three
// places, to a verifier holding keys of every family. It must never panic,
// must answer ErrNoToken or an *Error with a reason for everything it
// refuses, must never repeat the token in an error, and may only accept a
// token that yields a user.
func FuzzAuthenticate(f *testing.F) {
	k := testKeys()
	var keys []config.JWTKey
	for _, s := range []signer{{"HS256", k.secret[:32]}, {"RS256", k.rsa}, {"PS384", k.rsa}, {"ES256", k.ec256}, {"EdDSA", k.ed}} {
		keys = append(keys, s.configKey(f, strings.ToLower(s.alg)))
		f.Add(sign(f, s, strings.ToLower(s.alg), claims(jwt.MapClaims{"n": 1.5, "b": true, "o": map[string]any{"x": []any{1}}})), uint8(0))
		f.Add(sign(f, s, "", claims(jwt.MapClaims{"exp": nil, "sub": 12})), uint8(1))
		f.Add(sign(f, s, "", claims(jwt.MapClaims{"nbf": 9.3e18, "iat": 1e30})), uint8(2))
	}
	f.Add("", uint8(0))
	f.Add("a.b.c", uint8(1))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", uint8(2))
	f.Add("eyJhbGciOiJIUzI1NiIsImtpZCI6W119.e30.AAAA", uint8(0))
	f.Add("eyJhbGciOiJIUzI1NiIsImNyaXQiOlsieCJdfQ.e30.", uint8(1))
	f.Add("Bearer  x.y.z", uint8(1))

	v, err := New(f.Context(), Options{
		Config: config.JWT{Keys: keys, Issuer: "", ContextClaims: []string{"n", "b", "o", "sub"}},
		Now:    func() time.Time { return testNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)

	f.Fuzz(func(t *testing.T, tok string, where uint8) {
		r := httptest.NewRequest(http.MethodGet, "/stage", nil)
		switch where % 3 {
		case 0:
			r.URL.RawQuery = "token=" + url.QueryEscape(tok)
		case 1:
			r.Header.Set("Authorization", tok)
		case 2:
			r.Header.Set("Sec-WebSocket-Protocol", "chat, bearer."+tok)
		}
		id, err := v.Authenticate(r)
		if err == nil {
			if id.User == "" || id.Context[PrincipalIDKey] != id.User {
				t.Fatalf("accepted with identity %+v", id)
			}
			return
		}
		if errors.Is(err, ErrNoToken) {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Reason == "" {
			t.Fatalf("error %v (%T) is not an *Error with a reason", err, err)
		}
		if core := stripBearer(strings.TrimSpace(tok)); len(core) >= 16 && strings.Contains(err.Error(), core) {
			t.Fatalf("error repeats the token: %v", err)
		}
	})
}
