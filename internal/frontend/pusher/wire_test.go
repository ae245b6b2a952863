package pusher_test

// Protocol 7 over real sockets: a Switchboard with a Pusher app runs
// in-process (server.New, the real listener and router), and the tests
// speak the wire protocol with a plain WebSocket client, frame by frame,
// as reference pusher-channels.md describes it.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

const (
	wireKey    = "app-key"
	wireSecret = "app-secret-0123456789"
)

// wireConfig is a server with one API and one Pusher app mapped to it;
// extra is appended to the app (YAML at its indentation).
func wireConfig(extra string) string {
	top := ""
	if t, rest, ok := strings.Cut(extra, "\n---\n"); ok { // "top-level YAML\n---\napp YAML"
		top, extra = t+"\n", rest
	}
	return top + `
listen: 127.0.0.1:0
management:
  allowLoopback: true
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
    routes:
      $default: {action: {type: echo}}
pusher:
  apps:
    - id: "7"
      key: ` + wireKey + `
      secret: ` + wireSecret + `
      api: chat
` + extra
}

// wireServer is a running Switchboard and its address.
type wireServer struct {
	addr string
	stop func() // shuts it down (idempotent)
}

// fixedClock is the server's clock in tests that count per second: every
// message arrives at the same instant, so a rate is exact.
func fixedClock() time.Time { return time.Unix(1_800_000_000, 0) }

func startWire(t *testing.T, extra string, now func() time.Time) *wireServer {
	t.Helper()
	s := servertest.Start(t, wireConfig(extra), server.Options{Now: now})
	return &wireServer{addr: s.Addr, stop: s.Stop}
}

// wireClient is a Pusher protocol client on a real socket.
type wireClient struct {
	t        *testing.T
	c        *websocket.Conn
	socketID string
}

// event is one server frame; Data is the "data" field decoded once when
// it is a JSON string (double encoding), raw otherwise.
type event struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	UserID  string          `json:"user_id"`
}

func (e event) data() string {
	var s string
	if json.Unmarshal(e.Data, &s) == nil {
		return s
	}
	return string(e.Data)
}

