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
	sigV4     = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260304/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
)

var testKeys = []Key{{Name: "ci", Secret: secretCI}, {Name: "empty", Secret: ""}, {Name: "ops", Secret: secretOps}}

func TestAuth(t *testing.T) {
	const (
		loop4  = "127.0.0.1:41234"
		remote = "203.0.113.7:41234"
	)
	tests := []struct {
		name          string
		allowLoopback bool
		remoteAddr    string
		header        http.Header
		wantMsg       string // "" means admitted
	}{
		{"loopback v4", true, loop4, nil, ""},
		{"loopback v4 other", true, "127.8.9.10:1", nil, ""},
		{"loopback v6", true, "[::1]:41234", nil, ""},
		{"loopback v4-mapped", true, "[::ffff:127.0.0.1]:41234", nil, ""},
		{"loopback without port", true, "127.0.0.1", nil, ""},
		{"loopback with a wrong key", true, loop4, hdr("Bearer nope"), ""},
		{"loopback with SigV4", true, loop4, hdr(sigV4), ""},
		{"loopback not allowed", false, loop4, nil, msgMissingKey},
		{"loopback not allowed, key", false, loop4, hdr("Bearer " + secretCI), ""},
		{"loopback not allowed, SigV4", false, loop4, hdr(sigV4), msgSigV4},
		{"remote no key", true, remote, nil, msgMissingKey},
		{"remote first key", true, remote, hdr("Bearer " + secretCI), ""},
		{"remote last key", true, remote, hdr("Bearer " + secretOps), ""},
		{"remote lower-case scheme", true, remote, hdr("bearer " + secretOps), ""},
		{"remote extra spaces", true, remote, hdr("  Bearer   " + secretOps + " "), ""},
		{"remote wrong key", true, remote, hdr("Bearer nope"), msgMissingKey},
		{"remote key prefix", true, remote, hdr("Bearer " + secretCI[:len(secretCI)-1]), msgMissingKey},
		{"remote key plus suffix", true, remote, hdr("Bearer " + secretCI + "x"), msgMissingKey},
		{"remote empty bearer", true, remote, hdr("Bearer "), msgMissingKey},
		{"remote bare scheme", true, remote, hdr("Bearer"), msgMissingKey},
		{"remote raw secret", true, remote, hdr(secretCI), msgMissingKey},
		{"remote basic", true, remote, hdr("Basic Y2k6c2VjcmV0"), msgMissingKey},
		{"remote SigV4", true, remote, hdr(sigV4), msgSigV4},
		{"remote SigV4a", true, remote, hdr("AWS4-ECDSA-P256-SHA256 Credential=x"), msgSigV4},
		{"remote two Authorization headers", true, remote, http.Header{"Authorization": {"Bearer " + secretCI, "Bearer " + secretOps}}, msgMissingKey},
		{"remote X-Forwarded-For loopback", true, remote, http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}}, msgMissingKey},
		{"remote v6", true, "[2001:db8::1]:5", nil, msgMissingKey},
		{"remote v4-mapped", true, "[::ffff:203.0.113.7]:5", nil, msgMissingKey},
		{"unix socket peer", true, "@", nil, msgMissingKey},
		{"no peer", true, "", nil, msgMissingKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(newTestBackend(), Auth{APIKeys: testKeys, AllowLoopback: tt.allowLoopback}, testLogger(t))
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

func hdr(authorization string) http.Header {
	return http.Header{"Authorization": {authorization}}
}

// TestAuthBeforeRouting: an unadmitted caller learns nothing about routes.
func TestAuthBeforeRouting(t *testing.T) {
	srv := newTestServer(t, newTestBackend(), Auth{APIKeys: testKeys})
	for _, path := range []string{"/prod/@connections/x", "/prod/@connections/a/b", "/nope/@connections", "/prod/%40Connections/x"} {
		checkError(t, do(t, srv, http.MethodPut, path, nil, nil), http.StatusForbidden, "ForbiddenException", msgMissingKey)
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
	checkError(t, do(t, closed, http.MethodGet, path, nil, nil), http.StatusForbidden, "ForbiddenException", msgMissingKey)
	checkError(t, do(t, closed, http.MethodGet, path, nil, hdr(sigV4)), http.StatusForbidden, "ForbiddenException", msgSigV4)
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
