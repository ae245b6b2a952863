package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/gateway"
)

// POST, GET and DELETE @connections/{id} on a node that does not hold the
// connection answer as the owner does; the owner's $disconnect carries the
// deterministic requestId.
func TestClusterConnectionCalls(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	n0, n1 := tc.nodes[0], tc.nodes[1]
	cx, x := tc.dial(n1, "")
	if inc, _ := cluster.IncarnationOf(x); inc != n1.inc {
		t.Fatalf("connection id %s does not carry its node's incarnation %s", x, n1.inc)
	}
	path := "/prod/@connections/" + x
	big := strings.Repeat("x", 2000) // over maxMessageBytes 1KiB
	tests := []struct {
		name, method, path, body string
		status                   int
		typ                      string
	}{
		{"post", http.MethodPost, path, "hello", 200, ""},
		{"post too large", http.MethodPost, path, big, 413, "PayloadTooLargeException"},
		{"get", http.MethodGet, path, "", 200, ""},
		{"post invalid id", http.MethodPost, "/prod/@connections/nope", "x", 0, ""},
		{"get unknown id on the owner", http.MethodGet, "/prod/@connections/" + cluster.NewID(n1.inc), "", 410, "GoneException"},
		{"get unknown incarnation", http.MethodGet, "/prod/@connections/" + cluster.NewID("0badf00d"), "", 410, "GoneException"},
		{"get id without incarnation shape", http.MethodGet, "/prod/@connections/" + url.PathEscape(event.NewID()), "", 0, ""},
		{"wrong stage", http.MethodGet, "/nostage/@connections/" + x, "", 403, "ForbiddenException"},
	}
	for _, tt := range tests {
		owner := tc.call(n1, tt.method, tt.path, tt.body)
		other := tc.call(n0, tt.method, tt.path, tt.body)
		if owner.status != other.status || owner.typ != other.typ || string(owner.body) != string(other.body) {
			t.Errorf("%s: owner answers %d %s %s, other node %d %s %s", tt.name,
				owner.status, owner.typ, owner.body, other.status, other.typ, other.body)
		}
		if tt.status != 0 && (other.status != tt.status || other.typ != tt.typ) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, other.status, other.typ, tt.status, tt.typ)
		}
	}
	// Both posts reached the client.
	for range 2 {
		if got := read(t, cx); got != "hello" {
			t.Fatalf("client got %q", got)
		}
	}

	if r := tc.call(n0, http.MethodDelete, path, ""); r.status != http.StatusNoContent {
		t.Fatalf("DELETE on another node: %d %s", r.status, r.body)
	}
	if code, reason := closedWith(t, cx); code != websocket.StatusNormalClosure || reason != "Connection Closed Normally" {
		t.Fatalf("closed with %d %q", code, reason)
	}
	waitFor(t, "the owner's $disconnect", func() bool { return len(tc.be.disconnects(x)) == 1 })
	d := tc.be.disconnects(x)[0]
	if d.node != "n1" || d.code != 1000 || d.requestID != gateway.DisconnectRequestID(x) {
		t.Fatalf("$disconnect %+v, want from n1, 1000, requestId %s", d, gateway.DisconnectRequestID(x))
	}
	for _, n := range []*testNode{n0, n1} {
		if r := tc.call(n, http.MethodGet, path, ""); r.status != http.StatusGone || r.typ != "GoneException" {
			t.Errorf("%s: GET after DELETE: %d %s", n.name, r.status, r.typ)
		}
	}
}

