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

	// A missing file is an error like any other (main prefixes it with
	// "switchboard:"), not a list of mistakes on stdout.
	out, err = run(t, "validate", filepath.Join(dir, "missing.yaml"))
	if !errors.As(err, &ee) || ee.Code != 1 || out != "" || !strings.Contains(err.Error(), "missing.yaml: no such file or directory") {
		t.Fatalf("missing file: %v, output %q", err, out)
	}
	if _, err := run(t, "serve", "--bogus"); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}

// TestValidatePusher: validate accepts a pusher section (listing each app
// without its secret) and explains a bad one with the field and the fix.
func TestValidatePusher(t *testing.T) {
	dir := t.TempDir()
	const apis = `
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
`
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(apis+`
pusher:
  apps:
    - id: "123"
      key: app-key
      secret: ${PUSHER_SECRET}
      api: chat
      clientEvents: true
      webhooks:
        - url: https://example.com/pusher/webhook
          events: [channel_occupied, client_event]
`), 0o600)
	t.Setenv("PUSHER_SECRET", "7ad3773142a6692b25b8")
	out, err := run(t, "validate", good)
	if err != nil || !strings.Contains(out, "ok") || !strings.Contains(out, "  pusher app 123: key app-key, channels of API chat, /app/app-key and /apps/123\n") {
		t.Fatalf("good file: %v\n%s", err, out)
	}
	if strings.Contains(out, "7ad3773142a6692b25b8") {
		t.Errorf("validate printed the secret:\n%s", out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(apis+`
pusher:
  apps:
    - id: app-1
      key: app-key
      secret: ${PUSHER_SECRET}
      api: caht
`), 0o600)
	out, err = run(t, "validate", bad)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("bad file: err %v, want exit code 1", err)
	}
	want := bad + `: 2 problems:
  ` + bad + `:9: pusher.apps[0].id: "app-1" is not a numeric app id; use digits only, such as "123": the Pusher SDKs read the id as a number (Pusher.forURL parses it with parseInt)
  ` + bad + `:12: pusher.apps[0].api: "caht" is not the id of any API (did you mean "chat"?); the API ids are "chat"
`
	if out != want {
		t.Errorf("bad file output:\n%s\nwant:\n%s", out, want)
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

// TestUsage: no command prints the usage on stderr and exits 2; help and
// --help print it on stdout and exit 0; help <command> explains that one.
func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), nil, &stdout, &stderr)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "no command given") {
		t.Fatalf("no arguments: %v, want exit code 2", err)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage: switchboard <command>") || !strings.Contains(stderr.String(), "serve [flags]") {
		t.Fatalf("no arguments: stdout %q, stderr %q; want the usage on stderr", stdout.String(), stderr.String())
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		stdout.Reset()
		stderr.Reset()
		if err := Run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(stdout.String(), "Usage: switchboard <command>") || !strings.Contains(stdout.String(), "validate <file>") {
			t.Fatalf("%v: stdout %q", args, stdout.String())
		}
	}
	out, err := run(t, "help", "serve")
	if err != nil || !strings.Contains(out, "Usage: switchboard serve") || !strings.Contains(out, "--config=FILE") {
		t.Fatalf("help serve: %v\n%s", err, out)
	}
	if _, err := run(t, "help", "nope"); !errors.As(err, &ee) || ee.Code != 2 {
		t.Fatalf("help nope: %v, want exit code 2", err)
	}
}

// TestVersion: version and --version print the version, commit, build
// date and toolchain; the linker sets them in a real build, as make build
// does.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"serve", "--version"}} {
		out, err := run(t, args...)
		if err != nil || !strings.HasPrefix(out, "switchboard ") || !strings.Contains(out, "\ncommit: ") || !strings.Contains(out, "\nbuilt: ") || !strings.Contains(out, "\ngo:     go") {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "switchboard")
	const pkg = "github.com/switchboardhq/switchboard/internal/buildinfo"
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X "+pkg+".version=v9.8.7 -X "+pkg+".commit=0123abcd -X "+pkg+".date=2026-12-05T23:00:00Z",
		"../../cmd/switchboard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if !strings.HasPrefix(string(out), "switchboard v9.8.7\ncommit: 0123abcd\nbuilt:  2026-12-05T23:00:00Z\ngo:     go") {
			t.Fatalf("%s:\n%s", arg, out)
		}
	}
	// Errors of the real binary carry its name; a missing file is one.
	cmd := exec.Command(bin, "validate", filepath.Join(t.TempDir(), "missing.yaml"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var xe *exec.ExitError
	if !errors.As(err, &xe) || xe.ExitCode() != 1 || stdout.Len() != 0 ||
		!strings.HasPrefix(stderr.String(), "switchboard: read config: open ") || !strings.Contains(stderr.String(), "missing.yaml: no such file or directory") {
		t.Fatalf("validate missing.yaml: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
}

// TestServeClusterRedisUnreachable: validate accepts a cluster section;
// serve with one whose Redis does not answer exits 1 with an error that
// names Redis and its addresses, and never serves as a lone node.
func TestServeClusterRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	file := filepath.Join(t.TempDir(), "cluster.yaml")
	os.WriteFile(file, []byte(`
listen: "`+addr+`"
cluster:
  redis: {mode: cluster, addresses: ["127.0.0.1:7001", "127.0.0.1:7002"], dialTimeout: 200ms}
  internal: {advertise: "127.0.0.1:18081", secret: 0123456789abcdef0123456789abcdef}
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
`), 0o600)

	out, err := run(t, "validate", file)
	if err != nil || !strings.Contains(out, "ok") || !strings.Contains(out, "cluster: Redis cluster at 127.0.0.1:7001, 127.0.0.1:7002, internal endpoint 127.0.0.1:18081\n") {
		t.Fatalf("validate: %v\n%s", err, out)
	}

	_, err = run(t, "serve", "--config", file)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("serve: %v, want exit code 1", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "cluster: connect to Redis (cluster 127.0.0.1:7001, 127.0.0.1:7002): ") {
		t.Errorf("serve's error does not name Redis and its addresses: %s", msg)
	}
	// Nothing was served meanwhile.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("serve listened on %s although it could not join the cluster", addr)
	}
}

// serve refuses an OTEL_* value it cannot honour, naming the variable,
// before it listens.
func TestServeBadTracingVariable(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_TRACES_SAMPLER", "xray")
	out, err := run(t, "serve", "--listen", "127.0.0.1:0")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER") {
		t.Fatalf("serve with OTEL_TRACES_SAMPLER=xray: %v\n%s", err, out)
	}
}
