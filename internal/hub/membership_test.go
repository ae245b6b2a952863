package hub

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/config"
)

// told is one OnMembership call.
type told struct {
	node    int
	channel string
	ev      MembershipEvent
}

// teller records OnMembership calls.
type teller struct {
	mu  sync.Mutex
	got []told
}

func (tl *teller) add(x told) {
	tl.mu.Lock()
	tl.got = append(tl.got, x)
	tl.mu.Unlock()
}

func (tl *teller) all() []told {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.got)
}

// userMember makes a raw member of user with presence info.
func userMember(id, user string) *Member {
	return NewMember(id, user, []byte(`{"of":"`+id+`"}`), Raw, &recorder{})
}

func describe(ev MembershipEvent) string {
	what := "leave"
	if ev.Join {
		what = "join"
	}
	return fmt.Sprintf("%s %s(%s) edge=%v occupied=%v vacated=%v members=%d users=%d",
		what, ev.Member.ID, ev.Member.User, ev.UserEdge, ev.Occupied, ev.Vacated, ev.Members, ev.Users)
}

// On one node the hub counts what each join and leave changed itself:
// a user's first and last connection in the channel, the channel's first
// and last, the counts after; and it calls OnMembership outside its locks.
func TestMembershipEventsOneNode(t *testing.T) {
	var tl teller
	var h *Hub
	h = newHubWith(t, func(o *Options) {
		o.OnMembership = func(api, channel string, ev MembershipEvent) {
			if api != "test" {
				t.Errorf("OnMembership api %q; want test", api)
			}
			// Not under the channel's shard lock (the test is sequential:
			// nobody else holds it).
			s := h.shardOf(channel)
			if !s.mu.TryLock() {
				t.Errorf("OnMembership called with the shard lock of %s held", channel)
			} else {
				s.mu.Unlock()
			}
			if string(ev.Member.Info) != `{"of":"`+ev.Member.ID+`"}` {
				t.Errorf("event %s: info %s", describe(ev), ev.Member.Info)
			}
			tl.add(told{channel: channel, ev: ev})
		}
	},
		config.Namespace{Pattern: "h:*", Subscribe: "allow",
			History: config.History{Size: 10, TTL: config.Duration(60e9), MetaTTL: config.Duration(3600e9)}},
		config.Namespace{Pattern: "*", Subscribe: "allow"})
	ctx := t.Context()
	a1, a2, bob, anon := userMember("a1", "alice"), userMember("a2", "alice"), userMember("b", "bob"), userMember("n", "")
	// "room" takes the one-lock fast path, "h:room" the history path.
	for _, ch := range []string{"room", "h:room"} {
		for _, m := range []*Member{a1, a2, bob, anon} {
			if _, err := h.Subscribe(ctx, m, ch, SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.Subscribe(ctx, a1, ch, SubscribeOptions{}); !errors.Is(err, ErrAlreadySubscribed) {
			t.Fatalf("second subscribe: %v", err)
		}
		for range 2 { // the second changes nothing
			if _, err := h.Unsubscribe(a1, ch, false, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.Remove(a2)
	h.Remove(anon)
	for _, ch := range []string{"room", "h:room"} {
		if _, err := h.Unsubscribe(bob, ch, false, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Subscribe(ctx, bob, "room", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}

	ev := func(join bool, m *Member, edge, occupied, vacated bool, members, users int) MembershipEvent {
		return MembershipEvent{Join: join, Member: cluster.Member{ID: m.ID(), User: m.User()}, UserEdge: edge,
			Occupied: occupied, Vacated: vacated, Members: members, Users: users}
	}
	var want []told
	for _, ch := range []string{"room", "h:room"} {
		want = append(want,
			told{0, ch, ev(true, a1, true, true, false, 1, 1)},
			told{0, ch, ev(true, a2, false, false, false, 2, 1)},
			told{0, ch, ev(true, bob, true, false, false, 3, 2)},
			told{0, ch, ev(true, anon, false, false, false, 4, 2)},
			told{0, ch, ev(false, a1, false, false, false, 3, 2)},
		)
	}
	// Remove walks the member's channels in the order it joined them.
	removals := func(m *Member, e MembershipEvent) []told {
		var out []told
		for _, ch := range []string{"room", "h:room"} {
			out = append(out, told{0, ch, e})
		}
		return out
	}
	want = append(want, removals(a2, ev(false, a2, true, false, false, 2, 1))...)
	want = append(want, removals(anon, ev(false, anon, false, false, false, 1, 1))...)
	want = append(want,
		told{0, "room", ev(false, bob, true, false, true, 0, 0)},
		told{0, "h:room", ev(false, bob, true, false, true, 0, 0)},
		told{0, "room", ev(true, bob, true, true, false, 1, 1)},
	)
	got := tl.all()
	for i := range got {
		got[i].ev.Member.Info = nil // checked in the callback
	}
	if !slices.EqualFunc(got, want, func(a, b told) bool { return a.channel == b.channel && reflect.DeepEqual(a.ev, b.ev) }) {
		t.Errorf("events:\n%s\nwant:\n%s", format(got), format(want))
	}
}

func format(ts []told) string {
	s := ""
	for _, x := range ts {
		s += fmt.Sprintf("  node %d %s: %s\n", x.node, x.channel, describe(x.ev))
	}
	return s
}

// In a cluster each join and leave is told once, by the node that made
// it, with the cluster-wide edges: members of three nodes join and leave
// one channel concurrently, then a killed node's members are reaped by a
// survivor.
func TestClusterMembershipEventsOnce(t *testing.T) {
	var tl teller
	nodes := newClusterWith(t, 3, func(i int, o *Options) {
		o.OnMembership = func(api, channel string, ev MembershipEvent) {
			if api != "api" {
				t.Errorf("OnMembership api %q; want api", api)
			}
			tl.add(told{node: i, channel: channel, ev: ev})
		}
	})
	ctx := t.Context()
	const perNode = 4
	type placed struct {
		m    *Member
		node int
	}
	var ms []placed
	owner := map[string]int{}
	for k := range perNode * len(nodes) {
		i := k % len(nodes)
		m := userMember(nodes[i].newID(), fmt.Sprint("u", k%3))
		ms = append(ms, placed{m, i})
		owner[m.ID()] = i
	}
	var wg sync.WaitGroup
	for _, p := range ms {
		wg.Go(func() {
			if _, err := nodes[p.node].hub.Subscribe(ctx, p.m, "room", SubscribeOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for k, p := range ms {
		wg.Go(func() {
			if k%2 == 0 {
				if ok, err := nodes[p.node].hub.Unsubscribe(p.m, "room", false, ""); !ok || err != nil {
					t.Errorf("unsubscribe: %v %v", ok, err)
				}
			} else {
				nodes[p.node].hub.Remove(p.m)
			}
		})
	}
	wg.Wait()
	got := tl.all()
	if len(got) != 2*len(ms) {
		t.Fatalf("%d events; want %d (a join and a leave per member):\n%s", len(got), 2*len(ms), format(got))
	}
	occupied, vacated := 0, 0
	first, last := map[string]int{}, map[string]int{}
	var joins, leaves []int
	for _, x := range got {
		if x.node != owner[x.ev.Member.ID] {
			t.Errorf("node %d told %s; want the member's node %d", x.node, describe(x.ev), owner[x.ev.Member.ID])
		}
		if x.ev.Join {
			joins = append(joins, x.ev.Members)
			if x.ev.Occupied {
				occupied++
			}
			if x.ev.UserEdge {
				first[x.ev.Member.User]++
			}
		} else {
			leaves = append(leaves, x.ev.Members)
			if x.ev.Vacated {
				vacated++
			}
			if x.ev.UserEdge {
				last[x.ev.Member.User]++
			}
		}
	}
	if occupied != 1 || vacated != 1 {
		t.Errorf("%d Occupied, %d Vacated; want 1 each", occupied, vacated)
	}
	for _, u := range []string{"u0", "u1", "u2"} {
		if first[u] != 1 || last[u] != 1 {
			t.Errorf("user %s: %d first and %d last connections told; want 1 each", u, first[u], last[u])
		}
	}
	slices.Sort(joins)
	slices.Sort(leaves)
	for k := range ms {
		if joins[k] != k+1 || leaves[k] != k {
			t.Fatalf("counts after the joins %v, the leaves %v; want 1..%d and 0..%d", joins, leaves, len(ms), len(ms)-1)
		}
	}

	// Node 2 dies with members in "lobby" (x twice, y; node 0 has another
	// y) and alone in "solo" (z): node 0 reaps it and tells each leave.
	join := func(n clusterNode, ch, user string) {
		if _, err := n.hub.Subscribe(ctx, userMember(n.newID(), user), ch, SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	join(nodes[0], "lobby", "y")
	for _, u := range []string{"x", "x", "y"} {
		join(nodes[2], "lobby", u)
	}
	join(nodes[2], "solo", "z")
	inc := nodes[2].node.Registry().Self().Incarnation
	nodes[2].node.Kill()
	before := len(tl.all())
	if err := nodes[0].node.Presence().RemoveNode(ctx, inc, func(_, channel string, r cluster.LeaveResult) {
		nodes[0].hub.Reaped(channel, r)
	}); err != nil {
		t.Fatal(err)
	}
	reaped := tl.all()[before:]
	edges := map[string]int{}
	var solo []MembershipEvent
	for _, x := range reaped {
		if x.node != 0 || x.ev.Join {
			t.Errorf("reaping told %s on node %d; want leaves on node 0", describe(x.ev), x.node)
		}
		if x.ev.UserEdge {
			edges[x.channel+"/"+x.ev.Member.User]++
		}
		if x.channel == "solo" {
			solo = append(solo, x.ev)
		} else if x.ev.Vacated || x.ev.Members < 1 {
			t.Errorf("lobby: %s; node 0's member stays", describe(x.ev))
		}
	}
	if len(reaped) != 4 {
		t.Errorf("reaping told %d leaves; want 4:\n%s", len(reaped), format(reaped))
	}
	if want := map[string]int{"lobby/x": 1, "solo/z": 1}; fmt.Sprint(edges) != fmt.Sprint(want) {
		t.Errorf("reaping told user edges %v; want %v (y stays on node 0)", edges, want)
	}
	if len(solo) != 1 || !solo[0].Vacated || solo[0].Members != 0 || solo[0].Users != 0 {
		t.Errorf("solo: %v; want one leave that vacates it", solo)
	}
}
