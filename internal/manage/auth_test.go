package manage

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const (
	secretCI  = "ci-0123456789abcdef"
	secretOps = "ops-fedcba9876543210"
	secretDev = "dev-0123456789abcdef"
	// sigV4 is a well-formed SigV4 header of an access key that is not
	// configured in these tests.
	sigV4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260304/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
)

var testKeys = []Key{{Name: "ci", Secret: secretCI}, {Name: "empty", Secret: ""}, {Name: "ops", Secret: secretOps}, {Name: "dev-only", Secret: secretDev, Stages: []string{"dev"}}}

// TestAuth covers API keys, loopback and SigV4 without access keys (see
// auth_sigv4_test.go for signed requests).
func TestAuth(t *testing.T) {
	const (
		loop4  = "127.0.0.1:41234"
		remote = "203.0.113.7:41234"
	)
	tests := []struct {
		name          string
		allowLoopback bool
		keys          []Key
		remoteAddr    string
		header        http.Header
		wantMsg       string // "" means admitted
	}{
		{"loopback v4", true, testKeys, loop4, nil, ""},
		{"loopback v4 other", true, testKeys, "127.8.9.10:1", nil, ""},
		{"loopback v6", true, testKeys, "[::1]:41234", nil, ""},
		{"loopback v4-mapped", true, testKeys, "[::ffff:127.0.0.1]:41234", nil, ""},
		{"loopback without port", true, testKeys, "127.0.0.1", nil, ""},
		{"loopback with a right key", true, testKeys, loop4, hdr("Bearer " + secretCI), ""},
		// A wrong credential is refused even from loopback.
		{"loopback with a wrong key", true, testKeys, loop4, hdr("Bearer nope"), msgInvalidKey},
		{"loopback with a wrong x-api-key", true, testKeys, loop4, http.Header{"X-Api-Key": {"nope"}}, msgInvalidKey},
		{"loopback with a key of another stage", true, testKeys, loop4, hdr("Bearer " + secretDev), `User: API key "dev-only" is not authorized to perform: execute-api:ManageConnections on stage "prod"`},
		{"loopback with an unsupported scheme", true, testKeys, loop4, hdr("Basic Y2k6c2VjcmV0"), msgScheme},
		// A credential of a kind with no keys configured cannot be
		// judged: loopback admits it.
		{"loopback with SigV4, no access keys", true, testKeys, loop4, hdr(sigV4), ""},
		{"loopback with a key, no API keys", true, nil, loop4, hdr("Bearer anything"), ""},
		// Behind a reverse proxy on the same host the TCP peer is
		// loopback for every caller: a proxy's header means "not loopback".
		{"loopback via Forwarded", true, testKeys, loop4, http.Header{"Forwarded": {"for=203.0.113.7"}}, msgMissingAuth},
		{"loopback via X-Forwarded-For", true, testKeys, loop4, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, msgMissingAuth},
		{"loopback via X-Forwarded-For naming loopback", true, testKeys, loop4, http.Header{"X-Forwarded-For": {"127.0.0.1"}}, msgMissingAuth},
		{"loopback via X-Real-IP", true, testKeys, "[::1]:41234", http.Header{"X-Real-Ip": {"203.0.113.7"}}, msgMissingAuth},
		{"loopback via empty X-Real-IP", true, testKeys, loop4, http.Header{"X-Real-Ip": {""}}, msgMissingAuth},
		{"loopback via X-Forwarded-Proto", true, testKeys, loop4, http.Header{"X-Forwarded-Proto": {"https"}}, msgMissingAuth},
		{"loopback via Via", true, testKeys, loop4, http.Header{"Via": {"1.1 proxy"}}, msgMissingAuth},
		{"loopback via proxy, SigV4, no access keys", true, testKeys, loop4, http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Authorization": {sigV4}}, msgUnknownAccessKey},
		{"loopback via proxy, key, no API keys", true, nil, loop4, http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Authorization": {"Bearer anything"}}, msgInvalidKey},
		{"loopback via proxy with a right key", true, testKeys, loop4, http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Authorization": {"Bearer " + secretCI}}, ""},
		{"loopback not allowed", false, testKeys, loop4, nil, msgMissingAuth},
		{"loopback not allowed, key", false, testKeys, loop4, hdr("Bearer " + secretCI), ""},
		{"loopback not allowed, SigV4, no access keys", false, testKeys, loop4, hdr(sigV4), msgUnknownAccessKey},
		{"loopback not allowed, key, no API keys", false, nil, loop4, hdr("Bearer anything"), msgInvalidKey},
		{"remote no key", true, testKeys, remote, nil, msgMissingAuth},
		{"remote first key", true, testKeys, remote, hdr("Bearer " + secretCI), ""},
		{"remote last key", true, testKeys, remote, hdr("Bearer " + secretOps), ""},
		{"remote lower-case scheme", true, testKeys, remote, hdr("bearer " + secretOps), ""},
		{"remote extra spaces", true, testKeys, remote, hdr("  Bearer   " + secretOps + " "), ""},
		{"remote x-api-key", true, testKeys, remote, http.Header{"X-Api-Key": {secretOps}}, ""},
		{"remote x-api-key and bearer", true, testKeys, remote, http.Header{"X-Api-Key": {secretOps}, "Authorization": {"Bearer " + secretCI}}, ""},
		{"remote right x-api-key, wrong bearer", true, testKeys, remote, http.Header{"X-Api-Key": {secretOps}, "Authorization": {"Bearer nope"}}, msgInvalidKey},
		{"remote wrong x-api-key, right bearer", true, testKeys, remote, http.Header{"X-Api-Key": {"nope"}, "Authorization": {"Bearer " + secretCI}}, msgInvalidKey},
		{"remote two x-api-keys", true, testKeys, remote, http.Header{"X-Api-Key": {secretOps, secretCI}}, msgOneCredential},
		{"remote scoped key on its stage", true, testKeys, remote, hdr("Bearer " + secretDev), `on stage "prod"`},
		{"remote wrong key", true, testKeys, remote, hdr("Bearer nope"), msgInvalidKey},
		{"remote key prefix", true, testKeys, remote, hdr("Bearer " + secretCI[:len(secretCI)-1]), msgInvalidKey},
		{"remote key plus suffix", true, testKeys, remote, hdr("Bearer " + secretCI + "x"), msgInvalidKey},
		{"remote empty bearer", true, testKeys, remote, hdr("Bearer "), msgInvalidKey},
		{"remote bare scheme", true, testKeys, remote, hdr("Bearer"), msgInvalidKey},
		{"remote raw secret", true, testKeys, remote, hdr(secretCI), msgScheme},
		{"remote basic", true, testKeys, remote, hdr("Basic Y2k6c2VjcmV0"), msgScheme},
		{"remote SigV4, no access keys", true, testKeys, remote, hdr(sigV4), msgUnknownAccessKey},
		{"remote SigV4a, no access keys", true, testKeys, remote, hdr("AWS4-ECDSA-P256-SHA256 Credential=x"), msgUnknownAccessKey},
		{"remote two Authorization headers", true, testKeys, remote, http.Header{"Authorization": {"Bearer " + secretCI, "Bearer " + secretOps}}, msgOneCredential},
		{"remote X-Forwarded-For loopback", true, testKeys, remote, http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}}, msgMissingAuth},
		{"remote v6", true, testKeys, "[2001:db8::1]:5", nil, msgMissingAuth},
		{"remote v4-mapped", true, testKeys, "[::ffff:203.0.113.7]:5", nil, msgMissingAuth},
		{"unix socket peer", true, testKeys, "@", nil, msgMissingAuth},
		{"no peer", true, testKeys, "", nil, msgMissingAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(newTestBackend(), Auth{APIKeys: tt.keys, AllowLoopback: tt.allowLoopback}, testLogger(t))
			req := httptest.NewRequest(http.MethodGet, "/prod/@connections/R1kmxc2VNjMCFIA%3D", nil)
			req.RemoteAddr = tt.remoteAddr
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			r := response{rec.Code, rec.Header(), rec.Body.Bytes()}
			if tt.wantMsg == "" {
				if r.status != http.StatusOK {
					t.Errorf("status %d (%s), want 200", r.status, r.body)
				}
				return
			}
			checkError(t, r, http.StatusForbidden, "ForbiddenException", tt.wantMsg)
		})
	}
}

