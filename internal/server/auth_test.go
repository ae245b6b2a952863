package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/internal/config"
)

const testJWTSecret = "0123456789abcdef0123456789abcdef"

func signJWT(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// JWT at connect: the token from the query, a header or the subprotocol
// list; sub becomes the user and chosen claims the authorizer context of
// every event; a missing or bad token is 401; expiry closes with 1008.
func TestJWTAtConnect(t *testing.T) {
	b := newBackend(t)
	e := startServer(t, backendAPI(b.srv.URL, `    auth:
      jwt:
        keys: [{algorithm: HS256, secret: `+testJWTSecret+`}]
        issuer: https://auth.test/
        contextClaims: [role]
`))
	good := func(exp time.Duration) string {
		return signJWT(t, jwt.MapClaims{"sub": "alice", "role": "admin", "iss": "https://auth.test/", "exp": time.Now().Add(exp).Unix()})
	}
	for _, tc := range []struct {
		name   string
		url    string
		opts   *websocket.DialOptions
		status int
	}{
		{"no token", "test", nil, http.StatusUnauthorized},
		{"garbage", "test?token=abc.def.ghi", nil, http.StatusUnauthorized},
		{"wrong issuer", "test?token=" + signJWT(t, jwt.MapClaims{"sub": "x", "iss": "https://evil/"}), nil, http.StatusUnauthorized},
		{"expired", "test?token=" + good(-time.Hour), nil, http.StatusUnauthorized},
		// Time claims out of range, accepted before issue 9 (int64 overflow).
		{"nbf 9.3e18", "test?token=" + signJWT(t, jwt.MapClaims{"sub": "x", "iss": "https://auth.test/", "nbf": 9.3e18}), nil, http.StatusUnauthorized},
		{"nbf 1e30", "test?token=" + signJWT(t, jwt.MapClaims{"sub": "x", "iss": "https://auth.test/", "nbf": 1e30}), nil, http.StatusUnauthorized},
		{"iat 1e30", "test?token=" + signJWT(t, jwt.MapClaims{"sub": "x", "iss": "https://auth.test/", "iat": 1e30}), nil, http.StatusUnauthorized},
		{"query", "test?token=" + good(time.Hour), nil, http.StatusSwitchingProtocols},
		{"header", "test", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + good(time.Hour)}}}, http.StatusSwitchingProtocols},
		{"subprotocol", "test", &websocket.DialOptions{Subprotocols: []string{"bearer." + good(time.Hour), "switchboard.v1"}}, http.StatusSwitchingProtocols},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, resp, err := websocket.Dial(ctx, e.wsURL(tc.url), tc.opts)
		cancel()
		status := http.StatusSwitchingProtocols
		if err != nil {
			if resp == nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			status = resp.StatusCode
		} else {
			if strings.HasPrefix(c.Subprotocol(), "bearer.") {
				t.Errorf("%s: the token was echoed as the subprotocol", tc.name)
			}
			c.CloseNow()
		}
		if status != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, status, tc.status)
		}
	}
	var outOfRange int
	for _, l := range e.logs.lines("handshake unauthenticated") {
		if l["reason"] == "time claim out of range" {
			outOfRange++
		}
	}
	if outOfRange != 3 {
		t.Errorf("%d handshakes logged with reason \"time claim out of range\", want 3", outOfRange)
	}
	evs := b.waitEvents("$connect", 3)
	az, _ := evs[0]["requestContext"].(map[string]any)["authorizer"].(map[string]any)
	if az["principalId"] != "alice" || az["role"] != "admin" {
		t.Fatalf("authorizer context %v", az)
	}
	if b.eventsFor("$connect")[0]["headers"] == nil {
		t.Fatal("no headers")
	}

	// Expiry closes the connection with 1008 "token expired".
	c := e.dial("test?token="+signJWT(t, jwt.MapClaims{"sub": "bob", "iss": "https://auth.test/", "exp": time.Now().Add(1500 * time.Millisecond).Unix()}), nil)
	if code := closeStatus(t, c); code != websocket.StatusPolicyViolation {
		t.Fatalf("expired connection closed with %d, want 1008", code)
	}
}

