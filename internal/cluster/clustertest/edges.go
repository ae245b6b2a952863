package clustertest

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// The subtests below check what Join and Leave report (decision 0024 §5,
// issue 11): a user's first and last connection in a channel and the
// channel's first and last connection, each decided by one atomic step, so
// that exactly one call cluster-wide reports each transition.

func join(t *testing.T, n Seams, api, channel string, m cluster.Member, notice bool) cluster.JoinResult {
	t.Helper()
	r, err := n.Presence.Join(ctx(t), api, channel, m, notice)
	if err != nil {
		t.Fatalf("Join %s: %v", m.ID, err)
	}
	return r
}

func leave(t *testing.T, n Seams, api, channel, id string, notice bool) cluster.LeaveResult {
	t.Helper()
	r, err := n.Presence.Leave(ctx(t), api, channel, id, notice)
	if err != nil {
		t.Fatalf("Leave %s: %v", id, err)
	}
	return r
}

func testUserEdges(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	alice1 := cluster.Member{ID: c.Nodes[0].Registry.NewID(), User: "alice", Info: json.RawMessage(`{"n":1}`)}
	alice2 := cluster.Member{ID: c.Nodes[1].Registry.NewID(), User: "alice", Info: json.RawMessage(`{"n":2}`)}
	bob := cluster.Member{ID: c.Nodes[2].Registry.NewID(), User: "bob"}
	anon := cluster.Member{ID: c.Nodes[2].Registry.NewID()}

	joins := []struct {
		node int
		m    cluster.Member
		want cluster.JoinResult
	}{
		{0, alice1, cluster.JoinResult{Joined: true, Members: 1, Users: 1, UserFirst: true, Occupied: true}},
		{1, alice2, cluster.JoinResult{Joined: true, Members: 2, Users: 1}},
		{2, bob, cluster.JoinResult{Joined: true, Members: 3, Users: 2, UserFirst: true}},
		{2, anon, cluster.JoinResult{Joined: true, Members: 4, Users: 2}},
	}
	for _, j := range joins {
		if got := join(t, c.Nodes[j.node], api, ch, j.m, true); got != j.want {
			t.Errorf("Join %s (%q) on node %d = %+v; want %+v", j.m.ID, j.m.User, j.node, got, j.want)
		}
	}
	// Leaves from any node; alice's second leave is her last.
	leaves := []struct {
		node int
		m    cluster.Member
		want cluster.LeaveResult
	}{
		{2, alice1, cluster.LeaveResult{Left: true, Members: 3, Users: 2}},
		{0, alice2, cluster.LeaveResult{Left: true, Members: 2, Users: 1, UserLast: true}},
		{1, anon, cluster.LeaveResult{Left: true, Members: 1, Users: 1}},
		{1, bob, cluster.LeaveResult{Left: true, Members: 0, Users: 0, UserLast: true, Vacated: true}},
	}
	for _, l := range leaves {
		got := leave(t, c.Nodes[l.node], api, ch, l.m.ID, true)
		want := l.want
		want.Member = l.m
		if got.Left != want.Left || got.Members != want.Members || got.Users != want.Users ||
			got.UserLast != want.UserLast || got.Vacated != want.Vacated ||
			got.Member.ID != want.Member.ID || got.Member.User != want.Member.User || string(got.Member.Info) != string(want.Member.Info) {
			t.Errorf("Leave %s (%q) on node %d = %+v; want %+v", l.m.ID, l.m.User, l.node, got, want)
		}
	}
	// The notices carry the user edges to every node, in the channel's
	// order.
	type notice struct {
		kind cluster.Kind
		id   string
		edge bool
	}
	want := []notice{
		{cluster.Join, alice1.ID, true}, {cluster.Join, alice2.ID, false}, {cluster.Join, bob.ID, true}, {cluster.Join, anon.ID, false},
		{cluster.Leave, alice1.ID, false}, {cluster.Leave, alice2.ID, true}, {cluster.Leave, anon.ID, false}, {cluster.Leave, bob.ID, true},
	}
	for i, r := range rs {
		waitFor(t, fmt.Sprintf("node %d to receive 8 notices", i), func() bool { return r.count(api, ch) >= len(want) })
		var got []notice
		for _, m := range r.messages(api, ch) {
			got = append(got, notice{m.Kind, m.Member.ID, m.UserEdge})
		}
		if !slices.Equal(got, want) {
			t.Errorf("node %d notices %+v; want %+v", i, got, want)
		}
	}
}

