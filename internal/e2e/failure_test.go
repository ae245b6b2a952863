package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// This file: points 6 and 8 of issue 10 with real processes — a node
// killed with SIGKILL, a node cut off from Redis, a node drained by
// SIGTERM — and the client helpers the failure tests share.

// v1msg is one server message of a switchboard.v1 connection, with the
// time it was read.
type v1msg struct {
	Type    string          `json:"type"`
	ID      int64           `json:"id"`
	Channel string          `json:"channel"`
	Epoch   string          `json:"epoch"`
	Offset  int64           `json:"offset"`
	Data    json.RawMessage `json:"data"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
	Member  struct {
		ConnectionID string `json:"connectionId"`
		User         string `json:"user"`
	} `json:"member"`
	at time.Time
}

// fclient is a WebSocket client whose frames a goroutine records: every
// v1 message decoded, and the close status once the connection ended.
type fclient struct {
	ws  *websocket.Conn
	id  string
	tag string
	v1  bool

	mu       sync.Mutex
	msgs     []v1msg
	raw      int                  // raw frames read
	code     websocket.StatusCode // close code received; -1: none (abnormal end)
	closedAt time.Time
	done     chan struct{} // closed when the read loop ended
	onClose  func(code websocket.StatusCode)
}

// fdial opens a client on nd with tag (unique in the test), a user and
// channels for its $connect response ("" for none), switchboard.v1 or raw.
// It returns once the backend saw its $connect and, for v1, once the
// connected message arrived.
func (c *testCluster) fdial(nd *node, tag, user, channels string, v1 bool) *fclient {
	t := c.t
	t.Helper()
	q := url.Values{"tag": {tag}}
	if user != "" {
		q.Set("user", user)
	}
	if channels != "" {
		q.Set("channels", channels)
	}
	var o websocket.DialOptions
	if v1 {
		o.Subprotocols = []string{"switchboard.v1"}
	}
	ws, _, err := websocket.Dial(ctx(t), "ws://"+nd.addr+"/"+stage+"?"+q.Encode(), &o)
	if err != nil {
		t.Fatalf("dial %s on %s: %v", tag, nd.name, err)
	}
	ws.SetReadLimit(1 << 20)
	cl := &fclient{ws: ws, tag: tag, v1: v1, code: -2, done: make(chan struct{})}
	t.Cleanup(func() { ws.CloseNow(); <-cl.done })
	go cl.read()
	cl.id = c.backend.connectionID(t, tag)
	if v1 {
		waitFor(t, tag+" connected", func() bool { return cl.count(func(m v1msg) bool { return m.Type == "connected" }) == 1 })
	}
	return cl
}

func (cl *fclient) read() {
	defer close(cl.done)
	for {
		_, b, err := cl.ws.Read(context.Background())
		now := time.Now()
		if err != nil {
			code := websocket.CloseStatus(err)
			cl.mu.Lock()
			f := cl.onClose
			cl.mu.Unlock()
			if f != nil {
				f(code) // before closed() says so: a waiter sees its effect
			}
			cl.mu.Lock()
			cl.code, cl.closedAt = code, now
			cl.mu.Unlock()
			return
		}
		cl.mu.Lock()
		if cl.v1 {
			var m v1msg
			if json.Unmarshal(b, &m) == nil {
				m.at = now
				cl.msgs = append(cl.msgs, m)
			}
		} else {
			cl.raw++
		}
		cl.mu.Unlock()
	}
}

// count returns how many recorded messages satisfy f.
func (cl *fclient) count(f func(v1msg) bool) int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	n := 0
	for _, m := range cl.msgs {
		if f(m) {
			n++
		}
	}
	return n
}

// messages returns a copy of the recorded messages that satisfy f.
func (cl *fclient) messages(f func(v1msg) bool) []v1msg {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []v1msg
	for _, m := range cl.msgs {
		if f(m) {
			out = append(out, m)
		}
	}
	return out
}

// closed reports the close code once the connection ended.
func (cl *fclient) closed() (websocket.StatusCode, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.code, cl.code != -2
}

// leaves counts the leave notices cl got for member id on channel ch.
func (cl *fclient) leaves(ch, id string) int {
	return cl.count(func(m v1msg) bool { return m.Type == "leave" && m.Channel == ch && m.Member.ConnectionID == id })
}

// redisDo runs one command on addr, failing the test on an error.
func redisDo(t testing.TB, addr string, args ...string) string {
	t.Helper()
	out, err := redistest.Do(addr, args...)
	if err != nil {
		t.Fatalf("redis %v: %v", args, err)
	}
	return out
}

// lostClients is the set of clients the failure tests put on the node
// they take down: v1 and raw, with and without a user, all in channel ch
// (namespace room:*, joinLeave and history).
func (c *testCluster) lostClients(nd *node, ch string) []*fclient {
	return []*fclient{
		c.fdial(nd, "v1-alice", "alice", ch, true),
		c.fdial(nd, "v1-anon", "", ch, true),
		c.fdial(nd, "raw-alice", "alice", ch+",other", false),
		c.fdial(nd, "raw-bob", "bob", ch, false),
	}
}

// assertListed checks, through node nd's management API, that each
// client is (want) or is not (!want) in channel ch's presence and in its
// user's connections, and in GET @connections.
func (c *testCluster) assertListed(nd *node, ch string, cls []*fclient, users map[string][]*fclient, want bool) {
	t := c.t
	t.Helper()
	pres := string(manage(t, nd.addr, "GET", "/"+stage+"/@channels/"+ch+"?limit=1000", nil, 200))
	conns := allConnections(t, nd)
	for _, cl := range cls {
		if strings.Contains(pres, cl.id) != want {
			t.Errorf("%s: presence of %s listing %s (%s) = %v; want %v: %s", nd.name, ch, cl.tag, cl.id, !want, want, pres)
		}
		if strings.Contains(conns, cl.id) != want {
			t.Errorf("%s: GET @connections listing %s = %v; want %v: %s", nd.name, cl.tag, !want, want, conns)
		}
	}
	for u, ucls := range users {
		body := string(manage(t, nd.addr, "GET", "/"+stage+"/@users/"+u, nil, 200))
		for _, cl := range ucls {
			if strings.Contains(body, cl.id) != want {
				t.Errorf("%s: @users/%s listing %s = %v; want %v: %s", nd.name, u, cl.tag, !want, want, body)
			}
		}
	}
}

// allConnections returns every page of GET @connections through nd (the
// cluster-wide list is paged node by node), concatenated.
func allConnections(t testing.TB, nd *node) string {
	var all strings.Builder
	cursor := ""
	for range 100 {
		body := manage(t, nd.addr, "GET", "/"+stage+"/@connections?limit=1000&cursor="+url.QueryEscape(cursor), nil, 200)
		all.Write(body)
		var p struct {
			NextCursor string `json:"nextCursor"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("GET @connections: %v: %s", err, body)
		}
		if p.NextCursor == "" {
			return all.String()
		}
		cursor = p.NextCursor
	}
	t.Fatal("GET @connections: more than 100 pages")
	return ""
}

