package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
)

// memberships records what each node's OnMembership heard.
type memberships struct {
	mu  sync.Mutex
	evs []nodeMembership
}

type nodeMembership struct {
	node, stage, channel string
	ev                   hub.MembershipEvent
}

func (m *memberships) add(node, stage, channel string, ev hub.MembershipEvent) {
	m.mu.Lock()
	m.evs = append(m.evs, nodeMembership{node, stage, channel, ev})
	m.mu.Unlock()
}

// leaves returns the leaves of connection id.
func (m *memberships) leaves(id string) []nodeMembership {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []nodeMembership
	for _, e := range m.evs {
		if !e.ev.Join && e.ev.Member.ID == id {
			out = append(out, e)
		}
	}
	return out
}

// acceptLines serves the line front-end (lineSession) of node n's
// gateway for stage "prod" and dials it as user; it returns the client and
// its session.
func acceptLines(t *testing.T, n *testNode, user string) (*websocket.Conn, *lineSession) {
	t.Helper()
	sessions := make(chan *lineSession, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s *lineSession
		_, err := n.gw.Accept(w, r, gateway.AcceptOptions{
			Stage:    "prod",
			Protocol: "lines",
			User:     user,
			NewSession: func(c *gateway.Conn) (gateway.Session, error) {
				s = &lineSession{c: c, closed: make(chan [2]any, 1)}
				return s, nil
			},
		})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		sessions <- s
	}))
	t.Cleanup(srv.Close)
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), false)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, <-sessions
}

// subscribeLines subscribes a line-front-end client to channel.
func subscribeLines(t *testing.T, c *websocket.Conn, channel string) {
	t.Helper()
	send(t, c, "sub "+channel)
	if got := string(readMsg(t, c)); got != "subscribed "+channel {
		t.Fatalf("subscribe %s: %q", channel, got)
	}
}

// A survivor that reaps a killed node runs the API's $disconnect for the
// API's own connections only: a front-end connection (gateway.Accept)
// never ran the API's routes and gets none (its record says its protocol),
// but its channel leaves still happen, once, on the survivor that reaped
// it, with their edges (what the Pusher front-end turns into
// member_removed and channel_vacated webhooks).
func TestClusterNodeLossFrontend(t *testing.T) {
	var ms memberships
	tc := newTestClusterWith(t, 3, nil, clusterExtras{
		apiYAML: `    channels:
      namespaces:
        - pattern: "presence-*"
          joinLeave: true
`,
		onMembership: ms.add,
	})
	n0, n2 := tc.nodes[0], tc.nodes[2]
	_, apiConn := tc.dial(n2, "alice")
	fe, s := acceptLines(t, n2, "bob")
	feID := s.c.ID()
	subscribeLines(t, fe, "presence-room")
	subscribeLines(t, fe, "presence-solo")
	other, _ := acceptLines(t, n0, "carol")
	subscribeLines(t, other, "presence-room")

	tc.be.kill("n2")
	n2.mn.Kill()
	tc.fwd.Unregister(n2.inc)
	tc.clk.Add(testLease)
	tc.b.Wake()
	waitFor(t, "a survivor to reap n2", func() bool { return tc.logs.has("lost node reaped " + n2.inc) })

	if ds := tc.be.disconnects(apiConn); len(ds) != 1 || ds[0].node == "n2" || ds[0].code != 1006 {
		t.Fatalf("the API's connection: $disconnects %+v, want one from a survivor with 1006", ds)
	}
	if ds := tc.be.disconnects(feID); len(ds) != 0 {
		t.Fatalf("the front-end connection got $disconnect %+v, want none", ds)
	}
	leaves := ms.leaves(feID)
	byChannel := map[string]nodeMembership{}
	for _, l := range leaves {
		if l.node == "n2" {
			t.Errorf("the dead node reported a leave: %+v", l)
		}
		if _, dup := byChannel[l.channel]; dup {
			t.Errorf("leave of %s reported twice: %+v", l.channel, leaves)
		}
		byChannel[l.channel] = l
	}
	room, solo := byChannel["presence-room"], byChannel["presence-solo"]
	if room.stage != "prod" || !room.ev.UserEdge || room.ev.Vacated || room.ev.Member.User != "bob" {
		t.Errorf("leave of presence-room: %+v, want bob's last connection, the channel still occupied", room)
	}
	if solo.stage != "prod" || !solo.ev.UserEdge || !solo.ev.Vacated {
		t.Errorf("leave of presence-solo: %+v, want bob's last connection and the channel vacated", solo)
	}
	if len(leaves) != 2 {
		t.Errorf("leaves of the front-end connection: %+v, want one per channel", leaves)
	}
	// The live front-end connection on a survivor was left alone.
	send(t, other, "still there")
	if got := string(readMsg(t, other)); got != "1:still there" {
		t.Fatalf("the live front-end connection answered %q", got)
	}
}
