package jsclient

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/switchboardhq/switchboard/internal/testproc"
)

// maxBundleGzip is issue 12's bound on the browser build, minified and
// gzipped (docs/BENCHMARKS.md has the measured size).
const maxBundleGzip = 8 << 10

// buildBundle builds clients/js (npm ci when needed, then build.mjs) and
// returns the browser build, switchboard.min.js.
func buildBundle(t *testing.T) []byte {
	t.Helper()
	node, npm := testproc.Node(t, "the TypeScript client's tests")
	dir, err := filepath.Abs("../../clients/js")
	if err != nil {
		t.Fatal(err)
	}
	testproc.NpmCI(t, npm, dir)
	if out, err := exec.Command(node, filepath.Join(dir, "build.mjs")).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	bundle, err := os.ReadFile(filepath.Join(dir, "dist/browser/switchboard.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return bundle
}

// TestBundleSize builds the browser bundle and fails when it grows past
// maxBundleGzip once gzipped (best compression, as a CDN serves it).
func TestBundleSize(t *testing.T) {
	bundle := buildBundle(t)
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if _, err := w.Write(bundle); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("switchboard.min.js: %d bytes, %d gzipped", len(bundle), z.Len())
	if z.Len() > maxBundleGzip {
		t.Fatalf("the browser bundle is %d bytes gzipped (%d minified), over the %d-byte budget", z.Len(), len(bundle), maxBundleGzip)
	}
}

// demoBundle is the copy of the browser build that the binary embeds for
// the demo page, committed so that `make run` needs no npm.
const demoBundle = "../../internal/server/demo/switchboard.min.js"

// TestDemoBundleFresh fails when the committed demo bundle is not what the
// client's source builds to today (the build is deterministic: same
// esbuild, same source, same bytes).
func TestDemoBundleFresh(t *testing.T) {
	bundle := buildBundle(t)
	committed, err := os.ReadFile(demoBundle)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, bundle) {
		t.Fatalf("internal/server/demo/switchboard.min.js (%d bytes) is not the build of clients/js/src (%d bytes): run `make demo-js` and commit the result", len(committed), len(bundle))
	}
}