// A node that does not answer (partitioned, timed out) gives 503
// ServiceUnavailableException, never 410: the owner may be alive.
func TestClusterUnavailable(t *testing.T) {
	var addFails, ownerFails atomic.Bool
	tc := newTestCluster(t, 2, faulty(&addFails, &ownerFails))
	n0, n1 := tc.nodes[0], tc.nodes[1]
	cx, x := tc.dial(n1, "u")
	path := "/prod/@connections/" + x
	tc.fwd.partition(n1.inc, true)
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		if r := tc.call(n0, m, path, "x"); r.status != http.StatusServiceUnavailable || r.typ != "ServiceUnavailableException" {
			t.Errorf("%s via a node cut from the owner: %d %s %s", m, r.status, r.typ, r.body)
		}
	}
	for _, p := range []string{"/prod/@users/u", "/prod/@connections"} {
		if r := tc.call(n0, http.MethodGet, p, ""); r.status != http.StatusServiceUnavailable {
			t.Errorf("GET %s via a node cut from the owner: %d %s", p, r.status, r.body)
		}
	}
	if r := tc.call(n1, http.MethodGet, path, ""); r.status != http.StatusOK {
		t.Fatalf("the owner itself: %d", r.status)
	}
	tc.fwd.partition(n1.inc, false)
	// The shared state does not answer who the owner is: 503 too; the
	// owner itself still answers without it.
	ownerFails.Store(true)
	if r := tc.call(n0, http.MethodGet, path, ""); r.status != http.StatusServiceUnavailable || r.typ != "ServiceUnavailableException" {
		t.Errorf("GET while Registry.Owner fails: %d %s", r.status, r.typ)
	}
	if r := tc.call(n1, http.MethodGet, path, ""); r.status != http.StatusOK {
		t.Fatalf("the owner itself while Registry.Owner fails: %d", r.status)
	}
	ownerFails.Store(false)
	if r := tc.call(n0, http.MethodPost, path, "back"); r.status != http.StatusOK {
		t.Fatalf("after the partition: %d %s", r.status, r.body)
	}
	if got := read(t, cx); got != "back" {
		t.Fatalf("client got %q", got)
	}
}

type listed struct {
	Connections []struct {
		ConnectionID string `json:"connectionId"`
	} `json:"connections"`
	NextCursor string `json:"nextCursor"`
}

// GET @connections lists every node's connections, node by node in
// incarnation order, each once, whatever the page size and whichever node
// is asked; a node that left mid-walk is skipped.
func TestClusterListConnections(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	byNode := map[string][]string{}
	for i, count := range []int{2, 3, 1} {
		n := tc.nodes[i]
		for range count {
			_, id := tc.dial(n, "")
			byNode[n.inc] = append(byNode[n.inc], id)
		}
	}
	incs := make([]string, 0, len(byNode))
	for inc := range byNode {
		incs = append(incs, inc)
	}
	slices.Sort(incs)
	var want []string
	for _, inc := range incs {
		want = append(want, byNode[inc]...) // oldest first within a node
	}
	list := func(n *testNode, cursor string, limit int) (listed, mgmtResp) {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := tc.call(n, http.MethodGet, "/prod/@connections?"+q.Encode(), "")
		var l listed
		if r.status == http.StatusOK {
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
		}
		return l, r
	}
	for _, limit := range []int{1, 2, 4, 100} {
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			if page > 20 {
				t.Fatalf("limit %d: listing does not end", limit)
			}
			l, r := list(tc.nodes[page%3], cursor, limit)
			if r.status != http.StatusOK {
				t.Fatalf("limit %d page %d: %d %s", limit, page, r.status, r.body)
			}
			if len(l.Connections) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(l.Connections))
			}
			for _, c := range l.Connections {
				got = append(got, c.ConnectionID)
			}
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("limit %d: listed\n%v\nwant\n%v", limit, got, want)
		}
	}
	for _, bad := range []string{"garbage", "zzzzzzzz.x", incs[0] + ".!!", "." + incs[0]} {
		if _, r := list(tc.nodes[0], bad, 10); r.status != http.StatusBadRequest || r.typ != "BadRequestException" {
			t.Errorf("cursor %q: %d %s", bad, r.status, r.typ)
		}
	}
	// A walk whose node dies in the middle of its connections goes on
	// with the next node.
	var seen []string
	cursor := ""
	for {
		l, r := list(tc.nodes[0], cursor, 1)
		if r.status != http.StatusOK || l.NextCursor == "" {
			t.Fatalf("no cursor inside a node: %d %s", r.status, r.body)
		}
		seen = append(seen, l.Connections[0].ConnectionID)
		cursor = l.NextCursor
		if !strings.HasSuffix(cursor, ".") {
			break
		}
	}
	deadInc, _, _ := strings.Cut(cursor, ".")
	var caller *testNode
	for _, n := range tc.nodes {
		if n.inc == deadInc {
			tc.be.kill(n.name)
			n.mn.Kill()
			tc.fwd.Unregister(n.inc)
		} else {
			caller = n
		}
	}
	var rest []string
	for cursor != "" {
		l, r := list(caller, cursor, 100)
		if r.status != http.StatusOK {
			t.Fatalf("after the node died: %d %s", r.status, r.body)
		}
		for _, c := range l.Connections {
			rest = append(rest, c.ConnectionID)
		}
		cursor = l.NextCursor
	}
	var wantRest []string
	for _, inc := range incs {
		if inc > deadInc {
			wantRest = append(wantRest, byNode[inc]...)
		}
	}
	if fmt.Sprint(rest) != fmt.Sprint(wantRest) {
		t.Fatalf("after node %s died mid-walk (seen %v): listed %v, want %v", deadInc, seen, rest, wantRest)
	}
}

