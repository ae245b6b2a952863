package memory_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
	"github.com/switchboardhq/switchboard/internal/history"
)

// clock is an injected clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const lease = 10 * time.Second

// factory makes n joined nodes on a fresh Backend with an injected clock.
func factory(t *testing.T, n int) clustertest.Cluster {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := memory.New(memory.Options{Now: clk.now, Lease: lease})
	t.Cleanup(b.Close)
	nodes := make([]*memory.Node, n)
	c := clustertest.Cluster{
		Kill: func(i int) { nodes[i].Kill() },
		Cut:  func(i int) { nodes[i].Cut() },
		Expire: func(*testing.T) {
			clk.advance(lease)
			b.Wake()
		},
	}
	for i := range nodes {
		nodes[i] = b.NewNode("")
		if err := nodes[i].Registry().Join(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, clustertest.Seams{
			Registry: nodes[i].Registry(),
			Bus:      nodes[i].Bus(),
			Presence: nodes[i].Presence(),
		})
	}
	return c
}

func TestRegistry(t *testing.T) { clustertest.RunRegistry(t, factory) }
func TestBus(t *testing.T)      { clustertest.RunBus(t, factory) }
func TestPresence(t *testing.T) { clustertest.RunPresence(t, factory) }

// TestSingleNode: the embedded default, one node on real time, owns every
// id it mints and never loses its lease.
func TestSingleNode(t *testing.T) {
	b := memory.New(memory.Options{})
	t.Cleanup(b.Close)
	n := b.NewNode("solo")
	r := n.Registry()
	if r.Self().ID != "solo" || len(r.Self().Incarnation) != 8 {
		t.Fatalf("Self = %+v", r.Self())
	}
	if _, err := r.Owner(t.Context(), r.NewID()); !errors.Is(err, cluster.ErrNodeGone) {
		t.Errorf("Owner before Join: %v; want ErrNodeGone", err)
	}
	if err := r.Add(t.Context(), cluster.Record{API: "a", ID: r.NewID()}); !errors.Is(err, cluster.ErrNotJoined) {
		t.Errorf("Add before Join: %v; want ErrNotJoined", err)
	}
	if err := r.Join(t.Context()); err != nil {
		t.Fatal(err)
	}
	if o, err := r.Owner(t.Context(), r.NewID()); err != nil || o != r.Self() {
		t.Errorf("Owner = %+v, %v; want Self", o, err)
	}
	b.Wake()
	select {
	case <-r.Lost():
		t.Error("Lost closed on a live node")
	default:
	}
	if err := r.Leave(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Join(t.Context()); !errors.Is(err, memory.ErrStopped) {
		t.Errorf("Join after Leave: %v; want ErrStopped (a new incarnation is a new node)", err)
	}
}

// TestLeaseLapsesAtLease: a killed node's lease holds until exactly Lease
// after the kill on the injected clock.
func TestLeaseLapsesAtLease(t *testing.T) {
	c := factoryClock(t)
	id := c.nodes[1].Registry().NewID()
	c.nodes[1].Kill()
	c.clk.advance(lease - time.Nanosecond)
	if _, err := c.nodes[0].Registry().Owner(t.Context(), id); err != nil {
		t.Errorf("Owner just before the lease lapses: %v; want the node", err)
	}
	c.clk.advance(time.Nanosecond)
	if _, err := c.nodes[0].Registry().Owner(t.Context(), id); !errors.Is(err, cluster.ErrNodeGone) {
		t.Errorf("Owner at the lease: %v; want ErrNodeGone", err)
	}
}

type clocked struct {
	clk   *clock
	nodes []*memory.Node
}

func factoryClock(t *testing.T) clocked {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := memory.New(memory.Options{Now: clk.now, Lease: lease})
	t.Cleanup(b.Close)
	c := clocked{clk: clk}
	for range 2 {
		n := b.NewNode("")
		if err := n.Registry().Join(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	return c
}

// TestCutUnavailable: every call of a cut node that would reach the shared
// state fails with ErrUnavailable, and nothing reaches it.
func TestCutUnavailable(t *testing.T) {
	c := factoryClock(t)
	got := 0
	c.nodes[1].Bus().Handle(func(string, string, cluster.Message) { got++ })
	if err := c.nodes[1].Bus().Subscribe(t.Context(), "a", "c"); err != nil {
		t.Fatal(err)
	}
	c.nodes[1].Cut()
	if _, err := c.nodes[0].Bus().Publish(t.Context(), "a", "c", cluster.Message{Kind: cluster.Publication}, nil); err != nil {
		t.Fatal(err)
	}
	if got != 0 {
		t.Errorf("a cut node received %d deliveries", got)
	}
	n := c.nodes[1]
	for name, err := range map[string]error{
		"Owner":     func() error { _, err := n.Registry().Owner(t.Context(), n.Registry().NewID()); return err }(),
		"Add":       n.Registry().Add(t.Context(), cluster.Record{ID: n.Registry().NewID()}),
		"Subscribe": n.Bus().Subscribe(t.Context(), "a", "d"),
		"Broadcast": n.Bus().Broadcast(t.Context(), "a", cluster.Message{}),
		"Join": func() error {
			_, err := n.Presence().Join(t.Context(), "a", "c", cluster.Member{ID: n.Registry().NewID()}, true)
			return err
		}(),
		"AddUser": n.Presence().AddUser(t.Context(), "a", "u", n.Registry().NewID()),
	} {
		if !errors.Is(err, cluster.ErrUnavailable) {
			t.Errorf("%s on a cut node: %v; want ErrUnavailable", name, err)
		}
	}
}

// PublishLocal and BroadcastLocal deliver the publishing node's share
// through the caller's function, synchronously and in the channel's order,
// and the other nodes' through their handlers; Node.History reads what
// Publish appended.
func TestLocalDelivery(t *testing.T) {
	b := memory.New(memory.Options{})
	t.Cleanup(b.Close)
	var nodes []*memory.Node
	got := make([][]string, 2)
	var mu sync.Mutex
	for i := range 2 {
		n := b.NewNode("")
		if err := n.Registry().Join(t.Context()); err != nil {
			t.Fatal(err)
		}
		n.Bus().Handle(func(api, channel string, m cluster.Message) {
			mu.Lock()
			got[i] = append(got[i], api+" "+channel+" "+string(m.Data))
			mu.Unlock()
		})
		if err := n.Bus().Subscribe(t.Context(), "a", "room"); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	type localBus interface {
		PublishLocal(ctx context.Context, api, channel string, m cluster.Message, o *history.StreamOptions, self func(cluster.Message)) (cluster.Published, error)
		BroadcastLocal(ctx context.Context, api string, m cluster.Message, self func(cluster.Message)) error
	}
	lb, ok := nodes[0].Bus().(localBus)
	if !ok {
		t.Fatal("the memory Bus has no PublishLocal/BroadcastLocal")
	}
	o := &history.StreamOptions{Size: 10, TTL: time.Minute, MetaTTL: time.Hour}
	var self []cluster.Message
	p, err := lb.PublishLocal(t.Context(), "a", "room", cluster.Message{Kind: cluster.Publication, Data: []byte("x")}, o,
		func(m cluster.Message) { self = append(self, m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(self) != 1 || self[0].Offset != 1 || self[0].Epoch != p.Position.Epoch || string(self[0].Data) != "x" {
		t.Fatalf("self got %+v, want the publication at %+v before PublishLocal returned", self, p.Position)
	}
	if err := lb.BroadcastLocal(t.Context(), "a", cluster.Message{Kind: cluster.Publication, Data: []byte("all")},
		func(m cluster.Message) { self = append(self, m) }); err != nil {
		t.Fatal(err)
	}
	if len(self) != 2 || string(self[1].Data) != "all" {
		t.Fatalf("self got %+v, want the broadcast too", self)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got[0]) != 0 {
		t.Fatalf("node 0's handler got %q: its share went to self", got[0])
	}
	if want := []string{"a room x", "a  all"}; len(got[1]) != 2 || got[1][0] != want[0] || got[1][1] != want[1] {
		t.Fatalf("node 1's handler got %q, want %q", got[1], want)
	}
	rr, err := nodes[1].History("a").Read(t.Context(), "room", 0, 10, *o)
	if err != nil || rr.Top != *p.Position || len(rr.Publications) != 1 {
		t.Fatalf("node 1's History of a: %+v %v, want the publication", rr, err)
	}
	if rr, err := nodes[1].History("b").Read(t.Context(), "room", 0, 10, *o); err != nil || rr.Top.Offset != 0 {
		t.Fatalf("another API's stream: %+v %v, want empty", rr, err)
	}
}
