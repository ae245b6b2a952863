package server

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/config"
)

// managementGet calls GET path on the server from loopback with the given
// headers and returns the status and body.
func managementGet(t *testing.T, e *env, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startFile runs a server with a configuration file's text, exactly as
// `switchboard serve --config` would load it: no test defaults.
func startFile(t *testing.T, yaml string) *env {
	t.Helper()
	cfg, err := config.Parse("switchboard.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startConfig(t, cfg, ln)
}

// TestManagementClosedWithoutBlock: a configuration file with no
// management block admits no caller without credentials, loopback
// included (issue 9.1).
func TestManagementClosedWithoutBlock(t *testing.T) {
	e := startFile(t, `
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
`)
	status, body := managementGet(t, e, "/production/@connections", nil)
	if status != http.StatusForbidden || !strings.Contains(body, "Missing Authentication Token") {
		t.Fatalf("loopback without credentials: %d %s, want 403 Missing Authentication Token", status, body)
	}
	if e.logs.contains("development mode") {
		t.Error("the server announces development mode without being configured for it")
	}
}

// TestManagementDevModeBehindProxy: in development mode a loopback caller
// without credentials is admitted, but not when the request carries a
// reverse proxy's header: the proxy's own TCP peer is loopback for every
// caller it forwards.
func TestManagementDevModeBehindProxy(t *testing.T) {
	e := startFile(t, `
management:
  allowLoopback: true
  apiKeys: [{name: ops, key: ops-0123456789abcdef}]
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
`)
	if status, body := managementGet(t, e, "/production/@connections", nil); status != http.StatusOK {
		t.Fatalf("development mode, loopback: %d %s, want 200", status, body)
	}
	for _, h := range []http.Header{
		{"Forwarded": {"for=198.51.100.7;proto=https"}},
		{"X-Forwarded-For": {"198.51.100.7"}},
		{"X-Real-Ip": {"198.51.100.7"}},
		{"X-Forwarded-For": {"127.0.0.1"}},
	} {
		status, body := managementGet(t, e, "/production/@connections", h)
		if status != http.StatusForbidden || !strings.Contains(body, "Missing Authentication Token") {
			t.Errorf("development mode, loopback peer with %v: %d %s, want 403", h, status, body)
		}
	}
	// A proxied caller with a key is served as any caller with a key.
	h := http.Header{"X-Forwarded-For": {"198.51.100.7"}, "Authorization": {"Bearer ops-0123456789abcdef"}}
	if status, body := managementGet(t, e, "/production/@connections", h); status != http.StatusOK {
		t.Fatalf("proxied caller with a key: %d %s, want 200", status, body)
	}
}
