package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

// Credentials of the test server's configuration.
const (
	testAPIKey    = "cli-test-api-key-0123456789"
	testAccessKey = "AKIDCLITEST0000001"
	testSecret    = "cli-test-secret-key-0123456789"
)

// testConfig is a stage "test" whose $connect backend (%s) names each
// connection's user from ?u= and gives it presence info; room:* keeps
// history, other channels do not.
const testConfig = `
management:
  apiKeys:
    - name: cli
      key: ` + testAPIKey + `
  accessKeys:
    - id: ` + testAccessKey + `
      secret: ` + testSecret + `
apis:
  - id: app
    stage: test
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      $disconnect: {integration: backend}
      $default: {action: {type: echo}}
    integrations:
      backend: {type: http, url: "%s"}
    channels:
      namespaces:
        - pattern: "room:*"
          history: {size: 100, ttl: 10m}
        - pattern: "*"
`

// backend is the $connect and $disconnect integration: it records the
// connection id of each ?tag= and the ids whose $disconnect came.
type backend struct {
	srv          *httptest.Server
	mu           sync.Mutex
	ids          map[string]string // tag -> connection id
	disconnected map[string]bool
}

func newBackend(t *testing.T) *backend {
	b := &backend{ids: map[string]string{}, disconnected: map[string]bool{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Query          map[string]string `json:"queryStringParameters"`
			RequestContext struct {
				RouteKey     string `json:"routeKey"`
				ConnectionID string `json:"connectionId"`
			} `json:"requestContext"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("backend: %v", err)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev.RequestContext.RouteKey {
		case "$connect":
			b.ids[ev.Query["tag"]] = ev.RequestContext.ConnectionID
			if u := ev.Query["u"]; u != "" {
				fmt.Fprintf(w, `{"statusCode":200,"headers":{"X-Switchboard-User":%q,"X-Switchboard-Info":"{\"name\":\"%s\"}"}}`, u, u)
			}
		case "$disconnect":
			b.disconnected[ev.RequestContext.ConnectionID] = true
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) id(tag string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[tag]
}

func (b *backend) gotDisconnect(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.disconnected[id]
}

// fixture is a running server and its backend.
type fixture struct {
	t        *testing.T
	b        *backend
	addr     string
	endpoint string // http://addr/test
}

func start(t *testing.T) *fixture {
	b := newBackend(t)
	srv := servertest.Start(t, fmt.Sprintf(testConfig, b.srv.URL), server.Options{})
	return &fixture{t: t, b: b, addr: srv.Addr, endpoint: "http://" + srv.Addr + "/test"}
}

// conn is a raw WebSocket client of the fixture.
type conn struct {
	t  *testing.T
	c  *websocket.Conn
	ID string
}

// dial opens a raw connection tagged tag for user ("" for none) and
// returns it with its connection id.
func (f *fixture) dial(tag, user string) *conn {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s/test?tag=%s&u=%s", f.addr, tag, user), nil)
	if err != nil {
		f.t.Fatalf("dial %s: %v", tag, err)
	}
	f.t.Cleanup(func() { c.CloseNow() })
	id := f.b.id(tag)
	if id == "" {
		f.t.Fatalf("no $connect recorded for %s", tag)
	}
	return &conn{t: f.t, c: c, ID: id}
}

// read returns the next message.
func (c *conn) read() []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read on %s: %v", c.ID, err)
	}
	return b
}

// closed waits for the server's close and returns its code.
func (c *conn) closed() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				c.t.Fatalf("%s: no close", c.ID)
			}
			return websocket.CloseStatus(err)
		}
		c.t.Logf("%s: %q before the close", c.ID, b)
	}
}
