package redcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
	"github.com/switchboardhq/switchboard/internal/history"
	redishistory "github.com/switchboardhq/switchboard/internal/history/redis"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// A short lease, so that Expire waits seconds.
const testLease, testRenewal = 2 * time.Second, 600 * time.Millisecond

// newClient connects to addrs (one server, or a cluster's seeds: rueidis
// detects which) and closes the client in t.Cleanup.
func newClient(t testing.TB, addrs []string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

// newNodes makes n joined Nodes on addrs, each with its own client.
func newNodes(t testing.TB, addrs []string, n int) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	for i := range nodes {
		node, err := New(Options{Client: newClient(t, addrs), Lease: testLease, Renewal: testRenewal})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close)
		if err := node.Registry().Join(context.Background()); err != nil {
			t.Fatal(err)
		}
		nodes[i] = node
	}
	return nodes
}

// factory is the clustertest factory on addrs.
func factory(addrs []string) clustertest.Factory {
	return func(t *testing.T, n int) clustertest.Cluster {
		nodes := newNodes(t, addrs, n)
		c := clustertest.Cluster{
			Kill: func(i int) { nodes[i].Kill() },
			// Redis's own clock lapses the leases: wait for it.
			Expire: func(*testing.T) { time.Sleep(testLease + testRenewal) },
		}
		for _, node := range nodes {
			c.Nodes = append(c.Nodes, clustertest.Seams{Registry: node.Registry(), Bus: node.Bus(), Presence: node.Presence()})
		}
		return c
	}
}

func TestSingle(t *testing.T) {
	srv := redistest.StartServer(t)
	addrs := []string{srv.Addr}
	t.Run("Bus", func(t *testing.T) { clustertest.RunBus(t, factory(addrs)) })
	t.Run("Presence", func(t *testing.T) { clustertest.RunPresence(t, factory(addrs)) })
	t.Run("Reset", func(t *testing.T) { testReset(t, addrs, []*redistest.Server{srv}) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, addrs, srv) })
}

func TestCluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	addrs := cl.Addrs()
	t.Run("Bus", func(t *testing.T) { clustertest.RunBus(t, factory(addrs)) })
	t.Run("Presence", func(t *testing.T) { clustertest.RunPresence(t, factory(addrs)) })
	t.Run("Reset", func(t *testing.T) { testReset(t, addrs, cl.Nodes) })
}

func unique(what string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "redcluster-test:" + hex.EncodeToString(b[:]) + ":" + what
}

// waitFor polls cond until it holds, failing the test after 10 s.
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

// log records what a node's handler got, per channel.
type log struct {
	mu  sync.Mutex
	got map[string][]cluster.Message
}

func newLog() *log { return &log{got: map[string][]cluster.Message{}} }

func (l *log) handle(_, channel string, m cluster.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got[channel] = append(l.got[channel], m)
}

func (l *log) of(channel string) []cluster.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cluster.Message(nil), l.got[channel]...)
}

// lastOffset is the offset of channel's last publication, 0 when none.
func (l *log) lastOffset(channel string) uint64 {
	ms := l.of(channel)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind == cluster.Publication {
			return ms[i].Offset
		}
	}
	return 0
}

func (l *log) count(channel string, k cluster.Kind) int {
	n := 0
	for _, m := range l.of(channel) {
		if m.Kind == k {
			n++
		}
	}
	return n
}

var long = &history.StreamOptions{Size: 1000, TTL: time.Minute, MetaTTL: time.Hour}

// publishRetrying publishes until Redis answers: a publication whose
// connection was just killed fails with ErrUnavailable (and may or may not
// have been ordered; the offsets tell).
func publishRetrying(t *testing.T, b cluster.Bus, api, channel, data string, o *history.StreamOptions) cluster.Published {
	t.Helper()
	return publishMessage(t, b, api, channel, cluster.Message{Kind: cluster.Publication, Data: []byte(data)}, o)
}

