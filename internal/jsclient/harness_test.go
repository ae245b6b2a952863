package jsclient

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"github.com/switchboardhq/switchboard/internal/testproc"
)

// bin is the switchboard binary TestMain builds once.
var bin string

func TestMain(m *testing.M) { testproc.Main(m, &bin, "../../cmd/switchboard") }

const (
	stage     = "prod"
	authStage = "auth"
	// jwtSecret signs the auth API's tokens (HS256 needs 32 bytes). Test only.
	jwtSecret      = "jsclient-test-secret-0123456789abcdef"
	internalSecret = "jsclient-internal-secret-0123456789abcdef"
)

// serverConfig: %[1]s listen, %[2]s Redis address, %[3]s internal address.
// History lives in Redis (a cluster of one node), so a kill -9 keeps the
// channels' epochs and clients can recover across it.
const serverConfig = `
listen: %[1]s
management:
  allowLoopback: true
shutdown:
  readinessDelay: 0s
  drainWindow: 100ms
  timeout: 2s
cluster:
  lease: 2s
  leaseRenewal: 500ms
  redis:
    mode: single
    addresses: ["%[2]s"]
    commandTimeout: 1s
  internal:
    listen: %[3]s
    advertise: %[3]s
    secret: ` + internalSecret + `
apis:
  - id: chat
    stage: ` + stage + `
    routeSelectionExpression: \$default
    channels:
      namespaces:
        - pattern: "*"
          subscribe: allow
          publish: allow
          history:
            size: 10000
            ttl: 10m
  - id: authed
    stage: ` + authStage + `
    routeSelectionExpression: \$default
    auth:
      jwt:
        keys:
          - algorithm: HS256
            secret: ` + jwtSecret + `
        leeway: 0s
    channels:
      namespaces:
        - pattern: "*"
          subscribe: allow
          publish: allow
`

// server is `switchboard serve` on a fixed loopback port, behind a proxy.
type server struct {
	t     *testing.T
	addr  string // the server's own listener
	file  string
	log   *syncBuffer
	proxy *proxy

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startServer(t *testing.T) *server {
	t.Helper()
	redis := redistest.StartServer(t)
	s := &server{t: t, log: &syncBuffer{}, addr: freeAddr(t)}
	s.file = filepath.Join(t.TempDir(), "switchboard.yaml")
	cfg := fmt.Sprintf(serverConfig, s.addr, redis.Addr, freeAddr(t))
	if err := os.WriteFile(s.file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.proxy, err = newProxy(s.addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.proxy.close()
		s.mu.Lock()
		cmd, done := s.cmd, s.done
		s.mu.Unlock()
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", tail(s.log.String(), 60))
		}
	})
	return s
}

func (s *server) start() error {
	cmd := exec.Command(bin, "serve", "--config", s.file)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			return fmt.Errorf("switchboard exited before it was ready:\n%s", tail(s.log.String(), 40))
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("switchboard not ready after 20s:\n%s", tail(s.log.String(), 40))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// kill is a crash: SIGKILL, then a new process on the same port (its
// clients reconnect to the same URL).
func (s *server) kill() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	<-done
	return s.start()
}

func (s *server) control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /kill", func(w http.ResponseWriter, r *http.Request) {
		if err := s.kill(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /stall", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, s.proxy.stall())
	})
	return mux
}

// TestNode runs clients/js's Node tests (npm test: build, then node
// --test) against the server; see the package comment.
func TestNode(t *testing.T) {
	node, npm := testproc.Node(t, "the TypeScript client's tests")
	dir, err := filepath.Abs("../../clients/js")
	if err != nil {
		t.Fatal(err)
	}
	testproc.NpmCI(t, npm, dir)
	srv := startServer(t)
	control := httptest.NewServer(srv.control())
	defer control.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "build.mjs")).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-reporter=spec", "test/")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SB_ADDR="+srv.addr, "SB_PROXY="+srv.proxy.addr(), "SB_STAGE="+stage, "SB_AUTH_STAGE="+authStage,
		"SB_JWT_SECRET="+jwtSecret, "SB_CONTROL_URL="+control.URL, "NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test in %s: %v\n%s", dir, err, out)
	}
	t.Logf("node --test:\n%s", out)
	if !regexp.MustCompile(`(?m)^ℹ pass [1-9]`).Match(out) || !regexp.MustCompile(`(?m)^ℹ fail 0$`).Match(out) {
		t.Fatalf("node --test passed without passing tests:\n%s", out)
	}
}

// proxy forwards TCP connections to target; stall stops forwarding on the
// connections open at that moment, leaving their sockets open: a server
// that stopped answering.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	pairs map[*pair]struct{}
}

type pair struct {
	a, b    net.Conn
	stalled chan struct{} // closed by stall
	once    sync.Once
}

func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, pairs: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{a: c, b: up, stalled: make(chan struct{})}
		p.mu.Lock()
		if p.pairs == nil {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.pairs[pr] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, up, c)
		go p.pipe(pr, c, up)
	}
}

// pipe copies src to dst until src ends or the pair is stalled; a stalled
// pair's bytes are read and dropped, so nothing reaches either side.
func (p *proxy) pipe(pr *pair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-pr.stalled:
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			break
		}
	}
	pr.a.Close()
	pr.b.Close()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// stall stalls every open pair and returns how many.
func (p *proxy) stall() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pr := range p.pairs {
		pr.once.Do(func() { close(pr.stalled) })
	}
	return len(p.pairs)
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for pr := range p.pairs {
		pr.a.Close()
		pr.b.Close()
	}
	p.pairs = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// syncBuffer is testproc.Buffer.
type syncBuffer = testproc.Buffer

// freeAddr is testproc.FreeAddr.
func freeAddr(t testing.TB) string { return testproc.FreeAddr(t) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
