package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/switchboardhq/switchboard/internal/manage"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/ws"
)

const clusterAPI = `
apis:
  - id: a
    stage: s
    routeSelectionExpression: $request.body.action
    routes:
      join: {action: {type: join, channel: $request.body.room}}
      $default: {action: {type: echo}}
    channels:
      namespaces:
        - pattern: "room:*"
          publish: subscribers
          history: {size: 1000, ttl: 1m}
`

// gwNode is one in-process gateway of a cluster, with its WebSocket and
// management listeners.
type gwNode struct {
	g          *gateway.Gateway
	node       *memory.Node
	wsURL      string
	manageBase string
}

// startGateways starts n gateways that are nodes of one memory backend:
// their Options.Cluster are the nodes' Registry, Bus, Presence and
// History (no Forwarder).
func startGateways(t *testing.T, n int, yaml string) []gwNode {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := memory.New(memory.Options{})
	t.Cleanup(b.Close)
	out := make([]gwNode, n)
	for i := range out {
		node := b.NewNode(fmt.Sprint("node", i))
		if err := node.Registry().Join(t.Context()); err != nil {
			t.Fatal(err)
		}
		g, err := gateway.New(gateway.Options{
			Config:  cfg,
			Metrics: metrics.New(prometheus.NewRegistry()),
			Engine:  ws.Options{Tick: 20 * time.Millisecond},
			Cluster: cluster.Seams{Registry: node.Registry(), Bus: node.Bus(), Presence: node.Presence(), History: node.History},
		})
		if err != nil {
			t.Fatal(err)
		}
		a := g.API("s")
		wsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.ServeWebSocket(w, r, a) }))
		mgSrv := httptest.NewServer(manage.NewHandler(g, manage.Auth{AllowLoopback: true}, nil))
		t.Cleanup(func() {
			wsSrv.Close()
			mgSrv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Shutdown(ctx); err != nil && !errors.Is(err, gateway.ErrShutdownStarted) {
				t.Error(err)
			}
		})
		out[i] = gwNode{g: g, node: node, wsURL: "ws" + strings.TrimPrefix(wsSrv.URL, "http"), manageBase: mgSrv.URL}
	}
	return out
}

