package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := Run(context.Background(), args, &out, &out)
	return out.String(), err
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
    routes:
      sendMessage: {action: {type: broadcast}}
`), 0o600)
	out, err := run(t, "validate", good)
	if err != nil || !strings.Contains(out, "ok") || !strings.Contains(out, "chat: /production, 1 route(s)") {
		t.Fatalf("good file: %v\n%s", err, out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body..action
    routes:
      sendMessage: {integration: backnd}
    integrations:
      backend: {type: http, url: "http://127.0.0.1:1/x"}
`), 0o600)
	out, err = run(t, "validate", bad)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("bad file: err %v, want exit code 1", err)
	}
	if !strings.Contains(out, "apis[0].routes.sendMessage.integration") || !strings.Contains(out, `did you mean "backend"`) {
		t.Fatalf("bad file output does not name the field and the fix:\n%s", out)
	}

	// Expression syntax is checked too, once the file is otherwise valid.
	expr := filepath.Join(dir, "expr.yaml")
	os.WriteFile(expr, []byte(`
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body..action
    routes:
      sendMessage: {action: {type: echo}}
`), 0o600)
	out, err = run(t, "validate", expr)
	if err == nil || !strings.Contains(out, "apis[0].routeSelectionExpression") || !strings.Contains(out, "empty path segment") {
		t.Fatalf("expression error not reported: %v\n%s", err, out)
	}

	if _, err := run(t, "validate", filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file validated")
	}
	if _, err := run(t, "serve", "--bogus"); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}

// The real binary: it serves the seed chat, and on SIGTERM closes every
// connection with 1001 and exits 0.
func TestServeAndSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "switchboard")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/switchboard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "SWITCHBOARD_LOG_FORMAT=json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/production", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"sendMessage","message":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), `"message":"hi"`) {
		t.Fatalf("chat: %q %v", b, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Fatalf("close on SIGTERM: %v, want 1001", err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", stderr.String())
	}
	for _, msg := range []string{`"msg":"shutting down"`, `"msg":"disconnect"`, `"code":1001`, `"msg":"shut down"`} {
		if !strings.Contains(stderr.String(), msg) {
			t.Errorf("log lacks %s:\n%s", msg, stderr.String())
		}
	}
}
