package clustertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// RunPresence runs the Presence conformance subtests.
func RunPresence(t *testing.T, f Factory) {
	newSuite(f).runAll(t, []subtest{
		{"JoinLeaveAcrossNodes", testJoinLeaveAcrossNodes},
		{"Paging", testPaging},
		{"BadPageArguments", testBadPageArguments},
		{"NoticesOrdered", testNoticesOrdered},
		{"Users", testUsers},
		{"RemoveNode", testRemoveNode},
		{"UserEdges", testUserEdges},
		{"UsersDistinct", testUsersDistinct},
		{"EdgesOncePerTransition", testEdgesOncePerTransition},
		{"DuplicateJoin", testDuplicateJoin},
		{"LeaveAbsent", testLeaveAbsent},
		{"RemoveNodeEdges", testRemoveNodeEdges},
	})
}

// page lists every member of channel as seen by node n, limit at a time.
func pageAll(t *testing.T, n Seams, api, channel string, limit int) []cluster.Member {
	t.Helper()
	var out []cluster.Member
	cursor := ""
	for range 10000 {
		p, err := n.Presence.Page(ctx(t), api, channel, cursor, limit)
		if err != nil {
			t.Fatalf("Page: %v", err)
		}
		if len(p.List) > limit {
			t.Fatalf("page of %d; limit %d", len(p.List), limit)
		}
		out = append(out, p.List...)
		if p.Next == "" {
			if p.Members != len(out) {
				t.Errorf("Members = %d; listed %d", p.Members, len(out))
			}
			return out
		}
		cursor = p.Next
	}
	t.Fatal("paging does not end")
	return nil
}

