package compat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// bin is the switchboard binary TestMain builds once.
var bin string

func TestMain(m *testing.M) { testproc.Main(m, &bin, "../../cmd/switchboard") }

// The Pusher apps of the configuration.
const (
	appID       = "123"
	appKey      = "compat-key"
	appSecret   = "compat-secret-0123456789abcdef" // test only
	appStage    = "prod"
	quotaID     = "124"
	quotaKey    = "compat-quota-key"
	quotaSecret = "compat-quota-secret-0123456789" // test only
	quotaStage  = "quota"
	capID       = "125" // its API admits one connection (limits.maxConnections)
	capKey      = "compat-cap-key"
)

// serverConfig is the YAML of the server. %[1]s listen (serve --listen
// overrides it), %[2]s webhook URL. The management API admits loopback
// callers, so the tests publish with it while the Pusher HTTP API is not
// in this build.
//
// App 123 has client events, subscription counts and a webhook; app 124
// admits one connection (its limits.connections); the API of app 125
// admits one (apis[].limits.maxConnections). App 123's webhook has
// retryFor: 10s because it must exceed the 3 s that channel_vacated and
// member_removed are held: the sender counts the retry window from the
// event's time, so with retryFor: 1s (as app 124 has, for a todo test)
// they are dropped as expired before a first attempt (reported on issue
// 11).
const serverConfig = `
listen: %[1]s
management:
  allowLoopback: true
shutdown:
  readinessDelay: 0s
  drainWindow: 100ms
  timeout: 5s
apis:
  - id: chat
    stage: ` + appStage + `
    routeSelectionExpression: \$default
    channels:
      namespaces:
        - pattern: "*"
          subscribe: allow
  - id: quota
    stage: ` + quotaStage + `
    routeSelectionExpression: \$default
    channels:
      namespaces:
        - pattern: "*"
          subscribe: allow
  - id: cap
    stage: cap
    routeSelectionExpression: \$default
    limits:
      maxConnections: 1
    channels:
      namespaces:
        - pattern: "*"
          subscribe: allow
pusher:
  apps:
    - id: "` + appID + `"
      key: ` + appKey + `
      secret: ` + appSecret + `
      api: chat
      clientEvents: true
      subscriptionCount: true
      webhooks:
        - url: %[2]s
          retryFor: 10s
          timeout: 2s
    - id: "` + quotaID + `"
      key: ` + quotaKey + `
      secret: ` + quotaSecret + `
      api: quota
      limits:
        connections: 1
      webhooks:
        - url: %[2]s
          retryFor: 1s
    - id: "` + capID + `"
      key: ` + capKey + `
      secret: compat-cap-secret-0123456789
      api: cap
`

// server is `switchboard serve` behind a TCP front door (a load balancer
// of one): clients use the front door's address, which forwards each new
// connection to the current process. restart replaces the process as a
// rolling restart does: a new one starts, the front door sends new
// connections to it, then the old one drains (SIGTERM: close 4200).
//
// Why not restart on the same port: the old process stops accepting when
// its drain begins and exits after it, so pusher-js's immediate reconnect
// on 4200 would find no listener, and pusher-js then waits for its
// strategy's timeout (15 s) before the next attempt.
type server struct {
	t    *testing.T
	addr string // the front door's: what clients and the tests use
	file string
	log  *syncBuffer
	door *frontDoor

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
}

// startServer starts the front door and the server behind it, and waits
// until the server answers /readyz. Both stop when the test ends; the
// server's log is printed if the test failed.
func startServer(t *testing.T, webhookURL string) *server {
	t.Helper()
	s := &server{t: t, log: &syncBuffer{}}
	var err error
	if s.door, err = newFrontDoor(); err != nil {
		t.Fatal(err)
	}
	s.addr = s.door.addr()
	s.file = filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(s.file, []byte(fmt.Sprintf(serverConfig, "127.0.0.1:0", webhookURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		cmd, done := s.cmd, s.done
		s.mu.Unlock()
		cmd.Process.Kill()
		<-done
		s.door.close()
		if t.Failed() {
			t.Logf("server log:\n%s", tailLines(s.log.String(), 80))
		}
	})
	return s
}

// start starts a process on a fresh port, waits until it is ready and
// points the front door at it.
func (s *server) start() error {
	addr := freeAddr(s.t)
	cmd := exec.Command(bin, "serve", "--config", s.file, "--listen", addr)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	if err := s.waitReady(addr, done); err != nil {
		cmd.Process.Kill()
		<-done
		return err
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	s.door.route(addr)
	return nil
}

// waitReady polls addr's /readyz until it answers 200, or fails when the
// process exits or waitTimeout passes.
func (s *server) waitReady(addr string, done chan struct{}) error {
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("switchboard exited before it was ready:\n%s", tailLines(s.log.String(), 40))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("switchboard not ready after %s:\n%s", waitTimeout, tailLines(s.log.String(), 40))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// restart is a rolling restart: a new process takes the new connections,
// then the old one is sent SIGTERM (it closes its connections with 4200)
// and must exit cleanly.
func (s *server) restart() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if err := s.start(); err != nil {
		return err
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(waitTimeout):
		return errors.New("switchboard did not exit after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("switchboard exited with %d after SIGTERM", code)
	}
	return nil
}

// frontDoor forwards each TCP connection it accepts to its current target.
type frontDoor struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	target string
	conns  map[net.Conn]struct{}
}

func newFrontDoor() (*frontDoor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &frontDoor{ln: ln, conns: map[net.Conn]struct{}{}}
	d.wg.Add(1)
	go d.accept()
	return d, nil
}

func (d *frontDoor) addr() string { return d.ln.Addr().String() }

func (d *frontDoor) route(target string) {
	d.mu.Lock()
	d.target = target
	d.mu.Unlock()
}

func (d *frontDoor) accept() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		target := d.target
		d.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		if !d.track(c, up) {
			return
		}
		d.wg.Add(2)
		go d.pipe(c, up)
		go d.pipe(up, c)
	}
}

// track records a pair of connections for close; false (and both closed)
// once the door is closed.
func (d *frontDoor) track(cs ...net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		d.conns[c] = struct{}{}
	}
	return true
}

// pipe copies src to dst; when src ends, both are closed, which ends the
// other direction too.
func (d *frontDoor) pipe(dst, src net.Conn) {
	defer d.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	d.mu.Lock()
	delete(d.conns, dst) // a no-op on the nil map of a closed door
	delete(d.conns, src)
	d.mu.Unlock()
}

func (d *frontDoor) close() {
	d.ln.Close()
	d.mu.Lock()
	for c := range d.conns {
		c.Close()
	}
	d.conns = nil
	d.mu.Unlock()
	d.wg.Wait()
}

// controlHandler lets the Node tests ask for a restart: POST /restart.
func (s *server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		if err := s.restart(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// waitTimeout bounds every wait for the server.
const waitTimeout = 20 * time.Second

// compatDir is the npm project of the Pusher compatibility tests.
func compatDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../compat/pusher")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// syncBuffer is testproc.Buffer.
type syncBuffer = testproc.Buffer

// freeAddr is testproc.FreeAddr.
func freeAddr(t testing.TB) string { return testproc.FreeAddr(t) }

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