// userKeys returns the Redis keys of the user index of user (any API).
func (c *testCluster) userKeys(redisAddr, user string) string {
	return redisDo(c.t, redisAddr, "KEYS", c.prefix+"*:u:{"+user+"}")
}

// presenceCount is the members count of channel ch through nd.
func presenceCount(t testing.TB, nd *node, ch string) int {
	var p struct {
		Members int `json:"members"`
	}
	if err := json.Unmarshal(manage(t, nd.addr, "GET", "/"+stage+"/@channels/"+ch, nil, 200), &p); err != nil {
		t.Fatal(err)
	}
	return p.Members
}

// assertReapedOnce waits until the dead incarnation inc is gone from
// Redis (nothing left to reap, so no later $disconnect can come), then
// checks that each client's $disconnect was delivered exactly once, by a
// node other than dead, with 1006 "Switchboard node lost" and the
// deterministic requestId.
func (c *testCluster) assertReapedOnce(redisAddr, inc string, dead *node, cls []*fclient) {
	t := c.t
	t.Helper()
	waitFor(t, "the dead node reaped", func() bool {
		return redisDo(t, redisAddr, "EXISTS", c.prefix+"{n:"+inc+"}:conns") == "0" &&
			!strings.Contains(redisDo(t, redisAddr, "ZRANGE", c.prefix+"{nodes}:all", "0", "-1"), inc)
	})
	for _, cl := range cls {
		ds := c.backend.route("$disconnect", cl.id)
		if len(ds) != 1 {
			t.Errorf("%s: %d $disconnect; want exactly 1: %+v", cl.tag, len(ds), ds)
			continue
		}
		d := ds[0]
		if d.StatusCode != 1006 || d.Reason != "Switchboard node lost" {
			t.Errorf("%s: $disconnect %d %q; want 1006 \"Switchboard node lost\"", cl.tag, d.StatusCode, d.Reason)
		}
		if d.RequestID != gateway.DisconnectRequestID(cl.id) {
			t.Errorf("%s: $disconnect requestId %q; want the deterministic %q", cl.tag, d.RequestID, gateway.DisconnectRequestID(cl.id))
		}
		if d.Node == dead.name || d.Node == "" {
			t.Errorf("%s: $disconnect delivered by %q; want a surviving node", cl.tag, d.Node)
		}
	}
}

