package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/metrics"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if handlerBuild.dir != "" {
			os.RemoveAll(handlerBuild.dir)
		}
		os.Exit(code)
	}))
}

// handlerBuild is the test handler (testdata/handler), built once per test
// binary into dir/bootstrap.
var handlerBuild struct {
	once sync.Once
	dir  string
	err  error
}

// handlerDir returns a directory holding the test handler as "bootstrap".
func handlerDir(t *testing.T) string {
	t.Helper()
	handlerBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "function-test-")
		if err != nil {
			handlerBuild.err = err
			return
		}
		handlerBuild.dir = dir
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), "./testdata/handler")
		if out, err := cmd.CombinedOutput(); err != nil {
			handlerBuild.err = fmt.Errorf("go build ./testdata/handler: %v\n%s", err, out)
		}
	})
	if handlerBuild.err != nil {
		t.Fatal(handlerBuild.err)
	}
	return handlerBuild.dir
}

var testConn = &event.Connection{
	ID: "R1kmxc2VNjMCFIA=", APIID: "api", Stage: "prod", DomainName: "example.com",
	ConnectedAt: time.UnixMilli(1705751697419),
	Identity:    event.Identity{SourceIP: "203.0.113.7", UserAgent: "ua/1"},
}

func message(body string) *event.Request {
	return event.Message(testConn, time.Now(), event.NewID(), event.NewID(), "chat", []byte(body), false)
}

// testFunction is a Function under test with what it logs and counts.
type testFunction struct {
	*Function
	logs *logRecorder
	m    *metrics.Metrics
}

// newFunction starts a function on the test handler (unless cfg names
// another Directory or Runtime) and closes it when the test ends.
func newFunction(t *testing.T, cfg Config, o Options) *testFunction {
	t.Helper()
	if cfg.Runtime == "" {
		cfg.Runtime = RuntimeProvided
	}
	if cfg.Directory == "" {
		cfg.Directory = handlerDir(t)
	}
	logs := newLogRecorder(t)
	m := metrics.New(prometheus.NewRegistry())
	o.Logger = slog.New(logs)
	o.Metrics = m
	if o.APIID == "" {
		o.APIID = "api1"
	}
	f, err := New("fn", cfg, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f.mu.Lock()
		closedByTest := f.closing
		f.mu.Unlock()
		if err := f.Close(ctx); err != nil && !closedByTest {
			t.Errorf("Close: %v", err)
		}
	})
	return &testFunction{Function: f, logs: logs, m: m}
}

// invoke sends a MESSAGE event with body.
func (f *testFunction) invoke(t *testing.T, body string) (*event.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return f.Invoke(ctx, message(body))
}

// call invokes and decodes the JSON body of a successful proxy reply.
func (f *testFunction) call(t *testing.T, body string) map[string]any {
	t.Helper()
	resp, err := f.invoke(t, body)
	if err != nil {
		t.Fatalf("Invoke(%s): %v", body, err)
	}
	if resp.StatusCode != 200 || !resp.Proxy {
		t.Fatalf("Invoke(%s): response %+v", body, resp)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatalf("Invoke(%s): body %q: %v", body, resp.Body, err)
	}
	return out
}

func (f *testFunction) workerCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.workers)
}

// running counts the invocations handed to a worker.
func (f *testFunction) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for w := range f.workers {
		if w.inv != nil && w.inv.state == invRunning {
			n++
		}
	}
	return n
}

func (f *testFunction) queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

func (f *testFunction) workerPIDs() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pids []int
	for w := range f.workers {
		if w.pid != 0 {
			pids = append(pids, w.pid)
		}
	}
	return pids
}

func (f *testFunction) counter(outcome string) float64 {
	return metricValue(f.m.FunctionInvocations.WithLabelValues("api1", "fn", outcome)).GetCounter().GetValue()
}

func (f *testFunction) gauge() float64 {
	return metricValue(f.m.FunctionWorkers.WithLabelValues("api1", "fn")).GetGauge().GetValue()
}

func (f *testFunction) coldStarts() float64 {
	return metricValue(f.m.FunctionColdStarts.WithLabelValues("api1", "fn")).GetCounter().GetValue()
}

func metricValue(c prometheus.Metric) *dto.Metric {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return &m
}

func (f *testFunction) histogramCount(h *prometheus.HistogramVec) uint64 {
	return metricValue(h.WithLabelValues("api1", "fn").(prometheus.Metric)).GetHistogram().GetSampleCount()
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs: no such process, or a
// zombie left to an init that does not reap.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}

// groupGone reports whether no live process is left in process group
// pgid.
func groupGone(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		// ") S ppid pgrp ..."
		fields := strings.Fields(s[i+1:])
		if len(fields) > 2 && fields[2] == fmt.Sprint(pgid) && fields[0] != "Z" && fields[0] != "X" {
			return false
		}
	}
	return true
}

// logRecorder is a slog.Handler that keeps the records and routes them
// to t.Logf while the test runs.
type logRecorder struct {
	shared *logShared
	attrs  []slog.Attr
}

type logShared struct {
	t       *testing.T
	mu      sync.Mutex
	done    bool
	records []logRecord
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newLogRecorder(t *testing.T) *logRecorder {
	s := &logShared{t: t}
	t.Cleanup(func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	})
	return &logRecorder{shared: s}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	s := h.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rec)
	if !s.done {
		s.t.Logf("%s %s %v", rec.Level, rec.Msg, rec.Attrs)
	}
	return nil
}

func (h *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logRecorder{shared: h.shared, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// find returns the records whose message starts with prefix.
func (h *logRecorder) find(prefix string) []logRecord {
	s := h.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logRecord
	for _, r := range s.records {
		if strings.HasPrefix(r.Msg, prefix) {
			out = append(out, r)
		}
	}
	return out
}
