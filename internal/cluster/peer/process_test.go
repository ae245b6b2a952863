package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// helperEnv makes the test binary a peer node process (TestPeerProcess).
const helperEnv = "SWITCHBOARD_PEER_HELPER"

// TestPeerProcess is not a test: run by TestKilledProcess as a child
// process, it serves a peer endpoint and prints its address and
// incarnation, then serves until it is killed.
func TestPeerProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestKilledProcess")
	}
	inc := cluster.NewIncarnation()
	srv, err := NewServer(nopLocal{}, Options{Self: func() string { return inc }, Secret: testSecret})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("serving", ln.Addr(), inc)
	_ = srv.Serve(ln)
	os.Exit(0)
}

// kill -9 of the owner's process: calls to it, on kept-alive connections
// and on new ones, fail with ErrNodeGone (410), never ErrUnavailable.
func TestKilledProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestPeerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "serving ") || strings.HasPrefix(sc.Text(), "error ") {
				lines <- sc.Text()
				return
			}
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("the peer process did not start")
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "serving" {
		t.Fatalf("the peer process said %q", line)
	}
	to := cluster.Node{ID: "child", Advertise: f[1], Incarnation: f[2]}
	c, err := NewClient(Options{Self: func() string { return "0a0b0c0d" }, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// Several kept-alive connections to the child.
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- c.Post(ctx, to, "prod", "id", []byte("x")) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatalf("Post to the live process: %v", err)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for i := range 10 {
		if err := c.Post(ctx, to, "prod", "id", []byte("x")); !errors.Is(err, cluster.ErrNodeGone) {
			t.Fatalf("call %d after kill -9: %v, want ErrNodeGone", i, err)
		}
	}
}
