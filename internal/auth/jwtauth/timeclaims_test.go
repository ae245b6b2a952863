package jwtauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/internal/config"
)

// signRaw makes an HS256 token whose payload is exactly payload, so that a
// test can write numbers no Go value marshals to (1e999) or in the form a
// hostile issuer chooses (9.3e18).
func signRaw(t testing.TB, secret []byte, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	text := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(text, secret)
	if err != nil {
		t.Fatal(err)
	}
	return text + "." + enc.EncodeToString(sig)
}

// A time claim (exp, nbf, iat) that is not a number of seconds from 0 to
// 9999-12-31T23:59:59Z is refused with "time claim out of range", whatever
// else the token says. Before the check, nbf 9.3e18 and 1e30 and iat 1e30
// were accepted: the jwt library turned them into dates in the past
// through an int64 overflow.
func TestTimeClaimOutOfRange(t *testing.T) {
	secret := testKeys().secret[:32]
	v := newVerifier(t, config.JWT{Keys: []config.JWTKey{{Algorithm: "HS256", Secret: string(secret)}}})
	iat, exp := testNow.Unix(), testNow.Add(time.Hour).Unix()
	bad := []string{
		"9.3e18", "1e30", "-1e30", "1e999", "-1e999", "-1", "-0.5",
		"9223372036854775807", "9223372036854775808", "18446744073709551616",
		"253402300800", "253402300799.5", "1e308",
	}
	for _, claim := range []string{"exp", "nbf", "iat"} {
		for _, val := range bad {
			t.Run(claim+"="+val, func(t *testing.T) {
				fields := map[string]string{"exp": strconv.FormatInt(exp, 10), "iat": strconv.FormatInt(iat, 10)}
				fields[claim] = val
				payload := `{"sub":"user-1"`
				for _, k := range []string{"exp", "nbf", "iat"} {
					if s, ok := fields[k]; ok {
						payload += fmt.Sprintf(",%q:%s", k, s)
					}
				}
				payload += "}"
				_, err := v.Authenticate(bearer(signRaw(t, secret, payload)))
				wantReason(t, err, "time claim out of range")
				if !errors.Is(err, jwt.ErrTokenInvalidClaims) {
					t.Errorf("errors.Is(%v, ErrTokenInvalidClaims) = false", err)
				}
			})
		}
	}
}

// The edges of the range, and numbers written in any JSON form, are
// accepted when the token is otherwise valid; a forged token with an
// out-of-range claim is refused for its signature, before its claims are
// looked at.
func TestTimeClaimEdges(t *testing.T) {
	secret := testKeys().secret[:32]
	v := newVerifier(t, config.JWT{Keys: []config.JWTKey{{Algorithm: "HS256", Secret: string(secret)}}})
	now := testNow.Unix()
	good := []struct{ name, payload string }{
		{"exp at the upper bound", fmt.Sprintf(`{"sub":"u","exp":%d}`, MaxNumericDate)},
		{"exp in exponent form", fmt.Sprintf(`{"sub":"u","exp":%s}`, strconv.FormatFloat(float64(now+3600), 'e', -1, 64))},
		{"fractional exp", fmt.Sprintf(`{"sub":"u","exp":%d.999}`, now+60)},
		{"nbf and iat zero", `{"sub":"u","nbf":0,"iat":0}`},
		{"nbf and iat negative zero", `{"sub":"u","nbf":-0,"iat":-0.0}`},
		{"iat now, nbf now", fmt.Sprintf(`{"sub":"u","iat":%d,"nbf":%d}`, now, now)},
		{"iat 1e9", `{"sub":"u","iat":1e9}`},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Authenticate(bearer(signRaw(t, secret, tt.payload)))
			if err != nil {
				t.Fatalf("Authenticate(%s): %v", tt.payload, err)
			}
			if id.User != "u" {
				t.Fatalf("user %q", id.User)
			}
		})
	}
	t.Run("exp at the upper bound is kept", func(t *testing.T) {
		id, err := v.Authenticate(bearer(signRaw(t, secret, fmt.Sprintf(`{"sub":"u","exp":%d}`, MaxNumericDate))))
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC); !id.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", id.ExpiresAt, want)
		}
	})
	t.Run("exp zero is expired", func(t *testing.T) {
		_, err := v.Authenticate(bearer(signRaw(t, secret, `{"sub":"u","exp":0}`)))
		wantReason(t, err, "token expired")
	})
	t.Run("forged", func(t *testing.T) {
		_, err := v.Authenticate(bearer(signRaw(t, testKeys().secret2[:32], `{"sub":"u","nbf":1e30}`)))
		wantReason(t, err, "bad signature")
	})
}

