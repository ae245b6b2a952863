package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

const (
	testPusherID     = "7"
	testPusherKey    = "bench-key"
	testPusherSecret = "bench-secret-0123456789"
)

// startPusherServer runs a Switchboard in-process with one API (stage
// production) and a Pusher app mapped to it, and returns its address.
func startPusherServer(t *testing.T) (string, *server.Server) {
	t.Helper()
	yaml := `
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
    - id: "` + testPusherID + `"
      key: ` + testPusherKey + `
      secret: ` + testPusherSecret + `
      api: chat
`
	s := servertest.Start(t, yaml, server.Options{})
	return s.Addr, s.Server
}

// Idle Pusher connections, each subscribed to a public channel: the
// server counts them as the API's connections and the channel's
// subscribers while Idle holds them.
func TestIdlePusher(t *testing.T) {
	base, srv := startPusherServer(t)
	res, err := Idle(context.Background(), IdleOptions{
		URL:         "ws://" + base + "/production",
		Connections: 100,
		Sources:     []string{"127.0.0.1", "127.0.0.2"},
		Settle:      100 * time.Millisecond,
		PusherKey:   testPusherKey,
		Channel:     "bench",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 100 || res.Failed != 0 || res.RSSAfter <= 0 || res.HeapAfter <= 0 {
		t.Fatalf("%+v", res)
	}
	t.Log(res)
	deadline := time.Now().Add(5 * time.Second)
	for srv.Gateway().API("production").Connections() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connections still open after Idle returned")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A wrong key fails every connection with the server's reason (4001 is
// "app does not exist"), and a channel without the key is refused.
func TestIdlePusherRefused(t *testing.T) {
	base, _ := startPusherServer(t)
	_, err := Idle(context.Background(), IdleOptions{
		URL: "ws://" + base + "/production", Connections: 2, Settle: time.Millisecond, PusherKey: "nope",
	})
	if err == nil || !strings.Contains(err.Error(), "4001") {
		t.Fatalf("unknown key: %v, want the server's 4001", err)
	}
	_, err = Idle(context.Background(), IdleOptions{URL: "ws://" + base + "/production", Connections: 1, Channel: "bench"})
	if err == nil {
		t.Fatal("a channel without a Pusher key was accepted")
	}
	_, err = Idle(context.Background(), IdleOptions{
		URL: "ws://" + base + "/production", Connections: 1, Channel: "private-x", PusherKey: testPusherKey,
	})
	if err == nil || !strings.Contains(err.Error(), "subscription_error") {
		t.Fatalf("private channel without auth: %v, want the subscription_error", err)
	}
}

// Fan-out to Pusher subscribers, publications through the management
// API: every delivery arrives as a Pusher channel event whose data holds
// the publication, and its time is read from it.
func TestFanoutPusher(t *testing.T) {
	base, _ := startPusherServer(t)
	res, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URL:         "ws://" + base + "/production",
		PusherKey:   testPusherKey,
		Connections: 100,
		Workers:     2,
		Sources:     []string{"127.0.0.1", "127.0.0.2"},
		Rates:       []float64{40},
		Duration:    500 * time.Millisecond,
		Settle:      50 * time.Millisecond,
		Grace:       20 * time.Second, // ends as soon as every delivery arrived
		Timeout:     time.Minute,
	}))
	if err != nil {
		t.Fatal(err)
	}
	checkPusherRun(t, res, 20, 100)
}