// @users/{user} reaches, lists and disconnects the user's connections on
// every node.
func TestClusterUsers(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	var alice []*websocket.Conn
	var aliceIDs []string
	for _, i := range []int{0, 1, 1, 2} {
		c, id := tc.dial(tc.nodes[i], "alice")
		alice = append(alice, c)
		aliceIDs = append(aliceIDs, id)
	}
	bob, _ := tc.dial(tc.nodes[2], "bob")

	var u struct {
		User        string `json:"user"`
		Connections []struct {
			ConnectionID string `json:"connectionId"`
		} `json:"connections"`
	}
	r := tc.call(tc.nodes[2], http.MethodGet, "/prod/@users/alice", "")
	if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil {
		t.Fatalf("GET @users/alice: %d %s", r.status, r.body)
	}
	var got []string
	for _, c := range u.Connections {
		got = append(got, c.ConnectionID)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(aliceIDs))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("GET @users/alice lists %v, want %v", got, want)
	}

	r = tc.call(tc.nodes[0], http.MethodPost, "/prod/@users/alice", "hi alice")
	if r.status != http.StatusOK || string(r.body) != `{"recipients":4}` {
		t.Fatalf("POST @users/alice: %d %s", r.status, r.body)
	}
	for _, c := range alice {
		if m := read(t, c); m != "hi alice" {
			t.Fatalf("alice got %q", m)
		}
	}

	r = tc.call(tc.nodes[1], http.MethodDelete, "/prod/@users/alice", "")
	if r.status != http.StatusOK || string(r.body) != `{"disconnected":4}` {
		t.Fatalf("DELETE @users/alice: %d %s", r.status, r.body)
	}
	for _, c := range alice {
		if code, _ := closedWith(t, c); code != websocket.StatusNormalClosure {
			t.Fatalf("alice closed with %d", code)
		}
	}
	waitFor(t, "alice's $disconnects", func() bool {
		for _, id := range aliceIDs {
			if len(tc.be.disconnects(id)) != 1 {
				return false
			}
		}
		return true
	})
	waitFor(t, "alice gone from the user index", func() bool {
		r := tc.call(tc.nodes[0], http.MethodGet, "/prod/@users/alice", "")
		return r.status == http.StatusOK && json.Unmarshal(r.body, &u) == nil && len(u.Connections) == 0
	})
	r = tc.call(tc.nodes[0], http.MethodPost, "/prod/@users/bob", "hi bob")
	if r.status != http.StatusOK || string(r.body) != `{"recipients":1}` {
		t.Fatalf("POST @users/bob: %d %s", r.status, r.body)
	}
	if m := read(t, bob); m != "hi bob" {
		t.Fatalf("bob got %q", m)
	}
	if r := tc.call(tc.nodes[0], http.MethodPost, "/prod/@users/bob", strings.Repeat("x", 2000)); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large a post to a user: %d", r.status)
	}
}

