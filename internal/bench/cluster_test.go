package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/redistest"
	"github.com/switchboardhq/switchboard/internal/server"
)

// clusterNodeYAML is one node of a test cluster: %[1]s listen, %[2]s
// Redis address, %[3]s internal endpoint, %[4]s node id, %[5]s key prefix.
const clusterNodeYAML = `
listen: %[1]s
log: {level: warn}
management: {allowLoopback: true}
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
    routes:
      sendMessage:
        action: {type: broadcast, payload: {message: $request.body.message}}
cluster:
  nodeId: %[4]s
  redis:
    mode: single
    addresses: ["%[2]s"]
    keyPrefix: "%[5]s"
  internal:
    listen: %[3]s
    advertise: %[3]s
    secret: bench-test-secret-0123456789abcdefghijkl
`

// startClusterNode runs one in-process Switchboard node of a cluster on
// redisAddr and returns its public address.
func startClusterNode(t *testing.T, redisAddr, id, prefix string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The internal endpoint on an address of its own: the node binds it
	// only when it runs, and another node's public listener (on
	// 127.0.0.1) cannot take its port meanwhile.
	internal, err := net.Listen("tcp", "127.0.0.9:0")
	if err != nil {
		t.Fatal(err)
	}
	internalAddr := internal.Addr().String()
	internal.Close() // the node listens there itself
	yaml := fmt.Sprintf(clusterNodeYAML, ln.Addr().String(), redisAddr, internalAddr, id, prefix)
	cfg, err := config.Parse(id+".yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node %s: %v", id, err)
		}
	})
	return ln.Addr().String()
}

// Fan-out over a real two-node cluster (two in-process nodes on one
// redis-server): the subscribers are spread round robin over both nodes,
// every publication goes through node 0's management API, and every
// subscriber on both nodes gets every publication. The per-node figures
// and the Redis figures add up.
func TestFanoutCluster(t *testing.T) {
	r := redistest.StartServer(t)
	prefix := fmt.Sprintf("bench%d:", time.Now().UnixNano())
	a := startClusterNode(t, r.Addr, "a", prefix)
	b := startClusterNode(t, r.Addr, "b", prefix)
	res, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URLs:        []string{"ws://" + a + "/production", "ws://" + b + "/production"},
		Redis:       []string{r.Addr},
		Connections: 101,
		Workers:     2,
		Sources:     []string{"127.0.0.1", "127.0.0.2"},
		Rates:       []float64{20},
		Duration:    time.Second,
		Settle:      100 * time.Millisecond,
		Grace:       20 * time.Second, // ends as soon as every delivery arrived
		Timeout:     time.Minute,
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", res.Setup)
	s := res.Setup
	if s.Connections != 101 || s.Failed != 0 || len(s.Nodes) != 2 {
		t.Fatalf("setup: %+v", s)
	}
	// Connection i goes to node i % 2: 51 to a, 50 to b.
	if s.Nodes[0].Connections != 51 || s.Nodes[1].Connections != 50 {
		t.Fatalf("connections per node %d, %d; want 51, 50", s.Nodes[0].Connections, s.Nodes[1].Connections)
	}
	if s.Nodes[0].RSSAfter <= 0 || s.Nodes[1].RSSAfter <= 0 || s.RSSAfter != s.Nodes[0].RSSAfter+s.Nodes[1].RSSAfter {
		t.Errorf("memory per node %+v, sum %v", s.Nodes, s.RSSAfter)
	}
	if want := []string{"http://" + a}; fmt.Sprint(res.Opts.Manage) != fmt.Sprint(want) {
		t.Errorf("publications went through %v, want %v", res.Opts.Manage, want)
	}
	st := res.Steps[0]
	t.Logf("\n%s", st)
	if st.Sent != 20 || st.Failed != 0 || st.Expected != 20*101 || st.Received != st.Expected || st.LostConns != 0 || st.Errors != 0 {
		t.Fatalf("sent %d failed %d expected %d received %d lost %d errors %d; want every delivery (%s)",
			st.Sent, st.Failed, st.Expected, st.Received, st.LostConns, st.Errors, st.FirstError)
	}
	if len(st.Nodes) != 2 {
		t.Fatalf("nodes %+v", st.Nodes)
	}
	for i, n := range st.Nodes {
		if n.Received != 20*uint64(n.Subscribers) || n.Latency.Count != n.Received || n.ServerCPU <= 0 {
			t.Errorf("node %d: %+v; want 20 deliveries per subscriber, each timed, and CPU", i, n)
		}
	}
	if st.Nodes[0].Subscribers != 51 || st.Nodes[1].Subscribers != 50 {
		t.Errorf("subscribers per node %d, %d", st.Nodes[0].Subscribers, st.Nodes[1].Subscribers)
	}
	// One script call per publication, and the channel's shard channel has
	// one subscriber per node, not per connection.
	rd := st.Redis
	if rd == nil {
		t.Fatal("no Redis figures")
	}
	if rd.PerPublication["evalsha"] < 1 || rd.PerPublication["evalsha"] > 1.1 {
		t.Errorf("evalsha per publication %v, want 1 (the lease renewals are other commands)", rd.PerPublication["evalsha"])
	}
	if rd.PerPublication["spublish"] < 1 || rd.PerPublication["spublish"] > 1.1 {
		t.Errorf("spublish per publication %v, want 1", rd.PerPublication["spublish"])
	}
	var shard int
	for name, n := range rd.ShardSubscribers {
		if strings.HasSuffix(name, "{bench}:p") {
			shard = n
		}
	}
	if shard != 2 {
		t.Errorf("shard channels %v: want the channel's with 2 subscribers (one per node)", rd.ShardSubscribers)
	}
}

