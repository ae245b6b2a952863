package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A route whose backend answers 5xx or fails is logged at WARN with an
// outcome that says so — never "ok" — and counted so; a success stays at
// INFO. The client still gets the body of a Lambda-style statusCode 500,
// as on AWS.
func TestRouteLogTellsBackendFailures(t *testing.T) {
	be := newBackend(t)
	be.setRespond(func(ev map[string]any) (int, string) {
		h, _ := ev["headers"].(map[string]any)
		if routeKey(ev) == "$connect" && h["X-Case"] == "proxy500" {
			return 200, `{"statusCode": 500}`
		}
		switch fmt.Sprint(ev["body"]) {
		case `{"action":"twoway","do":"proxy500"}`:
			return 200, `{"statusCode": 500, "body": "oops"}`
		case `{"action":"twoway","do":"plain502"}`:
			return 502, "bad gateway"
		case `{"action":"twoway","do":"invalid"}`:
			return 200, `{"statusCode": 200, "body": 5}`
		}
		return 200, "fine"
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port that refuses connections
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	python := "{integration: dead}" // without python3: another failed call
	if _, err := exec.LookPath("python3"); err == nil {
		python = "{integration: py}"
	}
	e := startServer(t, fmt.Sprintf(`
apis:
  - id: logs
    stage: logs
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      twoway: {integration: backend, routeResponseSelectionExpression: $default}
      refused: {integration: dead}
      raise: %s
    integrations:
      backend: {type: http, url: %q, timeout: 5s}
      dead: {type: http, url: %q, timeout: 5s}
      py:
        type: function
        timeout: 1m
        function: {runtime: python, directory: %q, handler: app.handler, environment: {PYTHONDONTWRITEBYTECODE: "1"}}
`, python, be.srv.URL, refused, pyDir(t)))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, e.wsURL("logs"), &websocket.DialOptions{HTTPHeader: http.Header{"X-Case": {"proxy500"}}}); err == nil || resp == nil || resp.StatusCode != 500 {
		t.Fatalf("$connect answering statusCode 500: %v", err)
	}
	c := e.dial("logs", nil)
	write(t, c, `{"action":"twoway","do":"proxy500"}`)
	if _, b := read(t, c); string(b) != "oops" {
		t.Fatalf("two-way body of a statusCode 500: %q", b)
	}
	for _, msg := range []string{`{"action":"twoway","do":"plain502"}`, `{"action":"twoway","do":"invalid"}`, `{"action":"refused"}`, `{"action":"raise"}`} {
		write(t, c, msg)
		// A Python worker's first start can take seconds on a loaded machine.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, b, err := c.Read(ctx)
		cancel()
		var m map[string]any
		if err != nil || json.Unmarshal(b, &m) != nil || m["message"] != "Internal server error" {
			t.Fatalf("%s: got %s %v", msg, b, err)
		}
	}
	write(t, c, `{"action":"twoway","do":"ok"}`)
	if _, b := read(t, c); string(b) != "fine" {
		t.Fatalf("got %q", b)
	}

	// The route line follows the reply: wait for the last one.
	waitFor(t, "8 route lines", func() bool { return len(e.logs.lines("route")) >= 8 })
	lines := e.logs.lines("route")
	if len(lines) != 8 { // two $connect, six messages
		t.Fatalf("%d route lines, want 8: %v", len(lines), lines)
	}
	for i, l := range lines[:7] {
		if i == 1 { // the second $connect succeeded
			continue
		}
		if l["level"] != "WARN" || l["outcome"] != "error" || l["error"] == nil {
			t.Errorf("route line %d of a failed call: level %v outcome %v error %v (%v)", i, l["level"], l["outcome"], l["error"], l)
		}
	}
	if l := lines[0]; l["route"] != "$connect" || l["status"] != float64(500) {
		t.Errorf("$connect line %v", l)
	}
	if l := lines[2]; l["route"] != "twoway" || l["status"] != float64(500) {
		t.Errorf("statusCode 500 line %v", l)
	}
	for _, l := range []map[string]any{lines[1], lines[7]} {
		if l["level"] != "INFO" || l["outcome"] != "ok" || l["status"] != float64(200) {
			t.Errorf("a successful call's line %v", l)
		}
	}
	if failed := e.logs.lines("connect failed"); len(failed) != 1 || failed[0]["status"] != float64(500) {
		t.Errorf("connect failed lines %v", failed)
	}
	_, metrics := e.manage("GET", "/metrics", "")
	if want := `switchboard_route_invocations_total{api="logs",outcome="error",route="twoway"} 3`; !strings.Contains(string(metrics), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// pyDir is a Python handler that raises for "raise" messages.
func pyDir(t *testing.T) string {
	dir := t.TempDir()
	src := "def handler(event, context):\n    raise ValueError('the handler failed')\n"
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