func dial(t *testing.T, url string, v1 bool) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var o websocket.DialOptions
	if v1 {
		o.Subprotocols = []string{"switchboard.v1"}
	}
	c, _, err := websocket.Dial(ctx, url, &o)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func readMsg(t *testing.T, c *websocket.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func readObj(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	b := readMsg(t, c)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return m
}

func send(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// v1Conn dials a switchboard.v1 connection and returns its id.
func v1Conn(t *testing.T, url string) (*websocket.Conn, string) {
	t.Helper()
	c := dial(t, url, true)
	hello := readObj(t, c)
	if hello["type"] != "connected" {
		t.Fatalf("first message %v", hello)
	}
	return c, hello["connectionId"].(string)
}

// reply sends a v1 request and returns its reply, failing on anything
// else first.
func reply(t *testing.T, c *websocket.Conn, id int, msg string) map[string]any {
	t.Helper()
	send(t, c, msg)
	m := readObj(t, c)
	if m["type"] != "reply" || m["id"] != float64(id) || m["error"] != nil {
		t.Fatalf("got %v, want the successful reply %d", m, id)
	}
	return m
}

func manageCall(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		_ = json.Unmarshal(b, &m)
	}
	return resp.StatusCode, m
}

// waitMembers waits until the channel has want members as node n sees it
// (cluster-wide presence).
func waitMembers(t *testing.T, n gwNode, channel string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, m := manageCall(t, "GET", n.manageBase+"/s/@channels/"+channel, "")
		if status == 200 && m["members"] == float64(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %v, want %d members", channel, status, m, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Three gateways on one in-process backend: management publications made
// concurrently on every node reach the v1 and raw subscribers of the
// others in one order, and exclude / excludeSelf work across nodes.
func TestClusterGatewaysOneOrder(t *testing.T) {
	nodes := startGateways(t, 3, clusterAPI)

	// v1 subscribers on nodes 1 and 2, the v1 publisher on node 0; raw
	// subscribers (join action) on nodes 1 and 2.
	pub, _ := v1Conn(t, nodes[0].wsURL)
	reply(t, pub, 1, `{"type":"subscribe","id":1,"channel":"room:1"}`)
	var v1s []*websocket.Conn
	var v1IDs []string
	for _, n := range nodes[1:] {
		c, id := v1Conn(t, n.wsURL)
		reply(t, c, 1, `{"type":"subscribe","id":1,"channel":"room:1"}`)
		v1s, v1IDs = append(v1s, c), append(v1IDs, id)
	}
	var raws []*websocket.Conn
	for _, n := range nodes[1:] {
		c := dial(t, n.wsURL, false)
		send(t, c, `{"action":"join","room":"room:1"}`)
		// A connection's messages are handled in order (decision 0003):
		// the echo of the next one says the join is done.
		send(t, c, `{"action":"ping"}`)
		if b := readMsg(t, c); string(b) != `{"action":"ping"}` {
			t.Fatalf("raw member got %s, want the echo", b)
		}
		raws = append(raws, c)
	}
	waitMembers(t, nodes[0], "room:1", 5)

	// Concurrent publishers: management POSTs on all three nodes.
	const each = 20
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			for k := range each {
				status, m := manageCall(t, "POST", n.manageBase+"/s/@channels/room:1", fmt.Sprintf(`{"n":%d,"k":%d}`, i, k))
				if status != 200 || m["recipients"] != 5.0 {
					t.Errorf("publish on node %d: %d %v, want 200 with 5 recipients", i, status, m)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	total := 3 * each
	var order []string
	for k := range total {
		m := readObj(t, pub)
		if m["type"] != "pub" || m["offset"] != float64(k+1) {
			t.Fatalf("node 0 v1 member, publication %d: %v", k, m)
		}
		d, _ := json.Marshal(m["data"])
		order = append(order, string(d))
	}
	for i, c := range v1s {
		for k := range total {
			m := readObj(t, c)
			d, _ := json.Marshal(m["data"])
			if m["type"] != "pub" || m["offset"] != float64(k+1) || string(d) != order[k] {
				t.Fatalf("node %d v1 member, publication %d: %v; node 0 saw %s", i+1, k, m, order[k])
			}
		}
	}
	for i, c := range raws {
		for k := range total {
			b := readMsg(t, c)
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%q: %v", b, err)
			}
			if d, _ := json.Marshal(v); string(d) != order[k] {
				t.Fatalf("node %d raw member, publication %d: %s; node 0 saw %s", i+1, k, b, order[k])
			}
		}
	}

	// excludeSelf from node 0: everyone else gets it, the publisher only
	// its reply; the next publication it sees is the one after.
	r := reply(t, pub, 2, `{"type":"publish","id":2,"channel":"room:1","data":{"x":"self"},"excludeSelf":true}`)
	if res := r["result"].(map[string]any); res["offset"] != float64(total+1) || res["recipients"] != 5.0 {
		t.Fatalf("v1 publish result %v", res)
	}
	// Management exclude of node 2's v1 member, published on node 0.
	if status, m := manageCall(t, "POST", nodes[0].manageBase+"/s/@channels/room:1?exclude="+v1IDs[1], `{"x":"not-v1b"}`); status != 200 {
		t.Fatalf("publish with exclude: %d %v", status, m)
	}
	if m := readObj(t, pub); m["offset"] != float64(total+2) {
		t.Fatalf("the excludeSelf publisher then got %v, want offset %d", m, total+2)
	}
	if m := readObj(t, v1s[0]); m["offset"] != float64(total+1) {
		t.Fatalf("node 1 v1 member got %v, want the excludeSelf publication", m)
	}
	if m := readObj(t, v1s[0]); m["offset"] != float64(total+2) {
		t.Fatalf("node 1 v1 member got %v, want offset %d", m, total+2)
	}
	if m := readObj(t, v1s[1]); m["offset"] != float64(total+1) {
		t.Fatalf("node 2 v1 member got %v, want the excludeSelf publication", m)
	}
	for i, c := range raws {
		if b := readMsg(t, c); string(b) != `{"x":"self"}` {
			t.Fatalf("node %d raw member got %s", i+1, b)
		}
		if b := readMsg(t, c); string(b) != `{"x":"not-v1b"}` {
			t.Fatalf("node %d raw member got %s", i+1, b)
		}
	}
	// The excluded member's next publication is the one after.
	if status, m := manageCall(t, "POST", nodes[1].manageBase+"/s/@channels/room:1", `{"x":"last"}`); status != 200 {
		t.Fatalf("publish: %d %v", status, m)
	}
	if m := readObj(t, v1s[1]); m["offset"] != float64(total+3) {
		t.Fatalf("the excluded node 2 member got %v, want offset %d", m, total+3)
	}
}

// A node cut off from the shared state: its publications fail with an
// error errors.Is sees as cluster.ErrUnavailable, through gateway.Publish
// and Broadcast (the management API's 503), and a v1 publish gets error
// 503; nothing reaches the other node.
func TestClusterUnavailableReachesCaller(t *testing.T) {
	nodes := startGateways(t, 2, clusterAPI)
	c, _ := v1Conn(t, nodes[0].wsURL)
	reply(t, c, 1, `{"type":"subscribe","id":1,"channel":"room:1"}`)
	other, _ := v1Conn(t, nodes[1].wsURL)
	reply(t, other, 1, `{"type":"subscribe","id":1,"channel":"room:1"}`)
	nodes[0].node.Cut()

	if _, err := nodes[0].g.Publish(t.Context(), "s", "room:1", []byte(`{"x":1}`), ""); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("gateway.Publish on a cut node: %v, want cluster.ErrUnavailable", err)
	}
	if _, err := nodes[0].g.Broadcast(t.Context(), "s", []byte(`{"x":2}`), ""); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("gateway.Broadcast on a cut node: %v, want cluster.ErrUnavailable", err)
	}
	send(t, c, `{"type":"publish","id":2,"channel":"room:1","data":{"x":3}}`)
	m := readObj(t, c)
	if e, _ := m["error"].(map[string]any); m["type"] != "reply" || m["id"] != 2.0 || e == nil || e["code"] != 503.0 {
		t.Fatalf("v1 publish on a cut node: %v, want an error reply with code 503", m)
	}
	// The other node got none of them: its next message is the reply to
	// its own publication.
	r := reply(t, other, 2, `{"type":"publish","id":2,"channel":"room:1","data":{"x":4},"excludeSelf":true}`)
	if res := r["result"].(map[string]any); res["offset"] != 1.0 {
		t.Fatalf("the first publication that was made: %v, want offset 1", res)
	}
}
