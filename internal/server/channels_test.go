package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// channelsAPI is an API with the namespaces the channel tests use and the
// built-in actions that work on channels.
const channelsAPI = `
apis:
  - id: chan
    stage: chan
    routeSelectionExpression: $request.body.action
    routes:
      join: {action: {type: join, channel: $request.body.room}}
      leave: {action: {type: leave, channel: $request.body.room}}
      say: {action: {type: broadcast, channel: $request.body.room, excludeSender: true}}
      $default: {action: {type: echo}}
    limits:
      maxMessageBytes: 16KiB
      outboundQueueBytes: 512KiB
      writeTimeout: 1s
    channels:
      namespaces:
        - pattern: "room:*"
          joinLeave: true
          history: {size: 1000, ttl: 1m}
        - pattern: "user:{user}"
          subscribe: user
          publish: deny
        - pattern: "closed:*"
          subscribe: deny
        - pattern: "*"
`

// v1 dials a switchboard.v1 connection and reads its "connected" message.
func (e *env) v1(stage string, header http.Header) (*websocket.Conn, map[string]any) {
	e.t.Helper()
	c := e.dial(stage, &websocket.DialOptions{Subprotocols: []string{"switchboard.v1"}, HTTPHeader: header})
	if c.Subprotocol() != "switchboard.v1" {
		e.t.Fatalf("negotiated %q, want switchboard.v1", c.Subprotocol())
	}
	hello := readJSON(e.t, c)
	if hello["type"] != "connected" {
		e.t.Fatalf("first message %v, want connected", hello)
	}
	return c, hello
}

// call sends a switchboard.v1 request and returns its reply, skipping
// other messages (which it returns too).
func call(t *testing.T, c *websocket.Conn, id int, msg string) (reply map[string]any, before []map[string]any) {
	t.Helper()
	write(t, c, msg)
	for {
		m := readJSON(t, c)
		if m["type"] == "reply" && m["id"] == float64(id) {
			return m, before
		}
		before = append(before, m)
	}
}

// manage calls the management API and returns the status and body.
func (e *env) manage(method, path, body string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) manageJSON(method, path, body string, want int) map[string]any {
	e.t.Helper()
	status, b := e.manage(method, path, body)
	if status != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			e.t.Fatalf("%s %s: body %q: %v", method, path, b, err)
		}
	}
	return m
}

func TestV1SubscribeAndPublish(t *testing.T) {
	e := startServer(t, channelsAPI)
	alice, _ := e.v1("chan", nil)
	bob, hello := e.v1("chan", nil)
	bobID := hello["connectionId"].(string)

	r, _ := call(t, alice, 1, `{"type":"subscribe","id":1,"channel":"room:1"}`)
	res := r["result"].(map[string]any)
	if res["offset"] != 0.0 || res["epoch"] == "" {
		t.Fatalf("subscribe result %v", res)
	}
	r, _ = call(t, bob, 1, `{"type":"subscribe","id":1,"channel":"room:1"}`)
	if r["error"] != nil {
		t.Fatal(r)
	}
	if join := readJSON(t, alice); join["type"] != "join" || join["member"].(map[string]any)["connectionId"] != bobID {
		t.Fatalf("alice got %v, want bob's join", join)
	}

	// Management publish: both get it, with offset 1.
	out := e.manageJSON("POST", "/chan/@channels/room:1", `{"hello":"world"}`, 200)
	if out["recipients"] != 2.0 || out["offset"] != 1.0 {
		t.Fatalf("publish answered %v", out)
	}
	for _, c := range []*websocket.Conn{alice, bob} {
		m := readJSON(t, c)
		if m["type"] != "pub" || m["offset"] != 1.0 || m["data"].(map[string]any)["hello"] != "world" {
			t.Fatalf("got %v", m)
		}
	}

	// Client publish, excluding itself; the default rule lets subscribers publish.
	r, _ = call(t, bob, 2, `{"type":"publish","id":2,"channel":"room:1","text":"hi","excludeSelf":true}`)
	if res := r["result"].(map[string]any); res["recipients"] != 1.0 || res["offset"] != 2.0 {
		t.Fatalf("publish result %v", r)
	}
	if m := readJSON(t, alice); m["text"] != "hi" || m["offset"] != 2.0 {
		t.Fatalf("alice got %v", m)
	}
	// Not a subscriber: refused.
	carol, _ := e.v1("chan", nil)
	r, _ = call(t, carol, 5, `{"type":"publish","id":5,"channel":"room:1","data":1}`)
	if r["error"].(map[string]any)["code"] != 403.0 {
		t.Fatalf("non-subscriber publish: %v", r)
	}
	// Presence.
	r, _ = call(t, alice, 3, `{"type":"presence","id":3,"channel":"room:1"}`)
	if res := r["result"].(map[string]any); res["members"] != 2.0 || len(res["presence"].([]any)) != 2 {
		t.Fatalf("presence %v", r)
	}
	// Errors keep the connection open.
	for i, bad := range []string{`{"type":"nope","id":9}`, `not json`, `{"type":"subscribe","id":9,"channel":"closed:x"}`,
		`{"type":"subscribe","id":9,"channel":"a b"}`, `{"type":"subscribe","id":9,"channel":"room:1"}`} {
		write(t, alice, bad)
		m := readJSON(t, alice)
		if m["error"] == nil {
			t.Fatalf("bad message %d %q got %v", i, bad, m)
		}
	}
	r, _ = call(t, alice, 4, `{"type":"ping","id":4}`)
	if r["result"] == nil {
		t.Fatal(r)
	}
	// Unsubscribe: bob sees alice leave.
	call(t, alice, 6, `{"type":"unsubscribe","id":6,"channel":"room:1"}`)
	if m := readJSON(t, bob); m["type"] != "leave" {
		t.Fatalf("bob got %v, want alice's leave", m)
	}
}

