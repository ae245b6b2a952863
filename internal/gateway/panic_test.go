package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/ws"
)

type panicky struct{}

func (panicky) Invoke(_ context.Context, req *event.Request) (*event.Response, error) {
	if strings.Contains(req.RouteKey(), "boom") {
		panic("integration bug")
	}
	return &event.Response{StatusCode: 200, Body: []byte("fine")}, nil
}

// A panic while handling one connection's message closes that connection
// with 1011 and leaves every other connection working.
func TestPanicClosesOnlyThatConnection(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
apis:
  - id: a
    stage: s
    routeSelectionExpression: $request.body.action
    routes:
      boom: {integration: x}
      ok: {integration: x, routeResponseSelectionExpression: $default}
    integrations:
      x: {type: http, url: "http://127.0.0.1:1/unused"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: cfg, Metrics: metrics.New(prometheus.NewRegistry()), Engine: ws.Options{Tick: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	a := g.API("s")
	a.state.Load().routes["boom"].integration = panicky{}
	a.state.Load().routes["ok"].integration = panicky{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.ServeWebSocket(w, r, a) }))
	defer func() {
		srv.Close()
		if err := g.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	bad, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.CloseNow()
	good, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer good.CloseNow()
	if err := bad.Write(ctx, websocket.MessageText, []byte(`{"action":"boom"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bad.Read(ctx); websocket.CloseStatus(err) != websocket.StatusInternalError {
		t.Fatalf("after a panic: %v, want close 1011", err)
	}
	if err := good.Write(ctx, websocket.MessageText, []byte(`{"action":"ok"}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := good.Read(ctx); err != nil || string(b) != "fine" {
		t.Fatalf("other connection: %q %v", b, err)
	}
	good.Close(websocket.StatusNormalClosure, "")
}