// TestAuthScopedKey: a key limited to stage dev works there and nowhere
// else; unscoped keys work on every stage.
func TestAuthScopedKey(t *testing.T) {
	srv := newTestServer(t, newTestBackend(), Auth{APIKeys: testKeys})
	for _, tt := range []struct {
		secret, path string
		want         int
	}{
		{secretDev, "/dev/@connections", http.StatusOK},
		{secretDev, "/prod/@connections", http.StatusForbidden},
		{secretDev, "/nope/@connections", http.StatusForbidden},
		{secretCI, "/dev/@connections", http.StatusOK},
		{secretCI, "/prod/@connections", http.StatusOK},
	} {
		r := do(t, srv, http.MethodGet, tt.path, nil, hdr("Bearer "+tt.secret))
		if r.status != tt.want {
			t.Errorf("GET %s with %q: %d %s, want %d", tt.path, tt.secret[:3], r.status, r.body, tt.want)
		}
	}
	r := do(t, srv, http.MethodGet, "/prod/@connections", nil, http.Header{"X-Api-Key": {secretDev}})
	checkError(t, r, http.StatusForbidden, "ForbiddenException", `User: API key "dev-only" is not authorized to perform: execute-api:ManageConnections on stage "prod"`)
}

func hdr(authorization string) http.Header {
	return http.Header{"Authorization": {authorization}}
}

