package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to answer PING.
const startTimeout = 10 * time.Second

// Binary returns the path of redis-server: $REDIS_SERVER, or redis-server
// on PATH. Without one the test is skipped, or fails when $CI is set.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redistest: %v (CI is set: .ci/run installs Debian's redis-server)", err)
		}
		t.Skipf("redistest: %v; install it (apt-get install redis-server) to run the Redis tests", err)
	}
	return path
}

func binary() (string, error) {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server not found on PATH")
	}
	return p, nil
}

// Server is one redis-server process.
type Server struct {
	// Addr is host:port of the client port on 127.0.0.1.
	Addr string
	// Dir is the process's working directory: its log (redis.log) and, if
	// enabled, its persistence files.
	Dir string

	// Immutable after start: what Restart needs to start it again.
	bin     string
	busPort int
	extra   []string

	mu   sync.Mutex
	proc *process // guarded by mu: the current process
}

// A process is one run of redis-server.
type process struct {
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has been reaped
	killOnce sync.Once
}

// StartServer starts a single redis-server (no cluster) in a directory of
// t.TempDir() and stops it in t.Cleanup. extra are more command-line
// arguments (e.g. "--appendonly", "yes"); later ones override the defaults.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := Binary(t)
	s, err := startServer(bin, t.TempDir(), extra)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// startServer starts redis-server in dir (created if needed) on a free
// port, retrying with other ports if another process took the chosen one
// in between.
func startServer(bin, dir string, extra []string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		s, err := launch(bin, dir, ports[0], ports[1], extra)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port already in use")

// launch starts redis-server on port (and busPort as its cluster bus port,
// used only with cluster-enabled) and waits for PING.
func launch(bin, dir string, port, busPort int, extra []string) (*Server, error) {
	logPath := filepath.Join(dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", logPath,
		"--save", "",
		"--appendonly", "no",
		"--cluster-port", strconv.Itoa(busPort),
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// The kernel kills the server if the test binary dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	s := &Server{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Dir:     dir,
		bin:     bin,
		busPort: busPort,
		extra:   extra,
		proc:    p,
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.exited:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "Address already in use") {
				return nil, fmt.Errorf("redis-server on port %d: %w", port, errPortTaken)
			}
			return nil, fmt.Errorf("redis-server on port %d exited at start (%v); log:\n%s", port, cmd.ProcessState, tail(log))
		default:
		}
		if reply, err := Do(s.Addr, "PING"); err == nil && reply == "PONG" {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("redis-server on port %d did not answer PING within %v; log:\n%s", port, startTimeout, tail(log))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops the process with SIGKILL (by its PID) and waits until it has
// been reaped. It is what a crash looks like to the other nodes and to
// clients. Calling it again does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	p.kill()
}

func (p *process) kill() {
	p.killOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	})
}

// Restart kills the process (if it still runs) and starts redis-server
// again with the same port, directory and arguments, so a test can check
// what survives a Redis restart (with persistence on, e.g.
// "--appendonly", "yes"). It returns once the new process answers PING.
func (s *Server) Restart() error {
	s.Kill()
	n, err := launch(s.bin, s.Dir, s.Port(), s.busPort, s.extra)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = n.proc
	s.mu.Unlock()
	return nil
}

// PID returns the process id of the current process.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.cmd.Process.Pid
}

// Port returns the client port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Log returns the server's log so far (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	return string(b)
}

// Do sends one command to the server and returns its reply as text.
func (s *Server) Do(args ...string) (string, error) { return Do(s.Addr, args...) }

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago (the listeners are held until all are chosen, so they differ).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Do sends one command to addr over a new connection and returns the reply
// as text: a simple or bulk string as is, an integer in decimal, an array's
// elements one per line (nested arrays flattened), a nil reply as "". A
// Redis error reply is returned as an error.
func Do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	var out []string
	if err := readReply(bufio.NewReader(conn), &out); err != nil {
		return "", err
	}
	return strings.Join(out, "\n"), nil
}

// readReply reads one RESP2 reply, appending its text to out.
func readReply(r *bufio.Reader, out *[]string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		*out = append(*out, line[1:])
	case '-':
		return fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			*out = append(*out, "")
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		*out = append(*out, string(buf[:n]))
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return fmt.Errorf("bad array length %q", line)
		}
		for range n {
			if err := readReply(r, out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// tail returns the last 2 KB of a log.
func tail(b []byte) string {
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}
