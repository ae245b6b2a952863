package gateway_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// BenchmarkManageOneNode measures the single-node management data path
// (PostToConnection, GetConnection) on a real socket: the cluster step
// must cost it nothing measurable (compare with the commit before it).
// The queue is large so that the client's reader never makes it a slow
// consumer; run it with a fixed -benchtime (e.g. 300000x).
func BenchmarkManageOneNode(b *testing.B) {
	cfg, err := config.Parse("b.yaml", []byte(`
apis:
  - id: api
    stage: prod
    routeSelectionExpression: $request.body.action
    routes:
      $default: {integration: be}
    integrations:
      be: {type: http, url: "http://127.0.0.1:1/", timeout: 1s}
    limits: {outboundQueueBytes: 512MiB}
`), nil)
	if err != nil {
		b.Fatal(err)
	}
	gw, err := gateway.New(gateway.Options{Config: cfg, Metrics: metrics.New(prometheus.NewRegistry()),
		HTTPClient: http.DefaultClient, Logger: slog.New(slog.DiscardHandler), Engine: ws.Options{Tick: 20 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw.ServeWebSocket(w, r, gw.API("prod"))
	}))
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/prod", nil)
	if err != nil {
		b.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	page, err := gw.ListConnections(ctx, "prod", "", 1)
	if err != nil || len(page.Connections) != 1 {
		b.Fatal(page, err)
	}
	id := page.Connections[0].ID
	data := []byte(`{"hello":"world"}`)
	b.Run("post", func(b *testing.B) {
		for b.Loop() {
			if err := gw.PostToConnection(ctx, "prod", id, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := gw.GetConnection(ctx, "prod", id); err != nil {
				b.Fatal(err)
			}
		}
	})
	_ = c.CloseNow()
	<-readerDone
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = gw.Shutdown(sctx)
	srv.Close()
}
