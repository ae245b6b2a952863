package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/history"
)

// clusterNode is one in-process node: its hub and its memory node.
type clusterNode struct {
	hub  *Hub
	node *memory.Node
}

// newID mints a connection id of the node, as its gateway would.
func (n clusterNode) newID() string { return n.node.Registry().NewID() }

// member makes a v1 (or raw) member with a fresh id of the node.
func (n clusterNode) member(v1 bool) (*Member, *recorder) {
	r := &recorder{}
	return NewMember(n.newID(), "", nil, codecOf(v1), r), r
}

// newCluster makes n hubs of API "api", one per node of one memory
// backend, with cluster Presence: N nodes in one process.
func newCluster(t *testing.T, n int, namespaces ...config.Namespace) []clusterNode {
	t.Helper()
	return newClusterWith(t, n, nil, namespaces...)
}

// newClusterWith is newCluster with set (when not nil) changing node i's
// options.
func newClusterWith(t *testing.T, n int, set func(i int, o *Options), namespaces ...config.Namespace) []clusterNode {
	t.Helper()
	if len(namespaces) == 0 {
		namespaces = []config.Namespace{{Pattern: "*", Subscribe: "allow", Publish: "subscribers",
			History: config.History{Size: 10000, TTL: config.Duration(time.Minute), MetaTTL: config.Duration(time.Hour)}}}
	}
	b := memory.New(memory.Options{})
	t.Cleanup(b.Close)
	out := make([]clusterNode, n)
	for i := range out {
		node := b.NewNode(fmt.Sprint("node", i))
		if err := node.Registry().Join(t.Context()); err != nil {
			t.Fatal(err)
		}
		o := Options{API: "api", Channels: config.Channels{MaxPerConnection: 8, MaxNameBytes: 64, Namespaces: namespaces},
			Bus: node.Bus(), Presence: node.Presence(), History: node.History("api")}
		if set != nil {
			set(i, &o)
		}
		h, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		node.Bus().Handle(func(api, channel string, m cluster.Message) {
			if api == "api" {
				h.Deliver(channel, m)
			}
		})
		out[i] = clusterNode{hub: h, node: node}
	}
	return out
}

