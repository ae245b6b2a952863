package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
)

// RunBus runs the Bus conformance subtests.
func RunBus(t *testing.T, f Factory) {
	newSuite(f).runAll(t, []subtest{
		{"OneOrderWithHistory", func(t *testing.T, s *suite) { testOneOrder(t, s, true) }},
		{"OneOrderWithoutHistory", func(t *testing.T, s *suite) { testOneOrder(t, s, false) }},
		{"PublishedPosition", testPublishedPosition},
		{"ChannelsIndependent", testBusChannelsIndependent},
		{"ExcludeCarried", testExcludeCarried},
		{"NameAndUserCarried", testNameAndUserCarried},
		{"NotSubscribedGetsNothing", testNotSubscribed},
		{"SubscribeThenPublish", testSubscribeThenPublish},
		{"Unsubscribe", testUnsubscribe},
		{"Broadcast", testBroadcast},
		{"MembersCounted", testMembersCounted},
		{"KilledNodeSkipped", testKilledNodeSkipped},
		{"InvalidOptions", testBusInvalidOptions},
		{"CancelledContext", testBusCancelledContext},
		{"ConcurrentSubscribe", testConcurrentSubscribe},
		{"SubscribeChurn", testSubscribeChurn},
	})
}

// long are stream options under which nothing expires during a subtest.
var long = &history.StreamOptions{Size: 1000, TTL: time.Minute, MetaTTL: time.Hour}

func subscribeAll(t *testing.T, c Cluster, api, channel string) {
	t.Helper()
	for i, n := range c.Nodes {
		if err := n.Bus.Subscribe(ctx(t), api, channel); err != nil {
			t.Fatalf("node %d: Subscribe: %v", i, err)
		}
	}
}

func publish(t *testing.T, n Seams, api, channel string, m cluster.Message, o *history.StreamOptions) cluster.Published {
	t.Helper()
	p, err := n.Bus.Publish(ctx(t), api, channel, m, o)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return p
}

func pub(data string) cluster.Message {
	return cluster.Message{Kind: cluster.Publication, Data: []byte(data)}
}

func datas(ms []cluster.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Data)
	}
	return out
}