// A client that resubscribes with its last position gets exactly what it
// missed, then live publications, while publishing goes on.
func TestRecoveryAcrossReconnect(t *testing.T) {
	e := startServer(t, channelsAPI)
	const total = 400
	var published sync.WaitGroup
	start := make(chan struct{})
	published.Go(func() {
		<-start
		for i := 1; i <= total; i++ {
			if status, b := e.manage("POST", "/chan/@channels/room:r", fmt.Sprint(i)); status != 200 {
				t.Errorf("publish %d: %d %s", i, status, b)
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	})

	c, _ := e.v1("chan", nil)
	r, _ := call(t, c, 1, `{"type":"subscribe","id":1,"channel":"room:r"}`)
	epoch := r["result"].(map[string]any)["epoch"].(string)
	close(start)
	seen := 0.0
	for seen < 50 {
		m := readJSON(t, c)
		if m["type"] != "pub" || m["offset"] != seen+1 || m["data"] != seen+1 {
			t.Fatalf("got %v after offset %v", m, seen)
		}
		seen++
	}
	c.CloseNow()

	time.Sleep(20 * time.Millisecond) // miss some
	c2, _ := e.v1("chan", nil)
	msg := fmt.Sprintf(`{"type":"subscribe","id":1,"channel":"room:r","recover":{"epoch":%q,"offset":%d}}`, epoch, int(seen))
	r, _ = call(t, c2, 1, msg)
	res := r["result"].(map[string]any)
	if res["recovered"] != true {
		t.Fatalf("not recovered: %v", r)
	}
	for seen < total {
		m := readJSON(t, c2)
		if m["type"] != "pub" || m["offset"] != seen+1 || m["data"] != seen+1 {
			t.Fatalf("got %v after offset %v: a gap or a duplicate", m, seen)
		}
		seen++
	}
	published.Wait()

	// A stale epoch is refused plainly.
	c3, _ := e.v1("chan", nil)
	r, _ = call(t, c3, 1, `{"type":"subscribe","id":1,"channel":"room:r","recover":{"epoch":"gone","offset":3}}`)
	if res := r["result"].(map[string]any); res["recovered"] != false || res["reason"] != "epoch changed" {
		t.Fatalf("stale epoch: %v", r)
	}
	// History over the management API.
	h := e.manageJSON("GET", "/chan/@channels/room:r/history?since=390&limit=5", "", 200)
	pubs := h["publications"].([]any)
	if len(pubs) != 5 || pubs[0].(map[string]any)["offset"] != 391.0 || h["offset"] != float64(total) {
		t.Fatalf("history %v", h)
	}
}

// An abrupt drop takes the member out of presence at once.
func TestPresenceAfterAbruptDrop(t *testing.T) {
	e := startServer(t, channelsAPI)
	watcher, _ := e.v1("chan", nil)
	call(t, watcher, 1, `{"type":"subscribe","id":1,"channel":"room:p"}`)

	// A raw TCP client that joins through the route action, then vanishes.
	nc := rawDial(t, e, "/chan")
	writeMasked(t, nc, `{"action":"join","room":"room:p"}`)
	if m := readJSON(t, watcher); m["type"] != "join" {
		t.Fatalf("watcher got %v, want a join", m)
	}
	info := e.manageJSON("GET", "/chan/@channels/room:p", "", 200)
	if info["members"] != 2.0 {
		t.Fatalf("channel %v", info)
	}
	nc.(*net.TCPConn).SetLinger(0)
	nc.Close() // RST, no close frame

	if m := readJSON(t, watcher); m["type"] != "leave" {
		t.Fatalf("watcher got %v, want a leave", m)
	}
	info = e.manageJSON("GET", "/chan/@channels/room:p", "", 200)
	if info["members"] != 1.0 || len(info["presence"].([]any)) != 1 {
		t.Fatalf("after the drop: %v", info)
	}
}

// One client that stops reading does not delay the others: they get every
// publication while it fills its own queue and is closed with 1013.
func TestStalledClientDoesNotDelayOthers(t *testing.T) {
	e := startServer(t, channelsAPI)
	stalled := rawDial(t, e, "/chan")
	writeMasked(t, stalled, `{"action":"join","room":"room:s"}`)
	const readers = 5
	var conns []*websocket.Conn
	for range readers {
		c, _ := e.v1("chan", nil)
		call(t, c, 1, `{"type":"subscribe","id":1,"channel":"room:s"}`)
		conns = append(conns, c)
	}
	waitFor(t, "6 members", func() bool {
		return e.manageJSON("GET", "/chan/@channels/room:s", "", 200)["members"] == 6.0
	})
	// 6 MB: past the stalled client's 64 KiB queue plus what loopback
	// socket buffers hold (up to 4 MiB send, 128 KiB receive here).
	payload := strings.Repeat("x", 12000)
	const n = 500
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			got := 0
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for got < n {
				_, b, err := c.Read(ctx)
				if err != nil {
					t.Errorf("reader %d after %d: %v", i, got, err)
					return
				}
				if strings.Contains(string(b), `"type":"pub"`) {
					got++
				}
			}
		})
	}
	// Paced so that a client that reads keeps up: the point is that the
	// stalled one does not hold the others back, not a burst test.
	for i := range n {
		if status, b := e.manage("POST", "/chan/@channels/room:s", payload); status != 200 {
			t.Fatalf("publish %d: %d %s", i, status, b)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	waitFor(t, "the stalled client closed as a slow consumer", func() bool {
		for _, l := range e.logs.lines("slow consumer") {
			if l["api"] == "chan" {
				return true
			}
		}
		return false
	})
}

// A user's connections all get what is sent to the user.
func TestUserFanOut(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) != "$connect" {
			return 200, ""
		}
		q, _ := ev["queryStringParameters"].(map[string]any)
		return 200, fmt.Sprintf(`{"statusCode":200,"headers":{"X-Switchboard-User":%q,"X-Switchboard-Channels":"user:%s, room:lobby","X-Switchboard-Info":"{\"name\":\"%s\"}"}}`, q["u"], q["u"], q["u"])
	})
	e := startServer(t, backendAPI(b.srv.URL, `    channels:
      namespaces:
        - pattern: "user:{user}"
          subscribe: user
        - pattern: "room:*"
`))
	var alice []*websocket.Conn
	for range 3 {
		c := e.dial("test?u=alice", nil)
		alice = append(alice, c)
	}
	bob, hello := e.v1("test?u=bob", nil)
	if hello["user"] != "bob" {
		t.Fatalf("connected %v", hello)
	}
	for range 2 { // the two channels from $connect
		if m := readJSON(t, bob); m["type"] != "subscribed" {
			t.Fatalf("bob got %v", m)
		}
	}
	out := e.manageJSON("POST", "/test/@users/alice", "for alice", 200)
	if out["recipients"] != 3.0 {
		t.Fatalf("post to user: %v", out)
	}
	for _, c := range alice {
		if _, b := read(t, c); string(b) != "for alice" {
			t.Fatalf("alice got %q", b)
		}
	}
	// bob's private channel reached only bob; a v1 client sees an envelope.
	e.manageJSON("POST", "/test/@channels/user:bob", `"private"`, 200)
	if m := readJSON(t, bob); m["type"] != "pub" || m["data"] != "private" {
		t.Fatalf("bob got %v", m)
	}
	// Bob may not subscribe to alice's channel.
	r, _ := call(t, bob, 1, `{"type":"subscribe","id":1,"channel":"user:alice"}`)
	if r["error"].(map[string]any)["code"] != 403.0 {
		t.Fatalf("bob subscribing to user:alice: %v", r)
	}
	list := e.manageJSON("GET", "/test/@users/alice", "", 200)
	if conns := list["connections"].([]any); len(conns) != 3 {
		t.Fatalf("user listing %v", list)
	}
	info := e.manageJSON("GET", "/test/@channels/room:lobby", "", 200)
	if info["members"] != 4.0 {
		t.Fatalf("lobby %v", info)
	}
	out = e.manageJSON("DELETE", "/test/@users/alice", "", 200)
	if out["disconnected"] != 3.0 {
		t.Fatalf("disconnect user: %v", out)
	}
	for _, c := range alice {
		if code := closeStatus(t, c); code != websocket.StatusNormalClosure {
			t.Fatalf("alice closed with %d", code)
		}
	}
	waitFor(t, "alice's $disconnects", func() bool { return len(b.eventsFor("$disconnect")) == 3 })
	info = e.manageJSON("GET", "/test/@channels/room:lobby", "", 200)
	if info["members"] != 1.0 {
		t.Fatalf("lobby after alice left %v", info)
	}
}

