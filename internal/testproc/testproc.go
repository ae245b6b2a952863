// Package testproc is for tests that run the real switchboard binary as a
// process: it builds the binary once per test process (Main) and hands out
// loopback ports the processes can bind (FreeAddr). Tests only.
package testproc

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Main is a TestMain body: it builds ./cmd/switchboard of this module
// (cmdDir, relative to the calling package: "../../cmd/switchboard") into a
// temporary directory, sets *bin to its path, runs the tests, calls each
// of cleanups, removes the directory and exits with the tests' code.
func Main(m *testing.M, bin *string, cmdDir string, cleanups ...func()) {
	dir, err := os.MkdirTemp("", "switchboard-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "switchboard")
	if out, err := exec.Command("go", "build", "-o", *bin, cmdDir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreeAddr returns a free loopback host:port for a process to listen on.
// The port is below Linux's ephemeral range (32768 and up), which port-0
// listeners and every outgoing connection on the machine draw from: a port
// from that range, free when checked, was often taken by an outgoing
// connection before the process bound it, and it exited with "address
// already in use"; a port below it can also be bound again after a
// restart. A port is handed out once per test process, and only if both
// the loopback address and every interface accept it (a node's internal
// listener binds every interface).
func FreeAddr(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := 20000 + rand.IntN(12768)
		if portsGiven[p] {
			continue
		}
		ok := true
		for _, a := range []string{fmt.Sprintf("127.0.0.1:%d", p), fmt.Sprintf(":%d", p)} {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			portsGiven[p] = true
			return fmt.Sprintf("127.0.0.1:%d", p)
		}
	}
	t.Fatal("no free port in 20000-32767")
	return ""
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)
