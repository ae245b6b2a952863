package gateway_test

// In-process clusters: N gateways, each on its own real listener, on one
// shared memory backend (cluster/memory), real WebSocket clients, the real
// management handler, and one httptest integration backend that records
// every $connect and $disconnect with the node that sent it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/manage"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeClock is the memory backend's lease clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// beEvent is one event the integration backend received.
type beEvent struct {
	node, eventType, connectionID, requestID, reason string
	code                                             int
}

// testBackend is the integration of every node: node i calls /n<i>. It
// records CONNECT and DISCONNECT events; a $connect with ?user=u gets
// X-Switchboard-User u, and ?tag=t is remembered (tag → connection id).
// Events of a node marked dead are answered and dropped, as if its process
// had died before sending them.
type testBackend struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []beEvent
	tags   map[string]string
	dead   map[string]bool
}

func newTestBackend(t *testing.T) *testBackend {
	be := &testBackend{tags: map[string]string{}, dead: map[string]bool{}}
	be.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			RequestContext struct {
				EventType            string `json:"eventType"`
				ConnectionID         string `json:"connectionId"`
				RequestID            string `json:"requestId"`
				DisconnectStatusCode int    `json:"disconnectStatusCode"`
				DisconnectReason     string `json:"disconnectReason"`
			} `json:"requestContext"`
			Query map[string]string `json:"queryStringParameters"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		node := strings.TrimPrefix(r.URL.Path, "/")
		rc := ev.RequestContext
		headers := map[string]string{}
		be.mu.Lock()
		if !be.dead[node] {
			be.events = append(be.events, beEvent{node: node, eventType: rc.EventType, connectionID: rc.ConnectionID,
				requestID: rc.RequestID, code: rc.DisconnectStatusCode, reason: rc.DisconnectReason})
			if tag := ev.Query["tag"]; rc.EventType == "CONNECT" && tag != "" {
				be.tags[tag] = rc.ConnectionID
			}
		}
		be.mu.Unlock()
		if u := ev.Query["user"]; rc.EventType == "CONNECT" && u != "" {
			headers["X-Switchboard-User"] = u
		}
		out, _ := json.Marshal(map[string]any{"statusCode": 200, "headers": headers})
		_, _ = w.Write(out)
	}))
	t.Cleanup(be.srv.Close)
	return be
}

func (be *testBackend) id(tag string) string {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.tags[tag]
}

func (be *testBackend) kill(node string) {
	be.mu.Lock()
	be.dead[node] = true
	be.mu.Unlock()
}

// disconnects returns the DISCONNECT events of connection id.
func (be *testBackend) disconnects(id string) []beEvent {
	be.mu.Lock()
	defer be.mu.Unlock()
	var out []beEvent
	for _, e := range be.events {
		if e.eventType == "DISCONNECT" && e.connectionID == id {
			out = append(out, e)
		}
	}
	return out
}

// testForwarders is the in-process memory.Forwarders plus partitions: a
// partitioned node's Local is swapped for one that answers every call
// with cluster.ErrUnavailable, as an owner that does not answer would.
type testForwarders struct {
	*memory.Forwarders
	mu    sync.Mutex
	nodes map[string]cluster.Node
	real  map[string]cluster.Local
}

func newTestForwarders() *testForwarders {
	return &testForwarders{Forwarders: memory.NewForwarders(nil), nodes: map[string]cluster.Node{}, real: map[string]cluster.Local{}}
}

func (f *testForwarders) Register(n cluster.Node, l cluster.Local) {
	f.mu.Lock()
	f.nodes[n.Incarnation], f.real[n.Incarnation] = n, l
	f.mu.Unlock()
	f.Forwarders.Register(n, l)
}

func (f *testForwarders) partition(inc string, on bool) {
	f.mu.Lock()
	n, l := f.nodes[inc], f.real[inc]
	f.mu.Unlock()
	if on {
		l = downLocal{inc}
	}
	f.Forwarders.Register(n, l)
}

// downLocal is a node that does not answer.
type downLocal struct{ inc string }

func (d downLocal) err() error {
	return fmt.Errorf("%w: node %s does not answer", cluster.ErrUnavailable, d.inc)
}
func (d downLocal) Post(context.Context, string, string, []byte) error { return d.err() }
func (d downLocal) Get(context.Context, string, string) (cluster.ConnectionInfo, error) {
	return cluster.ConnectionInfo{}, d.err()
}
func (d downLocal) Delete(context.Context, string, string) error        { return d.err() }
func (d downLocal) Join(context.Context, string, string, string) error  { return d.err() }
func (d downLocal) Leave(context.Context, string, string, string) error { return d.err() }
func (d downLocal) List(context.Context, string, string, int) (cluster.ConnectionPage, error) {
	return cluster.ConnectionPage{}, d.err()
}
func (d downLocal) User(context.Context, string, string, cluster.UserOp, []byte) (cluster.UserResult, error) {
	return cluster.UserResult{}, d.err()
}

// logSink keeps every log record's message and incarnation attribute.
type logSink struct {
	mu   sync.Mutex
	msgs []string // "message incarnation"
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *logSink) WithGroup(string) slog.Handler            { return s }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	inc := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "incarnation" {
			inc = a.Value.String()
		}
		return true
	})
	s.mu.Lock()
	s.msgs = append(s.msgs, r.Message+" "+inc)
	s.mu.Unlock()
	return nil
}

func (s *logSink) has(msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.msgs, msg)
}

// testNode is one gateway of a test cluster.
type testNode struct {
	name string
	mn   *memory.Node
	gw   *gateway.Gateway
	srv  *httptest.Server
	inc  string
	down bool // shut down by the test
}

type testCluster struct {
	t     *testing.T
	clk   *fakeClock
	b     *memory.Backend
	be    *testBackend
	fwd   *testForwarders
	logs  *logSink
	nodes []*testNode

	mu      sync.Mutex
	clients []*websocket.Conn
}

const testLease = 10 * time.Second

// registryFunc lets a test wrap a node's Registry.
type registryFunc func(cluster.Registry) cluster.Registry

func newTestCluster(t *testing.T, n int, wrap registryFunc) *testCluster {
	t.Helper()
	return newTestClusterWith(t, n, wrap, clusterExtras{})
}

// clusterExtras add to what newTestClusterWith builds.
type clusterExtras struct {
	// apiYAML is appended to the API's configuration (4-space indented
	// keys, such as a channels section).
	apiYAML string
	// onMembership, when set, is node name's gateway.Options.OnMembership.
	onMembership func(node, stage, channel string, ev hub.MembershipEvent)
}

func newTestClusterWith(t *testing.T, n int, wrap registryFunc, x clusterExtras) *testCluster {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	tc := &testCluster{
		t:    t,
		clk:  clk,
		b:    memory.New(memory.Options{Now: clk.Now, Lease: testLease, Poll: 20 * time.Millisecond}),
		be:   newTestBackend(t),
		fwd:  newTestForwarders(),
		logs: &logSink{},
	}
	t.Cleanup(tc.close)
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
shutdown: {drainWindow: 10ms}
apis:
  - id: api
    stage: prod
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: be}
      $disconnect: {integration: be}
    integrations:
      be: {type: http, url: "%s/%s", timeout: 5s}
    limits: {maxMessageBytes: 1KiB}
    disconnect: {attempts: 3, backoff: 10ms}
%s`, tc.be.srv.URL, name, x.apiYAML)), nil)
		if err != nil {
			t.Fatal(err)
		}
		mn := tc.b.NewNode(name)
		reg := mn.Registry()
		if err := reg.Join(context.Background()); err != nil {
			t.Fatal(err)
		}
		if wrap != nil {
			reg = wrap(reg)
		}
		var onMembership func(stage, channel string, ev hub.MembershipEvent)
		if x.onMembership != nil {
			onMembership = func(stage, channel string, ev hub.MembershipEvent) { x.onMembership(name, stage, channel, ev) }
		}
		gw, err := gateway.New(gateway.Options{
			Config: cfg, Metrics: metrics.New(prometheus.NewRegistry()), HTTPClient: http.DefaultClient,
			Logger: slog.New(tc.logs), Engine: ws.Options{Tick: 20 * time.Millisecond},
			Cluster:      cluster.Seams{Registry: reg, Bus: mn.Bus(), Presence: mn.Presence(), Forwarder: tc.fwd.Forwarder()},
			OnMembership: onMembership,
		})
		if err != nil {
			t.Fatal(err)
		}
		mh := manage.NewHandler(gw, manage.Auth{AllowLoopback: true}, nil)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if manage.IsManagementPath(r.URL.EscapedPath()) {
				mh.ServeHTTP(w, r)
				return
			}
			gw.ServeWebSocket(w, r, gw.API("prod"))
		}))
		node := &testNode{name: name, mn: mn, gw: gw, srv: srv, inc: reg.Self().Incarnation}
		tc.fwd.Register(reg.Self(), gw.Local())
		tc.nodes = append(tc.nodes, node)
	}
	return tc
}