// Concurrent publishers on three nodes: every member on every node sees
// the same publications in the same order, with consecutive offsets.
func TestClusterOneOrderAcrossNodes(t *testing.T) {
	nodes := newCluster(t, 3)
	ctx := t.Context()
	var recs []*recorder
	for _, n := range nodes {
		for range 4 {
			m, r := n.member(true)
			recs = append(recs, r)
			if _, err := n.hub.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	const perNode, each = 3, 100
	var wg sync.WaitGroup
	for i, n := range nodes {
		for p := range perNode {
			wg.Go(func() {
				for k := range each {
					if _, err := n.hub.Publish(ctx, "room", fmt.Appendf(nil, `{"n":%d,"p":%d,"k":%d}`, i, p, k), ""); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	total := len(nodes) * perNode * each
	want := recs[0].messages(t)
	if len(want) != total {
		t.Fatalf("member 0 got %d publications, want %d", len(want), total)
	}
	for i, r := range recs {
		got := r.messages(t)
		if len(got) != total {
			t.Fatalf("member %d got %d publications, want %d", i, len(got), total)
		}
		for j, m := range got {
			if m["offset"] != float64(j+1) || fmt.Sprint(m["data"]) != fmt.Sprint(want[j]["data"]) {
				t.Fatalf("member %d, publication %d: offset %v data %v; member 0 saw offset %v data %v",
					i, j, m["offset"], m["data"], want[j]["offset"], want[j]["data"])
			}
		}
	}
}

// Exclusion is by connection id, on whichever node holds it; recipients
// are the channel's members cluster-wide when the publication was ordered.
func TestClusterExclude(t *testing.T) {
	nodes := newCluster(t, 3)
	ctx := t.Context()
	var members []*Member
	var recs []*recorder
	for _, n := range nodes {
		m, r := n.member(false)
		members, recs = append(members, m), append(recs, r)
		if _, err := n.hub.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := nodes[0].hub.Publish(ctx, "room", []byte("hi"), members[2].ID())
	if err != nil {
		t.Fatal(err)
	}
	if res.Recipients != 3 || res.Position == nil || res.Position.Offset != 1 {
		t.Fatalf("result %+v, want 3 members at offset 1", res)
	}
	for i, r := range recs {
		got := r.raw()
		if i == 2 && len(got) != 0 {
			t.Fatalf("the excluded member (node 2) got %q", got)
		}
		if i != 2 && (len(got) != 1 || got[0] != "hi") {
			t.Fatalf("member on node %d got %q, want [hi]", i, got)
		}
	}
}

// Join and leave notices reach the v1 members of every node, through the
// Bus, and never the member they are about.
func TestClusterJoinLeaveNotices(t *testing.T) {
	nodes := newCluster(t, 2, config.Namespace{Pattern: "*", Subscribe: "allow", JoinLeave: true})
	ctx := t.Context()
	watcher, rw := nodes[0].member(true)
	local, rl := nodes[1].member(true)
	for i, m := range []*Member{watcher, local} {
		if _, err := nodes[i].hub.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	joiner, rj := nodes[1].member(true)
	if _, err := nodes[1].hub.Subscribe(ctx, joiner, "room", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := nodes[1].hub.Unsubscribe(joiner, "room", false, ""); !ok || err != nil {
		t.Fatalf("unsubscribe: %v %v", ok, err)
	}
	nodes[1].hub.Remove(local)

	notices := func(r *recorder) []string {
		var out []string
		for _, m := range r.messages(t) {
			if m["type"] == "join" || m["type"] == "leave" {
				out = append(out, fmt.Sprint(m["type"], " ", m["member"].(map[string]any)["connectionId"]))
			}
		}
		return out
	}
	want := []string{"join " + local.ID(), "join " + joiner.ID(), "leave " + joiner.ID(), "leave " + local.ID()}
	if got := notices(rw); !slices.Equal(got, want) {
		t.Fatalf("watcher on node 0 saw %q, want %q", got, want)
	}
	if got := notices(rl); !slices.Equal(got, []string{"join " + joiner.ID(), "leave " + joiner.ID()}) {
		t.Fatalf("member on node 1 saw %q", got)
	}
	if got := notices(rj); len(got) != 0 {
		t.Fatalf("the joiner saw notices %q, want none (about itself or earlier members)", got)
	}
}

// Presence and channel counts are cluster-wide, paged by connection id.
func TestClusterPresence(t *testing.T) {
	nodes := newCluster(t, 3)
	ctx := t.Context()
	var ids []string
	for i := range 14 {
		n := nodes[i%3]
		m, _ := n.member(i%2 == 0)
		ids = append(ids, m.ID())
		if _, err := n.hub.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids)
	for i, n := range nodes {
		var got []string
		cursor := ""
		for range 10 {
			p, err := n.hub.Presence(ctx, "room", cursor, 5)
			if err != nil {
				t.Fatal(err)
			}
			if p.Members != 14 || !p.Enabled {
				t.Fatalf("node %d: %d members (enabled %v), want 14", i, p.Members, p.Enabled)
			}
			for _, m := range p.List {
				got = append(got, m.ConnectionID)
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("node %d paged %q, want %q", i, got, ids)
		}
	}
	if _, err := nodes[0].hub.Presence(ctx, "room", "not-an-id", 5); !errors.Is(err, cluster.ErrInvalidCursor) {
		t.Fatalf("foreign cursor: %v, want cluster.ErrInvalidCursor", err)
	}
}

// A member that recovers on one node while another node keeps publishing
// gets exactly what it missed, then the live publications: no gap, no
// duplicate, whether the channel is new on its node or already has
// members there (the node's last delivered offset L).
func TestClusterRecoveryWhilePublishing(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprint("members on the node: ", existing), func(t *testing.T) {
			nodes := newCluster(t, 3)
			ctx := t.Context()
			for i := range 10 {
				if _, err := nodes[0].hub.Publish(ctx, "room", fmt.Appendf(nil, "%d", i+1), ""); err != nil {
					t.Fatal(err)
				}
			}
			hp, err := nodes[1].hub.History(ctx, "room", 0, "", 0)
			if err != nil || hp.Top.Offset != 10 {
				t.Fatalf("history from node 1: %+v %v, want the 10 publications of node 0", hp, err)
			}
			if existing {
				m, _ := nodes[1].member(false)
				if _, err := nodes[1].hub.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			published := make(chan int, 1)
			go func() {
				i := 11
				defer func() { published <- i - 1 }()
				for ; i <= 3000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := nodes[2].hub.Publish(ctx, "room", fmt.Appendf(nil, "%d", i), ""); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			m, r := nodes[1].member(true)
			res, err := nodes[1].hub.Subscribe(ctx, m, "room", SubscribeOptions{Recover: &history.Position{Epoch: hp.Top.Epoch, Offset: 4}, ReplyID: 7})
			close(stop)
			last := <-published
			if err != nil {
				t.Fatal(err)
			}
			if !res.Recovered {
				t.Fatalf("not recovered: %+v", res)
			}
			msgs := r.messages(t)
			if msgs[0]["type"] != "reply" || msgs[0]["id"] != 7.0 {
				t.Fatalf("first message %v, want the reply", msgs[0])
			}
			next := 5.0
			for _, m := range msgs[1:] {
				if m["offset"] != next || m["data"] != next {
					t.Fatalf("got offset %v data %v, want %v: a gap or a duplicate", m["offset"], m["data"], next)
				}
				next++
			}
			if int(next-1) != last {
				t.Fatalf("the member got up to %v, the last publication was %d", next-1, last)
			}
		})
	}
}

// A node subscribes a channel on the Bus with its first member and
// unsubscribes with its last: afterwards nothing of the channel reaches it.
func TestClusterBusSubscriptionFollowsMembers(t *testing.T) {
	nodes := newCluster(t, 2)
	ctx := t.Context()
	a, _ := nodes[0].member(false)
	b, rb := nodes[1].member(false)
	for i, m := range []*Member{a, b} {
		if _, err := nodes[i].hub.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := nodes[0].hub.Publish(ctx, "room", []byte("1"), ""); err != nil {
		t.Fatal(err)
	}
	if got := nodes[1].hub.Publications(); got != 1 {
		t.Fatalf("node 1 handled %d publications, want 1", got)
	}
	nodes[1].hub.Remove(b)
	if _, err := nodes[0].hub.Publish(ctx, "room", []byte("2"), ""); err != nil {
		t.Fatal(err)
	}
	if got := nodes[1].hub.Publications(); got != 1 || nodes[1].hub.Channels() != 0 {
		t.Fatalf("node 1 after its last member left: %d publications handled, %d channels; want 1 and 0", got, nodes[1].hub.Channels())
	}
	if got := rb.raw(); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("the removed member got %q", got)
	}
	if p, err := nodes[0].hub.Presence(ctx, "room", "", 10); err != nil || p.Members != 1 {
		t.Fatalf("presence after the removal: %+v %v, want 1 member", p, err)
	}
}

// A Bus that cannot reach the shared state fails the publication with an
// error that errors.Is sees as cluster.ErrUnavailable; nothing is
// delivered.
func TestClusterUnavailable(t *testing.T) {
	nodes := newCluster(t, 2)
	ctx := t.Context()
	m, r := nodes[1].member(false)
	if _, err := nodes[1].hub.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	nodes[0].node.Cut()
	_, err := nodes[0].hub.Publish(ctx, "room", []byte("x"), "")
	if !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("publish from a cut node: %v, want cluster.ErrUnavailable", err)
	}
	if got := r.raw(); len(got) != 0 {
		t.Fatalf("delivered %q", got)
	}
	other, _ := nodes[0].member(false)
	if _, err := nodes[0].hub.Subscribe(ctx, other, "room", SubscribeOptions{}); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("subscribe on a cut node: %v, want cluster.ErrUnavailable", err)
	}
	if nodes[0].hub.Channels() != 0 {
		t.Fatalf("a failed subscribe left %d channels", nodes[0].hub.Channels())
	}
}

// On one node (no Presence), recipients are still the connections the
// publication was queued on, not the channel's members: a member whose
// queue refuses it is not counted.
func TestSingleNodeRecipientsAreQueued(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	full := &recorder{limit: 1}
	full.frames = [][]byte{nil} // its queue is full from now on
	a, _ := member("a", "", false)
	b, _ := member("b", "", false)
	for _, m := range []*Member{NewMember("full", "", nil, Raw, full), a, b} {
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if h.Local() == nil || h.Clustered() {
		t.Fatal("the single-node hub does not count its own deliveries")
	}
	res, err := h.Publish(ctx, "room", []byte("x"), "b")
	if err != nil || res.Recipients != 1 {
		t.Fatalf("publish to 3 members, one full, one excluded: %+v %v, want 1 recipient", res, err)
	}
}

// steered is a history whose first reads are followed, before they
// return, by a publication on another node: the subscriber's read is then
// behind the channel's last delivered offset L, as when a delivery
// overtakes a read over the network.
type steered struct {
	history.History
	mu      sync.Mutex
	reads   int
	stale   int // reads followed by a publication
	publish func()
}

func (s *steered) Read(ctx context.Context, channel string, since uint64, limit int, o history.StreamOptions) (history.ReadResult, error) {
	rr, err := s.History.Read(ctx, channel, since, limit, o)
	s.mu.Lock()
	s.reads++
	again := s.reads <= s.stale
	s.mu.Unlock()
	if again {
		s.publish()
	}
	return rr, err
}

// A read that L moved past is read again (and the last try reads under
// the shard lock): the recovering member gets exactly what it missed,
// then the live publications, no gap and no duplicate.
func TestSubscribeReadsAgainBehindL(t *testing.T) {
	for _, stale := range []int{1, readTries - 1} {
		t.Run(fmt.Sprint(stale, " stale reads"), func(t *testing.T) {
			nodes := newCluster(t, 2)
			ctx := t.Context()
			for i := range 5 {
				if _, err := nodes[1].hub.Publish(ctx, "room", fmt.Appendf(nil, "%d", i+1), ""); err != nil {
					t.Fatal(err)
				}
			}
			// A member on node 0, so the channel is known there (L = 5).
			first, _ := nodes[0].member(false)
			if _, err := nodes[0].hub.Subscribe(ctx, first, "room", SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			hp, err := nodes[0].hub.History(ctx, "room", 0, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			n := 5
			s := &steered{History: nodes[0].hub.history, stale: stale, publish: func() {
				n++
				if _, err := nodes[1].hub.Publish(ctx, "room", fmt.Appendf(nil, "%d", n), ""); err != nil {
					t.Error(err)
				}
			}}
			nodes[0].hub.history = s
			m, r := nodes[0].member(true)
			res, err := nodes[0].hub.Subscribe(ctx, m, "room", SubscribeOptions{Recover: &history.Position{Epoch: hp.Top.Epoch, Offset: 2}, ReplyID: 1})
			if err != nil {
				t.Fatal(err)
			}
			if s.reads != stale+1 {
				t.Fatalf("%d reads, want %d", s.reads, stale+1)
			}
			if !res.Recovered || res.Position.Offset != uint64(5+stale) || res.Missed != 3+stale {
				t.Fatalf("result %+v, want recovered at offset %d with %d missed", res, 5+stale, 3+stale)
			}
			if _, err := nodes[1].hub.Publish(ctx, "room", []byte("99"), ""); err != nil {
				t.Fatal(err)
			}
			msgs := r.messages(t)
			next := 3.0
			for _, m := range msgs[1:] {
				if m["offset"] != next {
					t.Fatalf("got offset %v, want %v: a gap or a duplicate (%v)", m["offset"], next, msgs)
				}
				next++
			}
			if next != float64(5+stale+2) {
				t.Fatalf("the member got up to offset %v, want %d", next-1, 5+stale+1)
			}
		})
	}
}

// A named publication on one node reaches the members of another encoded
// by their codecs with its name and user, and a member recovering on a
// third node gets it encoded the same way from the history.
func TestClusterNamedPublication(t *testing.T) {
	tag := &tagCodec{}
	nodes := newClusterWith(t, 3, func(_ int, o *Options) { o.Codecs = []Codec{tag} })
	ctx := t.Context()
	live := &recorder{}
	if _, err := nodes[1].hub.Subscribe(ctx, NewMember(nodes[1].newID(), "", nil, FirstFrontEnd, live), "room", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	v1, v1R := nodes[1].member(true)
	if _, err := nodes[1].hub.Subscribe(ctx, v1, "room", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := nodes[0].hub.PublishEvent(ctx, "room", Event{Name: "client-x", User: "u-9", Data: []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].hub.Publish(ctx, "room", []byte("2"), ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"pub|room|client-x|u-9|1|1", "pub|room|||2|2"}
	if got := live.raw(); !slices.Equal(got, want) {
		t.Errorf("front-end member on node 1 got %q; want %q", got, want)
	}
	if got := v1R.messages(t); len(got) != 2 || got[0]["event"] != "client-x" || got[1]["event"] != nil {
		t.Errorf("v1 member on node 1 got %v; want the first with event client-x", got)
	}
	late := &recorder{}
	res, err := nodes[2].hub.Subscribe(ctx, NewMember(nodes[2].newID(), "", nil, FirstFrontEnd, late), "room",
		SubscribeOptions{Recover: &history.Position{Epoch: first.Position.Epoch}})
	if err != nil || !res.Recovered {
		t.Fatalf("recovery on node 2: %+v, %v", res, err)
	}
	if got := late.raw(); !slices.Equal(got, want) {
		t.Errorf("recovered on node 2: %q; want %q", got, want)
	}
}
