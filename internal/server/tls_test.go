package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM, pool := testproc.SelfSigned(t)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TLS on the listener: wss:// works end to end (the goroutine driver serves
// TLS connections), the backend sees X-Forwarded-Proto: https, and plain
// HTTP on the TLS port gets nowhere.
func TestTLSListener(t *testing.T) {
	certFile, keyFile, pool := writeCert(t, t.TempDir())
	b := newBackend(t)
	e := startServer(t, "tls: {certFile: "+certFile+", keyFile: "+keyFile+"}\n"+backendAPI(b.srv.URL, ""))
	b.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) == "twoway" {
			return 200, `{"statusCode":200,"body":"secure"}`
		}
		return 200, ""
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "wss://" + strings.TrimPrefix(e.base, "http://") + "/test"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer c.CloseNow()
	write(t, c, `{"action":"twoway"}`)
	if _, got := read(t, c); string(got) != "secure" {
		t.Fatalf("got %q", got)
	}
	ev := b.waitEvents("$connect", 1)[0]
	if h := ev["headers"].(map[string]any); h["X-Forwarded-Proto"] != "https" {
		t.Fatalf("X-Forwarded-Proto %v", h["X-Forwarded-Proto"])
	}
	// Plain HTTP on the TLS port: 400 with a hint, not a silent hang-up.
	resp, err := http.Get(e.base + "/healthz")
	if err != nil {
		t.Fatalf("plain HTTP on the TLS listener: %v, want a 400 response", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "use https://") {
		t.Fatalf("plain HTTP on the TLS listener: %d %q, want 400", resp.StatusCode, body)
	}
	// A plain WebSocket handshake too.
	if _, resp, err := websocket.Dial(ctx, e.wsURL("test"), nil); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("ws:// on the TLS listener: %v %v, want 400", resp, err)
	}
	// And TLS still works after them.
	resp, err = client.Get("https://" + strings.TrimPrefix(e.base, "http://") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("https /healthz: %d", resp.StatusCode)
	}
}
