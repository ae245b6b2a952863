package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	pusher "github.com/pusher/pusher-http-go/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testApp    = "1"
	testKey    = "278d425bdf160c739803"
	testSecret = "7ad3773142a6692b25b8"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1700000000000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the time on and fires the waiters that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.c <- c.now
		}
	}
	c.waiters = kept
}

// waitFor polls cond until it holds (the events it waits for happen on
// other goroutines; nothing is ordered by sleeping).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// received is one request as an endpoint saw it.
type received struct {
	header http.Header
	body   []byte
}

// endpoint is a real HTTP server recording every request; answer decides
// the response of request number n (0-based) and may block.
type endpoint struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []received
	answer func(n int, r *http.Request) int
}

func newEndpoint(t *testing.T, answer func(n int, r *http.Request) int) *endpoint {
	e := &endpoint{t: t, answer: answer}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		n := len(e.reqs)
		e.reqs = append(e.reqs, received{r.Header.Clone(), b})
		answer := e.answer
		e.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			status = answer(n, r)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// setAnswer replaces the answer function.
func (e *endpoint) setAnswer(answer func(n int, r *http.Request) int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answer = answer
}

func (e *endpoint) URL() string { return e.srv.URL + "/hook" }

func (e *endpoint) requests() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.reqs...)
}

func (e *endpoint) count() int { return len(e.requests()) }

// parse checks a request as the Go SDK does (key, signature) plus the
// exact Content-Type the Node SDK wants, and returns its events.
func parse(t *testing.T, r received, key, secret string) *pusher.Webhook {
	t.Helper()
	if ct := r.header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
		t.Fatalf("Content-Type %q, want exactly application/json", ct)
	}
	c := pusher.Client{AppID: testApp, Key: key, Secret: secret}
	wh, err := c.Webhook(r.header, r.body)
	if err != nil {
		t.Fatalf("pusher-http-go refused the webhook %s: %v", r.body, err)
	}
	return wh
}

// delivered lists "name:channel" of every event the endpoint received, in
// order, each request checked with the SDK.
func (e *endpoint) delivered(key, secret string) []string {
	var out []string
	for _, r := range e.requests() {
		for _, ev := range parse(e.t, r, key, secret).Events {
			out = append(out, ev.Name+":"+ev.Channel)
		}
	}
	return out
}

// deadURL is an address where nothing listens (connection refused).
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/hook"
}

// logBuffer collects log lines (safe for the sender's goroutines).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the logged records whose msg contains msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.Contains(m["msg"].(string), msg) {
			out = append(out, m)
		}
	}
	return out
}

type fixture struct {
	s     *Sender
	clock *fakeClock
	m     *Metrics
	logs  *logBuffer
}

// newSender starts a Sender on a fake clock with apps; the test's cleanup
// closes it (goleak then checks nothing is left).
func newSender(t *testing.T, opts Options, apps ...App) *fixture {
	t.Helper()
	f := &fixture{clock: newFakeClock(), m: NewMetrics(nil), logs: &logBuffer{}}
	if opts.Clock == nil {
		opts.Clock = f.clock
	}
	opts.Metrics = f.m
	opts.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(f.logs, testWriter{t}), nil))
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return 0 }
	}
	s, err := New(opts, apps)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.Close(ctx)
	})
	return f
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimSpace(p))
	return len(p), nil
}

func testAppCfg(targets ...Target) App {
	return App{ID: testApp, Key: testKey, Secret: testSecret, Targets: targets}
}

func occupied(ch string) Event { return Event{Name: ChannelOccupied, Channel: ch} }