// Pusher and switchboard.v1 subscribers of one channel in the same run
// (one worker each): both get every publication, and the step reports
// each protocol's deliveries.
func TestFanoutMixed(t *testing.T) {
	base, _ := startPusherServer(t)
	res, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URL:           "ws://" + base + "/production",
		PusherKey:     testPusherKey,
		PusherWorkers: 1,
		Connections:   100,
		Workers:       2,
		Sources:       []string{"127.0.0.1", "127.0.0.2"},
		Rates:         []float64{40},
		Duration:      500 * time.Millisecond,
		Settle:        50 * time.Millisecond,
		Grace:         20 * time.Second,
		Timeout:       time.Minute,
	}))
	if err != nil {
		t.Fatal(err)
	}
	st := res.Steps[0]
	t.Logf("\n%s\n\n%s", res.Setup, st)
	if st.Sent != 20 || st.Received != 20*100 || st.Other != 0 || st.Errors != 0 || len(st.Protocols) != 2 {
		t.Fatalf("sent %d received %d other %d errors %d protocols %+v (%s)", st.Sent, st.Received, st.Other, st.Errors, st.Protocols, st.FirstError)
	}
	for i, want := range []string{"switchboard.v1", "pusher"} {
		p := st.Protocols[i]
		if p.Protocol != want || p.Subscribers != 50 || p.Received != 20*50 || p.Latency.Count != p.Received {
			t.Errorf("protocol %d: %+v, want %s with 50 subscribers and 1000 deliveries", i, p, want)
		}
	}
	if _, err := Fanout(context.Background(), FanoutOptions{URL: "ws://" + base + "/production", Workers: 2, Connections: 2, PusherWorkers: 1}); err == nil {
		t.Error("PusherWorkers without the key accepted")
	}
}

func checkPusherRun(t *testing.T, res FanoutResult, pubs, subs int) {
	t.Helper()
	t.Logf("\n%s", res.Setup)
	if s := res.Setup; s.Protocol != "pusher" || s.Connections != subs || s.Failed != 0 {
		t.Fatalf("setup: %+v", s)
	}
	st := res.Steps[0]
	t.Logf("\n%s", st)
	if st.Sent != pubs || st.Failed != 0 || st.Expected != uint64(pubs*subs) || st.Received != st.Expected ||
		st.Other != 0 || st.LostConns != 0 || st.Errors != 0 {
		t.Fatalf("sent %d failed %d expected %d received %d other %d lost %d errors %d; want every delivery (%s)",
			st.Sent, st.Failed, st.Expected, st.Received, st.Other, st.LostConns, st.Errors, st.FirstError)
	}
	if l := st.Latency; l.Count != st.Received || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("latency %+v", l)
	}
}