// Raw clients use channels through the join, leave and broadcast actions
// and the management API's membership calls.
func TestChannelActionsForRawClients(t *testing.T) {
	e := startServer(t, channelsAPI)
	a := e.dial("chan", nil)
	b := e.dial("chan", nil)
	write(t, a, `{"action":"join","room":"room:x"}`)
	write(t, b, `{"action":"join","room":"room:x"}`)
	waitFor(t, "two members", func() bool {
		return e.manageJSON("GET", "/chan/@channels/room:x", "", 200)["members"] == 2.0
	})
	write(t, a, `{"action":"say","room":"room:x","text":"hello"}`)
	if _, got := read(t, b); string(got) != `{"action":"say","room":"room:x","text":"hello"}` {
		t.Fatalf("b got %q", got)
	}
	// Denied namespace: an AWS-style Forbidden frame.
	write(t, a, `{"action":"join","room":"closed:x"}`)
	if m := readJSON(t, a); m["message"] != "Forbidden" {
		t.Fatalf("join closed: %v", m)
	}
	// Management membership.
	conns := e.manageJSON("GET", "/chan/@connections", "", 200)["connections"].([]any)
	id := conns[0].(map[string]any)["connectionId"].(string)
	e.manageJSON("PUT", "/chan/@channels/news/connections/"+id, "", 204)
	out := e.manageJSON("POST", "/chan/@channels/news", "headline", 200)
	if out["recipients"] != 1.0 {
		t.Fatalf("news %v", out)
	}
	e.manageJSON("DELETE", "/chan/@channels/news/connections/"+id, "", 204)
	if out := e.manageJSON("POST", "/chan/@channels/news", "headline", 200); out["recipients"] != 0.0 {
		t.Fatalf("news after leave %v", out)
	}
	write(t, b, `{"action":"leave","room":"room:x"}`)
	waitFor(t, "one member", func() bool {
		return e.manageJSON("GET", "/chan/@channels/room:x", "", 200)["members"] == 1.0
	})
	// Broadcast to every connection, sender excluded by id.
	out = e.manageJSON("POST", "/chan/@broadcast?exclude="+id, "all", 200)
	if out["recipients"] != 1.0 {
		t.Fatalf("broadcast %v", out)
	}
}