// TestAuthBeforeRouting: an unadmitted caller learns nothing about routes.
func TestAuthBeforeRouting(t *testing.T) {
	srv := newTestServer(t, newTestBackend(), Auth{APIKeys: testKeys})
	for _, path := range []string{"/prod/@connections/x", "/prod/@connections/a/b", "/nope/@connections", "/prod/%40Connections/x"} {
		checkError(t, do(t, srv, http.MethodPut, path, nil, nil), http.StatusForbidden, "ForbiddenException", msgMissingAuth)
	}
}

// TestAuthRealSocket checks the peer address net/http really reports.
func TestAuthRealSocket(t *testing.T) {
	const path = "/prod/@connections/R1kmxc2VNjMCFIA%3D"
	open := newTestServer(t, newTestBackend(), Auth{AllowLoopback: true})
	if r := do(t, open, http.MethodGet, path, nil, nil); r.status != http.StatusOK {
		t.Errorf("loopback allowed: %d %s", r.status, r.body)
	}
	closed := newTestServer(t, newTestBackend(), Auth{APIKeys: testKeys})
	checkError(t, do(t, closed, http.MethodGet, path, nil, nil), http.StatusForbidden, "ForbiddenException", msgMissingAuth)
	checkError(t, do(t, closed, http.MethodGet, path, nil, hdr(sigV4)), http.StatusForbidden, "ForbiddenException", msgUnknownAccessKey)
	if r := do(t, closed, http.MethodGet, path, nil, hdr("Bearer "+secretOps)); r.status != http.StatusOK {
		t.Errorf("with key: %d %s", r.status, r.body)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(s.b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogging(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := NewHandler(newTestBackend(), Auth{APIKeys: testKeys}, logger)
	send := func(path, authorization string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "203.0.113.7:5"
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	send("/prod/@connections/R1kmxc2VNjMCFIA%3D", "Bearer wrong-secret-value")
	send("/prod/@connections/R1kmxc2VNjMCFIA%3D", "Bearer "+secretCI)
	send("/prod/@connections/boom", "Bearer "+secretOps)

	recs := buf.records(t)
	all, _ := json.Marshal(recs)
	for _, secret := range []string{"wrong-secret-value", secretCI, secretOps} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("the log contains the secret %q", secret)
		}
	}
	find := func(level, msg string, n int) map[string]any {
		t.Helper()
		for _, r := range recs {
			if r["level"] == level && r["msg"] == msg {
				if n == 0 {
					return r
				}
				n--
			}
		}
		t.Fatalf("no %s record %q in %s", level, msg, all)
		return nil
	}
	rej := find("INFO", "management request rejected", 0)
	if rej["remote"] != "203.0.113.7:5" || rej["path"] != "/prod/@connections/R1kmxc2VNjMCFIA%3D" || rej["reason"] != "unknown API key" {
		t.Errorf("rejection record: %v", rej)
	}
	call := find("DEBUG", "management call", 1)
	if call["method"] != "GET" || call["stage"] != "prod" || call["id"] != "R1kmxc2VNjMCFIA=" ||
		call["status"] != float64(200) || call["principal"] != "ci" || call["latency"] == nil {
		t.Errorf("call record: %v", call)
	}
	failed := find("ERROR", "management call failed", 0)
	if !strings.Contains(failed["err"].(string), errBoom.Error()) || failed["id"] != "boom" {
		t.Errorf("failure record: %v", failed)
	}
}

// SetAuth (a configuration reload) replaces the keys at once: the new key
// is admitted, the old one refused, on the same handler.
func TestSetAuthReplacesKeys(t *testing.T) {
	h := NewHandler(newTestBackend(), Auth{APIKeys: []Key{{Name: "old", Secret: "old-key-0123456789"}}}, testLogger(t))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(key string) int {
		return do(t, srv, http.MethodGet, "/prod/@connections/R1kmxc2VNjMCFIA%3D", nil, http.Header{"Authorization": {"Bearer " + key}}).status
	}
	if s := get("old-key-0123456789"); s != http.StatusOK {
		t.Fatalf("old key before SetAuth: %d", s)
	}
	h.SetAuth(Auth{APIKeys: []Key{{Name: "new", Secret: "new-key-0123456789"}}})
	if s := get("new-key-0123456789"); s != http.StatusOK {
		t.Errorf("new key after SetAuth: %d, want 200", s)
	}
	if s := get("old-key-0123456789"); s != http.StatusForbidden {
		t.Errorf("old key after SetAuth: %d, want 403", s)
	}
}