// TestNodeKillLeavesAndReaps: kill -9 of a node (point 6). Within the
// lease its connections leave every channel (the survivors' v1 members get
// one leave notice per lost member, presence stops listing them) and every
// user index, and each gets its $disconnect exactly once, from a survivor,
// with 1006 "Switchboard node lost" and the deterministic requestId.
func TestNodeKillLeavesAndReaps(t *testing.T) {
	srv := redistest.StartServer(t)
	c := startCluster(t, 3, redisTarget{mode: "single", addrs: []string{srv.Addr}})
	const ch = "room:kill"
	w1 := c.fdial(c.nodes[1], "watch-1", "", ch, true)
	w2 := c.fdial(c.nodes[2], "watch-2", "carol", ch, true)
	lost := c.lostClients(c.nodes[0], ch)
	users := map[string][]*fclient{"alice": {lost[0], lost[2]}, "bob": {lost[3]}}
	waitFor(t, "every member in presence", func() bool { return presenceCount(t, c.nodes[1], ch) == 6 })
	c.assertListed(c.nodes[2], ch, lost, users, true)
	if c.userKeys(srv.Addr, "alice") == "" {
		t.Fatal("no user index key for alice in Redis before the kill")
	}
	inc := incarnationOf(t, lost[0].id)

	killed := time.Now()
	c.kill(c.nodes[0])
	for _, w := range []*fclient{w1, w2} {
		for _, cl := range lost {
			waitFor(t, w.tag+" told "+cl.tag+" left", func() bool { return w.leaves(ch, cl.id) >= 1 })
		}
	}
	leftIn := time.Since(killed)
	waitFor(t, "presence without the dead node's members", func() bool { return presenceCount(t, c.nodes[1], ch) == 2 })
	for _, cl := range lost {
		waitFor(t, "$disconnect of "+cl.tag, func() bool { return len(c.backend.route("$disconnect", cl.id)) >= 1 })
	}
	t.Logf("node kill: every leave notice after %v, every $disconnect after %v (lease 2s, renewal 500ms)",
		leftIn.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))

	c.assertReapedOnce(srv.Addr, inc, c.nodes[0], lost)
	for _, w := range []*fclient{w1, w2} {
		for _, cl := range lost {
			if n := w.leaves(ch, cl.id); n != 1 {
				t.Errorf("%s got %d leave notices for %s; want 1", w.tag, n, cl.tag)
			}
		}
	}
	c.assertListed(c.nodes[1], ch, lost, users, false)
	c.assertListed(c.nodes[2], ch, lost, users, false)
	if k := c.userKeys(srv.Addr, "alice") + c.userKeys(srv.Addr, "bob"); k != "" {
		t.Errorf("user index keys left in Redis for the dead node's users: %q", k)
	}
	if !strings.Contains(c.userKeys(srv.Addr, "carol"), "carol") {
		t.Errorf("the survivor's user carol lost her user index")
	}
	for _, w := range []*fclient{w1, w2} {
		if code, ok := w.closed(); ok {
			t.Errorf("%s on a survivor was closed (%d)", w.tag, code)
		}
	}
}

