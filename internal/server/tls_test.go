package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "switchboard test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
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
