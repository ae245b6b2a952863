package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// fast are options that reconnect and notice a dead server quickly.
func fast() client.Options {
	return client.Options{
		MinDelay: 20 * time.Millisecond, MaxDelay: 300 * time.Millisecond,
		Rand:         rand.New(rand.NewPCG(1, 2)),
		PingInterval: 200 * time.Millisecond, LivenessTimeout: time.Second,
		DialTimeout: 2 * time.Second,
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// recorder keeps what a subscription delivered and its events.
type recorder struct {
	mu     sync.Mutex
	pubs   []client.Publication
	events []client.SubEvent
}

func (r *recorder) pub(p client.Publication) {
	r.mu.Lock()
	r.pubs = append(r.pubs, p)
	r.mu.Unlock()
}

func (r *recorder) event(e client.SubEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pubs)
}

func (r *recorder) last() client.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pubs) == 0 {
		return client.Publication{}
	}
	return r.pubs[len(r.pubs)-1]
}

// recovery returns the first event of a recovering resubscription.
func (r *recorder) recovery() (client.SubEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.State == client.SubSubscribed && e.Recovering {
			return e, true
		}
	}
	return client.SubEvent{}, false
}

// TestKillRestartRecoversEveryPublication: the server (history in Redis)
// is killed with SIGKILL and restarted on the same port while a publisher
// keeps publishing; the subscriber reconnects, resubscribes with its
// position, and ends with every publication of the channel's history
// exactly once, in order (issue 12 points 3 and 6).
func TestKillRestartRecoversEveryPublication(t *testing.T) {
	leaks := noLeaks(t)
	rd := redistest.StartServer(t)
	internal := freeAddr(t)
	cluster := fmt.Sprintf(`cluster:
  nodeId: %%s
  lease: 2s
  leaseRenewal: 500ms
  redis: {mode: single, commandTimeout: 1s, addresses: [%q], keyPrefix: "client%d:"}
  internal: {listen: %s, advertise: %s, secret: client-test-internal-secret-0123456789}
`, rd.Addr, time.Now().UnixNano(), internal, internal)
	// A node id per run: the killed node's lease is still in Redis.
	s := startServer(t, strings.Replace(apiYAML("", cluster), "%s", "n1", 1))
	ctx := ctxT(t)

	var states sync.Map // connection ids seen
	opts := fast()
	opts.OnState = func(e client.StateEvent) {
		if e.State == client.StateConnected {
			states.Store(e.ConnectionID, true)
		}
	}
	c, err := client.Dial(ctx, "ws://"+s.addr+"/prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	const room = "room:kill"
	var rec recorder
	sub, err := c.Subscribe(ctx, room, rec.pub, client.SubscribeOptions{OnEvent: rec.event})
	if err != nil {
		t.Fatal(err)
	}
	if sub.State() != client.SubSubscribed {
		t.Fatalf("state %v after Subscribe", sub.State())
	}

	// The publisher goes through the management API and ignores failures
	// (the server is down for a while): what counts is the history.
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	var published atomic.Int64
	go func() {
		defer close(pubDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if code, _, err := s.manage(ctx, "POST", "/prod/@channels/"+room, fmt.Sprintf(`{"n":%d}`, i)); err == nil && code == 200 {
				published.Add(1)
			}
		}
	}()
	waitFor(t, "20 publications before the kill", func() bool { return rec.count() >= 20 })
	s.kill()
	s.file = rewriteNodeID(t, s.file, "n1", "n2")
	s.launch()
	before := published.Load()
	waitFor(t, "30 publications after the restart", func() bool { return published.Load() >= before+30 })
	close(stop)
	<-pubDone

	// The whole stream, read back a page at a time: the subscriber must
	// have exactly it.
	var h struct {
		Epoch        string
		Offset       uint64
		Publications []struct {
			Offset uint64
			Data   json.RawMessage
		}
	}
	for since := uint64(0); ; {
		var page struct {
			Epoch        string
			Offset       uint64
			Publications []struct {
				Offset uint64
				Data   json.RawMessage
			}
		}
		code, body, err := s.manage(ctx, "GET", fmt.Sprintf("/prod/@channels/%s/history?since=%d&limit=1000", room, since), "")
		if err != nil || code != 200 {
			t.Fatalf("history: %d %s %v", code, body, err)
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		h.Epoch, h.Offset = page.Epoch, page.Offset
		h.Publications = append(h.Publications, page.Publications...)
		if len(page.Publications) == 0 || page.Publications[len(page.Publications)-1].Offset >= page.Offset {
			break
		}
		since = page.Publications[len(page.Publications)-1].Offset
	}
	waitFor(t, "the subscriber at the stream's end", func() bool { return rec.last().Offset >= h.Offset })

	e, ok := rec.recovery()
	if !ok || !e.Recovered {
		t.Fatalf("recovery event %+v (found %v); want recovered", e, ok)
	}
	n := 0
	states.Range(func(any, any) bool { n++; return true })
	if n < 2 {
		t.Fatalf("%d connections; want a reconnect", n)
	}
	rec.mu.Lock()
	got := rec.pubs
	rec.mu.Unlock()
	if len(got) != len(h.Publications) {
		t.Fatalf("received %d publications; the history has %d", len(got), len(h.Publications))
	}
	for i, p := range got {
		hp := h.Publications[i]
		if p.Epoch != h.Epoch || p.Offset != hp.Offset || !jsonEqual(p.Data, hp.Data) {
			t.Fatalf("publication %d: %s/%d %s; history has %s/%d %s", i, p.Epoch, p.Offset, p.Data, h.Epoch, hp.Offset, hp.Data)
		}
	}
	t.Logf("%d publications, %d offsets, recovered %d missed", len(got), h.Offset, e.Missed)
	c.Close()
	if sub.State() == client.SubError {
		t.Fatal("subscription in error")
	}
	leaks()
}

// rewriteNodeID gives the restarted node another id (the dead one's lease
// has not lapsed yet).
func rewriteNodeID(t *testing.T, file, from, to string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(b), "nodeId: "+from, "nodeId: "+to, 1)
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// TestLivenessReconnect: a proxy between client and server stops passing
// bytes (the socket stays open); the client's ping goes unanswered, it
// drops the connection and reconnects once the path heals. Raw mode.
func TestLivenessReconnect(t *testing.T) {
	leaks := noLeaks(t)
	s := startServer(t, apiYAML("", ""))
	p := redistest.StartProxy(t, s.addr)
	ctx := ctxT(t)
	var mu sync.Mutex
	var events []client.StateEvent
	var msgs []string
	opts := fast()
	opts.Mode = client.ModeRaw
	opts.OnState = func(e client.StateEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }
	opts.OnMessage = func(m client.Message) { mu.Lock(); msgs = append(msgs, string(m.Data)); mu.Unlock() }
	c, err := client.Dial(ctx, "ws://"+p.Addr+"/prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	has := func(state client.State, n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			k := 0
			for _, e := range events {
				if e.State == state {
					k++
				}
			}
			return k >= n
		}
	}
	waitFor(t, "connected", has(client.StateConnected, 1))
	p.Stall()
	waitFor(t, "the liveness reconnect", has(client.StateConnecting, 1))
	mu.Lock()
	lost := events[len(events)-1].Err
	mu.Unlock()
	if lost == nil || !strings.Contains(lost.Error(), "connection lost") {
		t.Fatalf("connection ended with %v; want connection lost", lost)
	}
	p.Heal()
	waitFor(t, "connected again", has(client.StateConnected, 2))
	// The new connection works both ways.
	if err := c.Send(ctx, []byte(`{"action":"sendMessage","message":"after"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broadcast", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(msgs) > 0 && strings.Contains(msgs[len(msgs)-1], `"after"`)
	})
	c.Close()
	p.Close()
	leaks()
}

const jwtSecret = "client-test-jwt-secret-0123456789abcdef"

func jwtYAML() string {
	return `    auth:
      jwt:
        keys: [{algorithm: HS256, secret: ` + jwtSecret + `}]
`
}

func token(t testing.TB, user string, life time.Duration) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "exp": time.Now().Add(life).Unix()}).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenRefresh: GetToken is called at connect and before each expiry;
// a failing call is retried; the refreshed connection outlives its first
// tokens (the server would close it with 1008 "token expired") without a
// reconnect.
func TestTokenRefresh(t *testing.T) {
	leaks := noLeaks(t)
	s := startServer(t, apiYAML(jwtYAML(), ""))
	ctx := ctxT(t)
	var calls atomic.Int32
	var connects atomic.Int32
	opts := fast()
	opts.RefreshMargin = 2 * time.Second
	opts.GetToken = func(context.Context) (string, error) {
		if calls.Add(1) == 2 {
			return "", errors.New("identity provider down")
		}
		return token(t, "alice", 4*time.Second), nil
	}
	opts.OnState = func(e client.StateEvent) {
		if e.State == client.StateConnected {
			connects.Add(1)
		}
	}
	c, err := client.Dial(ctx, "ws://"+s.addr+"/prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id := c.ConnectionID()
	waitFor(t, "three refreshes", func() bool { return calls.Load() >= 5 })
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := connects.Load(); n != 1 || c.ConnectionID() != id {
		t.Fatalf("%d connections (id %s then %s); want the first one kept by refreshes", n, id, c.ConnectionID())
	}
	c.Close()
	leaks()
}

// TestStopCloses: a handshake refused (401) fails Dial; a connection the
// management API deletes (1000) is not reconnected.
func TestStopCloses(t *testing.T) {
	leaks := noLeaks(t)
	s := startServer(t, apiYAML(jwtYAML(), ""))
	ctx := ctxT(t)
	_, err := client.Dial(ctx, "ws://"+s.addr+"/prod", fast())
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("Dial without a token: %v; want HTTP 401", err)
	}

	opts := fast()
	opts.GetToken = func(context.Context) (string, error) { return token(t, "bob", time.Hour), nil }
	c, err := client.Dial(ctx, "ws://"+s.addr+"/prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if code, body, err := s.manage(ctx, "DELETE", "/prod/@connections/"+c.ConnectionID(), ""); err != nil || code != 204 {
		t.Fatalf("DELETE: %d %s %v", code, body, err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the client did not stop after 1000")
	}
	var ce *client.CloseError
	if !errors.Is(c.Err(), client.ErrStopped) || !errors.As(c.Err(), &ce) || ce.Code != 1000 {
		t.Fatalf("Err %v; want stopped by 1000", c.Err())
	}
	if c.State() != client.StateClosed {
		t.Fatalf("state %v", c.State())
	}
	if _, err := c.Publish(ctx, "room:x", []byte(`1`), client.PublishOptions{}); !errors.Is(err, client.ErrStopped) {
		t.Fatalf("Publish after stop: %v", err)
	}
	c.Close()
	leaks()
}

// TestPublishPresenceStates: publish and delivery of each payload kind,
// presence, unsubscribe, subscription states and a refused subscription.
func TestPublishPresenceStates(t *testing.T) {
	leaks := noLeaks(t)
	s := startServer(t, apiYAML("", ""))
	ctx := ctxT(t)
	c, err := client.Dial(ctx, "ws://"+s.addr+"/prod", fast())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var rec recorder
	sub, err := c.Subscribe(ctx, "room:a", rec.pub, client.SubscribeOptions{OnEvent: rec.event})
	if err != nil {
		t.Fatal(err)
	}
	payloads := [][]byte{[]byte(`{"a":1}`), []byte("plain words"), {0xff, 0x00, 0x01}}
	for _, p := range payloads {
		r, err := c.Publish(ctx, "room:a", p, client.PublishOptions{})
		if err != nil || r.Recipients != 1 || r.Epoch == "" {
			t.Fatalf("Publish %q: %+v %v", p, r, err)
		}
	}
	waitFor(t, "three publications", func() bool { return rec.count() == 3 })
	for i, p := range rec.pubs {
		if string(p.Data) != string(payloads[i]) || p.Offset != uint64(i+1) {
			t.Fatalf("publication %d: %q offset %d", i, p.Data, p.Offset)
		}
	}
	if pos, ok := sub.Position(); !ok || pos.Offset != 3 {
		t.Fatalf("position %+v %v", pos, ok)
	}
	if _, err := c.Subscribe(ctx, "room:a", rec.pub, client.SubscribeOptions{}); err == nil {
		t.Fatal("a second Subscribe to one channel succeeded")
	}
	if _, err := c.Subscribe(ctx, "bad name", rec.pub, client.SubscribeOptions{}); err == nil {
		t.Fatal("Subscribe to an invalid channel succeeded")
	} else if se := (*client.Error)(nil); !errors.As(err, &se) || se.Code != 400 {
		t.Fatalf("invalid channel: %v; want 400", err)
	}

	if _, err := c.Subscribe(ctx, "pres:1", func(client.Publication) {}, client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	pr, err := c.Presence(ctx, "pres:1")
	if err != nil || pr.Members != 1 || len(pr.Presence) != 1 || pr.Presence[0].ConnectionID != c.ConnectionID() {
		t.Fatalf("Presence: %+v %v", pr, err)
	}
	if _, err := c.Presence(ctx, "room:zz"); err == nil {
		t.Fatal("Presence on a channel the connection is not in succeeded")
	} else if se := (*client.Error)(nil); !errors.As(err, &se) || se.Code != 422 {
		t.Fatalf("Presence, not subscribed: %v; want 422", err)
	}

	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if sub.State() != client.SubUnsubscribed {
		t.Fatalf("state %v after Unsubscribe", sub.State())
	}
	r, err := c.Publish(ctx, "room:a", []byte(`2`), client.PublishOptions{})
	if err != nil || r.Recipients != 0 {
		t.Fatalf("Publish after Unsubscribe: %+v %v", r, err)
	}
	c.Close()
	if _, err := c.Publish(ctx, "room:a", []byte(`3`), client.PublishOptions{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	leaks()
}

// TestRecoveredFalse: a restart of a server whose history is in memory
// changes the epoch; the subscription comes back with recovered false and
// the reason, and then delivers live publications.
func TestRecoveredFalse(t *testing.T) {
	leaks := noLeaks(t)
	s := startServer(t, apiYAML("", ""))
	ctx := ctxT(t)
	c, err := client.Dial(ctx, "ws://"+s.addr+"/prod", fast())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var rec recorder
	if _, err := c.Subscribe(ctx, "room:b", rec.pub, client.SubscribeOptions{OnEvent: rec.event}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "room:b", []byte(`"before"`), client.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first publication", func() bool { return rec.count() == 1 })
	s.kill()
	s.launch()
	waitFor(t, "the recovery answer", func() bool { _, ok := rec.recovery(); return ok })
	e, _ := rec.recovery()
	if e.Recovered || e.Reason != "epoch changed" {
		t.Fatalf("recovery %+v; want recovered false, epoch changed", e)
	}
	if _, err := c.Publish(ctx, "room:b", []byte(`"after"`), client.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the live publication", func() bool { return rec.count() == 2 })
	if p := rec.last(); string(p.Data) != `"after"` || p.Offset != 1 {
		t.Fatalf("after the restart: %q offset %d", p.Data, p.Offset)
	}
	c.Close()
	leaks()
}