// A killed node's connections answer 410 on every other node, at once
// when its process refuses and in any case once its lease lapsed; a
// survivor delivers each $disconnect once, with 1006 "Switchboard node
// lost" and the deterministic requestId, and takes them out of @users.
func TestClusterNodeLoss(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	n0, n1, n2 := tc.nodes[0], tc.nodes[1], tc.nodes[2]
	_, a := tc.dial(n2, "alice")
	_, b := tc.dial(n2, "")
	_, c := tc.dial(n0, "alice")

	// kill -9 of n2: no more lease renewals, nothing it sends arrives, and
	// dials to it are refused.
	tc.be.kill("n2")
	n2.mn.Kill()
	tc.fwd.Unregister(n2.inc)
	if r := tc.call(n0, http.MethodPost, "/prod/@connections/"+a, "x"); r.status != http.StatusGone || r.typ != "GoneException" {
		t.Fatalf("POST to a killed node's connection (refused): %d %s", r.status, r.typ)
	}
	var u struct {
		Connections []struct {
			ConnectionID string `json:"connectionId"`
		} `json:"connections"`
	}
	r := tc.call(n1, http.MethodGet, "/prod/@users/alice", "")
	if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil || len(u.Connections) != 1 || u.Connections[0].ConnectionID != c {
		t.Fatalf("@users/alice with a dead node: %d %s, want only %s", r.status, r.body, c)
	}

	// Once the lease lapsed the Registry alone says gone, even if a dial
	// would still reach something.
	tc.fwd.Register(n2.mn.Registry().Self(), n2.gw.Local())
	tc.clk.Add(testLease)
	tc.b.Wake()
	if r := tc.call(n1, http.MethodGet, "/prod/@connections/"+b, ""); r.status != http.StatusGone {
		t.Fatalf("GET of a lapsed node's connection: %d %s", r.status, r.body)
	}
	tc.fwd.Unregister(n2.inc)

	waitFor(t, "a survivor to reap n2", func() bool { return tc.logs.has("lost node reaped " + n2.inc) })
	for _, id := range []string{a, b} {
		ds := tc.be.disconnects(id)
		if len(ds) != 1 {
			t.Fatalf("%s: %d $disconnects, want 1: %+v", id, len(ds), ds)
		}
		d := ds[0]
		if d.node == "n2" || d.code != 1006 || d.reason != "Switchboard node lost" || d.requestID != gateway.DisconnectRequestID(id) {
			t.Fatalf("%s: $disconnect %+v, want from a survivor, 1006 \"Switchboard node lost\", requestId %s", id, d, gateway.DisconnectRequestID(id))
		}
	}
	if len(tc.be.disconnects(c)) != 0 {
		t.Fatal("a live node's connection got a $disconnect")
	}
	for _, n := range []*testNode{n0, n1} {
		if ids, err := n.mn.Presence().UserConnections(context.Background(), "prod", "alice"); err != nil || fmt.Sprint(ids) != fmt.Sprint([]string{c}) {
			t.Fatalf("user index after the reap: %v %v, want [%s]", ids, err, c)
		}
	}
}

// A node that lost its lease closes its sockets with 1012 and sends no
// $disconnect: a survivor does, once. It refuses new connections and is
// not ready.
func TestClusterLeaseLost(t *testing.T) {
	tc := newTestCluster(t, 2, nil)
	n0, n1 := tc.nodes[0], tc.nodes[1]
	ca, a := tc.dial(n1, "alice")
	n1.mn.Cut()
	tc.clk.Add(testLease)
	tc.b.Wake()
	if code, reason := closedWith(t, ca); code != 1012 || reason != "node lost its cluster lease" {
		t.Fatalf("closed with %d %q, want 1012", code, reason)
	}
	if !n1.gw.LeaseLost() || n0.gw.LeaseLost() {
		t.Fatal("LeaseLost wrong")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n1.srv.URL, "http")+"/prod", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake on a node without lease: %v %v", resp, err)
	}
	waitFor(t, "n0 to reap n1", func() bool { return tc.logs.has("lost node reaped " + n1.inc) })
	ds := tc.be.disconnects(a)
	if len(ds) != 1 || ds[0].node != "n0" || ds[0].code != 1006 || ds[0].requestID != gateway.DisconnectRequestID(a) {
		t.Fatalf("$disconnects of the lost node's connection: %+v, want one from n0 with 1006", ds)
	}
}

