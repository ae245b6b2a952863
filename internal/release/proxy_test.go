package release_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// The TLS proxy snippets of docs/operating.md ("Deploying behind a TLS
// proxy") run as written, with a certificate made here and loopback
// addresses: a WebSocket client connects over TLS through the proxy, the
// $connect backend sees what the section says it sees (the client's
// claimed X-Forwarded-For replaced by the proxy, the proxy's address
// appended by Switchboard, X-Forwarded-Proto http, sourceIp the proxy),
// and messages flow both ways.

func TestTLSProxyHAProxy(t *testing.T) {
	need(t, "haproxy")
	runBehindProxy(t, "haproxy", func(t *testing.T, p proxySetup) {
		crt := filepath.Join(p.dir, "ws.example.com.pem")
		if err := os.WriteFile(crt, append(p.certPEM, p.keyPEM...), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := docBlock(t, "haproxy")
		cfg = replaceOnce(t, cfg, "bind :443 ssl crt /etc/haproxy/certs/ws.example.com.pem", "bind "+p.front+" ssl crt "+crt)
		cfg = replaceOnce(t, cfg, "server n1 127.0.0.1:8080", "server n1 "+p.upstream)
		cfgFile := filepath.Join(p.dir, "haproxy.cfg")
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("haproxy", "-c", "-f", cfgFile).CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c: %v\n%s", err, out)
		}
		startProxy(t, "haproxy", exec.Command("haproxy", "-db", "-f", cfgFile))
	})
}

func TestTLSProxyNginx(t *testing.T) {
	need(t, "nginx")
	runBehindProxy(t, "nginx", func(t *testing.T, p proxySetup) {
		cert, key := filepath.Join(p.dir, "fullchain.pem"), filepath.Join(p.dir, "privkey.pem")
		if err := os.WriteFile(cert, p.certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(key, p.keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		snippet := docBlock(t, "nginx")
		snippet = replaceOnce(t, snippet, "listen 443 ssl;", "listen "+p.front+" ssl;")
		snippet = replaceOnce(t, snippet, "/etc/letsencrypt/live/ws.example.com/fullchain.pem", cert)
		snippet = replaceOnce(t, snippet, "/etc/letsencrypt/live/ws.example.com/privkey.pem", key)
		snippet = replaceOnce(t, snippet, "server 127.0.0.1:8080;", "server "+p.upstream+";")
		// The snippet is the http block's content; the rest keeps nginx in
		// the test's directory and in the foreground.
		tmp := filepath.Join(p.dir, "tmp")
		if err := os.Mkdir(tmp, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(tmp, 0o777); err != nil { // past the umask: the workers may be nobody
			t.Fatal(err)
		}
		var temps strings.Builder
		for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			fmt.Fprintf(&temps, "    %s_temp_path %s;\n", k, filepath.Join(tmp, k))
		}
		conf := fmt.Sprintf("daemon off;\npid %s;\nerror_log stderr notice;\nworker_processes 1;\nevents { worker_connections 64; }\nhttp {\n    access_log off;\n%s%s}\n",
			filepath.Join(p.dir, "nginx.pid"), temps.String(), snippet)
		cfgFile := filepath.Join(p.dir, "nginx.conf")
		if err := os.WriteFile(cfgFile, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-e", "stderr", "-p", p.dir, "-c", cfgFile}
		if out, err := exec.Command("nginx", append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("nginx -t: %v\n%s\n%s", err, out, conf)
		}
		startProxy(t, "nginx", exec.Command("nginx", args...))
	})
}

// proxySetup is what a proxy's test gets: a directory of its own, the
// certificate for 127.0.0.1 and its key, the address to listen on with
// TLS, and Switchboard's address.
type proxySetup struct {
	dir             string
	certPEM, keyPEM []byte
	front, upstream string
}

// startProxy starts cmd, logging its output if the test fails, and kills
// it at the end.
func startProxy(t *testing.T, name string, cmd *exec.Cmd) {
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	// nginx's workers are the master's children and hold its output. A
	// SIGTERM has the master stop and reap them; should it not, the whole
	// process group is killed, and the output is not waited for past a
	// second.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("%s:\n%s", name, out.String())
			mu.Unlock()
		}
	})
}

// runBehindProxy starts Switchboard and a $connect backend, has start run
// the proxy in front, and checks what goes through it.
func runBehindProxy(t *testing.T, name string, start func(*testing.T, proxySetup)) {
	certPEM, keyPEM, pool := testproc.SelfSigned(t)
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
	start(t, proxySetup{dir: t.TempDir(), certPEM: certPEM, keyPEM: keyPEM, front: front, upstream: sb.Addr})

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
	// The proxy listens once started; haproxy's health check marks the
	// server up after `rise` checks.
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
			t.Fatalf("https://%s/readyz through %s: %v", front, name, err)
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
		t.Fatalf("wss through %s: %v", name, err)
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
