package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// reloadConfig is an API whose integration "a" points at urlA; "b" never
// changes.
func reloadConfig(t *testing.T, urlA string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(`
apis:
  - id: api
    stage: s
    routeSelectionExpression: $request.body.action
    routes:
      a: {integration: a}
      b: {integration: b}
    integrations:
      a: {type: http, url: "`+urlA+`"}
      b: {type: http, url: "http://127.0.0.1:1/b"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newReloadGateway(t *testing.T, cfg *config.Config) *Gateway {
	t.Helper()
	g, err := New(Options{Config: cfg, Metrics: metrics.New(prometheus.NewRegistry()), HTTPClient: http.DefaultClient,
		Engine: ws.Options{Tick: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// closeProbe replaces the close of each resource of st not seen yet with
// one that counts, so that the test sees when and how often each closes.
type closeProbe struct {
	mu     sync.Mutex
	seen   map[*resource]*atomic.Int32
	closed chan string
}

func newCloseProbe() *closeProbe {
	return &closeProbe{seen: map[*resource]*atomic.Int32{}, closed: make(chan string, 1000)}
}

func (p *closeProbe) hook(st *apiState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range st.res {
		if p.seen[r] != nil {
			continue
		}
		n := new(atomic.Int32)
		p.seen[r] = n
		r.close = func(context.Context) {
			n.Add(1)
			p.closed <- r.name
		}
	}
}

func (p *closeProbe) isClosed(r *resource) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.seen[r]
	return n != nil && n.Load() > 0 // nil: not hooked yet, so not closed
}

// A reload swaps the API's state; an unchanged integration is reused, a
// changed one is replaced and closed only when the last call holding the
// old state has ended; Shutdown closes the rest, each exactly once.
func TestReloadClosesReplacedIntegrationWhenIdle(t *testing.T) {
	g := newReloadGateway(t, reloadConfig(t, "http://127.0.0.1:1/a1"))
	a := g.API("s")
	probe := newCloseProbe()
	old := a.state.Load()
	probe.hook(old)

	held := a.acquire() // a call in flight on the old state
	if held != old {
		t.Fatal("acquire did not return the current state")
	}
	changed, err := g.Reload(reloadConfig(t, "http://127.0.0.1:1/a2"))
	if err != nil || len(changed) != 1 || changed[0] != "api" {
		t.Fatalf("Reload: %v %v", changed, err)
	}
	cur := a.state.Load()
	probe.hook(cur)
	if cur == old {
		t.Fatal("the state was not swapped")
	}
	if cur.entries["b"] != old.entries["b"] {
		t.Error("the unchanged integration b was rebuilt")
	}
	if cur.entries["a"] == old.entries["a"] {
		t.Fatal("the changed integration a was reused")
	}
	if cur.routes["a"].integration != cur.entries["a"].in {
		t.Error("route a does not call the new integration")
	}
	oldA := old.entries["a"].res
	if probe.isClosed(oldA) {
		t.Fatal("the replaced integration was closed while a call held the old state")
	}
	if got := a.acquire(); got != cur {
		t.Error("a new call got the old state")
	} else {
		got.release()
	}

	held.release() // the call ends: the old integration a is idle now
	select {
	case name := <-probe.closed:
		if name != "integration a" {
			t.Fatalf("closed %s, want integration a", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced integration was not closed once idle")
	}
	if !probe.isClosed(oldA) {
		t.Fatal("integration a not closed")
	}

	// The same configuration again changes nothing.
	if changed, err := g.Reload(reloadConfig(t, "http://127.0.0.1:1/a2")); err != nil || len(changed) != 0 {
		t.Fatalf("reload of the running configuration: %v %v", changed, err)
	}
	if a.state.Load() != cur {
		t.Error("a reload without changes swapped the state")
	}

	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for r, n := range probe.seen {
		if n.Load() != 1 {
			t.Errorf("%s closed %d times, want 1", r.name, n.Load())
		}
	}
	if _, err := g.Reload(reloadConfig(t, "http://127.0.0.1:1/a3")); err == nil {
		t.Error("a reload after shutdown was applied")
	}
}

// A reload that cannot be applied changes nothing: the state stays, and
// what was built for it is closed.
func TestReloadFailureChangesNothing(t *testing.T) {
	g := newReloadGateway(t, reloadConfig(t, "http://127.0.0.1:1/a1"))
	defer g.Shutdown(context.Background())
	a := g.API("s")
	old := a.state.Load()
	bad := reloadConfig(t, "http://127.0.0.1:1/a2")
	bad.APIs[0].Stage = "other"
	if _, err := g.Reload(bad); err == nil || !strings.Contains(err.Error(), "stage") {
		t.Fatalf("reload of another stage: %v", err)
	}
	bad = reloadConfig(t, "http://127.0.0.1:1/a2")
	bad.APIs[0].RouteSelectionExpression = "$request.body..x" // does not compile
	if _, err := g.Reload(bad); err == nil {
		t.Fatal("an expression that does not compile was applied")
	}
	if a.state.Load() != old {
		t.Fatal("a failed reload swapped the state")
	}
}

// Under the race detector: calls acquire and release states while reloads
// swap them; no call ever holds a state whose resources were closed, and
// every resource is closed exactly once by the end.
func TestReloadConcurrentWithCalls(t *testing.T) {
	g := newReloadGateway(t, reloadConfig(t, "http://127.0.0.1:1/a0"))
	a := g.API("s")
	probe := newCloseProbe()
	probe.hook(a.state.Load())
	stop := make(chan struct{})
	var bad atomic.Int32
	var calls sync.WaitGroup
	for range 8 {
		calls.Add(1)
		go func() {
			defer calls.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st := a.acquire()
				for _, r := range st.res {
					if probe.isClosed(r) {
						bad.Add(1)
					}
				}
				st.release()
			}
		}()
	}
	for i := range 50 {
		if _, err := g.Reload(reloadConfig(t, "http://127.0.0.1:1/a"+strings.Repeat("x", i+1))); err != nil {
			t.Fatal(err)
		}
		probe.hook(a.state.Load())
	}
	close(stop)
	calls.Wait()
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bad.Load() != 0 {
		t.Errorf("%d times a call held a state with a closed resource", bad.Load())
	}
	if len(probe.seen) != 52 { // 51 versions of a, one b
		t.Errorf("%d resources, want 52", len(probe.seen))
	}
	for r, n := range probe.seen {
		if n.Load() != 1 {
			t.Errorf("%s closed %d times, want 1", r.name, n.Load())
		}
	}
}

// BenchmarkStateAcquireRelease is what each handshake and inbox item pays
// for the reloadable state: one load, one CAS and one add.
func BenchmarkStateAcquireRelease(b *testing.B) {
	cfg, err := config.Parse("t.yaml", []byte(`
apis:
  - id: api
    stage: s
    routeSelectionExpression: $request.body.action
`), nil)
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(Options{Config: cfg, Metrics: metrics.New(prometheus.NewRegistry()), HTTPClient: http.DefaultClient})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	a := g.API("s")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.acquire().release()
		}
	})
}