func testOneOrder(t *testing.T, s *suite, withHistory bool) {
	const nodes, each = 3, 40
	c := s.f(t, nodes)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	var o *history.StreamOptions
	if withHistory {
		o = long
	}
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				if _, err := n.Bus.Publish(ctx(t), api, ch, pub(fmt.Sprintf("n%d-%d", i, k)), o); err != nil {
					t.Errorf("node %d: Publish: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, r := range rs {
		waitFor(t, fmt.Sprintf("node %d to receive every publication", i), func() bool { return r.count(api, ch) >= nodes*each })
	}
	first := rs[0].messages(api, ch)
	for i, r := range rs {
		r.checkSequential()
		got := r.messages(api, ch)
		if len(got) != nodes*each {
			t.Fatalf("node %d got %d messages; want %d", i, len(got), nodes*each)
		}
		if !slices.Equal(datas(got), datas(first)) {
			t.Fatalf("node %d order differs from node 0's:\n%v\n%v", i, datas(got), datas(first))
		}
		for j, m := range got {
			if m.Kind != cluster.Publication {
				t.Errorf("node %d message %d: kind %v", i, j, m.Kind)
			}
			switch {
			case withHistory && (m.Epoch == "" || m.Epoch != first[0].Epoch || m.Offset != uint64(j+1)):
				t.Fatalf("node %d message %d: epoch %q offset %d; want epoch %q offset %d", i, j, m.Epoch, m.Offset, first[0].Epoch, j+1)
			case !withHistory && (m.Epoch != "" || m.Offset != 0):
				t.Fatalf("node %d message %d: epoch %q offset %d without history", i, j, m.Epoch, m.Offset)
			}
		}
	}
	// Each publisher's own publications stay in its order.
	for i := range nodes {
		var mine []string
		for _, d := range datas(first) {
			if bytes.HasPrefix([]byte(d), fmt.Appendf(nil, "n%d-", i)) {
				mine = append(mine, d)
			}
		}
		for k, d := range mine {
			if d != fmt.Sprintf("n%d-%d", i, k) {
				t.Fatalf("node %d's publications out of its order: %v", i, mine)
			}
		}
	}
}

func testPublishedPosition(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api, ch, plain := s.name(t, "api"), s.name(t, "ch"), s.name(t, "plain")
	subscribeAll(t, c, api, ch)
	var epoch string
	for k := range 5 {
		p := publish(t, c.Nodes[k%2], api, ch, pub(fmt.Sprint(k)), long)
		if p.Position == nil || p.Position.Offset != uint64(k+1) || p.Position.Epoch == "" {
			t.Fatalf("publication %d: Position %+v; want offset %d", k, p.Position, k+1)
		}
		if epoch == "" {
			epoch = p.Position.Epoch
		}
		if p.Position.Epoch != epoch {
			t.Fatalf("epoch changed: %q then %q", epoch, p.Position.Epoch)
		}
	}
	waitFor(t, "node 1 to receive 5", func() bool { return rs[1].count(api, ch) == 5 })
	for k, m := range rs[1].messages(api, ch) {
		if m.Epoch != epoch || m.Offset != uint64(k+1) || string(m.Data) != fmt.Sprint(k) {
			t.Errorf("delivery %d: %+v; want epoch %s offset %d", k, m, epoch, k+1)
		}
	}
	if p := publish(t, c.Nodes[0], api, plain, pub("x"), nil); p.Position != nil {
		t.Errorf("without history: Position %+v; want nil", p.Position)
	}
}

func testBusChannelsIndependent(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api := s.name(t, "api")
	a, b := s.name(t, "a"), s.name(t, "b")
	subscribeAll(t, c, api, a)
	subscribeAll(t, c, api, b)
	publish(t, c.Nodes[0], api, a, pub("a1"), long)
	publish(t, c.Nodes[1], api, b, pub("b1"), long)
	publish(t, c.Nodes[0], api, a, pub("a2"), long)
	other := s.name(t, "otherapi")
	for _, n := range c.Nodes {
		if err := n.Bus.Subscribe(ctx(t), other, a); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, c.Nodes[1], other, a, pub("o1"), long)
	for i, r := range rs {
		waitFor(t, "deliveries", func() bool {
			return r.count(api, a) == 2 && r.count(api, b) == 1 && r.count(other, a) == 1
		})
		if got := datas(r.messages(api, a)); !slices.Equal(got, []string{"a1", "a2"}) {
			t.Errorf("node %d channel a: %v", i, got)
		}
		if m := r.messages(api, b)[0]; m.Offset != 1 {
			t.Errorf("node %d channel b: offset %d; want 1 (its own stream)", i, m.Offset)
		}
		if m := r.messages(other, a)[0]; m.Offset != 1 || string(m.Data) != "o1" {
			t.Errorf("node %d: same channel of another API: %+v; want its own stream", i, m)
		}
	}
}

func testExcludeCarried(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	id := c.Nodes[1].Registry.NewID()
	m := pub("x")
	m.Exclude = id
	publish(t, c.Nodes[2], api, ch, m, nil)
	for i, r := range rs {
		waitFor(t, "delivery", func() bool { return r.count(api, ch) == 1 })
		if got := r.messages(api, ch)[0]; got.Exclude != id {
			t.Errorf("node %d: Exclude %q; want %q", i, got.Exclude, id)
		}
	}
}

// testNameAndUserCarried: a publication's event name and user reach every
// node, with and without history and in broadcasts, next to publications
// without them (which arrive with "").
func testNameAndUserCarried(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	named := pub("named")
	named.Name, named.User, named.Exclude = "client-move", "u-7", c.Nodes[0].Registry.NewID()
	userOnly := pub("user only")
	userOnly.User = "u-8"
	for _, o := range []*history.StreamOptions{nil, long} {
		publish(t, c.Nodes[2], api, ch, named, o)
		publish(t, c.Nodes[1], api, ch, pub("plain"), o)
		publish(t, c.Nodes[0], api, ch, userOnly, o)
	}
	want := []cluster.Message{named, pub("plain"), userOnly, named, pub("plain"), userOnly}
	for i, r := range rs {
		waitFor(t, "6 deliveries", func() bool { return r.count(api, ch) == len(want) })
		for j, m := range r.messages(api, ch) {
			if m.Name != want[j].Name || m.User != want[j].User || string(m.Data) != string(want[j].Data) || m.Exclude != want[j].Exclude {
				t.Errorf("node %d message %d: name %q user %q data %q exclude %q; want %q %q %q %q",
					i, j, m.Name, m.User, m.Data, m.Exclude, want[j].Name, want[j].User, want[j].Data, want[j].Exclude)
			}
		}
	}
	subscribeAll(t, c, api, "")
	if err := c.Nodes[1].Bus.Broadcast(ctx(t), api, named); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		waitFor(t, "the broadcast", func() bool { return r.count(api, "") == 1 })
		if m := r.messages(api, "")[0]; m.Name != named.Name || m.User != named.User || string(m.Data) != "named" {
			t.Errorf("node %d broadcast: name %q user %q data %q; want %q %q %q", i, m.Name, m.User, m.Data, named.Name, named.User, "named")
		}
	}
}

