package pusher_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	pushersdk "github.com/pusher/pusher-http-go/v5"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

const (
	appID     = "123"
	appKey    = "app-key"
	appSecret = "app-secret-0123456789"
)

// apiTestConfig serves one Pusher app on the API chat, whose namespace
// "room*" admits the public channels room... (the app adds private-,
// presence-, cache- and #server-to-user-; no namespace admits "lobby"). The limits are small so that the tests reach
// them with the SDK (which checks 10 KB and 100 channels itself).
const apiTestConfig = `
listen: 127.0.0.1:0
shutdown:
  drainWindow: 100ms # the connections left at the end close at once
apis:
  - id: chat
    stage: production
    routeSelectionExpression: \$default
    routes:
      $default: {action: {type: echo}}
    channels:
      namespaces:
        - pattern: "room*"
          subscribe: allow
          publish: deny
pusher:
  apps:
    - id: "123"
      key: app-key
      secret: app-secret-0123456789
      api: chat
      limits:
        eventBytes: 1KiB
        channelsPerEvent: 3
        batchEvents: 4
`

// startServer runs a Switchboard in-process with apiTestConfig and
// returns its address.
func startServer(t *testing.T) string {
	t.Helper()
	s := servertest.Start(t, apiTestConfig, server.Options{})
	return s.Addr
}

// sdk is the official Go server SDK pointed at addr.
func sdk(addr string) *pushersdk.Client {
	return &pushersdk.Client{AppID: appID, Key: appKey, Secret: appSecret, Host: addr}
}

// frame is one Pusher message as a client receives it.
type frame struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	UserID  string          `json:"user_id"`
}

// dataString is the frame's data as the string it carries (channel events
// carry a JSON string).
func (f frame) dataString(t *testing.T) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(f.Data, &s); err != nil {
		t.Fatalf("%s: data %s is not a string: %v", f.Event, f.Data, err)
	}
	return s
}

// client is a Pusher WebSocket client speaking protocol 7.
type client struct {
	t        *testing.T
	conn     *websocket.Conn
	socketID string
	frames   chan frame
	closed   chan error // the read error that ended the connection
}

// dial connects to /app/{key}, reads connection_established and starts
// reading the frames that follow.
func dial(t *testing.T, addr string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/app/"+appKey+"?protocol=7&client=go-test&version=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	c := &client{t: t, conn: conn, frames: make(chan frame, 64), closed: make(chan error, 1)}
	t.Cleanup(func() { _ = conn.CloseNow() })
	_, msg, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f frame
	if err := json.Unmarshal(msg, &f); err != nil || f.Event != "pusher:connection_established" {
		t.Fatalf("first frame %s (%v), want pusher:connection_established", msg, err)
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if err := json.Unmarshal([]byte(f.dataString(t)), &est); err != nil || est.SocketID == "" {
		t.Fatalf("connection_established data %s: %v", f.Data, err)
	}
	c.socketID = est.SocketID
	go c.read()
	return c
}

func (c *client) read() {
	for {
		_, msg, err := c.conn.Read(context.Background())
		if err != nil {
			c.closed <- err
			close(c.frames)
			return
		}
		var f frame
		if err := json.Unmarshal(msg, &f); err != nil {
			c.closed <- fmt.Errorf("frame %s: %w", msg, err)
			close(c.frames)
			return
		}
		c.frames <- f
	}
}

func (c *client) send(event string, data any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next frame that is not a ping. The timeout only bounds
// a failing test: frames are waited for, never slept for.
func (c *client) next() frame {
	c.t.Helper()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection %s closed while a frame was expected: %v", c.socketID, <-c.closed)
			}
			if f.Event == "pusher:ping" || f.Event == "pusher:pong" {
				continue
			}
			return f
		case <-time.After(10 * time.Second):
			c.t.Fatalf("connection %s: no frame in 10s", c.socketID)
		}
	}
}

// expect reads the next frame and checks its event, channel and data.
func (c *client) expect(event, channel, data string) {
	c.t.Helper()
	f := c.next()
	if f.Event != event || f.Channel != channel || f.dataString(c.t) != data {
		c.t.Fatalf("connection %s got %s on %q with data %s, want %s on %q with %q", c.socketID, f.Event, f.Channel, f.Data, event, channel, data)
	}
}

