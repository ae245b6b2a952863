// Package browsertest starts Debian's headless Chromium for the browser
// tests (driven with chromedp): the demo page (internal/server), the
// TypeScript client (internal/jsclient), pusher-js (internal/compat) and
// the admin console (internal/admin). Imported by tests only.
//
// Concurrency: Path and Start are called from the test's goroutine; the
// stop function they return may be called from anywhere, once or more.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is the Chromium binary: $CHROMIUM_PATH, else Debian's
// /usr/bin/chromium. Without it the test is skipped, except in CI ($CI
// set), where it must run.
func Path(t testing.TB) string {
	t.Helper()
	p := os.Getenv("CHROMIUM_PATH")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (%v): install it (apt-get install chromium) or set CHROMIUM_PATH", p, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// Browser is a running Chromium: Ctx is its allocator's context (tabs
// are chromedp.NewContext(b.Ctx, b.Options()...)).
type Browser struct {
	Ctx  context.Context
	log  *output
	stop func()
}

// Start starts a headless Chromium (Path) under ctx, with a profile in a
// temporary directory and the flags every browser test here needs (no
// sandbox: CI runs as root). Stop, also registered as a cleanup, stops
// it, waits until none of its processes is left (else one would outlive
// the test and write in its profile) and logs its output if the test
// failed.
func Start(t testing.TB, ctx context.Context) *Browser {
	t.Helper()
	execPath := Path(t)
	dataDir := filepath.Join(t.TempDir(), "profile")
	log := &output{t: t}
	allocCtx, cancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dataDir),
		chromedp.CombinedOutput(log),
	)
	var once sync.Once
	b := &Browser{Ctx: allocCtx, log: log}
	b.stop = func() {
		once.Do(func() {
			cancel() // waits for the browser process and chromedp's goroutines
			deadline := time.Now().Add(10 * time.Second)
			for len(processes(dataDir)) > 0 {
				if time.Now().After(deadline) {
					t.Errorf("the browser's processes %v are still running 10 s after it was stopped", processes(dataDir))
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			log.dump()
		})
	}
	t.Cleanup(b.stop)
	return b
}

// Stop stops the browser (see Start); later calls do nothing.
func (b *Browser) Stop() { b.stop() }

// Options are chromedp.NewContext's options that send chromedp's messages
// to the test log while the test runs.
func (b *Browser) Options() []chromedp.ContextOption {
	return []chromedp.ContextOption{chromedp.WithErrorf(b.log.logf), chromedp.WithLogf(b.log.logf)}
}

// output keeps the browser's output (noisy: logged only if the test
// failed) and passes chromedp's messages to the test log until the
// browser is stopped, so that nothing logs to a finished test.
type output struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
	b      bytes.Buffer
}

func (o *output) logf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.t.Logf("chromedp: "+format, args...)
	}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) dump() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.t.Failed() && o.b.Len() > 0 {
		o.t.Logf("browser output:\n%s", o.b.String())
	}
	o.closed = true
}

// processes returns the pids of processes whose command line has
// --user-data-dir=dir: the browser and every child it started.
func processes(dir string) []string {
	want := []byte("--user-data-dir=" + dir + "\x00")
	ents, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range ents {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(append(cmdline, 0), want) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
