package testproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Node returns the paths of node and npm. Without them the test is
// skipped, naming what needs them, except in CI ($CI set, where .ci/run
// installs them), where it fails.
func Node(t testing.TB, what string) (node, npm string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if err := errors.Join(errNode, errNpm); err != nil {
		msg := fmt.Sprintf("%s need node and npm: %v", what, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, npm
}

// npmMu serializes NpmCI within a test process (two tests installing one
// project at once would clobber each other's node_modules).
var npmMu sync.Mutex

// NpmCI installs the npm project in dir from its package-lock.json (npm
// ci) when node_modules is missing or older than the lock file.
func NpmCI(t testing.TB, npm, dir string) {
	t.Helper()
	npmMu.Lock()
	defer npmMu.Unlock()
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s (it needs the npm registry): %v\n%s", dir, err, out)
	}
}

// Buffer is an io.Writer safe for concurrent use: a child process's
// output, read by the test while it runs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
