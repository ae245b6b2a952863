package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// env is a running Switchboard server on a real loopback socket.
type env struct {
	t    *testing.T
	srv  *Server
	base string // http://127.0.0.1:port
	logs *logBuffer
	stop context.CancelFunc
	done chan error
	once sync.Once
}

// logBuffer collects the server's JSON log lines and echoes them to the test log.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Logf("server: %s", strings.TrimRight(string(p), "\n"))
	return l.b.Write(p)
}

// contains reports whether any log line contains s.
func (l *logBuffer) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

// decoded is every line logged so far, decoded (nil for a line that is
// not JSON).
func (l *logBuffer) decoded() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			m = nil
		}
		out = append(out, m)
	}
	return out
}

// lines returns the decoded log lines whose msg is msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	for _, m := range l.decoded() {
		if m != nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// first is the position of the first line whose msg is msg among all
// the lines logged so far, or -1.
func (l *logBuffer) first(msg string) int {
	return slices.IndexFunc(l.decoded(), func(m map[string]any) bool { return m != nil && m["msg"] == msg })
}

// startServer runs a server with the given YAML configuration (the seed
// configuration when yaml is empty). "{{backend}}" in yaml is replaced by
// backendURL.
func startServer(t *testing.T, yaml string, mutate ...func(*config.Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, ln, yaml, mutate...)
}

// startServerOn is startServer on ln (a restart listens on the address of
// the server it replaces).
func startServerOn(t *testing.T, ln net.Listener, yaml string, mutate ...func(*config.Config)) *env {
	t.Helper()
	var cfg *config.Config
	var err error
	if yaml == "" {
		yaml = config.SeedYAML
	}
	// "{{base}}" in yaml is the server's own base URL (for handlers that
	// call the management API).
	yaml = strings.ReplaceAll(yaml, "{{base}}", "http://"+ln.Addr().String())
	cfg, err = config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	cfg.Shutdown.DrainWindow = config.Duration(100 * time.Millisecond)
	cfg.Shutdown.Timeout = config.Duration(10 * time.Second)
	if cfg.Management.AllowLoopback == nil {
		// The tests call the management API from loopback: development
		// mode, unless a test configures access explicitly.
		cfg.Management.AllowLoopback = new(true)
	}
	for _, f := range mutate {
		f(cfg)
	}
	return startConfig(t, cfg, ln)
}

// startConfig runs a server with cfg, exactly as configured, on ln.
func startConfig(t *testing.T, cfg *config.Config, ln net.Listener) *env {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	logs := &logBuffer{t: t}
	srv, err := New(cfg, Options{
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Engine:   ws.Options{Tick: 20 * time.Millisecond, CloseTimeout: time.Second},
		Listener: ln,
	})
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, srv: srv, base: "http://" + ln.Addr().String(), logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() { e.done <- srv.Run(ctx) }()
	t.Cleanup(func() { e.shutdown() })
	return e
}

// shutdown stops the server (as SIGTERM does) and checks that Run returns nil.
func (e *env) shutdown() {
	e.t.Helper()
	e.once.Do(func() {
		e.stop()
		select {
		case err := <-e.done:
			if err != nil {
				e.t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			e.t.Errorf("Run did not return after shutdown")
		}
	})
}

func (e *env) wsURL(stage string) string {
	return "ws" + strings.TrimPrefix(e.base, "http") + "/" + stage
}

// dial opens a WebSocket client connection and fails the test on error.
func (e *env) dial(stage string, opts *websocket.DialOptions) *websocket.Conn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsURL(stage), opts)
	if err != nil {
		e.t.Fatalf("dial %s: %v", stage, err)
	}
	c.SetReadLimit(1 << 20)
	e.t.Cleanup(func() { c.CloseNow() })
	return c
}

// read reads one message with a timeout.
func read(t *testing.T, c *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, b
}

// readJSON reads one text message and decodes it.
func readJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_, b := read(t, c)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %q is not JSON: %v", b, err)
	}
	return m
}

func write(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// closeStatus reads until the connection closes and returns its close code.
func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// backend is a fake HTTP integration: it records every event it receives
// and answers with respond (200 and an empty body by default).
type backend struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	events  []map[string]any
	headers []http.Header
	respond func(ev map[string]any) (status int, body string)
}

func newBackend(t *testing.T) *backend {
	b := &backend{t: t}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("backend got a non-JSON event: %q", body)
		}
		b.mu.Lock()
		b.events = append(b.events, ev)
		b.headers = append(b.headers, r.Header.Clone())
		respond := b.respond
		b.mu.Unlock()
		status, out := http.StatusOK, ""
		if respond != nil {
			status, out = respond(ev)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) setRespond(f func(ev map[string]any) (int, string)) {
	b.mu.Lock()
	b.respond = f
	b.mu.Unlock()
}

// routeKey and friends read an event's fields.
func routeKey(ev map[string]any) string { return ctxField(ev, "routeKey") }
func ctxField(ev map[string]any, name string) string {
	rc, _ := ev["requestContext"].(map[string]any)
	return fmt.Sprint(rc[name])
}

// eventsFor returns the events with the given route key.
func (b *backend) eventsFor(route string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, ev := range b.events {
		if routeKey(ev) == route {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvents waits until n events with the route key arrived and returns them.
func (b *backend) waitEvents(route string, n int) []map[string]any {
	b.t.Helper()
	var got []map[string]any
	waitFor(b.t, fmt.Sprintf("%d %s event(s)", n, route), func() bool {
		got = b.eventsFor(route)
		return len(got) >= n
	})
	return got
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backendAPI is a configuration whose every route goes to the backend.
func backendAPI(url string, extra string) string {
	return fmt.Sprintf(`
apis:
  - id: testapi
    stage: test
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      $disconnect: {integration: backend}
      $default: {integration: backend}
      twoway: {integration: backend, routeResponseSelectionExpression: $default}
    integrations:
      backend:
        type: http
        url: %s
        timeout: 2s
    disconnect:
      attempts: 3
      backoff: 20ms
%s`, url, extra)
}