func testUsersDistinct(t *testing.T, s *suite) {
	c := s.f(t, 3)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	// carol's id is long: its length takes two bytes in a stored member.
	carol := strings.Repeat("carol", 60)
	users := []string{"alice", "bob", "alice", "", "alice", "bob", "", carol}
	var last cluster.JoinResult
	var ids []string
	for k, u := range users {
		n := c.Nodes[k%3]
		m := cluster.Member{ID: n.Registry.NewID(), User: u}
		last = join(t, n, api, ch, m, false)
		ids = append(ids, m.ID)
	}
	if last.Members != 8 || last.Users != 3 {
		t.Errorf("after 8 joins of 3 users and 2 anonymous: Members %d, Users %d; want 8, 3", last.Members, last.Users)
	}
	// Users counts users, not connections: bob's and carol's last leave
	// lower it; anonymous connections never count.
	var got []int
	for _, k := range []int{1, 3, 5, 7, 0} {
		got = append(got, leave(t, c.Nodes[(k+1)%3], api, ch, ids[k], false).Users)
	}
	if want := []int{3, 3, 2, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("Users after leaving bob, anonymous, bob, carol, alice: %v; want %v", got, want)
	}
}

func testEdgesOncePerTransition(t *testing.T, s *suite) {
	const perNode, rounds = 4, 5
	c := s.f(t, 3)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	total := perNode * len(c.Nodes)
	user := func(k int) string { return fmt.Sprint("u", k%3) }
	// Every member joins concurrently (one goroutine each, spread over the
	// nodes), then every member leaves concurrently; each round the
	// channel goes 0 → total → 0, so each transition is reported once.
	for round := range rounds {
		members := make([]cluster.Member, total)
		for k := range members {
			members[k] = cluster.Member{ID: c.Nodes[k%len(c.Nodes)].Registry.NewID(), User: user(k)}
		}
		joins := make([]cluster.JoinResult, total)
		var wg sync.WaitGroup
		for k := range members {
			wg.Go(func() {
				r, err := c.Nodes[k%len(c.Nodes)].Presence.Join(ctx(t), api, ch, members[k], k%2 == 0)
				if err != nil {
					t.Errorf("Join: %v", err)
				}
				joins[k] = r
			})
		}
		wg.Wait()
		leaves := make([]cluster.LeaveResult, total)
		for k := range members {
			wg.Go(func() {
				// Another node than the member's: any node may leave any
				// member.
				r, err := c.Nodes[(k+1)%len(c.Nodes)].Presence.Leave(ctx(t), api, ch, members[k].ID, k%2 == 0)
				if err != nil {
					t.Errorf("Leave: %v", err)
				}
				leaves[k] = r
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		occupied, vacated := 0, 0
		first, last := map[string]int{}, map[string]int{}
		var joinCounts, leaveCounts []int
		for k := range members {
			if joins[k].Occupied {
				occupied++
			}
			if joins[k].UserFirst {
				first[members[k].User]++
			}
			if leaves[k].Vacated {
				vacated++
			}
			if leaves[k].UserLast {
				last[leaves[k].Member.User]++
			}
			if !joins[k].Joined || !leaves[k].Left {
				t.Errorf("round %d member %d: joined %v, left %v", round, k, joins[k].Joined, leaves[k].Left)
			}
			joinCounts = append(joinCounts, joins[k].Members)
			leaveCounts = append(leaveCounts, leaves[k].Members)
		}
		if occupied != 1 || vacated != 1 {
			t.Errorf("round %d: %d Occupied and %d Vacated; want exactly 1 each", round, occupied, vacated)
		}
		for _, u := range []string{"u0", "u1", "u2"} {
			if first[u] != 1 || last[u] != 1 {
				t.Errorf("round %d user %s: %d UserFirst and %d UserLast; want exactly 1 each", round, u, first[u], last[u])
			}
		}
		// Each step saw its own count: the joins 1..total, the leaves
		// total-1..0, each once.
		slices.Sort(joinCounts)
		slices.Sort(leaveCounts)
		for k := range total {
			if joinCounts[k] != k+1 || leaveCounts[k] != k {
				t.Fatalf("round %d: Members after the joins %v and the leaves %v; want 1..%d and 0..%d, each once", round, joinCounts, leaveCounts, total, total-1)
			}
		}
	}
}

func testDuplicateJoin(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	m := cluster.Member{ID: c.Nodes[0].Registry.NewID(), User: "alice", Info: json.RawMessage(`{"a":1}`)}
	if got, want := join(t, c.Nodes[0], api, ch, m, true), (cluster.JoinResult{Joined: true, Members: 1, Users: 1, UserFirst: true, Occupied: true}); got != want {
		t.Errorf("first Join = %+v; want %+v", got, want)
	}
	// The same connection again, from either node: nothing changes, no
	// second notice, no second edge.
	for i := range 2 {
		if got, want := join(t, c.Nodes[i], api, ch, m, true), (cluster.JoinResult{Members: 1, Users: 1}); got != want {
			t.Errorf("duplicate Join on node %d = %+v; want %+v", i, got, want)
		}
	}
	if got := pageAll(t, c.Nodes[1], api, ch, 10); len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("after duplicate joins the channel lists %v; want only %s", ids(got), m.ID)
	}
	r := leave(t, c.Nodes[1], api, ch, m.ID, true)
	if !r.Left || !r.UserLast || !r.Vacated || r.Members != 0 || r.Users != 0 {
		t.Errorf("one Leave after duplicate joins = %+v; want the last connection of the user and the channel", r)
	}
	publish(t, c.Nodes[0], api, ch, pub("marker"), nil)
	for i, rec := range rs {
		waitFor(t, "the marker", func() bool {
			got := rec.messages(api, ch)
			return len(got) > 0 && string(got[len(got)-1].Data) == "marker"
		})
		var kinds []cluster.Kind
		for _, g := range rec.messages(api, ch) {
			kinds = append(kinds, g.Kind)
		}
		if want := []cluster.Kind{cluster.Join, cluster.Leave, cluster.Publication}; !slices.Equal(kinds, want) {
			t.Errorf("node %d got %v; want %v (one join notice)", i, kinds, want)
		}
	}
}

func testLeaveAbsent(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	absent := c.Nodes[1].Registry.NewID()
	if r := leave(t, c.Nodes[0], api, ch, absent, true); !reflect.DeepEqual(r, cluster.LeaveResult{}) {
		t.Errorf("Leave of an empty channel = %+v; want the zero LeaveResult", r)
	}
	m := cluster.Member{ID: c.Nodes[0].Registry.NewID(), User: "alice"}
	join(t, c.Nodes[0], api, ch, m, false)
	for i := range 2 {
		if r := leave(t, c.Nodes[i], api, ch, absent, true); !reflect.DeepEqual(r, cluster.LeaveResult{}) {
			t.Errorf("Leave of an absent id on node %d = %+v; want the zero LeaveResult", i, r)
		}
	}
	if got := pageAll(t, c.Nodes[1], api, ch, 10); len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("after leaves of an absent id the channel lists %v; want %s", ids(got), m.ID)
	}
	// alice is still her user's only connection: her leave is the edge.
	if r := leave(t, c.Nodes[1], api, ch, m.ID, false); !r.UserLast || !r.Vacated {
		t.Errorf("alice's Leave = %+v; want UserLast and Vacated", r)
	}
	publish(t, c.Nodes[0], api, ch, pub("marker"), nil)
	for i, rec := range rs {
		waitFor(t, "the marker", func() bool { return rec.count(api, ch) > 0 })
		if got := rec.messages(api, ch); len(got) != 1 || got[0].Kind != cluster.Publication {
			t.Errorf("node %d got %+v; want the marker alone (no notice for an absent id)", i, got)
		}
	}
}

func testRemoveNodeEdges(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api := s.name(t, "api")
	shared, only := s.name(t, "shared"), s.name(t, "only")
	subscribeAll(t, c, api, shared)
	subscribeAll(t, c, api, only)
	// Node 1 will die. In shared: alice only on node 1 (her last goes),
	// bob on nodes 0 and 1 (his stays), carol only on node 0. In only:
	// node 1 alone, two connections of dave and one anonymous (the
	// channel is vacated).
	live, dead := c.Nodes[0], c.Nodes[1]
	join(t, dead, api, shared, cluster.Member{ID: dead.Registry.NewID(), User: "alice"}, true)
	join(t, dead, api, shared, cluster.Member{ID: dead.Registry.NewID(), User: "bob"}, true)
	join(t, live, api, shared, cluster.Member{ID: live.Registry.NewID(), User: "bob"}, true)
	join(t, live, api, shared, cluster.Member{ID: live.Registry.NewID(), User: "carol"}, true)
	for _, u := range []string{"dave", "dave", ""} {
		join(t, dead, api, only, cluster.Member{ID: dead.Registry.NewID(), User: u}, true)
	}
	inc := dead.Registry.Self().Incarnation
	c.Kill(1)
	var mu sync.Mutex
	got := map[string][]cluster.LeaveResult{}
	f := func(_, channel string, r cluster.LeaveResult) {
		mu.Lock()
		got[channel] = append(got[channel], r)
		mu.Unlock()
	}
	// Two survivors race: the edges are still reported once.
	var wg sync.WaitGroup
	for _, i := range []int{0, 2} {
		wg.Go(func() {
			if err := c.Nodes[i].Presence.RemoveNode(ctx(t), inc, f); err != nil {
				t.Errorf("RemoveNode: %v", err)
			}
		})
	}
	wg.Wait()
	userLast := func(rs []cluster.LeaveResult) map[string]int {
		out := map[string]int{}
		for _, r := range rs {
			if r.UserLast {
				out[r.Member.User]++
			}
		}
		return out
	}
	vacated := func(rs []cluster.LeaveResult) int {
		n := 0
		for _, r := range rs {
			if r.Vacated {
				n++
			}
		}
		return n
	}
	sh := got[shared]
	if len(sh) != 2 || vacated(sh) != 0 || !maps.Equal(userLast(sh), map[string]int{"alice": 1}) {
		t.Errorf("shared: removals %+v; want 2, with alice's UserLast only and no Vacated", sh)
	}
	for _, r := range sh {
		if r.Members != 2 && r.Members != 3 {
			t.Errorf("shared: Members %d after a removal; want 3 or 2", r.Members)
		}
		if r.Member.User == "alice" && r.Users != 2 {
			t.Errorf("shared: Users %d after alice's removal; want 2 (bob, carol)", r.Users)
		}
	}
	on := got[only]
	if len(on) != 3 || vacated(on) != 1 || !maps.Equal(userLast(on), map[string]int{"dave": 1}) {
		t.Errorf("only: removals %+v; want 3, one Vacated, one UserLast of dave", on)
	}
	for _, r := range on {
		if r.Vacated != (r.Members == 0) {
			t.Errorf("only: removal %+v: Vacated must go with Members 0", r)
		}
	}
	if got := pageAll(t, live, api, shared, 10); len(got) != 2 {
		t.Errorf("shared lists %d members after RemoveNode; want node 0's 2", len(got))
	}
	// A survivor's Join after the reaping sees the edges anew: carol is
	// there already, alice is not.
	if r := join(t, live, api, shared, cluster.Member{ID: live.Registry.NewID(), User: "alice"}, false); !r.UserFirst || r.Users != 3 || r.Members != 3 {
		t.Errorf("alice's Join after RemoveNode = %+v; want UserFirst, 3 users, 3 members", r)
	}
	if r := join(t, live, api, only, cluster.Member{ID: live.Registry.NewID(), User: "dave"}, false); !r.UserFirst || !r.Occupied {
		t.Errorf("dave's Join of the vacated channel = %+v; want UserFirst and Occupied", r)
	}
	// The Leave notices carry the edges: alice's in shared, dave's last
	// in only.
	for _, ch := range []string{shared, only} {
		publish(t, live, api, ch, pub("marker"), nil)
	}
	for _, i := range []int{0, 2} {
		for _, ch := range []string{shared, only} {
			waitFor(t, "the marker", func() bool {
				got := rs[i].messages(api, ch)
				return len(got) > 0 && string(got[len(got)-1].Data) == "marker"
			})
			edges := map[string]int{}
			for _, m := range rs[i].messages(api, ch) {
				if m.Kind == cluster.Leave && m.UserEdge {
					edges[m.Member.User]++
				}
			}
			want := map[string]int{"alice": 1}
			if ch == only {
				want = map[string]int{"dave": 1}
			}
			if !maps.Equal(edges, want) {
				t.Errorf("node %d channel %s: leave notices with the user edge %v; want %v", i, ch, edges, want)
			}
		}
	}
}
