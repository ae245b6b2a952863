package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/route"
	"github.com/switchboardhq/switchboard/internal/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestConn(id string) *Conn {
	return &Conn{info: event.Connection{ID: id}}
}

func TestRegistryPages(t *testing.T) {
	r := newRegistry()
	var ids []string
	for i := range 250 {
		c := newTestConn(event.NewID())
		r.add(c)
		ids = append(ids, c.info.ID)
		if i%7 == 0 { // removals leave no holes in later pages
			r.remove(c)
			ids = ids[:len(ids)-1]
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
		conns, next, err := r.page(cursor, 30)
		if err != nil {
			t.Fatal(err)
		}
		if len(conns) > 30 {
			t.Fatalf("page of %d", len(conns))
		}
		for _, c := range conns {
			got = append(got, c.info.ID)
		}
		// A connection that registers mid-listing shows up on a later page.
		if pages == 2 {
			c := newTestConn(event.NewID())
			r.add(c)
			ids = append(ids, c.info.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("listing is not every connection once, oldest first:\ngot  %v\nwant %v", got, ids)
	}
	for _, bad := range []string{"!!", "bm90LWEtbnVtYmVy"} {
		if _, _, err := r.page(bad, 10); err != ErrInvalidCursor {
			t.Errorf("cursor %q: %v, want ErrInvalidCursor", bad, err)
		}
	}
	if r.len() != len(ids) {
		t.Fatalf("len %d, want %d", r.len(), len(ids))
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := newRegistry()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				c := newTestConn(event.NewID())
				r.add(c)
				if r.get(c.info.ID) != c {
					t.Error("get after add")
				}
				r.each(func(*Conn) {})
				if !r.remove(c) || r.remove(c) {
					t.Error("remove must succeed exactly once")
				}
			}
		}()
	}
	wg.Wait()
	if r.len() != 0 {
		t.Fatalf("len %d after removing everything", r.len())
	}
}

type funcTask func()

func (f funcTask) run() { f() }

func TestPoolBound(t *testing.T) {
	p := newPool(3)
	var running, peak, done atomic.Int64
	release := make(chan struct{})
	for range 20 {
		p.submit(funcTask(func() {
			n := running.Add(1)
			for {
				m := peak.Load()
				if n <= m || peak.CompareAndSwap(m, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			done.Add(1)
		}))
	}
	// Wait for the three workers to be inside their tasks (not a sleep:
	// under load 20 ms was not always enough for them to start).
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks running after 10s, want 3", running.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if b := p.busy(); b != 3 {
		t.Fatalf("%d workers, want 3", b)
	}
	close(release)
	p.close()
	if peak.Load() != 3 || done.Load() != 20 {
		t.Fatalf("peak %d done %d", peak.Load(), done.Load())
	}
	if p.busy() != 0 {
		t.Fatal("workers left after close")
	}
	if p.submit(funcTask(func() {})) {
		t.Fatal("submit after close accepted")
	}
}

func TestSelectRoute(t *testing.T) {
	sel, err := route.Parse("$request.body.action")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(keys ...string) *apiState {
		a := &apiState{selector: sel, routes: map[string]*Route{}}
		for _, k := range keys {
			a.routes[k] = &Route{key: k}
		}
		return a
	}
	tests := []struct {
		api  *apiState
		op   ws.Opcode
		body string
		want string // "" : no route
	}{
		{mk("send", "$default"), ws.OpText, `{"action":"send"}`, "send"},
		{mk("send", "$default"), ws.OpText, `{"action":"Send"}`, "$default"}, // exact, case-sensitive
		{mk("send", "$default"), ws.OpText, `not json`, "$default"},
		{mk("send"), ws.OpText, `{"action":"other"}`, ""},
		{mk("send"), ws.OpText, `{}`, ""},
		{mk("$connect", "$disconnect", "$default"), ws.OpText, `{"action":"$connect"}`, "$default"},
		{mk("$disconnect"), ws.OpText, `{"action":"$disconnect"}`, ""},
		{mk("1", "$default"), ws.OpText, `{"action":1}`, "1"},
		{mk("send", "$default"), ws.OpBinary, `{"action":"send"}`, "$default"},
	}
	for _, tt := range tests {
		key, r := tt.api.selectRoute(tt.op, []byte(tt.body))
		got := ""
		if r != nil {
			got = r.key
			if key != r.key {
				t.Errorf("%s: key %q for route %q", tt.body, key, r.key)
			}
		}
		if got != tt.want {
			t.Errorf("%s %s: route %q, want %q", tt.op, tt.body, got, tt.want)
		}
	}
}

// An integration takes maxConcurrency + maxWaiting calls in flight or
// waiting; more are shed at once instead of queueing until their timeout.
func TestShedding(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	slow := integrationFunc(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		calls.Add(1)
		<-release
		return &event.Response{StatusCode: 200}, nil
	})
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "shed"})
	s := newShedding(slow, "slow", 2, 2, counter)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := s.Invoke(context.Background(), nil); err != nil {
				t.Error(err)
			}
		})
	}
	for calls.Load() < 4 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Invoke(context.Background(), nil); !errors.Is(err, errShed) {
		t.Fatalf("fifth call: %v, want errShed", err)
	}
	close(release)
	wg.Wait()
	if _, err := s.Invoke(context.Background(), nil); err != nil {
		t.Fatalf("after the backlog: %v", err)
	}
	var m dto.Metric
	if err := counter.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Fatalf("shed counter %v (%v)", m.GetCounter().GetValue(), err)
	}
}

type integrationFunc func(ctx context.Context, req *event.Request) (*event.Response, error)

func (f integrationFunc) Invoke(ctx context.Context, req *event.Request) (*event.Response, error) {
	return f(ctx, req)
}
