package release_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
	"github.com/switchboardhq/switchboard/internal/testproc"
)

// docBlock returns the first fenced block of docs/operating.md in lang.
func docBlock(t *testing.T, lang string) string {
	t.Helper()
	doc := string(mustRead(t, root+"/docs/operating.md"))
	_, rest, ok := strings.Cut(doc, "```"+lang+"\n")
	if !ok {
		t.Fatalf("docs/operating.md has no ```%s block", lang)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/operating.md: unterminated ```%s block", lang)
	}
	return block
}

// replaceOnce replaces old, which must occur in s exactly once: a changed
// snippet fails here rather than being tested half.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("the snippet holds %q %d times, want once:\n%s", old, n, s)
	}
	return strings.Replace(s, old, new, 1)
}

// TestTLSProxyHAProxy runs the haproxy snippet of docs/operating.md ("Deploying
// behind a TLS proxy") as written, with a certificate made here and
// loopback addresses: a WebSocket client connects over TLS through it,
// the $connect backend sees what the section says it sees (the client's
// claimed X-Forwarded-For replaced by the proxy, the proxy's address
// appended by Switchboard, X-Forwarded-Proto http, sourceIp the proxy),
// and messages flow both ways.
func TestTLSProxyHAProxy(t *testing.T) {
	need(t, "haproxy")
	dir := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t)
	crt := filepath.Join(dir, "ws.example.com.pem")
	if err := os.WriteFile(crt, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var connects []proxyEvent
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev proxyEvent
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ev.RequestContext.EventType == "CONNECT" {
			mu.Lock()
			connects = append(connects, ev)
			mu.Unlock()
		}
		fmt.Fprint(w, `{"statusCode": 200}`)
	}))
	t.Cleanup(backend.Close)
	sb := servertest.Start(t, fmt.Sprintf(`
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      sendMessage:
        action: {type: broadcast, payload: {message: $request.body.message}}
    integrations:
      backend: {type: http, url: %q, timeout: 5s}
`, backend.URL), server.Options{})

	front := testproc.FreeAddr(t)
	cfg := docBlock(t, "haproxy")
	cfg = replaceOnce(t, cfg, "bind :443 ssl crt /etc/haproxy/certs/ws.example.com.pem", "bind "+front+" ssl crt "+crt)
	cfg = replaceOnce(t, cfg, "server n1 127.0.0.1:8080", "server n1 "+sb.Addr)
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	hp := exec.Command("haproxy", "-db", "-f", cfgFile)
	var hlog strings.Builder
	var hlogMu sync.Mutex
	hp.Stdout = writerFunc(func(p []byte) (int, error) { hlogMu.Lock(); defer hlogMu.Unlock(); return hlog.Write(p) })
	hp.Stderr = hp.Stdout
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hp.Process.Kill()
		hp.Wait()
		if t.Failed() {
			hlogMu.Lock()
			t.Logf("haproxy:\n%s", hlog.String())
			hlogMu.Unlock()
		}
	})

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
	// haproxy's health check marks the server up after `rise` checks.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("https://" + front + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("https://%s/readyz through haproxy: %v", front, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+front+"/production", &websocket.DialOptions{
		HTTPClient: client,
		HTTPHeader: http.Header{"X-Forwarded-For": {"203.0.113.66"}, "X-Forwarded-Proto": {"https"}},
	})
	if err != nil {
		t.Fatalf("wss through haproxy: %v", err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"action":"sendMessage","message":"through the proxy"}`)); err != nil {
		t.Fatal(err)
	}
	_, got, err := ws.Read(ctx)
	if err != nil || string(got) != `{"message":"through the proxy"}` {
		t.Fatalf("read %s, %v", got, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(connects) != 1 {
		t.Fatalf("%d CONNECT events, want 1", len(connects))
	}
	ev := connects[0]
	if ip := ev.RequestContext.Identity.SourceIP; ip != "127.0.0.1" {
		t.Errorf("sourceIp %q, want the proxy's 127.0.0.1", ip)
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	if xff := h.Get("X-Forwarded-For"); xff != "127.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the proxy's replacement (the client, 127.0.0.1) then the peer Switchboard saw (127.0.0.1)", xff)
	}
	if p := h.Get("X-Forwarded-Proto"); p != "http" {
		t.Errorf("X-Forwarded-Proto %q, want Switchboard's own listener's, http", p)
	}
}

type proxyEvent struct {
	Headers        map[string]string `json:"headers"`
	RequestContext struct {
		EventType string `json:"eventType"`
		Identity  struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
	} `json:"requestContext"`
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// selfSigned returns a certificate for 127.0.0.1, its key, and a pool
// that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), pool
}
