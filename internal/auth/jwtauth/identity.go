package jwtauth

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// identity builds the Identity of a verified token's claims (decoded with
// json.Number for numbers).
func (v *Verifier) identity(claims jwt.MapClaims) (Identity, error) {
	var id Identity
	switch u := claims[v.userClaim].(type) {
	case nil:
		return Identity{}, &Error{Reason: "missing user claim"}
	case string:
		id.User = u
	case json.Number:
		id.User = formatNumber(u)
	default:
		return Identity{}, &Error{Reason: "user claim is not a string"}
	}
	if id.User == "" {
		return Identity{}, &Error{Reason: "missing user claim"}
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		id.ExpiresAt = exp.Time
	}
	id.Context = make(map[string]any, len(v.contextClaims)+1)
	for _, name := range v.contextClaims {
		if name == PrincipalIDKey {
			continue
		}
		if s, ok := stringify(claims[name]); ok {
			id.Context[name] = s
		}
	}
	id.Context[PrincipalIDKey] = id.User
	return id, nil
}

// stringify writes a claim value the way AWS stringifies an authorizer's
// context: a string as is, a number in decimal, a bool as "true" or
// "false". Objects and arrays, which AWS refuses, become compact JSON;
// null (and an absent claim) is left out.
func stringify(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return formatNumber(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// formatNumber writes a JSON number in decimal without exponent. Integers
// are kept digit for digit (ids beyond 2^53 survive); other numbers go
// through float64 ("1.50" becomes "1.5", "1e3" becomes "1000").
func formatNumber(n json.Number) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
