package jsclient

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// maxBundleGzip is issue 12's bound on the browser build, minified and
// gzipped (docs/BENCHMARKS.md has the measured size).
const maxBundleGzip = 8 << 10

// TestBundleSize builds the browser bundle and fails when it grows past
// maxBundleGzip once gzipped (best compression, as a CDN serves it).
func TestBundleSize(t *testing.T) {
	node, npm := nodeTools(t)
	dir, err := filepath.Abs("../../clients/js")
	if err != nil {
		t.Fatal(err)
	}
	npmCI(t, npm, dir)
	if out, err := exec.Command(node, filepath.Join(dir, "build.mjs")).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	bundle, err := os.ReadFile(filepath.Join(dir, "dist/browser/switchboard.min.js"))
	if err != nil {
		t.Fatal(err)
	}
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
