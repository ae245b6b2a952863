package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeServer is a minimal switchboard.v1 server, written with another
// WebSocket library (coder/websocket), to test the fan-out client and
// coordinator on their own: it sends "connected", answers "subscribe",
// fans out POST /{stage}/@channels/{channel} as pub messages, pings
// every connection often, and serves /metrics. The real server is tested
// by TestFanoutServer.
type fakeServer struct {
	t            *testing.T
	pingInterval time.Duration
	pongs        atomic.Int64 // pings answered

	mu   sync.Mutex
	subs map[string][]*websocket.Conn
}

func newFakeServer(t *testing.T) (*httptest.Server, *fakeServer) {
	f := &fakeServer{t: t, pingInterval: 50 * time.Millisecond, subs: map[string][]*websocket.Conn{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv, f
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/metrics":
		fmt.Fprint(w, "# HELP fake\nprocess_resident_memory_bytes 1e+07\ngo_memstats_heap_inuse_bytes 5e+06\n"+
			"go_goroutines 10\nprocess_cpu_seconds_total 1.5\nlabelled{a=\"b\"} 3\n")
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/production/@channels/"):
		f.publish(w, r, strings.TrimPrefix(r.URL.Path, "/production/@channels/"))
	case r.URL.Path == "/production":
		f.serveWS(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeServer) publish(w http.ResponseWriter, r *http.Request, ch string) {
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	msg := []byte(`{"type":"pub","channel":"` + ch + `","epoch":"e1","offset":1,"data":` + string(body) + `}`)
	f.mu.Lock()
	conns := slices.Clone(f.subs[ch])
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	for _, c := range conns {
		_ = c.Write(ctx, websocket.MessageText, msg)
	}
	fmt.Fprintf(w, `{"recipients":%d}`, len(conns))
}

func (f *fakeServer) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"switchboard.v1"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	if c.Subprotocol() != "switchboard.v1" {
		c.Close(websocket.StatusPolicyViolation, "switchboard.v1 only")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"connected","version":1,"connectionId":"x"}`)); err != nil {
		return
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		return
	}
	var sub struct {
		Type    string `json:"type"`
		ID      int    `json:"id"`
		Channel string `json:"channel"`
	}
	if err := json.Unmarshal(msg, &sub); err != nil || sub.Type != "subscribe" || sub.ID == 0 || sub.Channel == "" {
		f.t.Errorf("fake server: bad subscribe %q", msg)
		return
	}
	// A message the client must skip before the reply.
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribed","channel":"user:x"}`))
	f.mu.Lock()
	f.subs[sub.Channel] = append(f.subs[sub.Channel], c)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.subs[sub.Channel] = slices.DeleteFunc(f.subs[sub.Channel], func(x *websocket.Conn) bool { return x == c })
		f.mu.Unlock()
	}()
	if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"reply","id":%d,"result":{}}`, sub.ID)); err != nil {
		return
	}
	go func() {
		// Pings need the reader below to see the pongs.
		tick := time.NewTicker(f.pingInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
			f.pongs.Add(1)
		}
	}()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

// The client and coordinator against the fake server: 200 subscribers in
// 2 worker processes over 2 channels, two rate steps; every delivery
// arrives, and the pings are answered.
func TestFanoutFakeServer(t *testing.T) {
	srv, fake := newFakeServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	var steps []FanoutStep
	res, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URL:         "ws://" + host + "/production",
		Connections: 200,
		Workers:     2,
		Sources:     []string{"127.0.0.1", "127.0.0.2"},
		Channel:     "bench",
		Channels:    2,
		Rates:       []float64{50, 100},
		Duration:    time.Second,
		Settle:      50 * time.Millisecond,
		Grace:       20 * time.Second, // ends as soon as every delivery arrived
		Timeout:     time.Minute,
		OnStep:      func(s FanoutStep) { steps = append(steps, s) },
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", res.Setup)
	s := res.Setup
	if s.Connections != 200 || s.Failed != 0 || s.ConnectsPerSec <= 0 || s.RSSBefore != 1e7 || s.Workers != 2 {
		t.Fatalf("setup: %+v", s)
	}
	if len(res.Steps) != 2 || len(steps) != 2 {
		t.Fatalf("%d steps, %d reported; want 2", len(res.Steps), len(steps))
	}
	for i, st := range res.Steps {
		t.Logf("\n%s", st)
		pubs := int(st.Rate)
		if st.Publications != pubs || st.Sent != pubs || st.Failed != 0 || st.Skipped != 0 {
			t.Errorf("step %d: publications %d sent %d failed %d skipped %d; want %d sent", i, st.Publications, st.Sent, st.Failed, st.Skipped, pubs)
		}
		// Each publication goes to one of the two channels, 100 subscribers each.
		want := uint64(pubs * 100)
		if st.Subscribers != 200 || st.Expected != want || st.Received != want || st.Missing != 0 || st.LostConns != 0 || st.Errors != 0 {
			t.Errorf("step %d: subscribers %d expected %d received %d missing %d lost %d errors %d; want %d",
				i, st.Subscribers, st.Expected, st.Received, st.Missing, st.LostConns, st.Errors, want)
		}
		if st.PerConnMin != uint64(pubs/2) || st.PerConnMax != uint64(pubs/2) {
			t.Errorf("step %d: per connection %d..%d, want %d", i, st.PerConnMin, st.PerConnMax, pubs/2)
		}
		l := st.Latency
		if l.Count != want || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > 30000 {
			t.Errorf("step %d: latency %+v", i, l)
		}
		if st.PerSecond != float64(want) || st.WallSeconds < 0.9 || !st.ServerCPUAvailable || st.ToolCPU <= 0 {
			t.Errorf("step %d: %.0f/s wall %.2fs server CPU %v tool CPU %.2f", i, st.PerSecond, st.WallSeconds, st.ServerCPUAvailable, st.ToolCPU)
		}
	}
	// Every 50 ms the server pinged every connection, and waited for the
	// pong: the run lasted seconds, so each connection answered several.
	if n := fake.pongs.Load(); n < 200 {
		t.Errorf("%d pings answered, want at least one per connection", n)
	}
}

// Publications larger than the loops' read buffer arrive whole.
func TestFanoutFakeServerLarge(t *testing.T) {
	srv, _ := newFakeServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	res, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URL:         "ws://" + host + "/production",
		Connections: 20,
		Workers:     1,
		Rates:       []float64{20},
		Duration:    500 * time.Millisecond,
		Size:        100000,
		Settle:      10 * time.Millisecond,
		Grace:       20 * time.Second, // ends as soon as every delivery arrived
		Timeout:     time.Minute,
	}))
	if err != nil {
		t.Fatal(err)
	}
	st := res.Steps[0]
	t.Logf("\n%s", st)
	if st.Sent != 10 || st.Expected != 200 || st.Received != 200 || st.Other != 0 || st.Errors != 0 {
		t.Fatalf("sent %d expected %d received %d other %d errors %d", st.Sent, st.Expected, st.Received, st.Other, st.Errors)
	}
}

// A server that refuses the subscription fails the run with its reason.
func TestFanoutSubscribeRefused(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/production", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"switchboard.v1"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = c.Write(r.Context(), websocket.MessageText, []byte(`{"type":"connected","version":1}`))
		_, _, _ = c.Read(r.Context())
		_ = c.Write(r.Context(), websocket.MessageText, []byte(`{"type":"reply","id":1,"error":{"code":403,"message":"not allowed"}}`))
		_, _, _ = c.Read(r.Context())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URL:         "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/production",
		Connections: 3,
		Timeout:     30 * time.Second,
	}))
	if err == nil || !strings.Contains(err.Error(), "3 connections failed") || !strings.Contains(err.Error(), "403 not allowed") {
		t.Fatalf("err %v, want 3 failed connections with 403", err)
	}
}