func testNotSubscribed(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	for _, i := range []int{0, 1} {
		if err := c.Nodes[i].Bus.Subscribe(ctx(t), api, ch); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, c.Nodes[2], api, ch, pub("before"), long)
	// Node 2 subscribes now; a publication ordered after the first would
	// come after it, so receiving only "after" proves "before" never came.
	if err := c.Nodes[2].Bus.Subscribe(ctx(t), api, ch); err != nil {
		t.Fatal(err)
	}
	publish(t, c.Nodes[0], api, ch, pub("after"), long)
	waitFor(t, "node 2 to receive", func() bool { return rs[2].count(api, ch) == 1 })
	if got := datas(rs[2].messages(api, ch)); !slices.Equal(got, []string{"after"}) {
		t.Errorf("node 2 got %v; want only the publication after its Subscribe", got)
	}
	for i := range 2 {
		waitFor(t, "nodes 0 and 1", func() bool { return rs[i].count(api, ch) == 2 })
	}
}

func testSubscribeThenPublish(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api := s.name(t, "api")
	for k := range 20 {
		ch := s.name(t, fmt.Sprint("ch", k))
		if err := c.Nodes[1].Bus.Subscribe(ctx(t), api, ch); err != nil {
			t.Fatal(err)
		}
		publish(t, c.Nodes[0], api, ch, pub("x"), nil)
		waitFor(t, "a publication right after Subscribe", func() bool { return rs[1].count(api, ch) == 1 })
		if rs[0].count(api, ch) != 0 {
			t.Errorf("the publisher's node got a channel it did not subscribe")
		}
	}
}

func testUnsubscribe(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	publish(t, c.Nodes[0], api, ch, pub("1"), long)
	waitFor(t, "node 1 to receive 1", func() bool { return rs[1].count(api, ch) == 1 })
	if err := c.Nodes[1].Bus.Unsubscribe(ctx(t), api, ch); err != nil {
		t.Fatal(err)
	}
	if err := c.Nodes[1].Bus.Unsubscribe(ctx(t), api, ch); err != nil {
		t.Fatalf("second Unsubscribe: %v; want nil", err)
	}
	publish(t, c.Nodes[0], api, ch, pub("2"), long)
	if err := c.Nodes[1].Bus.Subscribe(ctx(t), api, ch); err != nil {
		t.Fatal(err)
	}
	publish(t, c.Nodes[0], api, ch, pub("3"), long)
	waitFor(t, "node 1 to receive 3", func() bool { return rs[1].count(api, ch) == 2 })
	if got := datas(rs[1].messages(api, ch)); !slices.Equal(got, []string{"1", "3"}) {
		t.Errorf("node 1 got %v; want 1 and 3 (2 was published while unsubscribed)", got)
	}
	if got := rs[1].messages(api, ch); got[1].Offset != 3 {
		t.Errorf("offset after resubscribing: %d; want 3 (one stream)", got[1].Offset)
	}
	waitFor(t, "node 0 to receive all", func() bool { return rs[0].count(api, ch) == 3 })
}