// subscribe subscribes with the auth the channel's type needs and waits
// for subscription_succeeded.
func (c *client) subscribe(channel, channelData string) {
	c.t.Helper()
	data := map[string]any{"channel": channel}
	if strings.HasPrefix(channel, "private-") || strings.HasPrefix(channel, "presence-") {
		data["auth"] = pusherproto.AuthValue(appKey, appSecret, pusherproto.ChannelString(c.socketID, channel, channelData))
	}
	if channelData != "" {
		data["channel_data"] = channelData
	}
	c.send("pusher:subscribe", data)
	for {
		f := c.next()
		if f.Event == "pusher_internal:subscription_succeeded" && f.Channel == channel {
			return
		}
		if f.Event == "pusher:cache_miss" || strings.HasPrefix(f.Event, "pusher_internal:member_") {
			continue // a cache channel's first frame; others joining
		}
		c.t.Fatalf("subscribe %s: got %s %s", channel, f.Event, f.Data)
	}
}

// signin signs the connection in as user and waits for signin_success;
// then, as pusher-js does, it subscribes to the user's channel: its
// subscription_succeeded says the server has the connection in it.
func (c *client) signin(user string) {
	c.t.Helper()
	userData := `{"id":"` + user + `"}`
	c.send("pusher:signin", map[string]string{
		"user_data": userData,
		"auth":      pusherproto.AuthValue(appKey, appSecret, pusherproto.UserString(c.socketID, userData)),
	})
	if f := c.next(); f.Event != "pusher:signin_success" {
		c.t.Fatalf("signin %s: got %s %s", user, f.Event, f.Data)
	}
	c.subscribe(pusherproto.ServerToUserChannel(user), "")
}

// waitClosed waits for the server to close the connection.
func (c *client) waitClosed() error {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.frames:
			if !ok {
				return <-c.closed
			}
		case <-time.After(10 * time.Second):
			c.t.Fatalf("connection %s still open after 10s", c.socketID)
		}
	}
}

