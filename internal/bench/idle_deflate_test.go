package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/server"
)

// TestIdleDeflate: with --deflate --message the tool's connections
// negotiate compression and each sends a compressed message the server
// accepts (a
// message it could not inflate would close the connection); against an
// API without compression the measurement fails instead of reporting
// uncompressed figures.
func TestIdleDeflate(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.APIs[0].Compression = config.Compression{Enabled: enabled}
		cfg.ApplyDefaults()
		srv, err := server.New(cfg, server.Options{Listener: ln})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		base := ln.Addr().String()
		res, err := Idle(context.Background(), IdleOptions{
			URL:         "ws://" + base + "/production",
			Metrics:     "http://" + base + "/metrics",
			Connections: 50,
			Settle:      100 * time.Millisecond,
			Message:     true,
			Deflate:     true,
		})
		switch {
		case enabled && (err != nil || res.Connections != 50):
			t.Errorf("compression enabled: %v, %d connections", err, res.Connections)
		case !enabled && (err == nil || !strings.Contains(err.Error(), "did not accept permessage-deflate")):
			t.Errorf("compression disabled: err %v, want the server did not accept permessage-deflate", err)
		}
		if enabled {
			// The server inflated all 50 messages (one it could not inflate
			// would close its connection with 1007 instead of counting).
			waitForMetric(t, "http://"+base+"/metrics", `switchboard_messages_received_total{api="chat"} 50`)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// waitForMetric polls a Prometheus endpoint until a line equals want.
func waitForMetric(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			for _, line := range strings.Split(last, "\n") {
				if line == want {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range strings.Split(last, "\n") {
		if strings.HasPrefix(line, "switchboard_messages_received_total") || strings.HasPrefix(line, "switchboard_disconnects_total") {
			t.Log(line)
		}
	}
	t.Fatalf("metric line %q not seen", want)
}
