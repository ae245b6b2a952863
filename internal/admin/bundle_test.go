package admin_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// consoleDir is the console's TypeScript source (package.json, lock).
const consoleDir = "../../console"

// TestBundleUpToDate rebuilds the console from console/src with the
// locked toolchain and fails when the committed bundle in ui/ (which the
// binary embeds) differs: after editing the sources, run
// `npm --prefix console ci && node console/build.mjs` and commit ui/.
func TestBundleUpToDate(t *testing.T) {
	node, npm := testproc.Node(t, "the admin console's build and tests")
	testproc.NpmCI(t, npm, consoleDir)
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