// signed sends a raw HTTP API request signed with secret at timestamp ts;
// md5 overrides body_md5 when not "". It returns the status and body.
func signed(t *testing.T, addr, method, path string, params url.Values, body, secret string, ts time.Time, md5hex string) (int, string) {
	t.Helper()
	if params == nil {
		params = url.Values{}
	}
	params.Set("auth_key", appKey)
	params.Set("auth_timestamp", strconv.FormatInt(ts.Unix(), 10))
	params.Set("auth_version", "1.0")
	if body != "" {
		sum := md5.Sum([]byte(body))
		params.Set("body_md5", hex.EncodeToString(sum[:]))
	}
	if md5hex != "" {
		params.Set("body_md5", md5hex)
	}
	params.Set("auth_signature", pusherproto.Sign(secret, pusherproto.APIStringToSign(method, path, params)))
	req, err := http.NewRequest(method, "http://"+addr+path+"?"+params.Encode(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wantStatus checks that an SDK error carries status (the SDK reports
// "Status Code: N - body").
func wantStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("Status Code: %d ", status)) {
		t.Errorf("%s: %v, want status %d", what, err, status)
	}
}

// Triggers through the SDK reach each subscriber once, with the event's
// name and data; socket_id excludes its connection; info reports counts.
func TestAPITrigger(t *testing.T) {
	addr := startServer(t)
	api := sdk(addr)
	a, b := dial(t, addr), dial(t, addr)
	for _, c := range []*client{a, b} {
		c.subscribe("room", "")
		c.subscribe("room2", "")
	}

	if err := api.Trigger("room", "greet", map[string]string{"hello": "world"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		c.expect("greet", "room", `{"hello":"world"}`)
	}

	if err := api.TriggerMulti([]string{"room", "room2"}, "multi", "two"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		got := []string{}
		for range 2 {
			f := c.next()
			if f.Event != "multi" || f.dataString(t) != "two" {
				t.Fatalf("got %s %s, want multi", f.Event, f.Data)
			}
			got = append(got, f.Channel)
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"room", "room2"}) {
			t.Errorf("multi reached %v, want room and room2 once each", got)
		}
	}

	// socket_id: a does not get the event; the marker that follows shows
	// b got exactly one, and a none (one order per channel).
	info := "subscription_count"
	res, err := api.TriggerWithParams("room", "excluded", "x", pushersdk.TriggerParams{SocketID: &a.socketID, Info: &info})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Channels["room"].SubscriptionCount; got == nil || *got != 2 {
		t.Errorf("info subscription_count = %v, want 2", got)
	}
	if err := api.Trigger("room", "marker", "m"); err != nil {
		t.Fatal(err)
	}
	b.expect("excluded", "room", "x")
	b.expect("marker", "room", "m")
	a.expect("marker", "room", "m")

	// A batch: each event on its channel, info index-aligned.
	batch, err := api.TriggerBatch([]pushersdk.Event{
		{Channel: "room", Name: "b1", Data: "d1", Info: &info},
		{Channel: "room2", Name: "b2", Data: "d2", SocketID: &b.socketID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Batch) != 2 || batch.Batch[0].SubscriptionCount == nil || *batch.Batch[0].SubscriptionCount != 2 || batch.Batch[1].SubscriptionCount != nil {
		t.Errorf("batch info = %+v, want [{subscription_count 2} {}]", batch.Batch)
	}
	a.expect("b1", "room", "d1")
	a.expect("b2", "room2", "d2")
	b.expect("b1", "room", "d1")
	if err := api.Trigger("room2", "marker2", "m"); err != nil {
		t.Fatal(err)
	}
	b.expect("marker2", "room2", "m") // not b2: b was excluded
	a.expect("marker2", "room2", "m")

	// sendToUser reaches the connections signed in as the user.
	a.signin("u1")
	if err := api.SendToUser("u1", "direct", "hi"); err != nil {
		t.Fatal(err)
	}
	a.expect("direct", "#server-to-user-u1", "hi")
}

// Requests that fail get the statuses of reference §12 and deliver
// nothing.
func TestAPIErrors(t *testing.T) {
	addr := startServer(t)
	api := sdk(addr)
	c := dial(t, addr)
	c.subscribe("room", "")
	now := time.Now()
	body := `{"name":"bad","channels":["room"],"data":"nope"}`

	wrong := sdk(addr)
	wrong.Secret = "not-the-secret-0123456789"
	wantStatus(t, "wrong secret", wrong.Trigger("room", "bad", "nope"), http.StatusUnauthorized)
	if st, msg := signed(t, addr, "POST", "/apps/123/events", nil, body, appSecret, now.Add(-11*time.Minute), ""); st != http.StatusUnauthorized {
		t.Errorf("stale timestamp: %d %s, want 401", st, msg)
	}
	if st, msg := signed(t, addr, "POST", "/apps/123/events", nil, body, appSecret, now, "0123456789abcdef0123456789abcdef"); st != http.StatusUnauthorized {
		t.Errorf("bad body_md5: %d %s, want 401", st, msg)
	}
	if st, msg := signed(t, addr, "POST", "/apps/123/events", nil, body, appSecret, now, ""); st != http.StatusOK || msg != "{}" {
		t.Errorf("a good raw request: %d %s, want 200 {}", st, msg)
	}
	c.expect("bad", "room", "nope") // the good one, after none of the others

	wantStatus(t, "data over eventBytes", api.Trigger("room", "big", strings.Repeat("x", 1025)), http.StatusRequestEntityTooLarge)
	wantStatus(t, "4 channels", api.TriggerMulti([]string{"room", "room2", "room3", "room4"}, "e", "d"), http.StatusBadRequest)
	err := api.TriggerMulti([]string{"room", "lobby"}, "e", "d") // refused whole: room gets nothing
	wantStatus(t, "a channel no namespace admits", err, http.StatusBadRequest)
	if err == nil || !strings.Contains(err.Error(), "lobby") {
		t.Errorf("the error %v does not name the channel lobby", err)
	}
	bad := "99999999999.1" // the SDK's regexp accepts it; it names no connection id
	_, err = api.TriggerWithParams("room", "e", "d", pushersdk.TriggerParams{SocketID: &bad})
	wantStatus(t, "invalid socket_id", err, http.StatusBadRequest)
	other := sdk(addr)
	other.AppID = "999"
	wantStatus(t, "unknown app", other.Trigger("room", "e", "d"), http.StatusNotFound)
	batch := make([]pushersdk.Event, 5)
	for i := range batch {
		batch[i] = pushersdk.Event{Channel: "room", Name: "e", Data: "d"}
	}
	_, err = api.TriggerBatch(batch)
	wantStatus(t, "batch of 5", err, http.StatusBadRequest)
	for _, tc := range []struct{ what, body string }{
		{"no data", `{"name":"e","channel":"room"}`},
		{"data not a string", `{"name":"e","channel":"room","data":{"a":1}}`},
		{"no name", `{"channel":"room","data":"d"}`},
		{"no channel", `{"name":"e","data":"d"}`},
		{"invalid channel", `{"name":"e","channel":"a b","data":"d"}`},
		{"encrypted in several", `{"name":"e","channels":["room","private-encrypted-x"],"data":"d"}`},
		{"unknown info", `{"name":"e","channel":"room","data":"d","info":"colour"}`},
		{"not JSON", `{"name":`},
	} {
		if st, msg := signed(t, addr, "POST", "/apps/123/events", nil, tc.body, appSecret, now, ""); st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.what, st, msg)
		}
	}
	huge := `{"name":"e","channel":"room","data":"` + strings.Repeat("x", 64<<10) + `"}`
	if st, msg := signed(t, addr, "POST", "/apps/123/events", nil, huge, appSecret, now, ""); st != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the app's bound: %d %.100s, want 413", st, msg)
	}
	if st, msg := signed(t, addr, "GET", "/apps/123/events", nil, "", appSecret, now, ""); st != http.StatusMethodNotAllowed {
		t.Errorf("GET events: %d %s, want 405", st, msg)
	}
	if st, msg := signed(t, addr, "GET", "/apps/123/nothing", nil, "", appSecret, now, ""); st != http.StatusNotFound {
		t.Errorf("an unknown endpoint: %d %s, want 404", st, msg)
	}
	if st, msg := signed(t, addr, "GET", "/apps/123/nothing", nil, "", "not-the-secret-0123456789", now, ""); st != http.StatusUnauthorized {
		t.Errorf("an unknown endpoint, unsigned: %d %s, want 401 first", st, msg)
	}
	if err := api.Trigger("room", "marker", "m"); err != nil {
		t.Fatal(err)
	}
	c.expect("marker", "room", "m") // nothing of the refused requests came first

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`switchboard_pusher_api_requests_total{app="123",endpoint="events",status="401"} 3`,
		`switchboard_pusher_api_requests_total{app="unknown",endpoint="events",status="404"} 1`,
		`switchboard_pusher_api_requests_total{app="123",endpoint="batch_events",status="400"} 1`,
	} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics has no line %s", want)
		}
	}
}