func testBroadcast(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api := s.name(t, "api")
	// A node serving api subscribes to its broadcasts with channel "".
	subscribeAll(t, c, api, "")
	for k := range 3 {
		m := pub(fmt.Sprint("b", k))
		m.Exclude = c.Nodes[0].Registry.NewID()
		if err := c.Nodes[k].Bus.Broadcast(ctx(t), api, m); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range rs {
		waitFor(t, fmt.Sprintf("node %d to receive 3 broadcasts", i), func() bool { return r.count(api, "") == 3 })
		got := r.messages(api, "")
		if !slices.Equal(uniq(datas(got)), []string{"b0", "b1", "b2"}) {
			t.Errorf("node %d: broadcasts %v", i, datas(got))
		}
		for _, m := range got {
			if m.Exclude == "" || m.Kind != cluster.Publication {
				t.Errorf("node %d: broadcast %+v lost its kind or exclude", i, m)
			}
		}
	}
}

func testMembersCounted(t *testing.T, s *suite) {
	c := s.f(t, 3)
	handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	if p := publish(t, c.Nodes[0], api, ch, pub("x"), nil); p.Members != 0 {
		t.Errorf("Members = %d; want 0", p.Members)
	}
	for i, n := range c.Nodes {
		m := cluster.Member{ID: n.Registry.NewID(), User: fmt.Sprint("u", i)}
		if _, err := n.Presence.Join(ctx(t), api, ch, m, false); err != nil {
			t.Fatal(err)
		}
	}
	if p := publish(t, c.Nodes[1], api, ch, pub("y"), long); p.Members != 3 {
		t.Errorf("Members = %d; want 3 (cluster-wide)", p.Members)
	}
}

func testKilledNodeSkipped(t *testing.T, s *suite) {
	c := s.f(t, 3)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	c.Kill(2)
	publish(t, c.Nodes[0], api, ch, pub("1"), long)
	publish(t, c.Nodes[1], api, ch, pub("2"), long)
	for i := range 2 {
		waitFor(t, "live nodes to receive", func() bool { return rs[i].count(api, ch) == 2 })
	}
}

func testBusInvalidOptions(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	bad := &history.StreamOptions{Size: 0, TTL: time.Minute, MetaTTL: time.Hour}
	if _, err := c.Nodes[0].Bus.Publish(ctx(t), api, ch, pub("bad"), bad); !errors.Is(err, history.ErrInvalidOptions) {
		t.Fatalf("Publish with size 0: %v; want history.ErrInvalidOptions", err)
	}
	publish(t, c.Nodes[0], api, ch, pub("good"), long)
	waitFor(t, "the good publication", func() bool { return rs[1].count(api, ch) == 1 })
	if got := rs[1].messages(api, ch)[0]; string(got.Data) != "good" || got.Offset != 1 {
		t.Errorf("got %+v; want only the good publication, at offset 1 (the refused one delivered nothing)", got)
	}
}

func testBusCancelledContext(t *testing.T, s *suite) {
	c := s.f(t, 1)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := c.Nodes[0].Bus
	if _, err := b.Publish(cctx, api, ch, pub("x"), long); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish: %v; want context.Canceled", err)
	}
	if err := b.Subscribe(cctx, api, ch); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe: %v; want context.Canceled", err)
	}
	if err := b.Broadcast(cctx, api, pub("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Broadcast: %v; want context.Canceled", err)
	}
}

// testConcurrentSubscribe: several Subscribe calls of one channel at once
// make one subscription: each returns once deliveries flow, and a
// publication is delivered once.
func testConcurrentSubscribe(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Nodes[1].Bus.Subscribe(ctx(t), api, ch); err != nil {
				t.Errorf("Subscribe: %v", err)
			}
		}()
	}
	wg.Wait()
	publish(t, c.Nodes[0], api, ch, pub("once"), long)
	publish(t, c.Nodes[0], api, ch, pub("marker"), nil)
	waitFor(t, "the marker", func() bool { return rs[1].count(api, ch) >= 2 })
	if got := datas(rs[1].messages(api, ch)); !slices.Equal(got, []string{"once", "marker"}) {
		t.Errorf("node 1 got %v; want each publication once", got)
	}
}

// testSubscribeChurn: a node unsubscribing and subscribing again while
// another publishes never runs the handler concurrently for the channel,
// and what it receives stays in offset order without repeats; after its
// last Subscribe deliveries flow.
func testSubscribeChurn(t *testing.T, s *suite) {
	c := s.f(t, 2)
	rs := handleAll(t, c)
	api, ch := s.name(t, "api"), s.name(t, "ch")
	subscribeAll(t, c, api, ch)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-done:
				return
			default:
			}
			if _, err := c.Nodes[0].Bus.Publish(ctx(t), api, ch, pub(fmt.Sprint(k)), long); err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
		}
	}()
	b := c.Nodes[1].Bus
	for range 20 {
		if err := b.Unsubscribe(ctx(t), api, ch); err != nil {
			t.Fatal(err)
		}
		if err := b.Subscribe(ctx(t), api, ch); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	last := publish(t, c.Nodes[0], api, ch, pub("last"), long)
	waitFor(t, "the last publication", func() bool {
		got := rs[1].messages(api, ch)
		return len(got) > 0 && string(got[len(got)-1].Data) == "last"
	})
	rs[1].checkSequential()
	var prev uint64
	for _, m := range rs[1].messages(api, ch) {
		if m.Kind != cluster.Publication {
			continue
		}
		if m.Offset <= prev {
			t.Fatalf("offset %d after %d: out of order or repeated", m.Offset, prev)
		}
		prev = m.Offset
	}
	if prev != last.Position.Offset {
		t.Errorf("last offset %d; want %d", prev, last.Position.Offset)
	}
}