// A REQUEST authorizer in the AWS format: a missing identity source is
// 401 without a call, Deny is 403, Allow lets the handshake through with
// the context in every later event, and decisions are cached.
func TestRequestAuthorizer(t *testing.T) {
	authz := newBackend(t)
	authz.setRespond(func(ev map[string]any) (int, string) {
		h, _ := ev["headers"].(map[string]any)
		effect := "Deny"
		if h["X-Token"] == "good" {
			effect = "Allow"
		}
		return 200, `{"principalId":"user-1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"` + effect + `","Resource":"` + ev["methodArn"].(string) + `"}]},"context":{"tier":"gold","n":3}}`
	})
	b := newBackend(t)
	e := startServer(t, backendAPI(b.srv.URL, `    auth:
      authorizer:
        integration: backend # made authz below, once that integration exists
        identitySources: [route.request.header.X-Token]
        cacheTTL: 1m
`), func(c *config.Config) {
		in := c.APIs[0].Integrations["backend"]
		in.URL = authz.srv.URL
		c.APIs[0].Integrations["authz"] = in
		c.APIs[0].Auth.Authorizer.Integration = "authz"
	})
	try := func(token string) int {
		opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
		if token != "" {
			opts.HTTPHeader.Set("X-Token", token)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, e.wsURL("test"), opts)
		if err != nil {
			if resp == nil {
				t.Fatal(err)
			}
			return resp.StatusCode
		}
		t.Cleanup(func() { c.CloseNow() })
		return http.StatusSwitchingProtocols
	}
	if s := try(""); s != http.StatusUnauthorized {
		t.Fatalf("no identity: %d", s)
	}
	if n := len(authz.eventsFor("$connect")); n != 0 {
		t.Fatalf("the authorizer was called %d times without an identity source", n)
	}
	if s := try("bad"); s != http.StatusForbidden {
		t.Fatalf("deny: %d", s)
	}
	if s := try("good"); s != http.StatusSwitchingProtocols {
		t.Fatalf("allow: %d", s)
	}
	if s := try("good"); s != http.StatusSwitchingProtocols {
		t.Fatalf("allow again: %d", s)
	}
	if n := len(authz.eventsFor("$connect")); n != 2 {
		t.Fatalf("authorizer calls %d, want 2 (bad, good; the second good is cached)", n)
	}
	ev := b.waitEvents("$connect", 1)[0]
	az := ev["requestContext"].(map[string]any)["authorizer"].(map[string]any)
	if az["principalId"] != "user-1" || az["tier"] != "gold" || az["n"] != "3" {
		t.Fatalf("authorizer context %v", az)
	}
}

// A switchboard.v1 client refreshes its token before it expires: the
// connection stays open past the first token's exp; a token of another
// user is refused.
func TestJWTRefresh(t *testing.T) {
	e := startServer(t, `
apis:
  - id: j
    stage: j
    routeSelectionExpression: $request.body.action
    routes:
      $default: {action: {type: echo}}
    auth:
      jwt:
        keys: [{algorithm: HS256, secret: `+testJWTSecret+`}]
`)
	short := signJWT(t, jwt.MapClaims{"sub": "carol", "exp": time.Now().Add(1500 * time.Millisecond).Unix()})
	c, _ := e.v1("j?token="+short, nil)
	r, _ := call(t, c, 1, `{"type":"refresh","id":1,"token":"`+signJWT(t, jwt.MapClaims{"sub": "dave", "exp": time.Now().Add(time.Hour).Unix()})+`"}`)
	if r["error"].(map[string]any)["code"] != 403.0 {
		t.Fatalf("another user's token: %v", r)
	}
	r, _ = call(t, c, 2, `{"type":"refresh","id":2,"token":"`+signJWT(t, jwt.MapClaims{"sub": "carol", "exp": time.Now().Add(time.Hour).Unix()})+`"}`)
	if r["error"] != nil {
		t.Fatalf("refresh: %v", r)
	}
	time.Sleep(2500 * time.Millisecond) // past the first token's exp
	if r, _ := call(t, c, 3, `{"type":"ping","id":3}`); r["result"] == nil {
		t.Fatalf("ping after the first token expired: %v", r)
	}
}
