package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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
)

// syncBuffer collects a process's stderr while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines returns the JSON log lines whose msg is msg.
func (s *syncBuffer) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a fake http integration: it answers the twoway route with
// its name and records the route key and close code of every event.
type recorder struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	evs  []map[string]any
}

func newRecorder(t *testing.T, name string) *recorder {
	r := &recorder{name: name}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(req.Body).Decode(&ev)
		rc, _ := ev["requestContext"].(map[string]any)
		r.mu.Lock()
		r.evs = append(r.evs, rc)
		r.mu.Unlock()
		if rc["routeKey"] == "twoway" {
			io.WriteString(w, r.name)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// events returns the requestContexts of the events with routeKey.
func (r *recorder) events(routeKey string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, rc := range r.evs {
		if rc["routeKey"] == routeKey {
			out = append(out, rc)
		}
	}
	return out
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "switchboard")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/switchboard").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func signalConfig(listen, backend, key, extra string) string {
	return fmt.Sprintf(`listen: %s
shutdown:
  readinessDelay: 10m   # ended by a second SIGTERM in the test
  drainWindow: 100ms
  timeout: 10s
management:
  apiKeys:
    - name: backend
      key: %s
apis:
  - id: app
    stage: test
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      $disconnect: {integration: backend}
      twoway: {integration: backend, routeResponseSelectionExpression: $default}
    integrations:
      backend:
        type: http
        url: %s
%s`, listen, key, backend, extra)
}

// The real binary, with open WebSocket connections: SIGHUP reloads the
// file (a new backend for a route, a new management key) without closing
// them; an invalid file is refused with exactly what `switchboard
// validate` says while the old configuration keeps serving; then SIGTERM
// fails /readyz while new connections are still accepted, and a second
// SIGTERM starts the drain: 1001 for everyone, $disconnect delivered, exit 0.
func TestSIGHUPReloadThenSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	oldB, newB := newRecorder(t, "old"), newRecorder(t, "new")
	addr := freeAddr(t)
	const oldKey, newKey = "old-key-0123456789abcdef", "new-key-0123456789abcdef"
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(file, []byte(signalConfig(addr, oldB.srv.URL, oldKey, "")), 0o600); err != nil {
		t.Fatal(err)
	}

	stderr := &syncBuffer{}
	cmd := exec.Command(bin, "serve", "--config", file)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})
	base := "http://" + addr
	status := func(path, key string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	waitFor(t, "the server to listen", func() bool { return status("/healthz", "") == http.StatusOK })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dial := func() *websocket.Conn {
		t.Helper()
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/test", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	ask := func(c *websocket.Conn) string {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"twoway"}`)); err != nil {
			t.Fatalf("write: %v", err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(b)
	}
	c1 := dial()
	if got := ask(c1); got != "old" {
		t.Fatalf("before the reload: %q", got)
	}
	if s := status("/test/@connections", oldKey); s != http.StatusOK {
		t.Fatalf("management with the old key before the reload: %d", s)
	}

	// A new backend, a new key and a new listen address (which needs a restart).
	moved := freeAddr(t)
	if err := os.WriteFile(file, []byte(signalConfig(moved, newB.srv.URL, newKey, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool { return len(stderr.logLines("configuration reloaded")) == 1 })
	if got := ask(c1); got != "new" {
		t.Fatalf("after the reload, on the connection opened before it: %q, want the new backend", got)
	}
	if s := status("/test/@connections", newKey); s != http.StatusOK {
		t.Errorf("management with the new key: %d, want 200", s)
	}
	if s := status("/test/@connections", oldKey); s != http.StatusForbidden {
		t.Errorf("management with the old key: %d, want 403", s)
	}
	if len(stderr.logLines("listen address changed; restart to apply")) != 1 {
		t.Error("the changed listen address was not named")
	}

	// An invalid file: refused with the validate message, old config serves.
	if err := os.WriteFile(file, []byte(signalConfig(addr, newB.srv.URL, newKey, "    routez: {}\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	var validate bytes.Buffer
	vcmd := exec.Command(bin, "validate", file)
	vcmd.Stdout = &validate
	if err := vcmd.Run(); err == nil {
		t.Fatal("validate accepted the invalid file")
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var refused []map[string]any
	waitFor(t, "the refusal", func() bool {
		refused = stderr.logLines("configuration reload refused; the running configuration keeps serving")
		return len(refused) == 1
	})
	if want := strings.TrimSuffix(validate.String(), "\n"); refused[0]["error"] != want || refused[0]["level"] != "ERROR" {
		t.Errorf("refusal logged as %v %q,\nwant ERROR and the validate message %q", refused[0]["level"], refused[0]["error"], want)
	}
	if got := ask(c1); got != "new" {
		t.Fatalf("after the refused reload: %q", got)
	}
	metrics := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}()
	for _, want := range []string{`switchboard_config_reloads_total{result="applied"} 1`, `switchboard_config_reloads_total{result="invalid"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// SIGTERM: not ready, yet still accepting and serving.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz 503", func() bool { return status("/readyz", "") == http.StatusServiceUnavailable })
	c2 := dial()
	if got := ask(c2); got != "new" {
		t.Fatalf("a connection opened during the readiness delay: %q", got)
	}
	// A second SIGTERM ends the delay: the drain.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*websocket.Conn{c1, c2} {
		_, _, err := c.Read(ctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
			t.Errorf("close: %v, want 1001", err)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("no exit after the drain")
	}
	disc := newB.events("$disconnect")
	if len(disc) != 2 {
		t.Fatalf("%d $disconnect events on the new backend, want 2 (old backend got %d)", len(disc), len(oldB.events("$disconnect")))
	}
	for _, rc := range disc {
		if fmt.Sprint(rc["disconnectStatusCode"]) != "1001" {
			t.Errorf("$disconnect with status %v, want 1001", rc["disconnectStatusCode"])
		}
	}
}

// Without --config, SIGHUP says there is nothing to reload and the seed
// configuration keeps serving (before: the process died with 129).
func TestSIGHUPWithoutConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	addr := freeAddr(t)
	stderr := &syncBuffer{}
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "the server to listen", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/production", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the nothing-to-reload line", func() bool {
		return strings.Contains(stderr.String(), "nothing to reload")
	})
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"sendMessage","message":"still here"}`)); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), "still here") {
		t.Fatalf("after SIGHUP: %q %v\n%s", b, err, stderr.String())
	}
	select {
	case err := <-exited:
		t.Fatalf("the process exited on SIGHUP: %v\n%s", err, stderr.String())
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close on SIGTERM: %v, want 1001", err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
}