// faultyRegistry makes Registry.Add (addFails) or Registry.Owner
// (ownerFails) fail with cluster.ErrUnavailable while set.
type faultyRegistry struct {
	cluster.Registry
	addFails, ownerFails *atomic.Bool
}

func (f faultyRegistry) Add(ctx context.Context, r cluster.Record) error {
	if f.addFails.Load() {
		return fmt.Errorf("%w: injected", cluster.ErrUnavailable)
	}
	return f.Registry.Add(ctx, r)
}

func (f faultyRegistry) Owner(ctx context.Context, id string) (cluster.Node, error) {
	if f.ownerFails.Load() {
		return cluster.Node{}, fmt.Errorf("%w: injected", cluster.ErrUnavailable)
	}
	return f.Registry.Owner(ctx, id)
}

func faulty(addFails, ownerFails *atomic.Bool) registryFunc {
	return func(r cluster.Registry) cluster.Registry { return faultyRegistry{r, addFails, ownerFails} }
}

// A connection that cannot be recorded does not open: 503, and its
// $connect is ended by a $disconnect (1011 "cluster unavailable").
func TestClusterRecordFails(t *testing.T) {
	var on, never atomic.Bool
	tc := newTestCluster(t, 1, faulty(&on, &never))
	on.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(tc.nodes[0].srv.URL, "http")+"/prod?tag=refused&user=alice", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake while the registry fails: %v %v", resp, err)
	}
	id := tc.be.id("refused")
	waitFor(t, "the $disconnect of the refused connection", func() bool { return len(tc.be.disconnects(id)) == 1 })
	d := tc.be.disconnects(id)[0]
	if d.code != 1011 || d.reason != "cluster unavailable" || d.requestID != gateway.DisconnectRequestID(id) {
		t.Fatalf("$disconnect %+v", d)
	}
	if ids, _ := tc.nodes[0].mn.Presence().UserConnections(ctx, "prod", "alice"); len(ids) != 0 {
		t.Fatalf("a refused connection stays in the user index: %v", ids)
	}
	on.Store(false)
	tc.dial(tc.nodes[0], "alice")
}

// A drained node closes its connections with 1001, delivers their
// $disconnects once (deterministic requestIds), removes their records and
// leaves the cluster: the other nodes never show its connections again and
// nobody reaps it.
func TestClusterDrain(t *testing.T) {
	tc := newTestCluster(t, 2, nil)
	n0, n1 := tc.nodes[0], tc.nodes[1]
	_, keep := tc.dial(n0, "alice")
	var drained []*websocket.Conn
	var ids []string
	for range 3 {
		c, id := tc.dial(n1, "alice")
		drained = append(drained, c)
		ids = append(ids, id)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tc.shutdown(n1)
	}()
	for _, c := range drained {
		if code, _ := closedWith(t, c); code != websocket.StatusGoingAway {
			t.Errorf("drained connection closed with %d, want 1001", code)
		}
	}
	<-done
	for _, id := range ids {
		ds := tc.be.disconnects(id)
		if len(ds) != 1 || ds[0].node != "n1" || ds[0].code != 1001 || ds[0].requestID != gateway.DisconnectRequestID(id) {
			t.Fatalf("%s: $disconnects %+v, want one from n1 with 1001", id, ds)
		}
	}
	nodes, err := n0.mn.Registry().Nodes(context.Background())
	if err != nil || len(nodes) != 1 || nodes[0].Incarnation != n0.inc {
		t.Fatalf("live nodes after the drain: %v %v, want only n0", nodes, err)
	}
	r := tc.call(n0, http.MethodGet, "/prod/@connections", "")
	var l listed
	if r.status != http.StatusOK || json.Unmarshal(r.body, &l) != nil || len(l.Connections) != 1 || l.Connections[0].ConnectionID != keep {
		t.Fatalf("GET @connections after the drain: %d %s, want only %s", r.status, r.body, keep)
	}
	if r := tc.call(n0, http.MethodPost, "/prod/@connections/"+ids[0], "x"); r.status != http.StatusGone {
		t.Fatalf("POST to a drained node's connection: %d", r.status)
	}
	if got, _ := n0.mn.Presence().UserConnections(context.Background(), "prod", "alice"); fmt.Sprint(got) != fmt.Sprint([]string{keep}) {
		t.Fatalf("user index after the drain: %v", got)
	}
	if !tc.logs.has("left the cluster " + n1.inc) {
		t.Fatal("the drained node did not leave the cluster")
	}
}