func (tc *testCluster) close() {
	tc.mu.Lock()
	for _, c := range tc.clients {
		_ = c.CloseNow()
	}
	tc.mu.Unlock()
	for _, n := range tc.nodes {
		if !n.down {
			tc.shutdown(n)
		}
		n.srv.Close()
	}
	tc.b.Close()
}

// shutdown drains node n as SIGTERM does.
func (tc *testCluster) shutdown(n *testNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.down = true
	if err := n.gw.Shutdown(ctx); err != nil {
		tc.t.Errorf("%s: shutdown: %v", n.name, err)
	}
}

// dial opens a client on node n and returns it with its connection id.
func (tc *testCluster) dial(n *testNode, user string) (*websocket.Conn, string) {
	tc.t.Helper()
	tag := fmt.Sprintf("c%d", time.Now().UnixNano())
	q := url.Values{"tag": {tag}}
	if user != "" {
		q.Set("user", user)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.srv.URL, "http")+"/prod?"+q.Encode(), nil)
	if err != nil {
		tc.t.Fatalf("dial %s: %v", n.name, err)
	}
	tc.mu.Lock()
	tc.clients = append(tc.clients, c)
	tc.mu.Unlock()
	id := tc.be.id(tag)
	if id == "" {
		tc.t.Fatal("no connection id recorded for the client")
	}
	return c, id
}

type mgmtResp struct {
	status int
	typ    string
	body   []byte
}

// call makes a management request to node n.
func (tc *testCluster) call(n *testNode, method, path, body string) mgmtResp {
	tc.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		tc.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return mgmtResp{status: resp.StatusCode, typ: resp.Header.Get("x-amzn-ErrorType"), body: b}
}

// read reads one message from c.
func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// closedWith reads from c until it is closed and returns the close status
// and reason.
func closedWith(t *testing.T, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read ended without a close frame: %v", err)
		}
		return ce.Code, ce.Reason
	}
}