func publishMessage(t *testing.T, b cluster.Bus, api, channel string, m cluster.Message, o *history.StreamOptions) cluster.Published {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := b.Publish(t.Context(), api, channel, m, o)
		if err == nil {
			return p
		}
		if !errors.Is(err, cluster.ErrUnavailable) {
			t.Fatalf("Publish: %v; want success or ErrUnavailable", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish kept failing: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // a publisher retrying, not an ordering
	}
}

// testReset: the pub/sub connections are killed on the server and cannot
// subscribe again for a while (an ACL denies SSUBSCRIBE), publications go
// on meanwhile; once subscribing works again each node's handler gets a
// Reset per channel, then the missed publications of the channel with
// history, filled from its stream: consecutive offsets, no duplicate.
func testReset(t *testing.T, addrs []string, servers []*redistest.Server) {
	nodes := newNodes(t, addrs, 2)
	logs := []*log{newLog(), newLog()}
	api, ch, plain := unique("api"), unique("ch"), unique("plain")
	for i, n := range nodes {
		n.Bus().Handle(logs[i].handle)
		for _, c := range []string{ch, plain} {
			if err := n.Bus().Subscribe(t.Context(), api, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k := range 3 {
		publishRetrying(t, nodes[0].Bus(), api, ch, fmt.Sprint("before", k), long)
	}
	publishRetrying(t, nodes[0].Bus(), api, plain, "before", nil)
	for i := range nodes {
		waitFor(t, "the first deliveries", func() bool { return logs[i].lastOffset(ch) == 3 && len(logs[i].of(plain)) == 1 })
	}

	acl := func(rule string) {
		for _, s := range servers {
			if _, err := s.Do("ACL", "SETUSER", "default", rule); err != nil {
				t.Fatalf("ACL SETUSER default %s: %v", rule, err)
			}
		}
	}
	acl("-ssubscribe")
	t.Cleanup(func() { acl("+ssubscribe") })
	for _, s := range servers {
		if _, err := s.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
			t.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
		}
	}
	var top uint64
	excluded := nodes[0].Registry().NewID()
	for k := range 5 {
		m := cluster.Message{Kind: cluster.Publication, Data: []byte(fmt.Sprint("meanwhile", k))}
		if k == 2 {
			m.Exclude = excluded
		}
		p := publishMessage(t, nodes[1].Bus(), api, ch, m, long)
		top = p.Position.Offset
	}
	publishRetrying(t, nodes[1].Bus(), api, plain, "lost", nil)
	acl("+ssubscribe")

	for i, n := range nodes {
		waitFor(t, fmt.Sprintf("node %d to fill up to %d", i, top), func() bool { return logs[i].lastOffset(ch) == top })
		waitFor(t, fmt.Sprintf("node %d's Reset of the channel without history", i), func() bool { return logs[i].count(plain, cluster.Reset) > 0 })
		ms := logs[i].of(ch)
		var want uint64 = 1
		resetAt := -1
		for j, m := range ms {
			switch m.Kind {
			case cluster.Reset:
				if resetAt < 0 {
					resetAt = j
				}
			case cluster.Publication:
				if m.Offset != want {
					t.Fatalf("node %d: delivery %d has offset %d; want %d (consecutive, no duplicate): %+v", i, j, m.Offset, want, ms)
				}
				want++
			default:
				t.Errorf("node %d: unexpected %v", i, m.Kind)
			}
		}
		if resetAt != 3 {
			t.Errorf("node %d: first Reset at delivery %d; want 3 (after the 3 delivered before the kill)", i, resetAt)
		}
		var excl []string
		for _, m := range ms {
			if m.Exclude != "" {
				excl = append(excl, string(m.Data)+" "+m.Exclude)
			}
		}
		if len(excl) != 1 || excl[0] != "meanwhile2 "+excluded {
			t.Errorf("node %d: filled publications with an exclude: %v; want meanwhile2 excluding %s", i, excl, excluded)
		}
		if got := n.bus.filled.Load(); got < 5 {
			t.Errorf("node %d filled %d publications from the stream; want at least the 5 published while it could not subscribe", i, got)
		}
		for _, m := range logs[i].of(plain) {
			if string(m.Data) == "lost" {
				t.Errorf("node %d got a publication without history published while it was not subscribed", i)
			}
		}
	}
	// Delivery goes on after the reset.
	p := publishRetrying(t, nodes[0].Bus(), api, ch, "after", long)
	publishRetrying(t, nodes[0].Bus(), api, plain, "after", nil)
	for i := range nodes {
		waitFor(t, "deliveries after the reset", func() bool {
			ps := logs[i].of(plain)
			return logs[i].lastOffset(ch) == p.Position.Offset && len(ps) > 0 && string(ps[len(ps)-1].Data) == "after"
		})
	}
}

// testErrors: a Redis that does not answer makes calls fail with
// ErrUnavailable within the command timeout, never succeed silently.
func testErrors(t *testing.T, addrs []string, srv *redistest.Server) {
	nodes := newNodes(t, addrs, 1)
	b := nodes[0].Bus()
	api, ch := unique("api"), unique("ch")
	if err := b.Subscribe(t.Context(), api, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(t.Context(), api, ch, cluster.Message{}, nil); err == nil || errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("Publish of kind 0: %v; want a plain error", err)
	}
	// CLIENT PAUSE holds every client's commands on the server.
	if _, err := srv.Do("CLIENT", "PAUSE", "1500", "ALL"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = srv.Do("CLIENT", "UNPAUSE") })
	short, err := New(Options{Client: nodes[0].o.Client, CommandTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = short.Bus().Publish(t.Context(), api, ch, cluster.Message{Kind: cluster.Publication, Data: []byte("x")}, long)
	if !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("Publish while Redis does not answer: %v; want ErrUnavailable", err)
	}
	if _, err := short.Presence().Join(t.Context(), api, ch, cluster.Member{ID: short.Registry().NewID()}, true); !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("Join while Redis does not answer: %v; want ErrUnavailable", err)
	}
	if err := short.Bus().Subscribe(t.Context(), api, unique("other")); !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("Subscribe while Redis does not answer: %v; want ErrUnavailable", err)
	}
	if _, err := srv.Do("CLIENT", "UNPAUSE"); err != nil {
		t.Fatal(err)
	}
	if _, err := short.Bus().Publish(t.Context(), api, ch, cluster.Message{Kind: cluster.Publication}, long); err != nil {
		t.Errorf("Publish after the pause: %v", err)
	}
}

func TestIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{rueidis.ErrClosing, true},
		{errors.New("dial tcp: connection refused"), true},
	} {
		if got := isUnavailable(tc.err); got != tc.want {
			t.Errorf("isUnavailable(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
	if isUnavailable(nil) {
		t.Error("isUnavailable(nil)")
	}
}

// TestProbe: a Redis that stops answering without closing the connection
// (SIGSTOP: the kernel keeps the TCP connection up) is noticed by the
// liveness probe — rueidis's PING on the idle pub/sub connection, with
// ConnWriteTimeout as its deadline — and once it answers again the node
// re-subscribes, delivers a Reset and fills what it missed.
func TestProbe(t *testing.T) {
	srv := redistest.StartServer(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: []string{srv.Addr}, DisableCache: true,
		Dialer:           net.Dialer{KeepAlive: 100 * time.Millisecond},
		ConnWriteTimeout: 300 * time.Millisecond,
		// rueidis would otherwise retry the subscription inside Receive,
		// where the test cannot see the break; the Bus's own loop
		// re-subscribes either way.
		DisableRetry: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	node, err := New(Options{Client: c, CommandTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	l := newLog()
	node.Bus().Handle(l.handle)
	api, ch := unique("api"), unique("ch")
	if err := node.Bus().Subscribe(t.Context(), api, ch); err != nil {
		t.Fatal(err)
	}
	publishRetrying(t, node.Bus(), api, ch, "1", long)
	waitFor(t, "the first delivery", func() bool { return l.lastOffset(ch) == 1 })
	// Another client publishes while this node's connection is broken.
	other := newNodes(t, []string{srv.Addr}, 1)[0]

	if err := syscall.Kill(srv.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(srv.PID(), syscall.SIGCONT) })
	waitFor(t, "the probe to break the silent connection", func() bool { return node.bus.broken.Load() > 0 })
	if err := syscall.Kill(srv.PID(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	p := publishRetrying(t, other.Bus(), api, ch, "2", long)
	waitFor(t, "the Reset and the fill", func() bool { return l.count(ch, cluster.Reset) > 0 && l.lastOffset(ch) == p.Position.Offset })
	var offs []uint64
	for _, m := range l.of(ch) {
		if m.Kind == cluster.Publication {
			offs = append(offs, m.Offset)
		}
	}
	if len(offs) != int(p.Position.Offset) {
		t.Errorf("offsets %v; want 1..%d once each", offs, p.Position.Offset)
	}
}

// TestGapAndDuplicate: a delivery whose offset skips some is preceded by
// the missing ones, read from the stream; a delivery already handled is
// dropped. The gap is made by appending through the history Store (same
// stream, no SPUBLISH), which also shows that the Store's prefix and the
// Bus's keys address one stream.
func TestGapAndDuplicate(t *testing.T) {
	srv := redistest.StartServer(t)
	addrs := []string{srv.Addr}
	nodes := newNodes(t, addrs, 1)
	n := nodes[0]
	l := newLog()
	n.Bus().Handle(l.handle)
	api, ch := unique("api"), unique("ch")
	if err := n.Bus().Subscribe(t.Context(), api, ch); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		publishRetrying(t, n.Bus(), api, ch, fmt.Sprint("bus", k), long)
	}
	waitFor(t, "3 deliveries", func() bool { return l.lastOffset(ch) == 3 })
	store, err := redishistory.New(redishistory.Options{Client: newClient(t, addrs), Prefix: n.keys.historyPrefix(api)})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 2 {
		// The second is named: a filled publication keeps its name and user.
		p := history.Publication{Data: []byte(fmt.Sprint("store", k))}
		if k == 1 {
			p.Name, p.User = "ev", "u1"
		}
		if _, err := store.Append(t.Context(), ch, p, *long); err != nil {
			t.Fatal(err)
		}
	}
	p := publishRetrying(t, n.Bus(), api, ch, "bus-after", long)
	if p.Position.Offset != 6 {
		t.Fatalf("publication after 2 Store appends at offset %d; want 6", p.Position.Offset)
	}
	waitFor(t, "offset 6", func() bool { return l.lastOffset(ch) == 6 })
	// A copy of offset 5 arriving late is dropped.
	n.bus.mu.Lock()
	s := n.bus.subs[n.bus.shard(api, ch)]
	n.bus.mu.Unlock()
	s.push(item{msg: string(encodeEnvelope(cluster.Message{Kind: cluster.Publication, Epoch: p.Position.Epoch, Offset: 5, Data: []byte("dup")}))})
	s.push(item{msg: "not an envelope"})
	publishRetrying(t, n.Bus(), api, ch, "last", long)
	waitFor(t, "offset 7", func() bool { return l.lastOffset(ch) == 7 })
	want := []string{"bus0", "bus1", "bus2", "store0", "store1", "bus-after", "last"}
	got := l.of(ch)
	if len(got) != len(want) {
		t.Fatalf("got %d deliveries %+v; want %v", len(got), got, want)
	}
	for i, m := range got {
		if m.Kind != cluster.Publication || m.Offset != uint64(i+1) || string(m.Data) != want[i] || m.Epoch != p.Position.Epoch {
			t.Errorf("delivery %d: %+v; want %q at offset %d", i, m, want[i], i+1)
		}
		if named := i == 4; (m.Name == "ev" && m.User == "u1") != named || (!named && (m.Name != "" || m.User != "")) {
			t.Errorf("delivery %d (%s): name %q user %q; want ev and u1 on store1 only", i, m.Data, m.Name, m.User)
		}
	}
}

// TestRollback: after a re-subscription a node finds the stream's top
// below the last offset it delivered in the same epoch (as when a failover
// loses acknowledged appends the replica had not received: simulated here
// by deleting the last two entries and lowering the top). The stream gets
// a new epoch, once, whichever node sees it first; publications go on
// after the top in the new epoch, and no node delivers an old offset again.
func TestRollback(t *testing.T) {
	srv := redistest.StartServer(t)
	addrs := []string{srv.Addr}
	nodes := newNodes(t, addrs, 2)
	logs := []*log{newLog(), newLog()}
	api, ch := unique("api"), unique("ch")
	for i, n := range nodes {
		n.Bus().Handle(logs[i].handle)
		if err := n.Bus().Subscribe(t.Context(), api, ch); err != nil {
			t.Fatal(err)
		}
	}
	var first cluster.Published
	for k := range 5 {
		first = publishRetrying(t, nodes[0].Bus(), api, ch, fmt.Sprint("p", k+1), long)
	}
	for i := range nodes {
		waitFor(t, "5 deliveries", func() bool { return logs[i].lastOffset(ch) == 5 })
	}
	base := nodes[0].keys.channelBase(api, ch)
	for _, cmd := range [][]string{{"XDEL", base + "s", "4-0", "5-0"}, {"XSETID", base + "s", "3-0"}, {"HSET", base + "m", "s", "3"}} {
		if _, err := srv.Do(cmd...); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	if _, err := srv.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
		t.Fatal(err)
	}
	var epoch string
	waitFor(t, "a new epoch", func() bool {
		e, err := srv.Do("HGET", base+"m", "e")
		epoch = e
		return err == nil && e != first.Position.Epoch
	})
	p := publishRetrying(t, nodes[1].Bus(), api, ch, "p4-new", long)
	if p.Position.Epoch != epoch || p.Position.Offset != 4 {
		t.Fatalf("publication after the rollback at %+v; want offset 4 in the new epoch %s", p.Position, epoch)
	}
	for i := range nodes {
		waitFor(t, "the publication in the new epoch", func() bool {
			ms := logs[i].of(ch)
			return len(ms) > 0 && ms[len(ms)-1].Epoch == epoch
		})
		var got []string
		for _, m := range logs[i].of(ch) {
			if m.Kind == cluster.Publication {
				got = append(got, fmt.Sprintf("%s@%d", m.Data, m.Offset))
			}
		}
		want := []string{"p1@1", "p2@2", "p3@3", "p4@4", "p5@5", "p4-new@4"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("node %d delivered %v; want %v", i, got, want)
		}
		if logs[i].count(ch, cluster.Reset) == 0 {
			t.Errorf("node %d: no Reset", i)
		}
	}
	// The history Store sees the new epoch too.
	store, err := redishistory.New(redishistory.Options{Client: newClient(t, addrs), Prefix: nodes[0].keys.historyPrefix(api)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Read(t.Context(), ch, 0, 10, *long)
	if err != nil {
		t.Fatal(err)
	}
	if r.Top != *p.Position {
		t.Errorf("Store top %+v; want %+v", r.Top, *p.Position)
	}
}

// TestUnsubscribeServerSide: Unsubscribe ends the subscription on the
// server too (PUBSUB SHARDNUMSUB), not only locally.
func TestUnsubscribeServerSide(t *testing.T) {
	srv := redistest.StartServer(t)
	n := newNodes(t, []string{srv.Addr}, 1)[0]
	api := unique("api")
	numsub := func(shard string) string {
		out, err := srv.Do("PUBSUB", "SHARDNUMSUB", shard)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var shards []string
	for k := range 20 {
		ch := unique(fmt.Sprint("ch", k))
		if err := n.Bus().Subscribe(t.Context(), api, ch); err != nil {
			t.Fatal(err)
		}
		shard := n.bus.shard(api, ch)
		shards = append(shards, shard)
		if got := numsub(shard); got != shard+"\n1" {
			t.Fatalf("after Subscribe: SHARDNUMSUB %q", got)
		}
		if err := n.Bus().Unsubscribe(t.Context(), api, ch); err != nil {
			t.Fatal(err)
		}
	}
	for _, shard := range shards {
		if got := numsub(shard); got != shard+"\n0" {
			t.Errorf("after Unsubscribe: SHARDNUMSUB %q; want 0 subscribers", got)
		}
	}
}
