package bench

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/server"
)

func TestIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	srv, err := server.New(cfg, server.Options{Listener: ln})
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
	res, err := Idle(context.Background(), IdleOptions{
		URL:         "ws://" + base + "/production",
		Metrics:     "http://" + base + "/metrics",
		Connections: 200,
		Sources:     []string{"127.0.0.1", "127.0.0.2"},
		Settle:      100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 200 || res.Failed != 0 {
		t.Fatalf("connections %d failed %d", res.Connections, res.Failed)
	}
	if res.RSSBefore <= 0 || res.RSSAfter <= 0 || res.HeapAfter <= 0 {
		t.Fatalf("memory figures missing from the server's metrics: %+v", res)
	}
	t.Log(res)
	// Idle closed its connections: the server sees them go.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Gateway().API("production").Connections() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connections still open after Idle returned")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