// gateway.Local serves only this node's connections: a call for another
// node's connection is 410 there, never forwarded again.
func TestClusterLocalNeverForwards(t *testing.T) {
	tc := newTestCluster(t, 2, nil)
	n0, n1 := tc.nodes[0], tc.nodes[1]
	cx, x := tc.dial(n1, "alice")
	ctx := context.Background()
	if err := n0.gw.Local().Post(ctx, "prod", x, []byte("x")); !errors.Is(err, gateway.ErrGone) {
		t.Fatalf("Local.Post of another node's connection: %v, want ErrGone", err)
	}
	if _, err := n0.gw.Local().Get(ctx, "prod", x); !errors.Is(err, gateway.ErrGone) {
		t.Fatalf("Local.Get: %v", err)
	}
	if err := n0.gw.Local().Delete(ctx, "prod", x); !errors.Is(err, gateway.ErrGone) {
		t.Fatalf("Local.Delete: %v", err)
	}
	if page, err := n0.gw.Local().List(ctx, "prod", "", 10); err != nil || len(page.Connections) != 0 {
		t.Fatalf("Local.List of a node without connections: %+v %v", page, err)
	}
	if res, err := n0.gw.Local().User(ctx, "prod", "alice", cluster.UserList, nil); err != nil || res.Count != 0 {
		t.Fatalf("Local.User on a node without alice: %+v %v", res, err)
	}
	if res, err := n1.gw.Local().User(ctx, "prod", "alice", cluster.UserPost, []byte("own")); err != nil || res.Count != 1 {
		t.Fatalf("Local.User post on alice's node: %+v %v", res, err)
	}
	if m := read(t, cx); m != "own" {
		t.Fatalf("client got %q", m)
	}
	if err := n1.gw.Local().Post(ctx, "prod", x, []byte("own2")); err != nil {
		t.Fatalf("Local.Post on the owner: %v", err)
	}
	if m := read(t, cx); m != "own2" {
		t.Fatalf("client got %q", m)
	}
}

// Channels lists the occupied channels of every node, by prefix, with
// their cluster-wide member counts: a channel with members on one node
// only is listed by the others, and a channel its last member left is
// not listed.
func TestClusterChannels(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	join := func(n *testNode, channel, id string) {
		t.Helper()
		if r := tc.call(n, http.MethodPut, "/prod/@channels/"+channel+"/connections/"+id, ""); r.status/100 != 2 {
			t.Fatalf("join %s: %d %s", channel, r.status, r.body)
		}
	}
	_, a := tc.dial(tc.nodes[0], "")
	_, b := tc.dial(tc.nodes[1], "")
	_, c := tc.dial(tc.nodes[1], "")
	join(tc.nodes[0], "room-1", a)
	join(tc.nodes[0], "room-1", b) // forwarded to node 1
	join(tc.nodes[2], "room-2", c)
	join(tc.nodes[2], "lobby", c)
	join(tc.nodes[2], "room-3", c)
	if r := tc.call(tc.nodes[0], http.MethodDelete, "/prod/@channels/room-3/connections/"+c, ""); r.status/100 != 2 {
		t.Fatalf("leave room-3: %d %s", r.status, r.body)
	}
	want := []gateway.ChannelCount{{Channel: "room-1", Members: 2}, {Channel: "room-2", Members: 1}}
	for _, n := range tc.nodes { // node 2 has no connection at all
		got, err := n.gw.Channels(context.Background(), "prod", "room-")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("node %s: Channels(room-) = %+v, want %+v", n.name, got, want)
		}
	}
	if _, err := tc.nodes[0].gw.Channels(context.Background(), "nope", ""); !errors.Is(err, gateway.ErrNoSuchStage) {
		t.Errorf("unknown stage: %v", err)
	}
}