// TestNodeCutOffFromRedisFencesItself: a node whose Redis is cut off (a
// TCP proxy between them stops forwarding) closes its own sockets with
// 1012 while its lease still exists in Redis, so it never serves state the
// others have given up; it exits with status 1 saying it lost the lease;
// a survivor then delivers each connection's $disconnect once (1006), and
// the cut node delivered none (point 6).
func TestNodeCutOffFromRedisFencesItself(t *testing.T) { testCutOff(t, false) }

// TestNodeFencedThenHealed: as TestNodeCutOffFromRedisFencesItself, but
// Redis is reachable again as soon as the node has fenced (a stall longer
// than the lease, then recovery): whatever the fenced node still does
// against Redis while it closes must not add a leave notice or a
// $disconnect, nor take one from the reaper.
func TestNodeFencedThenHealed(t *testing.T) { testCutOff(t, true) }

func testCutOff(t *testing.T, heal bool) {
	srv := redistest.StartServer(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	direct := redisTarget{mode: "single", addrs: []string{srv.Addr}}
	c := startClusterWith(t, 3, direct, clusterOptions{redisFor: func(i int) redisTarget {
		if i == 0 {
			return redisTarget{mode: "single", addrs: []string{proxy.Addr}}
		}
		return direct
	}})
	const ch = "room:cut"
	w1 := c.fdial(c.nodes[1], "watch-1", "", ch, true)
	lost := c.lostClients(c.nodes[0], ch)
	waitFor(t, "every member in presence", func() bool { return presenceCount(t, c.nodes[1], ch) == 5 })
	inc := incarnationOf(t, lost[0].id)
	lease := c.prefix + "{n:" + inc + "}:lease"

	// At the moment each client sees its close, the node's lease must
	// still be in Redis: the node fenced itself before Redis expired it.
	var mu sync.Mutex
	leaseAtClose := map[string]string{}
	for _, cl := range lost {
		cl.mu.Lock()
		cl.onClose = func(websocket.StatusCode) {
			out, err := redistest.Do(srv.Addr, "EXISTS", lease)
			if err != nil {
				out = err.Error()
			}
			mu.Lock()
			leaseAtClose[cl.tag] = out
			mu.Unlock()
		}
		cl.mu.Unlock()
	}
	if redisDo(t, srv.Addr, "EXISTS", lease) != "1" {
		t.Fatalf("no lease %s in Redis", lease)
	}

	cut := time.Now()
	proxy.Cut()
	for _, cl := range lost {
		waitFor(t, cl.tag+" closed", func() bool { _, ok := cl.closed(); return ok })
		if code, _ := cl.closed(); code != 1012 {
			t.Errorf("%s closed with %d; want 1012", cl.tag, code)
		}
	}
	closedIn := time.Since(cut)
	if heal {
		proxy.Heal()
	}
	mu.Lock()
	for _, cl := range lost {
		if leaseAtClose[cl.tag] != "1" {
			t.Errorf("%s: lease in Redis when the client saw its close = %q; want 1 (the node fences before its lease lapses)", cl.tag, leaseAtClose[cl.tag])
		}
	}
	mu.Unlock()
	// Once its sockets are closed, the node is never ready again.
	if resp, err := http.Get("http://" + c.nodes[0].addr + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("/readyz of the fenced node = 200")
		}
	}
	for _, cl := range lost {
		waitFor(t, "$disconnect of "+cl.tag, func() bool { return len(c.backend.route("$disconnect", cl.id)) >= 1 })
	}
	t.Logf("cut off: sockets closed %v after the cut, every $disconnect %v after it", closedIn.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond))
	select {
	case <-c.nodes[0].done:
	case <-time.After(waitTimeout):
		t.Fatal("the fenced node did not exit")
	}
	t.Logf("cut off: the fenced node exited %v after the cut", time.Since(cut).Round(time.Millisecond))
	var exit *exec.ExitError
	if !errors.As(c.nodes[0].exitErr, &exit) || exit.ExitCode() != 1 {
		t.Errorf("fenced node exited with %v; want status 1", c.nodes[0].exitErr)
	}
	if log := c.nodes[0].log.String(); !strings.Contains(log, "lost the cluster lease") || !strings.Contains(log, "lost its lease") {
		t.Errorf("the fenced node's log does not say it lost its lease:\n%s", tailLines(log, 20))
	}

	for _, cl := range lost {
		waitFor(t, w1.tag+" told "+cl.tag+" left", func() bool { return w1.leaves(ch, cl.id) >= 1 })
	}
	c.assertReapedOnce(srv.Addr, inc, c.nodes[0], lost)
	for _, cl := range lost {
		if n := w1.leaves(ch, cl.id); n != 1 {
			t.Errorf("%s got %d leave notices for %s; want 1", w1.tag, n, cl.tag)
		}
	}
	c.assertListed(c.nodes[1], ch, lost, map[string][]*fclient{"alice": {lost[0], lost[2]}, "bob": {lost[3]}}, false)
}