// Channel state after known subscribes: occupied, user_count,
// subscription_count, the channel list, the users, the cache.
func TestAPIChannels(t *testing.T) {
	addr := startServer(t)
	api := sdk(addr)
	member := func(user string) string { return `{"user_id":"` + user + `","user_info":{"name":"n` + user + `"}}` }
	p1, p1b, p2 := dial(t, addr), dial(t, addr), dial(t, addr)
	p1.subscribe("presence-room", member("1"))
	p1b.subscribe("presence-room", member("1")) // the same user twice
	p2.subscribe("presence-room", member("2"))
	p1.expect("pusher_internal:member_added", "presence-room", member("2")) // user 2 joined; user 1 again did not
	p1.subscribe("room", "")
	p2.subscribe("room", "")
	p2.subscribe("private-x", "")

	ch, err := api.Channel("presence-room", pushersdk.ChannelParams{Info: ptr("user_count")})
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Occupied || ch.UserCount != 2 {
		t.Errorf("presence-room = %+v, want occupied with 2 users", ch)
	}
	ch, err = api.Channel("room", pushersdk.ChannelParams{Info: ptr("subscription_count")})
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Occupied || ch.SubscriptionCount != 2 {
		t.Errorf("room = %+v, want occupied with 2 subscriptions", ch)
	}
	ch, err = api.Channel("room-empty", pushersdk.ChannelParams{})
	if err != nil || ch.Occupied {
		t.Errorf("room-empty = %+v %v, want not occupied", ch, err)
	}
	_, err = api.Channel("room", pushersdk.ChannelParams{Info: ptr("user_count")})
	wantStatus(t, "user_count on a public channel", err, http.StatusBadRequest)
	_, err = api.Channel("presence-room", pushersdk.ChannelParams{Info: ptr("subscription_count")})
	wantStatus(t, "subscription_count on presence", err, http.StatusBadRequest)

	list, err := api.Channels(pushersdk.ChannelsParams{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for name := range list.Channels {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"presence-room", "private-x", "room"}) {
		t.Errorf("channels = %v, want presence-room, private-x, room", names)
	}
	list, err = api.Channels(pushersdk.ChannelsParams{FilterByPrefix: ptr("presence-"), Info: ptr("user_count")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Channels) != 1 || list.Channels["presence-room"].UserCount != 2 {
		t.Errorf("presence channels = %+v, want presence-room with 2 users", list.Channels)
	}
	_, err = api.Channels(pushersdk.ChannelsParams{FilterByPrefix: ptr("pri"), Info: ptr("user_count")})
	wantStatus(t, "user_count without presence- prefix", err, http.StatusBadRequest)

	users, err := api.GetChannelUsers("presence-room")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, u := range users.List {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"1", "2"}) {
		t.Errorf("users = %v, want 1 and 2", ids)
	}
	_, err = api.GetChannelUsers("room")
	wantStatus(t, "users of a public channel", err, http.StatusBadRequest)

	// After a leave the counts follow.
	p1b.send("pusher:unsubscribe", map[string]string{"channel": "presence-room"})
	p2.send("pusher:unsubscribe", map[string]string{"channel": "presence-room"})
	p1.expect("pusher_internal:member_removed", "presence-room", `{"user_id":"2"}`)
	ch, err = api.Channel("presence-room", pushersdk.ChannelParams{Info: ptr("user_count")})
	if err != nil || ch.UserCount != 1 {
		t.Errorf("presence-room after leaves = %+v %v, want 1 user", ch, err)
	}

	// A cache channel: null before a publication, then its data and TTL.
	now := time.Now()
	st, body := signed(t, addr, "GET", "/apps/123/channels/cache-news", url.Values{"info": {"cache"}}, "", appSecret, now, "")
	if st != http.StatusOK || body != `{"cache":null,"occupied":false}` {
		t.Errorf("empty cache: %d %s", st, body)
	}
	if err := api.Trigger("cache-news", "headline", "kept"); err != nil {
		t.Fatal(err)
	}
	st, body = signed(t, addr, "GET", "/apps/123/channels/cache-news", url.Values{"info": {"cache"}}, "", appSecret, now, "")
	var got struct {
		Cache *struct {
			Data string `json:"data"`
			TTL  int    `json:"ttl"`
		} `json:"cache"`
	}
	if err := json.Unmarshal([]byte(body), &got); st != http.StatusOK || err != nil || got.Cache == nil || got.Cache.Data != "kept" || got.Cache.TTL <= 0 || got.Cache.TTL > 1800 {
		t.Errorf("cache: %d %s, want data kept and a ttl ≤ 1800 s", st, body)
	}
	if st, body := signed(t, addr, "GET", "/apps/123/channels/room", url.Values{"info": {"cache"}}, "", appSecret, now, ""); st != http.StatusBadRequest {
		t.Errorf("cache of a non-cache channel: %d %s, want 400", st, body)
	}
}

func ptr(s string) *string { return &s }

// terminate_connections closes both connections signed in as the user
// and leaves the third open.
func TestAPITerminate(t *testing.T) {
	addr := startServer(t)
	u1a, u1b, u2 := dial(t, addr), dial(t, addr), dial(t, addr)
	u1a.signin("u1")
	u1b.signin("u1")
	u2.signin("u2")
	u2.subscribe("room", "")

	st, body := signed(t, addr, "POST", "/apps/123/users/u1/terminate_connections", nil, "{}", appSecret, time.Now(), "")
	if st != http.StatusOK || body != "{}" {
		t.Fatalf("terminate: %d %s, want 200 {}", st, body)
	}
	for _, c := range []*client{u1a, u1b} {
		if err := c.waitClosed(); websocket.CloseStatus(err) == -1 && !errors.Is(err, io.EOF) {
			t.Errorf("connection %s ended with %v, want a close", c.socketID, err)
		}
	}
	if err := sdk(addr).Trigger("room", "still", "here"); err != nil {
		t.Fatal(err)
	}
	u2.expect("still", "room", "here")

	st, body = signed(t, addr, "POST", "/apps/123/users/a%20b/terminate_connections", nil, "{}", appSecret, time.Now(), "")
	if st != http.StatusBadRequest {
		t.Errorf("terminate an invalid user id: %d %s, want 400", st, body)
	}
}
