package bench

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/server"
)

// Fan-out against a real Switchboard server in-process: 200 subscribers
// (the default namespace lets anyone subscribe) in 2 worker processes,
// 50 publications/s for 1 s through the management API. Every delivery
// arrives, with sane latencies.
func TestFanoutServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(config.Default(), server.Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := ln.Addr().String()
	res, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URL:         "ws://" + base + "/production",
		Connections: 200,
		Workers:     2,
		Sources:     []string{"127.0.0.1", "127.0.0.2"},
		Rates:       []float64{50},
		Duration:    time.Second,
		Settle:      100 * time.Millisecond,
		Grace:       20 * time.Second, // ends as soon as every delivery arrived
		Timeout:     time.Minute,
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", res.Setup)
	if s := res.Setup; s.Connections != 200 || s.Failed != 0 || s.RSSBefore <= 0 || s.RSSAfter <= 0 || s.HeapAfter <= 0 {
		t.Fatalf("setup: %+v", s)
	}
	st := res.Steps[0]
	t.Logf("\n%s", st)
	if st.Sent != 50 || st.Failed != 0 || st.Expected != 50*200 || st.Received != st.Expected || st.LostConns != 0 || st.Errors != 0 {
		t.Fatalf("sent %d failed %d expected %d received %d lost %d errors %d; want every delivery (%s)",
			st.Sent, st.Failed, st.Expected, st.Received, st.LostConns, st.Errors, st.FirstError)
	}
	if st.PerConnMin != 50 || st.PerConnMax != 50 {
		t.Errorf("per connection %d..%d, want 50", st.PerConnMin, st.PerConnMax)
	}
	if l := st.Latency; l.Count != st.Received || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > 30000 {
		t.Errorf("latency %+v", l)
	}
	if !st.ServerCPUAvailable {
		t.Error("the server's CPU time is missing from its metrics")
	}
}