// FuzzTimeClaims signs tokens whose exp, nbf and iat are arbitrary JSON
// values (an empty string leaves the claim out) with a key the verifier
// holds. It must never panic; a token with a number out of [0,
// MaxNumericDate] in any of them is refused with "time claim out of
// range", and no other token is; an accepted token's ExpiresAt is within a
// second of its exp and not after 9999.
func FuzzTimeClaims(f *testing.F) {
	now := strconv.FormatInt(testNow.Unix(), 10)
	later := strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)
	for _, seed := range [][3]string{
		{later, "", now}, {later, "9.3e18", now}, {later, "1e30", now}, {later, "", "1e30"},
		{"1e30", "", ""}, {"1e999", "", ""}, {"-1", "0", "0"}, {"253402300799", "", ""},
		{"253402300800", "", ""}, {later + ".5", now + ".25", "1e9"}, {`"x"`, "", ""}, {"null", "", ""},
		{"9223372036854775807", "", ""}, {"-0", "-0.0", "0e5"}, {"[1]", "{}", "true"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	secret := testKeys().secret[:32]
	v, err := New(f.Context(), Options{
		Config: config.JWT{Keys: []config.JWTKey{{Algorithm: "HS256", Secret: string(secret)}}},
		Now:    func() time.Time { return testNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	f.Fuzz(func(t *testing.T, exp, nbf, iat string) {
		payload := `{"sub":"u"`
		outOfRange := false
		var expValue float64
		for _, c := range [][2]string{{"exp", exp}, {"nbf", nbf}, {"iat", iat}} {
			if c[1] == "" {
				continue
			}
			payload += fmt.Sprintf(",%q:%s", c[0], c[1])
			dec := json.NewDecoder(strings.NewReader(c[1]))
			dec.UseNumber()
			var val any
			n, isNumber := val.(json.Number)
			if dec.Decode(&val) == nil {
				n, isNumber = val.(json.Number)
			}
			if !isNumber {
				continue // not a number: the validator's business
			}
			x, err := strconv.ParseFloat(string(n), 64)
			if err != nil || x < 0 || x > MaxNumericDate {
				outOfRange = true
			}
			if c[0] == "exp" {
				expValue = x
			}
		}
		payload += "}"
		if !json.Valid([]byte(payload)) {
			return
		}
		id, err := v.Authenticate(bearer(signRaw(t, secret, payload)))
		var e *Error
		switch {
		case err == nil && outOfRange:
			t.Fatalf("accepted %s", payload)
		case err == nil:
			if exp != "" && math.Abs(float64(id.ExpiresAt.Unix())+float64(id.ExpiresAt.Nanosecond())/1e9-expValue) > 1 {
				t.Fatalf("ExpiresAt %v for exp %s", id.ExpiresAt, exp)
			}
			if id.ExpiresAt.Year() > 9999 {
				t.Fatalf("ExpiresAt %v", id.ExpiresAt)
			}
		case !errors.As(err, &e):
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		case outOfRange != (e.Reason == "time claim out of range"):
			t.Fatalf("%s: reason %q (%v)", payload, e.Reason, err)
		}
	})
}