// With several URLs, mistakes are reported before anything starts.
func TestFanoutClusterOptions(t *testing.T) {
	for _, tc := range []struct {
		o    FanoutOptions
		want string
	}{
		{FanoutOptions{URL: "ws://a:1/production", URLs: []string{"ws://b:1/production"}}, "not both"},
		{FanoutOptions{URLs: []string{"ws://a:1/production", "ws://b:1/staging"}}, "same stage"},
		{FanoutOptions{URLs: []string{"ws://a:1/production", "ws://b:1/production"}, Metrics: "http://a:1/metrics"}, "NodeMetrics"},
		{FanoutOptions{URLs: []string{"ws://a:1/production", "ws://b:1/production"}, NodeMetrics: []string{"http://a:1/metrics"}}, "one per URL"},
		{FanoutOptions{URLs: []string{"ws://a:1/production", "ws://b:1/production"}, Manage: "http://a:1", PublishRoundRobin: true}, "not both"},
	} {
		_, err := Fanout(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.o, err, tc.want)
		}
	}
}

// Forward against two real nodes: every POST, to the owner and through
// the other node, is answered 200 and reaches the connection.
func TestForwardCluster(t *testing.T) {
	r := redistest.StartServer(t)
	prefix := fmt.Sprintf("bench%d:", time.Now().UnixNano())
	a := startClusterNode(t, r.Addr, "a", prefix)
	b := startClusterNode(t, r.Addr, "b", prefix)
	res, err := Forward(context.Background(), ForwardOptions{
		Owner: "ws://" + a + "/production", Other: "ws://" + b + "/production",
		Posts: 50, Warmup: 5, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", res)
	if res.Posts != 50 || res.Local.Count != 50 || res.Forwarded.Count != 50 || res.Received != 110 {
		t.Fatalf("%+v: want 50 timed POSTs to each node and all 110 messages received", res)
	}
	if res.Local.P50 <= 0 || res.Forwarded.P50 <= 0 {
		t.Errorf("latencies missing: %+v", res)
	}
	// Two stages are refused before anything is sent.
	_, err = Forward(context.Background(), ForwardOptions{
		Owner: "ws://" + a + "/production", Other: "ws://" + b + "/staging", Posts: 1,
	})
	if err == nil || !strings.Contains(err.Error(), "same stage") {
		t.Errorf("stages differ: %v", err)
	}
}

// Idle over a real two-node cluster: the connections are spread round
// robin, each node's memory and the Redis server's are read.
func TestIdleCluster(t *testing.T) {
	r := redistest.StartServer(t)
	prefix := fmt.Sprintf("bench%d:", time.Now().UnixNano())
	a := startClusterNode(t, r.Addr, "a", prefix)
	b := startClusterNode(t, r.Addr, "b", prefix)
	res, err := Idle(context.Background(), IdleOptions{
		URLs:        []string{"ws://" + a + "/production", "ws://" + b + "/production"},
		Redis:       []string{r.Addr},
		Connections: 41,
		Sources:     []string{"127.0.0.1", "127.0.0.2"},
		Settle:      100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Connections != 41 || len(res.Nodes) != 2 || res.Nodes[0].Connections != 21 || res.Nodes[1].Connections != 20 {
		t.Fatalf("%+v: want 21 connections on a, 20 on b", res)
	}
	if res.Nodes[0].RSSAfter <= 0 || res.RSSAfter != res.Nodes[0].RSSAfter+res.Nodes[1].RSSAfter {
		t.Errorf("memory per node %+v, sum %v", res.Nodes, res.RSSAfter)
	}
	// (Its growth is not checked: 41 records are within used_memory's
	// own movements.)
	if res.RedisBefore <= 0 || res.RedisAfter <= 0 {
		t.Errorf("redis memory %v -> %v: not read", res.RedisBefore, res.RedisAfter)
	}
	if _, err := Idle(context.Background(), IdleOptions{URL: "ws://" + a + "/production", URLs: []string{"ws://" + b + "/production"}, Connections: 1}); err == nil {
		t.Error("URL and URLs together: no error")
	}
}
