package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// The Pusher app every node of these tests serves, on the chat API (whose
// $disconnect route goes to the harness's recording backend).
const (
	pusherAppID  = "4242"
	pusherKey    = "e2e-pusher-key"
	pusherSecret = "e2e-pusher-secret-0123456789abcdef"
)

// pusherConfig appends the Pusher app, with client events and every
// webhook sent to hookURL one event per request, to a node's YAML.
func pusherConfig(hookURL string) func(string) string {
	return func(yaml string) string {
		return yaml + `
pusher:
  apps:
    - id: "` + pusherAppID + `"
      key: ` + pusherKey + `
      secret: ` + pusherSecret + `
      api: chat
      clientEvents: true
      webhooks:
        - url: ` + hookURL + `
`
	}
}

// hookEvent is one webhook event as the receiver got it.
type hookEvent struct {
	Name     string `json:"name"`
	Channel  string `json:"channel"`
	UserID   string `json:"user_id"`
	Event    string `json:"event"`
	Data     string `json:"data"`
	SocketID string `json:"socket_id"`
}

// hookReceiver is the app's webhook endpoint: it checks each request's
// key and signature and records its events in arrival order.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	events []hookEvent
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if got := r.Header.Get("X-Pusher-Key"); got != pusherKey {
			t.Errorf("webhook with X-Pusher-Key %q", got)
		}
		if got, want := r.Header.Get("X-Pusher-Signature"), pusherproto.WebhookSignature(pusherSecret, body); got != want {
			t.Errorf("webhook signature %q, want %q", got, want)
		}
		var b struct {
			Events []hookEvent `json:"events"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.events = append(h.events, b.Events...)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// count returns how many events match.
func (h *hookReceiver) count(match func(hookEvent) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if match(e) {
			n++
		}
	}
	return n
}

// wait waits until an event matches.
func (h *hookReceiver) wait(what string, match func(hookEvent) bool) {
	h.t.Helper()
	waitFor(h.t, "webhook "+what, func() bool { return h.count(match) > 0 })
}

// exactlyOnce fails unless exactly one event matches (call it after a
// barrier).
func (h *hookReceiver) exactlyOnce(what string, match func(hookEvent) bool) {
	h.t.Helper()
	if n := h.count(match); n != 1 {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.t.Errorf("webhook %s received %d times, want once; all events: %+v", what, n, h.events)
	}
}

func named(name, channel string) func(hookEvent) bool {
	return func(e hookEvent) bool { return e.Name == name && e.Channel == channel }
}

func member(name, channel, user string) func(hookEvent) bool {
	return func(e hookEvent) bool { return e.Name == name && e.Channel == channel && e.UserID == user }
}

// barrier makes sure that every webhook the given nodes emitted before it
// has arrived: on each node a connection subscribes to a channel of its
// own and closes, and the test waits for that channel's channel_vacated.
// A node's webhooks go out in the order they were emitted, after the
// debounce, which holds each vacated and member_removed for the same
// delay: so an event a node emitted before the marker's vacated arrives
// before it.
func (h *hookReceiver) barrier(nodes ...*node) {
	h.t.Helper()
	var markers []string
	for _, nd := range nodes {
		ch := fmt.Sprintf("marker-%s-%d", nd.name, time.Now().UnixNano())
		p := dialPusher(h.t, nd)
		p.subscribe(ch, "", "")
		p.close()
		markers = append(markers, ch)
	}
	for _, ch := range markers {
		h.wait("vacated of "+ch, named("channel_vacated", ch))
	}
}

// pframe is one frame a Pusher client received.
type pframe struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	UserID  string          `json:"user_id"`
}

// data decodes the frame's data, which the server sends as a JSON string
// holding JSON (or, for some events, as an object), into v.
func (f pframe) data(v any) error {
	raw := []byte(f.Data)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = []byte(s)
	}
	return json.Unmarshal(raw, v)
}

// pusherClient is a protocol 7 client written with coder/websocket: a
// reader goroutine records every frame.
type pusherClient struct {
	t        testing.TB
	node     string
	ws       *websocket.Conn
	socketID string

	mu     sync.Mutex
	frames []pframe
	done   chan struct{}
}

// dialPusher connects to nd's /app/{key} and waits for
// pusher:connection_established.
func dialPusher(t testing.TB, nd *node) *pusherClient {
	t.Helper()
	ws, _, err := websocket.Dial(ctx(t), "ws://"+nd.addr+"/app/"+pusherKey+"?protocol=7&client=go&version=e2e", nil)
	if err != nil {
		t.Fatalf("dial %s: %v", nd.name, err)
	}
	p := &pusherClient{t: t, node: nd.name, ws: ws, done: make(chan struct{})}
	t.Cleanup(func() { ws.CloseNow(); <-p.done })
	go p.read()
	f := p.next("pusher:connection_established", "")
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if err := f.data(&est); err != nil || !pusherproto.ValidSocketID(est.SocketID) {
		t.Fatalf("connection_established %s: %v", f.Data, err)
	}
	p.socketID = est.SocketID
	return p
}

func (p *pusherClient) read() {
	defer close(p.done)
	for {
		_, b, err := p.ws.Read(context.Background())
		if err != nil {
			return
		}
		var f pframe
		if err := json.Unmarshal(b, &f); err != nil {
			p.t.Errorf("%s: frame %s: %v", p.node, b, err)
			continue
		}
		p.mu.Lock()
		p.frames = append(p.frames, f)
		p.mu.Unlock()
	}
}

// next waits for a frame of event (on channel, when not "") that was not
// taken yet, and takes it with every frame before it.
func (p *pusherClient) next(event, channel string) pframe {
	p.t.Helper()
	var got pframe
	waitFor(p.t, p.node+" "+event+" "+channel, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, f := range p.frames {
			if f.Event == event && (channel == "" || f.Channel == channel) {
				got = f
				p.frames = p.frames[i+1:]
				return true
			}
		}
		return false
	})
	return got
}

// upTo waits for a frame of event on channel and returns the frames of
// the channel up to it (it included), taking them.
func (p *pusherClient) upTo(event, channel string) []pframe {
	p.t.Helper()
	var out []pframe
	waitFor(p.t, p.node+" "+event+" "+channel, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, f := range p.frames {
			if f.Event == event && f.Channel == channel {
				for _, g := range p.frames[:i+1] {
					if g.Channel == channel {
						out = append(out, g)
					}
				}
				p.frames = p.frames[i+1:]
				return true
			}
		}
		return false
	})
	return out
}

func (p *pusherClient) send(v any) {
	p.t.Helper()
	b, _ := json.Marshal(v)
	if err := p.ws.Write(ctx(p.t), websocket.MessageText, b); err != nil {
		p.t.Fatalf("%s: write: %v", p.node, err)
	}
}

// subscribe subscribes to channel with the signature its type needs
// (user, when not "", is the presence member) and waits for
// pusher_internal:subscription_succeeded, which it returns.
func (p *pusherClient) subscribe(channel, user, info string) pframe {
	p.t.Helper()
	data := map[string]string{"channel": channel}
	switch {
	case strings.HasPrefix(channel, "presence-"):
		cd := fmt.Sprintf(`{"user_id":%q,"user_info":{"name":%q}}`, user, info)
		data["channel_data"] = cd
		data["auth"] = pusherproto.AuthValue(pusherKey, pusherSecret, pusherproto.ChannelString(p.socketID, channel, cd))
	case strings.HasPrefix(channel, "private-"):
		data["auth"] = pusherproto.AuthValue(pusherKey, pusherSecret, pusherproto.ChannelString(p.socketID, channel, ""))
	}
	p.send(map[string]any{"event": "pusher:subscribe", "data": data})
	return p.next("pusher_internal:subscription_succeeded", channel)
}

func (p *pusherClient) unsubscribe(channel string) {
	p.t.Helper()
	p.send(map[string]any{"event": "pusher:unsubscribe", "data": map[string]string{"channel": channel}})
}

// sync returns once the server handled what p sent before: it answers
// pusher:ping with pusher:pong after the connection's earlier messages (a
// session handles them one at a time, in order), so an unsubscribe, which
// Pusher does not acknowledge, is done.
func (p *pusherClient) sync() {
	p.t.Helper()
	p.send(map[string]any{"event": "pusher:ping", "data": map[string]string{}})
	p.next("pusher:pong", "")
}

// close closes the connection and waits for its end.
func (p *pusherClient) close() {
	_ = p.ws.Close(websocket.StatusNormalClosure, "")
	<-p.done
}

// presenceOf reads a presence subscription_succeeded.
func presenceOf(t testing.TB, f pframe) (ids []string, count int) {
	t.Helper()
	var d struct {
		Presence struct {
			IDs   []string       `json:"ids"`
			Hash  map[string]any `json:"hash"`
			Count int            `json:"count"`
		} `json:"presence"`
	}
	if err := f.data(&d); err != nil {
		t.Fatalf("presence data %s: %v", f.Data, err)
	}
	if len(d.Presence.Hash) != len(d.Presence.IDs) {
		t.Errorf("presence data %s: hash and ids differ", f.Data)
	}
	slices.Sort(d.Presence.IDs)
	return d.Presence.IDs, d.Presence.Count
}

// userOf is the user_id of a member_added or member_removed.
func userOf(t testing.TB, f pframe) string {
	t.Helper()
	var d struct {
		UserID string `json:"user_id"`
	}
	if err := f.data(&d); err != nil {
		t.Fatalf("member data %s: %v", f.Data, err)
	}
	return d.UserID
}

// events lists the frames as "event user" (user for member frames).
func events(t testing.TB, fs []pframe) []string {
	var out []string
	for _, f := range fs {
		s := f.Event
		if strings.HasPrefix(f.Event, "pusher_internal:member_") {
			s += " " + userOf(t, f)
		}
		out = append(out, s)
	}
	return out
}

// A Pusher app on three real nodes over one real Redis (and on a 3 + 3
// Redis Cluster): presence, client events, occupancy and webhooks are
// decided once cluster-wide, and a node killed with SIGKILL takes its
// members away exactly once, without the API's $disconnect for them.
func TestPusherCluster(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		srv := redistest.StartServer(t)
		pusherCluster(t, redisTarget{mode: "single", addrs: []string{srv.Addr}})
	})
	t.Run("rediscluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("the 3 + 3 Redis Cluster is not started with -short")
		}
		pusherCluster(t, redisTarget{mode: "cluster", addrs: redistest.SharedCluster(t).Addrs()})
	})
}

func pusherCluster(t *testing.T, r redisTarget) {
	hooks := newHookReceiver(t)
	c := startClusterWith(t, 3, r, clusterOptions{config: pusherConfig(hooks.srv.URL)})
	n0, n1, n2 := c.nodes[0], c.nodes[1], c.nodes[2]

	t.Run("presence", func(t *testing.T) {
		const ch = "presence-lobby"
		w := dialPusher(t, n2)
		if ids, count := presenceOf(t, w.subscribe(ch, "u2", "Two")); count != 1 || !slices.Equal(ids, []string{"u2"}) {
			t.Fatalf("first member: ids %v count %d", ids, count)
		}
		// User u1 on two nodes.
		a := dialPusher(t, n0)
		if ids, count := presenceOf(t, a.subscribe(ch, "u1", "One")); count != 2 || !slices.Equal(ids, []string{"u1", "u2"}) {
			t.Fatalf("u1 on n0: ids %v count %d, want u1 and u2 (on n2)", ids, count)
		}
		b := dialPusher(t, n1)
		if ids, count := presenceOf(t, b.subscribe(ch, "u1", "One")); count != 2 || !slices.Equal(ids, []string{"u1", "u2"}) {
			t.Fatalf("u1 again on n1: ids %v count %d, want u1 and u2 once each", ids, count)
		}
		x := dialPusher(t, n1)
		if ids, count := presenceOf(t, x.subscribe(ch, "u3", "Three")); count != 3 || !slices.Equal(ids, []string{"u1", "u2", "u3"}) {
			t.Fatalf("u3 on n1: ids %v count %d", ids, count)
		}
		// The channel's notices are in one order: a second member_added u1
		// would come before member_added u3.
		if got := events(t, w.upTo("pusher_internal:member_added", ch)); !slices.Equal(got, []string{"pusher_internal:member_added u1"}) {
			t.Fatalf("u2 saw %v first", got)
		}
		if got := events(t, w.upTo("pusher_internal:member_added", ch)); !slices.Equal(got, []string{"pusher_internal:member_added u3"}) {
			t.Fatalf("u2 saw %v, want only member_added u3 after member_added u1", got)
		}
		a.unsubscribe(ch) // u1 still on n1: no member_removed
		a.sync()
		b.close() // u1's last connection
		if got := events(t, w.upTo("pusher_internal:member_removed", ch)); !slices.Equal(got, []string{"pusher_internal:member_removed u1"}) {
			t.Fatalf("u2 saw %v, want member_removed u1 once", got)
		}
		x.unsubscribe(ch)
		if got := events(t, w.upTo("pusher_internal:member_removed", ch)); !slices.Equal(got, []string{"pusher_internal:member_removed u3"}) {
			t.Fatalf("u2 saw %v, want only member_removed u3 after member_removed u1", got)
		}
		w.close()
		hooks.wait("vacated "+ch, named("channel_vacated", ch))
		hooks.barrier(n0, n1, n2)
		hooks.exactlyOnce("channel_occupied "+ch, named("channel_occupied", ch))
		hooks.exactlyOnce("channel_vacated "+ch, named("channel_vacated", ch))
		for _, u := range []string{"u1", "u2", "u3"} {
			hooks.exactlyOnce("member_added "+u, member("member_added", ch, u))
			hooks.exactlyOnce("member_removed "+u, member("member_removed", ch, u))
		}
	})

	t.Run("client events", func(t *testing.T) {
		const ch = "private-chat"
		sender := dialPusher(t, n0)
		sameNode := dialPusher(t, n0)
		on1, on2 := dialPusher(t, n1), dialPusher(t, n2)
		for _, p := range []*pusherClient{sender, sameNode, on1, on2} {
			p.subscribe(ch, "", "")
		}
		sender.send(map[string]any{"event": "client-hello", "channel": ch, "data": map[string]string{"from": "n0"}})
		for _, p := range []*pusherClient{sameNode, on1, on2} {
			f := p.next("client-hello", ch)
			var d map[string]string
			if err := f.data(&d); err != nil || d["from"] != "n0" {
				t.Fatalf("%s got client-hello %s (%v)", p.node, f.Data, err)
			}
		}
		// The channel has one order: the sender would have its own event
		// before the reply.
		on1.send(map[string]any{"event": "client-reply", "channel": ch, "data": map[string]string{}})
		if got := events(t, sender.upTo("client-reply", ch)); !slices.Equal(got, []string{"client-reply"}) {
			t.Fatalf("the sender got %v, want only the reply (not its own event)", got)
		}
		hooks.wait("client_event", func(e hookEvent) bool { return e.Name == "client_event" && e.Event == "client-reply" })
		hooks.barrier(n0, n1, n2)
		hooks.exactlyOnce("client_event client-hello", func(e hookEvent) bool {
			return e.Name == "client_event" && e.Channel == ch && e.Event == "client-hello" && e.SocketID == sender.socketID && e.Data == `{"from":"n0"}`
		})
		hooks.exactlyOnce("client_event client-reply", func(e hookEvent) bool {
			return e.Name == "client_event" && e.Event == "client-reply" && e.SocketID == on1.socketID
		})
	})

	t.Run("occupancy", func(t *testing.T) {
		const ch = "news"
		first, second := dialPusher(t, n1), dialPusher(t, n2)
		first.subscribe(ch, "", "")
		hooks.wait("occupied "+ch, named("channel_occupied", ch))
		second.subscribe(ch, "", "")
		first.unsubscribe(ch)
		third := dialPusher(t, n0)
		third.subscribe(ch, "", "")
		second.close()
		third.close() // the last one anywhere
		hooks.wait("vacated "+ch, named("channel_vacated", ch))
		hooks.barrier(n0, n1, n2)
		hooks.exactlyOnce("channel_occupied "+ch, named("channel_occupied", ch))
		hooks.exactlyOnce("channel_vacated "+ch, named("channel_vacated", ch))
	})

	t.Run("node killed", func(t *testing.T) {
		const ch, solo = "presence-room", "presence-solo"
		watcher := dialPusher(t, n0)
		watcher.subscribe(ch, "w", "Watcher")
		doomed := dialPusher(t, n2)
		doomed.subscribe(ch, "d", "Doomed")
		doomed.subscribe(solo, "d", "Doomed")
		if got := events(t, watcher.upTo("pusher_internal:member_added", ch)); !slices.Equal(got, []string{"pusher_internal:member_added d"}) {
			t.Fatalf("watcher saw %v", got)
		}
		// An API connection on the same node: its $disconnect shows the
		// reaper ran.
		api := c.open(n2, fmt.Sprintf("pusher-kill-%d", time.Now().UnixNano()), "", false)
		hooks.wait("occupied "+solo, named("channel_occupied", solo))

		c.kill(n2)
		if got := events(t, watcher.upTo("pusher_internal:member_removed", ch)); !slices.Equal(got, []string{"pusher_internal:member_removed d"}) {
			t.Fatalf("watcher saw %v, want member_removed d", got)
		}
		waitFor(t, "the API connection's $disconnect", func() bool { return len(c.backend.route("$disconnect", api.id)) == 1 })
		// A later member's notice comes after any second member_removed d.
		late := dialPusher(t, n1)
		late.subscribe(ch, "late", "Late")
		if got := events(t, watcher.upTo("pusher_internal:member_added", ch)); !slices.Equal(got, []string{"pusher_internal:member_added late"}) {
			t.Fatalf("watcher saw %v, want only member_added late after member_removed d", got)
		}
		hooks.wait("member_removed d", member("member_removed", ch, "d"))
		hooks.wait("vacated "+solo, named("channel_vacated", solo))
		hooks.barrier(n0, n1)
		hooks.exactlyOnce("member_removed d", member("member_removed", ch, "d"))
		hooks.exactlyOnce("member_removed d in "+solo, member("member_removed", solo, "d"))
		hooks.exactlyOnce("channel_vacated "+solo, named("channel_vacated", solo))
		if n := hooks.count(named("channel_vacated", ch)); n != 0 {
			t.Errorf("%s vacated %d times while the watcher is in it", ch, n)
		}
		// The reaper ran $disconnect for the API's connection, from a
		// survivor, and for none of the Pusher connections (which never
		// ran $connect either).
		c.backend.mu.Lock()
		defer c.backend.mu.Unlock()
		for _, e := range c.backend.events {
			if e.Route == "$disconnect" && e.ConnectionID != api.id {
				t.Errorf("$disconnect of %s (reason %q, by %s); only the API connection %s should get one", e.ConnectionID, e.Reason, e.Node, api.id)
			}
			if e.Route == "$disconnect" && e.ConnectionID == api.id && (e.Node == n2.name || e.Reason != "Switchboard node lost") {
				t.Errorf("the API connection's $disconnect %+v, want from a survivor with reason \"Switchboard node lost\"", e)
			}
		}
	})
}

// Pusher's debounce (reference §10) holds member_removed and
// channel_vacated for 3 s so that a user who reconnects at once produces
// no webhook. In a cluster the reconnection often lands on another node
// (a drain's 4200 sends every client back at once), and each node
// debounces only its own events: the app gets member_added from the new
// node and then, 3 s later, member_removed from the old one, and believes
// the user is gone while they are present. The front-end therefore checks
// the cluster's presence when a held event comes due (Frontend.later).
func TestPusherClusterDebounceAcrossNodes(t *testing.T) {
	srv := redistest.StartServer(t)
	hooks := newHookReceiver(t)
	c := startClusterWith(t, 2, redisTarget{mode: "single", addrs: []string{srv.Addr}}, clusterOptions{config: pusherConfig(hooks.srv.URL)})
	n0, n1 := c.nodes[0], c.nodes[1]
	const ch = "presence-flap"
	watcher := dialPusher(t, n0)
	watcher.subscribe(ch, "w", "Watcher")
	before := dialPusher(t, n0)
	before.subscribe(ch, "r", "Reconnecting")
	watcher.next("pusher_internal:member_added", ch)
	hooks.wait("member_added r", member("member_added", ch, "r"))
	before.close()
	if got := events(t, watcher.upTo("pusher_internal:member_removed", ch)); !slices.Equal(got, []string{"pusher_internal:member_removed r"}) {
		t.Fatalf("watcher saw %v", got)
	}
	after := dialPusher(t, n1) // within the debounce, on the other node
	after.subscribe(ch, "r", "Reconnecting")
	hooks.barrier(n0, n1)
	// The user is present: the last member event the app got for r must
	// say so.
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	last := ""
	for _, e := range hooks.events {
		if e.Channel == ch && e.UserID == "r" {
			last = e.Name
		}
	}
	if last != "member_added" {
		t.Errorf("the app's last member webhook for r is %q while r is in %s; events: %+v", last, ch, hooks.events)
	}
}

// An HTTP API event with socket_id is not delivered to that connection,
// whichever node it is on and whichever node the request reaches. Until
// the HTTP API is built (it answers 501), the test is skipped.
func TestPusherClusterHTTPEventExclusion(t *testing.T) {
	srv := redistest.StartServer(t)
	hooks := newHookReceiver(t)
	c := startClusterWith(t, 3, redisTarget{mode: "single", addrs: []string{srv.Addr}}, clusterOptions{config: pusherConfig(hooks.srv.URL)})
	n0, n1, n2 := c.nodes[0], c.nodes[1], c.nodes[2]
	const ch = "updates"
	excluded, on1, on2 := dialPusher(t, n0), dialPusher(t, n1), dialPusher(t, n2)
	for _, p := range []*pusherClient{excluded, on1, on2} {
		p.subscribe(ch, "", "")
	}
	trigger := func(nd *node, name, socketID string) int {
		body, _ := json.Marshal(map[string]any{"name": name, "channel": ch, "data": `{"n":1}`, "socket_id": socketID})
		return pusherPost(t, nd, "/apps/"+pusherAppID+"/events", body)
	}
	if status := trigger(n2, "first", excluded.socketID); status == http.StatusNotImplemented {
		t.Skip("the Pusher HTTP API answers 501 in this build; enable after it is merged")
	} else if status != http.StatusOK {
		t.Fatalf("POST events: %d", status)
	}
	for _, p := range []*pusherClient{on1, on2} {
		p.next("first", ch)
	}
	if status := trigger(n1, "second", ""); status != http.StatusOK {
		t.Fatalf("POST events: %d", status)
	}
	if got := events(t, excluded.upTo("second", ch)); !slices.Equal(got, []string{"second"}) {
		t.Fatalf("the excluded connection got %v, want only the second event", got)
	}
}

// pusherPost sends a signed Pusher HTTP API POST (reference §12.2) and
// returns its status.
func pusherPost(t testing.TB, nd *node, path string, body []byte) int {
	t.Helper()
	sum := md5.Sum(body)
	q := url.Values{
		"auth_key":       {pusherKey},
		"auth_timestamp": {strconv.FormatInt(time.Now().Unix(), 10)},
		"auth_version":   {"1.0"},
		"body_md5":       {hex.EncodeToString(sum[:])},
	}
	q.Set("auth_signature", pusherproto.Sign(pusherSecret, pusherproto.APIStringToSign(http.MethodPost, path, q)))
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, "http://"+nd.addr+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