// Publications through the Pusher HTTP API: every request the tool sends
// is verified by pusherproto.VerifyAPIRequest (the server's own check)
// in a gateway in front of the server, which then publishes its data
// through the management API, so the whole run is checked end to end.
// (The server's own /apps/{id}/events is in another branch.)
func TestFanoutPusherHTTPAPI(t *testing.T) {
	base, _ := startPusherServer(t)
	var verified, refused atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, err := pusherproto.VerifyAPIRequest(pusherproto.APIRequest{
			Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Body: body,
		}, testPusherKey, testPusherSecret, time.Now(), 0)
		if err != nil || r.Method != http.MethodPost || r.URL.Path != "/apps/"+testPusherID+"/events" {
			refused.Add(1)
			http.Error(w, "refused: "+r.Method+" "+r.URL.Path+": "+errString(err), http.StatusUnauthorized)
			return
		}
		var ev struct{ Name, Channel, Data string }
		if err := json.Unmarshal(body, &ev); err != nil || ev.Name != "bench" || ev.Channel != "bench" {
			refused.Add(1)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		verified.Add(1)
		resp, err := http.Post("http://"+base+"/production/@channels/"+url.PathEscape(ev.Channel), "application/json", strings.NewReader(ev.Data))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write([]byte("{}"))
	}))
	defer gw.Close()
	res, err := Fanout(context.Background(), testWorkers(t, FanoutOptions{
		URL:          "ws://" + base + "/production",
		Manage:       gw.URL,
		PusherKey:    testPusherKey,
		PusherAppID:  testPusherID,
		PusherSecret: testPusherSecret,
		Connections:  50,
		Workers:      1,
		Rates:        []float64{40},
		Duration:     500 * time.Millisecond,
		Settle:       50 * time.Millisecond,
		Grace:        20 * time.Second,
		Timeout:      time.Minute,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Opts.Publish != "Pusher HTTP API" {
		t.Errorf("publish %q", res.Opts.Publish)
	}
	checkPusherRun(t, res, 20, 50)
	if verified.Load() != 20 || refused.Load() != 0 {
		t.Fatalf("verified %d refused %d, want 20 and 0", verified.Load(), refused.Load())
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// The request the tool signs passes the server's check, and a request
// signed with another secret or altered after signing does not.
func TestPusherEventsRequest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	data := pubBody(now.UnixNano(), 3, 100)
	pq, body := pusherEventsRequest(testPusherID, testPusherKey, testPusherSecret, "bench", "my;channel", data, now)
	path, query, _ := strings.Cut(pq, "?")
	req := pusherproto.APIRequest{Method: http.MethodPost, Path: path, RawQuery: query, Body: body}
	params, err := pusherproto.VerifyAPIRequest(req, testPusherKey, testPusherSecret, now.Add(time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if path != "/apps/7/events" || params.Get("auth_timestamp") != "1800000000" {
		t.Fatalf("path %q params %v", path, params)
	}
	var ev struct{ Name, Channel, Data string }
	if err := json.Unmarshal(body, &ev); err != nil || ev.Name != "bench" || ev.Channel != "my;channel" || ev.Data != data {
		t.Fatalf("body %s: %v", body, err)
	}
	_, err = pusherproto.VerifyAPIRequest(req, testPusherKey, "another-secret-0123456789", now, 0)
	if !errors.Is(err, pusherproto.ErrSignature) {
		t.Errorf("other secret: %v", err)
	}
	tampered := req
	tampered.Body = bytes.Replace(body, []byte(`\"seq\":3`), []byte(`\"seq\":4`), 1)
	if bytes.Equal(tampered.Body, body) {
		t.Fatalf("no seq in %s", body)
	}
	if _, err := pusherproto.VerifyAPIRequest(tampered, testPusherKey, testPusherSecret, now, 0); !errors.Is(err, pusherproto.ErrBodyMD5) {
		t.Errorf("altered body: %v", err)
	}
	if _, err := pusherproto.VerifyAPIRequest(req, testPusherKey, testPusherSecret, now.Add(11*time.Minute), 0); !errors.Is(err, pusherproto.ErrTimestamp) {
		t.Errorf("11 minutes later: %v", err)
	}
}

// The setup step of a Pusher connection: the events in order, the
// server's errors as errors, pings answered.
func TestPusherSetup(t *testing.T) {
	sub := pusherSubscribe("bench")
	step := pusherSetup(sub)
	est := pusherproto.AppendConnectionEstablished(nil, "1.2", 120)
	if _, _, err := step(pusherproto.AppendSubscriptionSucceeded(nil, "bench")); err == nil {
		t.Fatal("subscription_succeeded before connection_established accepted")
	}
	step = pusherSetup(sub)
	if send, done, err := step(est); err != nil || !bytes.Equal(send, sub) || done {
		t.Fatalf("connection_established: %s %v %v", send, done, err)
	}
	if send, done, err := step(pusherproto.AppendPing(nil)); err != nil || !bytes.Equal(send, pusherPong) || done {
		t.Fatalf("ping: %s %v %v", send, done, err)
	}
	if send, done, err := step(pusherproto.AppendSubscriptionSucceeded(nil, "bench")); err != nil || send != nil || !done {
		t.Fatalf("subscription_succeeded: %s %v %v", send, done, err)
	}
	step = pusherSetup(sub)
	_, _, _ = step(est)
	if _, _, err := step(pusherproto.AppendSubscriptionError(nil, "bench", "AuthError", "no", 401)); err == nil || !strings.Contains(err.Error(), "AuthError") {
		t.Fatalf("subscription_error: %v", err)
	}
	if _, done, err := pusherSetup(nil)(est); err != nil || !done {
		t.Fatalf("no channel: done %v %v", done, err)
	}
	if _, _, err := pusherSetup(nil)([]byte(`{"event":`)); err == nil {
		t.Fatal("broken JSON accepted")
	}
	var m struct {
		Event string `json:"event"`
		Data  struct {
			Channel string `json:"channel"`
		} `json:"data"`
	}
	if err := json.Unmarshal(sub, &m); err != nil || m.Event != "pusher:subscribe" || m.Data.Channel != "bench" {
		t.Fatalf("subscribe %s: %v", sub, err)
	}
}