func dialRaw(t *testing.T, url string) (*websocket.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err == nil {
		c.SetReadLimit(1 << 20)
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, err
}

// connect opens a connection to the app and reads connection_established.
func (s *wireServer) connect(t *testing.T) *wireClient {
	t.Helper()
	c, err := dialRaw(t, "ws://"+s.addr+"/app/"+wireKey+"?protocol=7&client=js&version=8.6.0&flash=false")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireClient{t: t, c: c}
	ev := w.read()
	if ev.Event != "pusher:connection_established" {
		t.Fatalf("first frame %+v, want pusher:connection_established", ev)
	}
	var est struct {
		SocketID        string `json:"socket_id"`
		ActivityTimeout int    `json:"activity_timeout"`
	}
	if err := json.Unmarshal([]byte(ev.data()), &est); err != nil {
		t.Fatalf("connection_established data %s: %v (it must be a JSON string holding an object)", ev.Data, err)
	}
	if !regexp.MustCompile(`^\d+\.\d+$`).MatchString(est.SocketID) || est.ActivityTimeout <= 0 {
		t.Fatalf("connection_established %+v", est)
	}
	w.socketID = est.SocketID
	return w
}

func (w *wireClient) read() event {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	var ev event
	if err := json.Unmarshal(b, &ev); err != nil {
		w.t.Fatalf("frame %q: %v", b, err)
	}
	return ev
}

// expect reads the next frame and checks its event (and channel when not "").
func (w *wireClient) expect(name, channel string) event {
	w.t.Helper()
	ev := w.read()
	if ev.Event != name || (channel != "" && ev.Channel != channel) {
		w.t.Fatalf("got %s on %q (data %s), want %s on %q", ev.Event, ev.Channel, ev.Data, name, channel)
	}
	return ev
}

func (w *wireClient) send(v any) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.t.Context(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

type obj = map[string]any

// subscribe sends pusher:subscribe, signing private and presence channels
// with the app's secret (channelData "" for none).
func (w *wireClient) subscribe(channel, channelData string) {
	data := obj{"channel": channel, "auth": ""}
	if strings.HasPrefix(channel, "private-") || strings.HasPrefix(channel, "presence-") {
		data["auth"] = pusherproto.AuthValue(wireKey, wireSecret, pusherproto.ChannelString(w.socketID, channel, channelData))
	}
	if channelData != "" {
		data["channel_data"] = channelData
	}
	w.send(obj{"event": "pusher:subscribe", "data": data})
}

func (w *wireClient) subscribed(channel, channelData string) event {
	w.t.Helper()
	w.subscribe(channel, channelData)
	return w.expect("pusher_internal:subscription_succeeded", channel)
}

// publish posts data to a channel through the management API.
func (s *wireServer) publish(t *testing.T, channel, data string) {
	t.Helper()
	resp, err := http.Post("http://"+s.addr+"/production/@channels/"+channel, "application/json", strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish to %s: %s", channel, resp.Status)
	}
}

// waitGone waits until the connection of socketID has ended and left its
// channels: its leave notices, if any, are then queued.
func (s *wireServer) waitGone(t *testing.T, socketID string) {
	t.Helper()
	id, err := pusherproto.ConnectionID(socketID)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get("http://" + s.addr + "/production/@connections/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusGone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %s still open", socketID)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// 410 comes when it is unregistered; its channels are left right after,
	// on the same event loop turn (gateway.connectionClosed, one node):
	// the management API's presence shows it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get("http://" + s.addr + "/production/@channels/presence-room")
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Presence []struct {
				ConnectionID string `json:"connectionId"`
			} `json:"presence"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		found := false
		for _, m := range info.Presence {
			found = found || m.ConnectionID == id
		}
		if !found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %s still in presence-room", socketID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closeCode reads until the connection ends and returns its close code.
func closeCode(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// The handshake: connection_established first, with a socket id of the
// shape the SDKs require and the app's activity timeout; the socket id is
// the connection's id for the management API.
func TestWireHandshake(t *testing.T) {
	s := startWire(t, "      activityTimeout: 45s\n", nil)
	w := s.connect(t)
	connID, err := pusherproto.ConnectionID(w.socketID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.addr + "/production/@connections/" + connID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET @connections/%s (socket %s): %s", connID, w.socketID, resp.Status)
	}
	w.send(obj{"event": "pusher:ping", "data": obj{}})
	w.expect("pusher:pong", "")
}

// Refusals pusher-js acts on by close code: an unknown key (4001: stop),
// a protocol older than 5 (4007), over the app's connection quota (4004),
// each announced with pusher:error first.
func TestWireRefusals(t *testing.T) {
	s := startWire(t, "      limits: {connections: 1}\n", nil)
	for _, tc := range []struct {
		path string
		code websocket.StatusCode
	}{
		{"/app/no-such-key?protocol=7", 4001},
		{"/app/" + wireKey + "?protocol=4", 4007},
	} {
		c, err := dialRaw(t, "ws://"+s.addr+tc.path)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, b, err := c.Read(ctx)
		cancel()
		if err != nil || !strings.Contains(string(b), `"pusher:error"`) || !strings.Contains(string(b), fmt.Sprint(int(tc.code))) {
			t.Fatalf("%s: first frame %q, %v; want pusher:error %d", tc.path, b, err, tc.code)
		}
		if got := closeCode(t, c); got != tc.code {
			t.Fatalf("%s: close %d, want %d", tc.path, got, tc.code)
		}
	}
	s.connect(t) // the quota's one connection
	c, err := dialRaw(t, "ws://"+s.addr+"/app/"+wireKey+"?protocol=7")
	if err != nil {
		t.Fatal(err)
	}
	if got := closeCode(t, c); got != 4004 {
		t.Fatalf("over quota: close %d, want 4004", got)
	}
}

// Public and private channels: subscription_succeeded before any event of
// the channel, publications from the management API as event "message",
// a bad signature refused with the string that was expected to be signed
// while the socket stays open, no events after unsubscribe.
func TestWireSubscribe(t *testing.T) {
	s := startWire(t, "", nil)
	w := s.connect(t)
	ev := w.subscribed("news", "")
	if ev.data() != "{}" {
		t.Fatalf("public subscription_succeeded data %q, want {}", ev.data())
	}
	s.publish(t, "news", `{"headline":"hi"}`)
	if ev := w.expect("message", "news"); ev.data() != `{"headline":"hi"}` {
		t.Fatalf("publication data %q", ev.data())
	}

	w.send(obj{"event": "pusher:subscribe", "data": obj{"channel": "private-x", "auth": wireKey + ":" + strings.Repeat("0", 64)}})
	ev = w.expect("pusher:subscription_error", "private-x")
	if want := w.socketID + ":private-x"; !strings.Contains(ev.data(), want) || strings.Contains(ev.data(), wireSecret) {
		t.Fatalf("subscription_error %s: want it to name %q and not the secret", ev.data(), want)
	}
	w.subscribed("private-x", "")
	s.publish(t, "private-x", `"p"`)
	if ev := w.expect("message", "private-x"); ev.data() != `"p"` {
		t.Fatalf("private publication data %q", ev.data())
	}

	w.send(obj{"event": "pusher:unsubscribe", "data": obj{"channel": "news"}})
	w.send(obj{"event": "pusher:unsubscribe", "data": obj{"channel": "news"}}) // idempotent
	w.send(obj{"event": "pusher:ping", "data": obj{}})                         // messages are handled in order:
	w.expect("pusher:pong", "")                                                // the pong follows the unsubscribes
	s.publish(t, "news", `"after"`)
	s.publish(t, "private-x", `"marker"`)
	if ev := w.read(); ev.Channel != "private-x" {
		t.Fatalf("after unsubscribe got %+v, want only the marker on private-x", ev)
	}
}

// Presence: the member list has distinct users, self included;
// member_added and member_removed go to the others, once per user (its
// first and last connection), never to the member itself; the member limit
// refuses a new user and not a connection of a present one.
func TestWirePresence(t *testing.T) {
	s := startWire(t, "      limits: {presenceMembers: 2}\n", nil)
	const ch = "presence-room"
	ada := `{"user_id":"ada","user_info":{"name":"Ada"}}`
	bob := `{"user_id":"bob"}`
	watcher := s.connect(t)
	ev := watcher.subscribed(ch, ada)
	var succ struct {
		Presence struct {
			IDs   []string                   `json:"ids"`
			Hash  map[string]json.RawMessage `json:"hash"`
			Count int                        `json:"count"`
		} `json:"presence"`
	}
	if err := json.Unmarshal([]byte(ev.data()), &succ); err != nil || succ.Presence.Count != 1 || succ.Presence.IDs[0] != "ada" {
		t.Fatalf("presence subscription_succeeded %s (%v)", ev.data(), err)
	}

	b1 := s.connect(t)
	ev = b1.subscribed(ch, bob)
	if json.Unmarshal([]byte(ev.data()), &succ) != nil || succ.Presence.Count != 2 {
		t.Fatalf("second member's list %s, want ada and bob", ev.data())
	}
	if ev := watcher.expect("pusher_internal:member_added", ch); !strings.Contains(ev.data(), `"bob"`) {
		t.Fatalf("member_added %s", ev.data())
	}
	b2 := s.connect(t)
	b2.subscribed(ch, bob) // bob's second connection: no second member_added

	carl := s.connect(t)
	carl.subscribe(ch, `{"user_id":"carl"}`)
	if ev := carl.expect("pusher:subscription_error", ch); !strings.Contains(ev.data(), "LimitReached") {
		t.Fatalf("third user: %s, want LimitReached", ev.data())
	}

	b1.c.Close(websocket.StatusNormalClosure, "")
	s.waitGone(t, b1.socketID)
	s.publish(t, ch, `"marker1"`) // bob still has b2: no member_removed before the marker
	if ev := watcher.read(); ev.Event != "message" {
		t.Fatalf("after bob's first connection left: %+v, want the marker (no member_removed yet)", ev)
	}
	b2.c.Close(websocket.StatusNormalClosure, "")
	if ev := watcher.expect("pusher_internal:member_removed", ch); !strings.Contains(ev.data(), `"bob"`) {
		t.Fatalf("member_removed %s", ev.data())
	}
}

// Client events, with the rules in the reference's order: only on private
// and presence channels the sender is in, to the others and not the
// sender, user_id on presence channels, at most 10 a second (the 11th
// rejected with 4301, the socket open).
func TestWireClientEvents(t *testing.T) {
	s := startWire(t, "      clientEvents: true\n", fixedClock)
	a, b := s.connect(t), s.connect(t)
	a.subscribed("private-chat", "")
	b.subscribed("private-chat", "")

	a.send(obj{"event": "client-typing", "channel": "private-chat", "data": obj{"who": "a"}})
	if ev := b.expect("client-typing", "private-chat"); ev.data() != `{"who":"a"}` {
		t.Fatalf("client event data %q", ev.data())
	}
	a.send(obj{"event": "client-x", "channel": "news", "data": obj{}})
	if ev := a.expect("pusher:error", ""); !strings.Contains(string(ev.Data), "4301") {
		t.Fatalf("client event on a public channel: %s", ev.Data)
	}
	a.send(obj{"event": "client-x", "channel": "private-other", "data": obj{}})
	if ev := a.expect("pusher:error", ""); !strings.Contains(string(ev.Data), "not subscribed") {
		t.Fatalf("client event on a channel not joined: %s", ev.Data)
	}

	// 9 more in the same instant pass (10 with the first), the 11th not.
	for i := range 10 {
		a.send(obj{"event": "client-n", "channel": "private-chat", "data": obj{"i": i}})
	}
	for i := range 9 {
		if ev := b.expect("client-n", "private-chat"); ev.data() != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("event %d: %s", i, ev.data())
		}
	}
	if ev := a.expect("pusher:error", ""); !strings.Contains(string(ev.Data), "rate limit") || !strings.Contains(string(ev.Data), "4301") {
		t.Fatalf("11th event: %s, want the 4301 rate-limit error", ev.Data)
	}
	a.send(obj{"event": "pusher:ping", "data": obj{}})
	a.expect("pusher:pong", "") // still open

	// On a presence channel the receiver learns who sent it.
	c, d := s.connect(t), s.connect(t)
	c.subscribed("presence-p", `{"user_id":"cee"}`)
	d.subscribed("presence-p", `{"user_id":"dee"}`)
	c.expect("pusher_internal:member_added", "presence-p")
	d.send(obj{"event": "client-hi", "channel": "presence-p", "data": "x"})
	if ev := c.expect("client-hi", "presence-p"); ev.UserID != "dee" {
		t.Fatalf("presence client event user_id %q, want dee", ev.UserID)
	}
}

// Client events are off unless the app enables them.
func TestWireClientEventsOff(t *testing.T) {
	s := startWire(t, "", nil)
	a := s.connect(t)
	a.subscribed("private-chat", "")
	a.send(obj{"event": "client-typing", "channel": "private-chat", "data": obj{}})
	if ev := a.expect("pusher:error", ""); !strings.Contains(string(ev.Data), "4301") {
		t.Fatalf("%s, want 4301", ev.Data)
	}
}

// Sign-in: pusher:signin_success, then the user's server-to-user channel
// is its own (another user's is refused) and gets what is sent to it.
func TestWireSignin(t *testing.T) {
	s := startWire(t, "", nil)
	w := s.connect(t)
	userData := `{"id":"u1","user_info":{"name":"One"}}`
	w.send(obj{"event": "pusher:signin", "data": obj{
		"user_data": userData,
		"auth":      pusherproto.AuthValue(wireKey, wireSecret, pusherproto.UserString(w.socketID, userData)),
	}})
	var ok struct {
		UserData string `json:"user_data"`
	}
	if ev := w.expect("pusher:signin_success", ""); json.Unmarshal([]byte(ev.data()), &ok) != nil || ok.UserData != userData {
		t.Fatalf("signin_success %s, want user_data %s", ev.data(), userData)
	}
	w.subscribed("#server-to-user-u1", "")
	w.subscribe("#server-to-user-u2", "")
	w.expect("pusher:subscription_error", "#server-to-user-u2")
	s.publish(t, "%23server-to-user-u1", `{"n":1}`)
	if ev := w.expect("message", "#server-to-user-u1"); ev.data() != `{"n":1}` {
		t.Fatalf("server-to-user event %s", ev.data())
	}
}

// Cache channels: the first subscriber gets pusher:cache_miss, a later one
// the last event.
func TestWireCache(t *testing.T) {
	s := startWire(t, "", nil)
	a := s.connect(t)
	a.subscribed("cache-scores", "")
	a.expect("pusher:cache_miss", "cache-scores")
	s.publish(t, "cache-scores", `{"score":3}`)
	a.expect("message", "cache-scores")
	b := s.connect(t)
	b.subscribed("cache-scores", "")
	if ev := b.expect("message", "cache-scores"); ev.data() != `{"score":3}` {
		t.Fatalf("cached event %s", ev.data())
	}
}

// Over the server's connection limit a Pusher client is told 4100 (retry
// in a second) in the protocol, not with an HTTP status pusher-js would
// treat as a broken transport.
func TestWireOverCapacity(t *testing.T) {
	s := startWire(t, "http: {maxConnections: 1}\n---\n", nil)
	s.connect(t)
	c, err := dialRaw(t, "ws://"+s.addr+"/app/"+wireKey+"?protocol=7")
	if err != nil {
		t.Fatal(err)
	}
	if got := closeCode(t, c); got != 4100 {
		t.Fatalf("over the server's limit: close %d, want 4100", got)
	}
}

// Shutdown closes Pusher connections with 4200, so pusher-js reconnects
// at once (to another node).
func TestWireDrain(t *testing.T) {
	s := startWire(t, "", nil)
	w := s.connect(t)
	go s.stop()
	if got := closeCode(t, w.c); got != 4200 {
		t.Fatalf("close %d on shutdown, want 4200", got)
	}
}
