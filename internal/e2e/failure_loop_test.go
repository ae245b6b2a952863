package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// TestCloseDuringRedisOutageDoesNotStallOthers: a connection that closes
// while its node cannot reach Redis leaves its channels through Redis
// (Presence.Leave, Bus.Unsubscribe), which waits for the command timeout.
// That wait must not hold the event loop the closed socket was on: the
// node's other connections keep being served meanwhile. Shown by event
// order: a switchboard.v1 ping sent by each other connection right after
// the close is answered before the node logs that the leave timed out.
func TestCloseDuringRedisOutageDoesNotStallOthers(t *testing.T) {
	srv := redistest.StartServer(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	direct := redisTarget{mode: "single", addrs: []string{srv.Addr}}
	c := startClusterWith(t, 2, direct, clusterOptions{redisFor: func(i int) redisTarget {
		if i == 0 {
			return redisTarget{mode: "single", addrs: []string{proxy.Addr}}
		}
		return direct
	}})
	nd := c.nodes[0]
	a := c.fdial(nd, "closing", "", "room:stall", false)
	// Event loops take connections in turn: as many connections as the
	// node has loops (GOMAXPROCS, at most 8 here) put one on a's.
	var others []*fclient
	for i := range 8 {
		others = append(others, c.fdial(nd, fmt.Sprintf("other-%d", i), "", "", true))
	}
	const warning = `"cluster presence: leave"`
	if strings.Contains(nd.log.String(), warning) {
		t.Fatal("a leave failed before the cut")
	}

	// Stall, not Cut: Redis stops answering on the open connections, so
	// the leave waits for its command timeout (a dropped connection would
	// fail it at once, proving nothing about who waited).
	proxy.Stall()
	if err := a.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Logf("closing: %v", err)
	}
	for _, o := range others {
		if err := o.ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping","id":1}`)); err != nil {
			t.Fatalf("%s: ping: %v", o.tag, err)
		}
	}
	for _, o := range others {
		var answered, warned bool
		waitFor(t, o.tag+"'s ping answered or its connection ended", func() bool {
			answered = o.count(func(m v1msg) bool { return m.Type == "reply" && m.ID == 1 }) == 1
			warned = strings.Contains(nd.log.String(), warning) // read after: a pong seen before it came first
			_, closed := o.closed()
			return answered || closed
		})
		if !answered || warned {
			t.Errorf("%s: ping answered %v, and the node had already logged the timed-out leave of the closed connection (%v): "+
				"the close's Redis calls held the event loop", o.tag, answered, warned)
		}
	}
	waitFor(t, "the closed connection's leave to time out", func() bool { return strings.Contains(nd.log.String(), warning) })
}