// rawDial opens a WebSocket by hand, so the test controls the socket.
func rawDial(t *testing.T, e *env, path string) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(e.base, "http://")
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host)
	buf := make([]byte, 0, 512)
	tmp := make([]byte, 1)
	for !strings.HasSuffix(string(buf), "\r\n\r\n") {
		if _, err := nc.Read(tmp); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		buf = append(buf, tmp[0])
	}
	if !strings.HasPrefix(string(buf), "HTTP/1.1 101") {
		t.Fatalf("handshake answered %q", buf)
	}
	return nc
}

// writeMasked writes one masked text frame (payload < 126 bytes).
func writeMasked(t *testing.T, nc net.Conn, s string) {
	t.Helper()
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(s)), key[0], key[1], key[2], key[3]}
	for i := 0; i < len(s); i++ {
		f = append(f, s[i]^key[i%4])
	}
	if _, err := nc.Write(f); err != nil {
		t.Fatal(err)
	}
}

// A namespace whose rules ask an integration: the event is AWS-shaped with
// eventType SUBSCRIBE or PUBLISH and the request as its body.
func TestAuthorizerNamespace(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) {
		body, _ := ev["body"].(string)
		if strings.Contains(body, `"auth:no"`) {
			return 403, ""
		}
		if strings.Contains(body, `"auth:broken"`) {
			return 500, "oops"
		}
		return 200, ""
	})
	e := startServer(t, backendAPI(b.srv.URL, `    channels:
      namespaces:
        - pattern: "auth:*"
          subscribe: authorizer
          publish: authorizer
          authorizer: backend
`))
	c, hello := e.v1("test", nil)
	id := hello["connectionId"].(string)
	r, _ := call(t, c, 1, `{"type":"subscribe","id":1,"channel":"auth:ok"}`)
	if r["error"] != nil {
		t.Fatalf("allowed subscribe: %v", r)
	}
	r, _ = call(t, c, 2, `{"type":"subscribe","id":2,"channel":"auth:no"}`)
	if r["error"].(map[string]any)["code"] != 403.0 {
		t.Fatalf("denied subscribe: %v", r)
	}
	r, before := call(t, c, 3, `{"type":"publish","id":3,"channel":"auth:ok","data":{"n":1}}`)
	if r["error"] != nil {
		t.Fatalf("allowed publish: %v", r)
	}
	// The publisher is a subscriber: its own pub is queued before the reply.
	if len(before) != 1 || before[0]["type"] != "pub" {
		t.Fatalf("before the reply: %v", before)
	}
	evs := b.eventsFor("$subscribe")
	if len(evs) != 2 || ctxField(evs[0], "eventType") != "SUBSCRIBE" || ctxField(evs[0], "connectionId") != id ||
		evs[0]["body"] != `{"channel":"auth:ok"}` {
		t.Fatalf("subscribe events %v", evs)
	}
	pubs := b.eventsFor("$publish")
	if len(pubs) != 1 || ctxField(pubs[0], "eventType") != "PUBLISH" || pubs[0]["body"] != `{"channel":"auth:ok","data":{"n":1}}` {
		t.Fatalf("publish events %v", pubs)
	}
	// A direct message reaches a v1 client in an envelope.
	e.manageJSON("POST", "/test/@connections/"+id, `{"direct":true}`, 200)
	if m := readJSON(t, c); m["type"] != "message" || m["data"].(map[string]any)["direct"] != true {
		t.Fatalf("direct message %v", m)
	}
}

