package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// historyPage is a GET @channels/{c}/history answer.
type historyPage struct {
	Epoch        string
	Offset       uint64
	Truncated    bool
	Publications []struct {
		Offset uint64
		Data   json.RawMessage
	}
}

// readHistory reads channel's whole history through nd.
func readHistory(t *testing.T, nd *node, channel string) historyPage {
	t.Helper()
	var h historyPage
	decode(t, manage(t, nd.addr, "GET", "/"+stage+"/@channels/"+channel+"/history?since=0&limit=1000", nil, 200), &h)
	return h
}

// bothRedis runs f on one redis-server and on the shared 3 + 3 Redis
// Cluster.
func bothRedis(t *testing.T, f func(t *testing.T, r redisTarget)) {
	t.Run("single", func(t *testing.T) {
		f(t, redisTarget{mode: "single", addrs: []string{redistest.StartServer(t).Addr}})
	})
	t.Run("cluster", func(t *testing.T) {
		f(t, redisTarget{mode: "cluster", addrs: redistest.SharedCluster(t).Addrs()})
	})
}

// TestHistorySurvivesEveryNode: a channel's history, epoch and offsets
// included, lives in Redis: kill -9 of every node and three new nodes on
// the same Redis and key prefix read the same stream and continue it
// (issue 10 point 5).
func TestHistorySurvivesEveryNode(t *testing.T) {
	bothRedis(t, func(t *testing.T, r redisTarget) {
		c := startCluster(t, 3, r)
		const room = "room:kept"
		for i := range 10 {
			manage(t, c.nodes[i%3].addr, "POST", "/"+stage+"/@channels/"+room, fmt.Appendf(nil, `{"p":"h-%d"}`, i), 200)
		}
		before := readHistory(t, c.nodes[1], room)
		if before.Epoch == "" || before.Offset != 10 || len(before.Publications) != 10 {
			t.Fatalf("history before: %+v", before)
		}
		for i, p := range before.Publications {
			if p.Offset != uint64(i+1) || payloadName(p.Data) != fmt.Sprintf("h-%d", i) {
				t.Fatalf("history before: publication %d is %d %s", i, p.Offset, p.Data)
			}
		}
		for _, nd := range c.nodes {
			c.kill(nd)
		}
		var fresh []*node
		for i := range 3 {
			fresh = append(fresh, c.startNode(fmt.Sprintf("m%d", i), r))
		}
		for _, nd := range fresh {
			c.waitReady(nd)
		}
		for _, nd := range fresh {
			after := readHistory(t, nd, room)
			a, _ := json.Marshal(after)
			b, _ := json.Marshal(before)
			if string(a) != string(b) {
				t.Fatalf("history through %s after every node restarted:\n%s\nwant\n%s", nd.name, a, b)
			}
		}
		var res struct {
			Epoch  string
			Offset uint64
		}
		decode(t, manage(t, fresh[2].addr, "POST", "/"+stage+"/@channels/"+room, []byte(`{"p":"h-10"}`), 200), &res)
		if res.Epoch != before.Epoch || res.Offset != 11 {
			t.Errorf("publication after the restart at %s/%d; want %s/11", res.Epoch, res.Offset, before.Epoch)
		}
	})
}

// TestRecoveryAfterNodeLoss: a switchboard.v1 client subscribed with
// recovery on node A; node B's management API keeps publishing while A is
// killed (-9); the client reconnects to node C, resubscribes from the last
// position it saw, and ends with every publication exactly once, in order
// (issue 10 point 5).
func TestRecoveryAfterNodeLoss(t *testing.T) {
	bothRedis(t, func(t *testing.T, r redisTarget) {
		c := startCluster(t, 3, r)
		a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
		const room = "room:recover"
		// At most maxPubs publications (below the namespace's recoveryLimit,
		// its size, 1000); after the client resubscribed, tail more.
		const maxPubs, tail = 600, 50
		first := c.open(a, "first", "", true)
		first.call(1, `{"type":"subscribe","id":1,"channel":"`+room+`"}`)

		resubscribed := make(chan struct{})
		var published atomic.Int64
		var pubErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			extra := -1
			for i := 0; i < maxPubs && extra != 0; i++ {
				code, out, err := request(b.addr, "POST", "/"+stage+"/@channels/"+room, fmt.Appendf(nil, `{"p":"%d"}`, i))
				if err != nil || code != 200 {
					pubErr = fmt.Errorf("publication %d: %d %s %v", i, code, out, err)
					return
				}
				published.Add(1)
				if extra > 0 {
					extra--
				}
				if extra < 0 {
					select {
					case <-resubscribed:
						extra = tail
					default:
					}
				}
			}
		})

		waitFor(t, "20 publications on node A", func() bool { return len(first.pubs(room)) >= 20 })
		c.kill(a)
		waitFor(t, "the client's connection to lose node A", first.closed)
		got := first.pubs(room)
		last := got[len(got)-1]

		second := c.open(cn, "second", "", true)
		var res struct {
			Epoch     string
			Offset    uint64
			Recovered bool
			Missed    int
			Reason    string
		}
		if err := json.Unmarshal(second.call(1, fmt.Sprintf(`{"type":"subscribe","id":1,"channel":%q,"recover":{"epoch":%q,"offset":%d}}`, room, last.Epoch, last.Offset)), &res); err != nil {
			t.Fatal(err)
		}
		close(resubscribed)
		if !res.Recovered || res.Epoch != last.Epoch {
			t.Fatalf("resubscribe from %s/%d on node C: %+v", last.Epoch, last.Offset, res)
		}
		wg.Wait()
		if pubErr != nil {
			t.Fatal(pubErr)
		}
		total := int(published.Load())
		want := fmt.Sprint(total - 1)
		waitFor(t, "the last publication on node C", func() bool {
			ps := second.pubs(room)
			return len(ps) > 0 && ps[len(ps)-1].P == want
		})
		all := append(got, second.pubs(room)...)
		var order []string
		for i, p := range all {
			order = append(order, p.P)
			if p.P != fmt.Sprint(i) || p.Offset != uint64(i+1) || p.Epoch != last.Epoch {
				t.Fatalf("publication %d received as %q at %s/%d (first session %d, recovered %d of %d); every one: %v",
					i, p.P, p.Epoch, p.Offset, len(got), res.Missed, total, order)
			}
		}
		if len(all) != total || slices.ContainsFunc(second.pubs(room)[:res.Missed], func(p pub) bool { return p.Offset <= last.Offset }) {
			t.Fatalf("received %d publications of %d (recovered %d)", len(all), total, res.Missed)
		}
		t.Logf("%d publications: %d on node A, %d recovered on node C, %d live", total, len(got), res.Missed, total-len(got)-res.Missed)
	})
}