// TestNodeDrainOnSIGTERM: SIGTERM on one node of three (point 8): its
// clients are closed with 1001, each connection's $disconnect is delivered
// once by that node, the node exits 0 and leaves the cluster (no key of
// its incarnation left in Redis, not in {nodes}:all), and the other nodes
// list none of its connections in presence, @users or @connections.
func TestNodeDrainOnSIGTERM(t *testing.T) {
	srv := redistest.StartServer(t)
	c := startCluster(t, 3, redisTarget{mode: "single", addrs: []string{srv.Addr}})
	const ch = "room:drain"
	w1 := c.fdial(c.nodes[1], "watch-1", "", ch, true)
	w2 := c.fdial(c.nodes[2], "watch-2", "", ch, true)
	lost := c.lostClients(c.nodes[0], ch)
	users := map[string][]*fclient{"alice": {lost[0], lost[2]}, "bob": {lost[3]}}
	waitFor(t, "every member in presence", func() bool { return presenceCount(t, c.nodes[1], ch) == 6 })
	c.assertListed(c.nodes[1], ch, lost, users, true)
	inc := incarnationOf(t, lost[0].id)

	c.terminate(c.nodes[0]) // fails the test unless it exits 0
	for _, cl := range lost {
		waitFor(t, cl.tag+" closed", func() bool { _, ok := cl.closed(); return ok })
		if code, _ := cl.closed(); code != websocket.StatusGoingAway {
			t.Errorf("%s closed with %d; want 1001", cl.tag, code)
		}
	}
	// The node has exited: whatever it delivered is in, and nothing is
	// left in Redis for a reaper.
	if k := redisDo(t, srv.Addr, "KEYS", c.prefix+"{n:"+inc+"}:*"); k != "" {
		t.Errorf("keys of the drained incarnation left in Redis: %q", k)
	}
	if all := redisDo(t, srv.Addr, "ZRANGE", c.prefix+"{nodes}:all", "0", "-1"); strings.Contains(all, inc) {
		t.Errorf("the drained incarnation is still in {nodes}:all: %q", all)
	}
	for _, cl := range lost {
		ds := c.backend.route("$disconnect", cl.id)
		if len(ds) != 1 {
			t.Errorf("%s: %d $disconnect; want 1: %+v", cl.tag, len(ds), ds)
			continue
		}
		if d := ds[0]; d.Node != "n0" || d.StatusCode != 1001 || d.RequestID != gateway.DisconnectRequestID(cl.id) {
			t.Errorf("%s: $disconnect from %q with %d %q, requestId %q; want from n0 with 1001 and %q",
				cl.tag, d.Node, d.StatusCode, d.Reason, d.RequestID, gateway.DisconnectRequestID(cl.id))
		}
	}
	for _, w := range []*fclient{w1, w2} {
		for _, cl := range lost {
			waitFor(t, w.tag+" told "+cl.tag+" left", func() bool { return w.leaves(ch, cl.id) >= 1 })
		}
	}
	for _, w := range []*fclient{w1, w2} {
		for _, cl := range lost {
			if n := w.leaves(ch, cl.id); n != 1 {
				t.Errorf("%s got %d leave notices for %s; want 1", w.tag, n, cl.tag)
			}
		}
	}
	if n := presenceCount(t, c.nodes[2], ch); n != 2 {
		t.Errorf("presence of %s on n2 counts %d members after the drain; want 2", ch, n)
	}
	c.assertListed(c.nodes[1], ch, lost, users, false)
	c.assertListed(c.nodes[2], ch, lost, users, false)
	if k := c.userKeys(srv.Addr, "alice") + c.userKeys(srv.Addr, "bob"); k != "" {
		t.Errorf("user index keys left in Redis for the drained node's users: %q", k)
	}
}