func ids(ms []cluster.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func testJoinLeaveAcrossNodes(t *testing.T, s *suite) {
	c := s.f(t, 3)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	var want []string
	for i, n := range c.Nodes {
		for k := range 2 {
			m := cluster.Member{ID: n.Registry.NewID(), User: fmt.Sprintf("u%d", i), Info: json.RawMessage(fmt.Sprintf(`{"k":%d}`, k))}
			if _, err := n.Presence.Join(ctx(t), api, ch, m, false); err != nil {
				t.Fatal(err)
			}
			want = append(want, m.ID)
		}
	}
	slices.Sort(want)
	for i, n := range c.Nodes {
		got := pageAll(t, n, api, ch, 100)
		if !slices.Equal(ids(got), want) {
			t.Errorf("node %d lists %v; want %v", i, ids(got), want)
		}
		for _, m := range got {
			if m.User == "" || len(m.Info) == 0 {
				t.Errorf("member %+v lost its user or info", m)
			}
		}
	}
	// Node 2 leaves a member joined by node 0 (a management call forwarded
	// or a reaper); leaving twice is not an error.
	gone := want[0]
	for range 2 {
		if _, err := c.Nodes[2].Presence.Leave(ctx(t), api, ch, gone, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(pageAll(t, c.Nodes[1], api, ch, 100)); !slices.Equal(got, want[1:]) {
		t.Errorf("after Leave: %v; want %v", got, want[1:])
	}
	if got := pageAll(t, c.Nodes[0], api, s.name(t, "empty"), 10); len(got) != 0 {
		t.Errorf("empty channel lists %v", got)
	}
}

func testPaging(t *testing.T, s *suite) {
	c := s.f(t, 2)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	var want []string
	for k := range 1000 {
		n := c.Nodes[k%2]
		m := cluster.Member{ID: n.Registry.NewID(), User: "u"}
		if _, err := n.Presence.Join(ctx(t), api, ch, m, false); err != nil {
			t.Fatal(err)
		}
		want = append(want, m.ID)
	}
	slices.Sort(want)
	if got := ids(pageAll(t, c.Nodes[1], api, ch, 7)); !slices.Equal(got, want) {
		t.Errorf("paging by 7 listed %d members, ordered %v; want the 1000 in id order", len(got), slices.IsSorted(got))
	}
	// A member leaving between pages does not disturb the cursor.
	p, err := c.Nodes[0].Presence.Page(ctx(t), api, ch, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes[1].Presence.Leave(ctx(t), api, ch, p.Next, false); err != nil {
		t.Fatal(err)
	}
	p2, err := c.Nodes[0].Presence.Page(ctx(t), api, ch, p.Next, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.List) != 7 || p2.List[0].ID != want[7] {
		t.Errorf("page after a left cursor member starts at %v; want %s", ids(p2.List), want[7])
	}
}

func testBadPageArguments(t *testing.T, s *suite) {
	c := s.f(t, 1)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	if _, err := c.Nodes[0].Presence.Page(ctx(t), api, ch, "", 0); !errors.Is(err, cluster.ErrInvalidLimit) {
		t.Errorf("limit 0: %v; want ErrInvalidLimit", err)
	}
	if _, err := c.Nodes[0].Presence.Page(ctx(t), api, ch, "no cursor", 5); !errors.Is(err, cluster.ErrInvalidCursor) {
		t.Errorf("bad cursor: %v; want ErrInvalidCursor", err)
	}
}

func testNoticesOrdered(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	m := cluster.Member{ID: c.Nodes[1].Registry.NewID(), User: "alice", Info: json.RawMessage(`{"a":1}`)}
	quiet := cluster.Member{ID: c.Nodes[2].Registry.NewID(), User: "bob"}
	publish(t, c.Nodes[0], api, ch, pub("p1"), long)
	if _, err := c.Nodes[1].Presence.Join(ctx(t), api, ch, m, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes[2].Presence.Join(ctx(t), api, ch, quiet, false); err != nil {
		t.Fatal(err)
	}
	publish(t, c.Nodes[2], api, ch, pub("p2"), long)
	if _, err := c.Nodes[0].Presence.Leave(ctx(t), api, ch, m.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes[0].Presence.Leave(ctx(t), api, ch, quiet.ID, false); err != nil {
		t.Fatal(err)
	}
	publish(t, c.Nodes[1], api, ch, pub("p3"), long)
	want := []cluster.Kind{cluster.Publication, cluster.Join, cluster.Publication, cluster.Leave, cluster.Publication}
	for i, r := range rs {
		waitFor(t, fmt.Sprintf("node %d to receive 5", i), func() bool { return r.count(api, ch) >= 5 })
		got := r.messages(api, ch)
		var kinds []cluster.Kind
		for _, g := range got {
			kinds = append(kinds, g.Kind)
		}
		if !slices.Equal(kinds, want) {
			t.Fatalf("node %d kinds %v; want %v", i, kinds, want)
		}
		for _, k := range []int{1, 3} {
			if got[k].Member.ID != m.ID || got[k].Member.User != "alice" || string(got[k].Member.Info) != `{"a":1}` {
				t.Errorf("node %d notice %d: member %+v; want %+v", i, k, got[k].Member, m)
			}
			if !got[k].UserEdge {
				t.Errorf("node %d notice %d: UserEdge false; want true (alice's only connection)", i, k)
			}
		}
		if got[4].Offset != 3 {
			t.Errorf("node %d: p3 at offset %d; want 3 (notices take no offset)", i, got[4].Offset)
		}
	}
}

func testUsers(t *testing.T, s *suite) {
	c := s.f(t, 3)
	api := s.name(t, "api")
	var want []string
	for i := range 2 {
		id := c.Nodes[i].Registry.NewID()
		if err := c.Nodes[i].Presence.AddUser(ctx(t), api, "alice", id); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	bob := c.Nodes[2].Registry.NewID()
	if err := c.Nodes[2].Presence.AddUser(ctx(t), api, "bob", bob); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	for i, n := range c.Nodes {
		got, err := n.Presence.UserConnections(ctx(t), api, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("node %d: alice has %v; want %v", i, got, want)
		}
	}
	if got, _ := c.Nodes[0].Presence.UserConnections(ctx(t), s.name(t, "other"), "alice"); len(got) != 0 {
		t.Errorf("alice of another API: %v; want none", got)
	}
	if err := c.Nodes[2].Presence.RemoveUser(ctx(t), api, "alice", want[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Nodes[2].Presence.RemoveUser(ctx(t), api, "alice", want[0]); err != nil {
		t.Fatalf("second RemoveUser: %v; want nil", err)
	}
	if got, _ := c.Nodes[1].Presence.UserConnections(ctx(t), api, "alice"); !slices.Equal(got, want[1:]) {
		t.Errorf("after RemoveUser: %v; want %v", got, want[1:])
	}
	if got, _ := c.Nodes[0].Presence.UserConnections(ctx(t), api, "nobody"); len(got) != 0 {
		t.Errorf("unknown user: %v", got)
	}
}

func testRemoveNode(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api := s.name(t, "api")
	a, b := s.name(t, "a"), s.name(t, "b")
	subscribeAll(t, c, api, a)
	subscribeAll(t, c, api, b)
	type joined struct{ channel, id string }
	deadMembers := map[joined]bool{}
	var keep []string
	for i := range 2 {
		for _, ch := range []string{a, b} {
			for k := range 3 {
				m := cluster.Member{ID: c.Nodes[i].Registry.NewID(), User: "u"}
				notice := k == 0
				if _, err := c.Nodes[i].Presence.Join(ctx(t), api, ch, m, notice); err != nil {
					t.Fatal(err)
				}
				if i == 1 {
					deadMembers[joined{ch, m.ID}] = notice
				} else if ch == a {
					keep = append(keep, m.ID)
				}
			}
		}
	}
	slices.Sort(keep)
	dead := c.Nodes[1].Registry.Self().Incarnation
	c.Kill(1)
	var mu sync.Mutex
	removed := map[joined]int{}
	f := func(gotAPI, channel string, r cluster.LeaveResult) {
		mu.Lock()
		defer mu.Unlock()
		if gotAPI != api {
			t.Errorf("RemoveNode reported api %q", gotAPI)
		}
		if !r.Left || r.Member.User != "u" {
			t.Errorf("RemoveNode reported %+v; want a member of user u that left", r)
		}
		removed[joined{channel, r.Member.ID}]++
	}
	// Two survivors race to remove the dead node's members: each member
	// is reported once in all.
	var wg sync.WaitGroup
	for _, i := range []int{0, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Nodes[i].Presence.RemoveNode(ctx(t), dead, f); err != nil {
				t.Errorf("RemoveNode: %v", err)
			}
		}()
	}
	wg.Wait()
	for j := range deadMembers {
		if removed[j] != 1 {
			t.Errorf("member %v reported %d times; want once", j, removed[j])
		}
	}
	if len(removed) != len(deadMembers) {
		t.Errorf("%d members reported; want the dead node's %d", len(removed), len(deadMembers))
	}
	if got := ids(pageAll(t, c.Nodes[2], api, a, 100)); !slices.Equal(got, keep) {
		t.Errorf("channel a after RemoveNode: %v; want node 0's %v", got, keep)
	}
	// The Leave notices asked for at Join (one per channel) went out, in
	// the channel's order, to the survivors: before a marker published
	// after RemoveNode, and once.
	for _, ch := range []string{a, b} {
		publish(t, c.Nodes[0], api, ch, pub("marker"), nil)
	}
	for _, i := range []int{0, 2} {
		for _, ch := range []string{a, b} {
			waitFor(t, "the marker", func() bool {
				got := rs[i].messages(api, ch)
				return len(got) > 0 && string(got[len(got)-1].Data) == "marker"
			})
			var leaves []string
			for _, m := range rs[i].messages(api, ch) {
				if m.Kind == cluster.Leave {
					leaves = append(leaves, m.Member.ID)
				}
			}
			if len(leaves) != 1 || !deadMembers[joined{ch, leaves[0]}] {
				t.Errorf("node %d channel %s: leave notices for %v; want one, for the dead member that asked for notices", i, ch, leaves)
			}
		}
	}
	if err := c.Nodes[0].Presence.RemoveNode(ctx(t), dead, func(string, string, cluster.LeaveResult) {
		t.Error("a second RemoveNode reported a member again")
	}); err != nil {
		t.Fatal(err)
	}
}
