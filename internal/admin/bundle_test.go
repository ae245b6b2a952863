package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// consoleDir is the console's TypeScript source (package.json, lock).
const consoleDir = "../../console"

// nodeTools finds node and npm; without them the test skips, except in
// CI ($CI set), where it fails.
func nodeTools(t *testing.T) (node, npm string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if err := errors.Join(errNode, errNpm); err != nil {
		msg := fmt.Sprintf("the admin console's build needs node (18 or later) and npm: %v", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, npm
}

// npmCI installs the console's locked dev dependencies (esbuild,
// typescript, axe-core) when node_modules is missing or older than
// package-lock.json.
func npmCI(t *testing.T, npm string) {
	t.Helper()
	lock, err := os.Stat(filepath.Join(consoleDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if installed, err := os.Stat(filepath.Join(consoleDir, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = consoleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s (it needs the npm registry): %v\n%s", consoleDir, err, out)
	}
}

// TestBundleUpToDate rebuilds the console from console/src with the
// locked toolchain and fails when the committed bundle in ui/ (which the
// binary embeds) differs: after editing the sources, run
// `npm --prefix console ci && node console/build.mjs` and commit ui/.
func TestBundleUpToDate(t *testing.T) {
	node, npm := nodeTools(t)
	npmCI(t, npm)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "build.mjs", out)
	cmd.Dir = consoleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, b)
	}
	for _, name := range []string{"index.html", "app.js", "app.css"} {
		built, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join("ui", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, committed) {
			t.Errorf("internal/admin/ui/%s is not what console/src builds (%d bytes committed, %d built): run `npm --prefix console ci && node console/build.mjs` and commit internal/admin/ui", name, len(committed), len(built))
		}
	}
}