// Publishers racing on one channel: every subscriber sees the same order,
// with consecutive offsets.
func TestChannelOrderConcurrentPublishers(t *testing.T) {
	e := startServer(t, channelsAPI)
	const subscribers, publishers, each = 4, 4, 50
	var subs []*websocket.Conn
	for range subscribers {
		c, _ := e.v1("chan", nil)
		call(t, c, 1, `{"type":"subscribe","id":1,"channel":"news:o"}`)
		subs = append(subs, c)
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			pub, _ := e.v1("chan", nil)
			if p%2 == 1 { // clients may publish once subscribed (the default rule)
				write(t, pub, `{"type":"subscribe","channel":"news:o"}`)
			}
			for i := range each {
				if p%2 == 0 { // half publish over the management API, half as clients
					if status, b := e.manage("POST", "/chan/@channels/news:o", fmt.Sprintf(`"%d-%d"`, p, i)); status != 200 {
						t.Errorf("publish: %d %s", status, b)
						return
					}
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := pub.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"publish","channel":"news:o","data":"%d-%d"}`, p, i))
				cancel()
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	orders := make([][]string, subscribers)
	for s, c := range subs {
		for len(orders[s]) < publishers*each {
			m := readJSON(t, c)
			if m["type"] != "pub" {
				continue
			}
			orders[s] = append(orders[s], m["data"].(string))
		}
	}
	for s := 1; s < subscribers; s++ {
		for i := range orders[0] {
			if orders[s][i] != orders[0][i] {
				t.Fatalf("subscriber %d saw %q at %d, subscriber 0 saw %q", s, orders[s][i], i, orders[0][i])
			}
		}
	}
}

// The batch endpoint runs its operations in order through the gateway.
func TestBatchThroughGateway(t *testing.T) {
	e := startServer(t, channelsAPI)
	c, hello := e.v1("chan", nil)
	id := hello["connectionId"].(string)
	call(t, c, 1, `{"type":"subscribe","id":1,"channel":"room:b"}`)
	out := e.manageJSON("POST", "/chan/@batch", fmt.Sprintf(`{"operations":[
		{"channel":"room:b","data":{"n":1}},
		{"connectionId":%q,"text":"direct"},
		{"channel":"room:b","b64":"/wA="},
		{"connectionId":"AAAAAAAAAAAAAAA=","text":"nobody"},
		{"broadcast":true,"data":2}]}`, id), 200)
	results := out["results"].([]any)
	if len(results) != 5 || results[0].(map[string]any)["offset"] != 1.0 ||
		results[3].(map[string]any)["error"].(map[string]any)["type"] != "GoneException" {
		t.Fatalf("results %v", out)
	}
	want := []string{`"data":{"n":1}`, `"text":"direct"`, `"b64":"/wA="`, `"data":2`}
	for _, w := range want {
		_, b := read(t, c)
		if !strings.Contains(string(b), w) {
			t.Fatalf("got %s, want it to contain %s", b, w)
		}
	}
}

// A $connect response with a malformed Switchboard header is the backend's
// error: the handshake fails with 502 and the log says why.
func TestConnectGrantErrors(t *testing.T) {
	b := newBackend(t)
	e := startServer(t, backendAPI(b.srv.URL, `    channels:
      maxPerConnection: 2
      namespaces:
        - pattern: "room:*"
`))
	cases := []struct{ headers, why string }{
		{`"X-Switchboard-User":"a,b"`, "X-Switchboard-User"},
		{`"X-Switchboard-Channels":"room:1, other"`, "no channel namespace"},
		{`"X-Switchboard-Channels":"room:1,room:2,room:3"`, "more than 2 channels"},
		{`"X-Switchboard-Info":"{not json"`, "X-Switchboard-Info"},
	}
	for _, tc := range cases {
		b.setRespond(func(ev map[string]any) (int, string) {
			return 200, `{"statusCode":200,"headers":{` + tc.headers + `}}`
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, resp, err := websocket.Dial(ctx, e.wsURL("test"), nil)
		cancel()
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%s: err %v, response %v; want 502", tc.headers, err, resp)
		}
		found := false
		for _, l := range e.logs.lines("route") {
			if msg, _ := l["error"].(string); strings.Contains(msg, tc.why) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no route log line mentions %q", tc.headers, tc.why)
		}
	}
	// Duplicates collapse, spaces are trimmed.
	b.setRespond(func(ev map[string]any) (int, string) {
		return 200, `{"statusCode":200,"headers":{"x-switchboard-channels":" room:1 ,room:1, room:2"}}`
	})
	e.dial("test", nil)
	info := e.manageJSON("GET", "/test/@channels/room:2", "", 200)
	if info["members"] != 1.0 {
		t.Fatalf("room:2 %v", info)
	}
}
