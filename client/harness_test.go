package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// bin is the switchboard binary TestMain builds once.
var bin string

func TestMain(m *testing.M) { testproc.Main(m, &bin, "../cmd/switchboard") }

// waitTimeout bounds every wait for an event.
const waitTimeout = 30 * time.Second

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noLeaks fails the test if goroutines other than those running when it
// started are left once the clients are closed. The server processes'
// reapers (the harness's) are left out.
func noLeaks(t *testing.T) func() {
	opt := goleak.IgnoreCurrent()
	return func() {
		t.Helper()
		goleak.VerifyNone(t, opt, goleak.IgnoreAnyFunction("os/exec.(*Cmd).Wait"),
			goleak.IgnoreAnyFunction("os/exec.(*Cmd).writerDescriptor.func1"))
	}
}

// httpc makes no idle connections, so no transport goroutines outlive a call.
var httpc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// freeAddr is testproc.FreeAddr.
func freeAddr(t testing.TB) string { return testproc.FreeAddr(t) }

// syncBuffer is a log sink safe for the process's writer and the test.
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

// server is one `switchboard serve` process, restartable on its address.
type server struct {
	t    *testing.T
	addr string
	file string
	log  *syncBuffer
	cmd  *exec.Cmd
	done chan struct{}
}

// startServer writes yaml (%[1]s is the listen address) and starts it.
func startServer(t *testing.T, yaml string) *server {
	t.Helper()
	s := &server{t: t, addr: freeAddr(t), log: &syncBuffer{}}
	s.file = filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(s.file, fmt.Appendf(nil, yaml, s.addr), 0o600); err != nil {
		t.Fatal(err)
	}
	s.launch()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	return s
}

// launch starts the process and waits until /readyz answers 200.
func (s *server) launch() {
	t := s.t
	t.Helper()
	s.cmd = exec.Command(bin, "serve", "--config", s.file)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() { cmd.Wait(); close(done) }()
	waitFor(t, "server ready", func() bool {
		select {
		case <-done:
			t.Fatalf("server exited:\n%s", s.log.String())
		default:
		}
		resp, err := httpc.Get("http://" + s.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// manage calls the management API (loopback needs no key) and returns
// the status and body.
func (s *server) manage(ctx context.Context, method, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.addr+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// apiYAML is one API on stage prod: a broadcast route for raw clients,
// channels with history (room:*) and without, and extra under the API
// (e.g. auth). %[1]s is the listen address.
func apiYAML(extraAPI, extraTop string) string {
	return `
listen: %[1]s
log: {level: info, format: text}
management: {allowLoopback: true}
shutdown: {drainWindow: 100ms, timeout: 2s}
apis:
  - id: chat
    stage: prod
    routeSelectionExpression: $request.body.action
    routes:
      sendMessage:
        action:
          type: broadcast
          payload: {message: $request.body.message}
    channels:
      namespaces:
        - pattern: "room:*"
          subscribe: allow
          publish: allow
          history: {size: 10000}
        - pattern: "pres:*"
          subscribe: allow
          publish: allow
          presence: true
        - pattern: "*"
          subscribe: allow
          publish: allow
` + extraAPI + extraTop
}
