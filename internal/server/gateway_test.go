package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/config"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

// The seed chat, unchanged: every client gets {message, sender, timestamp}.
func TestSeedChat(t *testing.T) {
	e := startServer(t, "")
	a := e.dial("production", nil)
	b := e.dial("production", nil)
	before := time.Now().UnixMilli()
	write(t, a, `{"action":"sendMessage","message":"hello, world"}`)
	for _, c := range []*websocket.Conn{a, b} {
		m := readJSON(t, c)
		if m["message"] != "hello, world" {
			t.Fatalf("message %v", m)
		}
		sender, _ := m["sender"].(string)
		if !idPattern.MatchString(sender) {
			t.Fatalf("sender %q is not a connection id", sender)
		}
		ts, _ := m["timestamp"].(float64)
		if int64(ts) < before || int64(ts) > time.Now().UnixMilli() {
			t.Fatalf("timestamp %v outside the test's time", m["timestamp"])
		}
		if len(m) != 3 {
			t.Fatalf("unexpected keys in %v", m)
		}
	}
	// The message value keeps its JSON type.
	write(t, b, `{"action":"sendMessage","message":{"text":"hi","n":[1,2]}}`)
	m := readJSON(t, a)
	if fmt.Sprint(m["message"]) != "map[n:[1 2] text:hi]" {
		t.Fatalf("structured message %v", m["message"])
	}
	readJSON(t, b)
}

// No route and no $default: AWS's Forbidden frame, byte for byte; the
// connection stays open.
func TestForbiddenFrame(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	for _, msg := range []string{`{"action":"nope"}`, `not json`, `{"message":"no action"}`, `[1,2,3]`} {
		write(t, c, msg)
		_, b := read(t, c)
		re := regexp.MustCompile(`^\{"message": "Forbidden", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$`)
		if !re.Match(b) {
			t.Fatalf("frame for %q: %s", msg, b)
		}
	}
	write(t, c, `{"action":"sendMessage","message":"still here"}`)
	if m := readJSON(t, c); m["message"] != "still here" {
		t.Fatalf("got %v", m)
	}
}

func TestHTTPIntegrationEvents(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	c := e.dial("test?token=abc&token=def&x=%20y", &websocket.DialOptions{HTTPHeader: http.Header{
		"User-Agent":  {"switchboard-test/1.0"},
		"HeaderAuth1": {"headerValue1"},
	}})

	conn := be.waitEvents("$connect", 1)[0]
	rc := conn["requestContext"].(map[string]any)
	if rc["eventType"] != "CONNECT" || rc["stage"] != "test" || rc["apiId"] != "testapi" || rc["messageDirection"] != "IN" {
		t.Fatalf("requestContext %v", rc)
	}
	if rc["requestId"] != rc["extendedRequestId"] || !idPattern.MatchString(fmt.Sprint(rc["connectionId"])) {
		t.Fatalf("ids %v", rc)
	}
	if id := rc["identity"].(map[string]any); id["sourceIp"] != "127.0.0.1" || id["userAgent"] != "switchboard-test/1.0" {
		t.Fatalf("identity %v", id)
	}
	if rc["domainName"] != strings.TrimPrefix(e.base, "http://") {
		t.Fatalf("domainName %v, want the Host the client used", rc["domainName"])
	}
	headers := conn["headers"].(map[string]any)
	// Header names keep the client's case, as on AWS (Go clients send
	// "Sec-Websocket-Key"; browsers "Sec-WebSocket-Key").
	for _, name := range []string{"Sec-Websocket-Key", "Sec-Websocket-Version", "HeaderAuth1", "Host", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Amzn-Trace-Id"} {
		if _, ok := headers[name]; !ok {
			t.Errorf("header %q missing from %v", name, headers)
		}
	}
	if headers["X-Forwarded-For"] != "127.0.0.1" || headers["X-Forwarded-Proto"] != "http" {
		t.Errorf("forwarding headers %v", headers)
	}
	if q := conn["queryStringParameters"].(map[string]any); q["token"] != "def" || q["x"] != " y" {
		t.Errorf("queryStringParameters %v", q)
	}
	if mq := conn["multiValueQueryStringParameters"].(map[string]any); fmt.Sprint(mq["token"]) != "[abc def]" {
		t.Errorf("multiValueQueryStringParameters %v", mq)
	}
	if _, ok := conn["body"]; ok {
		t.Errorf("CONNECT event has a body")
	}
	if h := be.headers[0]; h.Get("Content-Type") != "application/json" || h.Get("X-Switchboard-Route") != "$connect" {
		t.Errorf("request headers %v", h)
	}

	write(t, c, `{"action":"anything","n":1}`)
	msg := be.waitEvents("$default", 1)[0]
	mrc := msg["requestContext"].(map[string]any)
	if msg["body"] != `{"action":"anything","n":1}` || msg["isBase64Encoded"] != false || mrc["eventType"] != "MESSAGE" {
		t.Fatalf("MESSAGE event %v", msg)
	}
	if _, ok := msg["headers"]; ok {
		t.Errorf("MESSAGE event carries headers")
	}
	if mrc["connectedAt"] != rc["connectedAt"] || !idPattern.MatchString(fmt.Sprint(mrc["messageId"])) {
		t.Errorf("MESSAGE context %v", mrc)
	}

	c.Close(websocket.StatusNormalClosure, "done here")
	d := be.waitEvents("$disconnect", 1)[0]
	drc := d["requestContext"].(map[string]any)
	if drc["disconnectStatusCode"] != float64(1000) || drc["disconnectReason"] != "done here" || drc["eventType"] != "DISCONNECT" {
		t.Fatalf("DISCONNECT context %v", drc)
	}
	dh := d["headers"].(map[string]any)
	if len(dh) != 4 || dh["x-api-key"] != "" || dh["Host"] == "" {
		t.Fatalf("DISCONNECT headers %v", dh)
	}
}

// A route with a route response sends the integration's body back; a
// one-way route does not; failures and timeouts give AWS's frames and the
// connection stays open.
func TestRouteResponsesAndErrorFrames(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	release := make(chan struct{}) // holds the "slow" reply past the 2s timeout, to the end
	t.Cleanup(func() { close(release) })
	be.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) == "$connect" || routeKey(ev) == "$disconnect" {
			return 200, ""
		}
		var body map[string]any
		_ = json.Unmarshal([]byte(fmt.Sprint(ev["body"])), &body)
		switch body["do"] {
		case "fail":
			return 500, "boom"
		case "slow":
			<-release
			return 200, ""
		case "proxy":
			return 200, `{"statusCode": 500, "body": "proxy body"}`
		case "binary":
			return 200, `{"statusCode": 200, "body": "AAEC", "isBase64Encoded": true}`
		}
		return 200, "plain reply " + fmt.Sprint(body["n"])
	})
	c := e.dial("test", nil)

	write(t, c, `{"action":"twoway","n":1}`)
	if _, b := read(t, c); string(b) != "plain reply 1" {
		t.Fatalf("two-way reply %q", b)
	}
	write(t, c, `{"action":"twoway","do":"proxy"}`)
	if _, b := read(t, c); string(b) != "proxy body" {
		t.Fatalf("proxy reply %q (statusCode does not stop delivery on AWS)", b)
	}
	write(t, c, `{"action":"twoway","do":"binary"}`)
	if typ, b := read(t, c); typ != websocket.MessageBinary || !bytes.Equal(b, []byte{0, 1, 2}) {
		t.Fatalf("binary reply %v %v", typ, b)
	}
	// One-way: nothing comes back; the next frame is the next reply.
	write(t, c, `{"action":"oneway","n":2}`)
	write(t, c, `{"action":"twoway","n":3}`)
	if _, b := read(t, c); string(b) != "plain reply 3" {
		t.Fatalf("after a one-way route got %q", b)
	}

	write(t, c, `{"action":"x","do":"fail"}`)
	m := readJSON(t, c)
	if m["message"] != "Internal server error" || !idPattern.MatchString(fmt.Sprint(m["connectionId"])) || !idPattern.MatchString(fmt.Sprint(m["requestId"])) {
		t.Fatalf("failure frame %v", m)
	}
	write(t, c, `{"action":"x","do":"slow"}`)
	if m := readJSON(t, c); m["message"] != "Endpoint request timed out" {
		t.Fatalf("timeout frame %v", m)
	}
	write(t, c, `{"action":"twoway","n":4}`)
	if _, b := read(t, c); string(b) != "plain reply 4" {
		t.Fatalf("connection did not stay usable: %q", b)
	}
	// The requestId of an error frame is the failed event's requestId.
	fails := be.eventsFor("$default")
	var ids []string
	for _, ev := range fails {
		ids = append(ids, ctxField(ev, "requestId"))
	}
	if !strings.Contains(strings.Join(ids, " "), fmt.Sprint(m["requestId"])) {
		t.Errorf("error frame requestId %v is not one of the events' %v", m["requestId"], ids)
	}
}

func TestConnectOutcomes(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	release := make(chan struct{}) // holds the "slow" reply past the 2s timeout, to the end
	t.Cleanup(func() { close(release) })
	dial := func(proto string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		opts := &websocket.DialOptions{HTTPHeader: http.Header{"X-Case": {proto}}}
		if proto != "" {
			opts.Subprotocols = []string{proto, "other"}
		}
		c, resp, err := websocket.Dial(ctx, e.wsURL("test"), opts)
		if c != nil {
			c.CloseNow()
		}
		return resp, err
	}
	be.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) != "$connect" {
			return 200, ""
		}
		h, _ := ev["headers"].(map[string]any)
		switch h["X-Case"] {
		case "plain403":
			return 403, "go away"
		case "proxy401":
			return 200, `{"statusCode": 401}`
		case "fail":
			return 500, "crash"
		case "slow":
			<-release
			return 200, ""
		case "chat":
			return 200, `{"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat", "Set-Cookie": "x=y"}}`
		}
		return 200, ""
	})
	for proto, want := range map[string]int{"plain403": 403, "proxy401": 401, "fail": 502, "slow": 504} {
		resp, err := dial(proto)
		if err == nil || resp == nil || resp.StatusCode != want {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Errorf("%s: status %d (err %v), want %d", proto, status, err, want)
		}
	}
	resp, err := dial("chat")
	if err != nil || resp.Header.Get("Sec-WebSocket-Protocol") != "chat" {
		t.Fatalf("subprotocol from $connect: %v %v", err, resp.Header)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("a header other than Sec-WebSocket-Protocol reached the client")
	}
	// Switchboard never echoes a requested subprotocol by itself.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.wsURL("test"), &websocket.DialOptions{Subprotocols: []string{"unasked"}})
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	if resp.Header.Get("Sec-WebSocket-Protocol") != "" {
		t.Fatalf("subprotocol echoed without $connect returning it")
	}
	// Rejected connections never get $disconnect; accepted ones do.
	waitFor(t, "disconnects of accepted connections", func() bool { return len(be.eventsFor("$disconnect")) == 2 })
	time.Sleep(100 * time.Millisecond)
	if n := len(be.eventsFor("$disconnect")); n != 2 {
		t.Fatalf("%d $disconnect events for 2 accepted connections", n)
	}
}

// $disconnect fires exactly once per connection, for every cause, with
// its close code and reason.
func TestDisconnectExactlyOnce(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""), func(c *config.Config) {
		c.APIs[0].Limits.IdleTimeout = config.Duration(time.Second)
		c.APIs[0].Limits.OutboundQueueBytes = 256 << 10
	})
	type cause struct {
		name   string
		code   float64
		reason string
		do     func(c *websocket.Conn, id string)
	}
	connID := func() string {
		evs := be.eventsFor("$connect")
		return ctxField(evs[len(evs)-1], "connectionId")
	}
	gw := e.srv.Gateway()
	causes := []cause{
		{"client close", 4001, "my reason", func(c *websocket.Conn, _ string) { c.Close(4001, "my reason") }},
		{"abrupt drop", 1006, "", func(c *websocket.Conn, _ string) { c.CloseNow() }},
		{"idle", 1001, "idle timeout", func(c *websocket.Conn, _ string) { closeStatus(t, c) }},
		{"delete", 1000, "Connection Closed Normally", func(c *websocket.Conn, id string) {
			if err := gw.DeleteConnection(context.Background(), "test", id); err != nil {
				t.Fatal(err)
			}
			closeStatus(t, c)
		}},
		{"slow consumer", 1013, "slow consumer", func(c *websocket.Conn, id string) {
			// The client never reads; posts overflow its queue.
			big := bytes.Repeat([]byte("x"), 100<<10)
			for range 1000 {
				if gw.PostToConnection(context.Background(), "test", id, big) != nil {
					break
				}
			}
		}},
	}
	for i, cs := range causes {
		t.Run(cs.name, func(t *testing.T) {
			c := e.dial("test", nil)
			be.waitEvents("$connect", i+1)
			id := connID()
			cs.do(c, id)
			var got []map[string]any
			waitFor(t, "$disconnect of "+id, func() bool {
				got = nil
				for _, ev := range be.eventsFor("$disconnect") {
					if ctxField(ev, "connectionId") == id {
						got = append(got, ev)
					}
				}
				return len(got) > 0
			})
			rc := got[0]["requestContext"].(map[string]any)
			if rc["disconnectStatusCode"] != cs.code || (cs.reason != "" && rc["disconnectReason"] != cs.reason) {
				t.Fatalf("disconnect %v %q, want %v %q", rc["disconnectStatusCode"], rc["disconnectReason"], cs.code, cs.reason)
			}
			time.Sleep(150 * time.Millisecond)
			n := 0
			for _, ev := range be.eventsFor("$disconnect") {
				if ctxField(ev, "connectionId") == id {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d $disconnect events", n)
			}
		})
	}
	// Shutdown: every open connection gets 1001 and one $disconnect.
	t.Run("shutdown", func(t *testing.T) {
		before := len(be.eventsFor("$disconnect"))
		var clients []*websocket.Conn
		for range 5 {
			clients = append(clients, e.dial("test", nil))
		}
		be.waitEvents("$connect", len(causes)+5)
		var wg sync.WaitGroup
		codes := make([]websocket.StatusCode, len(clients))
		for i, c := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); codes[i] = closeStatus(t, c) }()
		}
		e.shutdown()
		wg.Wait()
		for _, code := range codes {
			if code != websocket.StatusGoingAway {
				t.Errorf("close code %v at shutdown, want 1001", code)
			}
		}
		after := be.eventsFor("$disconnect")[before:]
		if len(after) != 5 {
			for _, ev := range after {
				t.Logf("disconnect %s %v", ctxField(ev, "connectionId"), ev["requestContext"])
			}
			t.Fatalf("%d $disconnect events at shutdown, want 5", len(after))
		}
		for _, ev := range after {
			if rc := ev["requestContext"].(map[string]any); rc["disconnectStatusCode"] != float64(1001) || rc["disconnectReason"] != "server shutting down" {
				t.Errorf("shutdown disconnect %v", rc)
			}
		}
	})
}

// A failing $disconnect is retried with backoff, a bounded number of
// times, with the same requestId, and the failure is logged.
func TestDisconnectRetries(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	var mu sync.Mutex
	fails := map[string]int{"first": 2, "never": 100}
	owner := map[string]string{} // connectionId -> which
	be.setRespond(func(ev map[string]any) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		id := ctxField(ev, "connectionId")
		switch routeKey(ev) {
		case "$connect":
			h, _ := ev["headers"].(map[string]any)
			owner[id] = fmt.Sprint(h["X-Which"])
		case "$disconnect":
			if fails[owner[id]] > 0 {
				fails[owner[id]]--
				return 503, "try later"
			}
		}
		return 200, ""
	})
	for _, which := range []string{"first", "never"} {
		c := e.dial("test", &websocket.DialOptions{HTTPHeader: http.Header{"X-Which": {which}}})
		c.Close(websocket.StatusNormalClosure, "")
	}
	waitFor(t, "give-up log line", func() bool { return len(e.logs.lines("$disconnect failed; giving up")) == 1 })
	evs := be.waitEvents("$disconnect", 6)
	byID := map[string][]string{}
	for _, ev := range evs {
		id := ctxField(ev, "connectionId")
		byID[owner[id]] = append(byID[owner[id]], ctxField(ev, "requestId"))
	}
	if len(byID["first"]) != 3 || len(byID["never"]) != 3 {
		t.Fatalf("attempts: %v (want 3 each: 2 failures + success, and 3 failures)", byID)
	}
	for which, ids := range byID {
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Errorf("%s: retries changed the requestId: %v", which, ids)
			}
		}
	}
	if n := len(e.logs.lines("$disconnect failed; retrying")); n != 4 {
		t.Errorf("%d retry log lines, want 4", n)
	}
}

func TestLimitsThroughGateway(t *testing.T) {
	e := startServer(t, "", func(c *config.Config) { c.APIs[0].Limits.MaxMessageBytes = 1024; c.APIs[0].Limits.MaxFrameBytes = 1024 })
	c := e.dial("production", nil)
	write(t, c, `{"action":"sendMessage","message":"`+strings.Repeat("a", 2000)+`"}`)
	if code := closeStatus(t, c); code != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: %v, want 1009", code)
	}
	c = e.dial("production", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3})
	if code := closeStatus(t, c); code != websocket.StatusUnsupportedData {
		t.Fatalf("binary frame: %v, want 1003", code)
	}
	// coder/websocket does not send invalid UTF-8 text; the ws package's
	// conformance tests cover 1007 with raw frames.
}

func TestBinaryAsBase64(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""), func(c *config.Config) { c.APIs[0].Binary = "base64" })
	c := e.dial("test", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageBinary, []byte{0xff, 0, 0x7b}); err != nil {
		t.Fatal(err)
	}
	ev := be.waitEvents("$default", 1)[0]
	if ev["isBase64Encoded"] != true || ev["body"] != base64.StdEncoding.EncodeToString([]byte{0xff, 0, 0x7b}) {
		t.Fatalf("binary event %v %v", ev["isBase64Encoded"], ev["body"])
	}
}

// Messages of one connection reach the backend one at a time, in order,
// even when the backend is slow; another connection is not held up.
func TestPerConnectionOrder(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	var mu sync.Mutex
	inflight := map[string]int{}
	maxInflight := 0
	be.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) != "$default" {
			return 200, ""
		}
		id := ctxField(ev, "connectionId")
		mu.Lock()
		inflight[id]++
		maxInflight = max(maxInflight, inflight[id])
		mu.Unlock()
		if strings.Contains(fmt.Sprint(ev["body"]), "slow") {
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		inflight[id]--
		mu.Unlock()
		return 200, ""
	})
	slow := e.dial("test", nil)
	for i := range 50 {
		write(t, slow, fmt.Sprintf(`{"slow":true,"i":%d}`, i))
	}
	fast := e.dial("test", nil)
	write(t, fast, `{"i":"fast"}`)
	waitFor(t, "the fast connection's message", func() bool {
		for _, ev := range be.eventsFor("$default") {
			if strings.Contains(fmt.Sprint(ev["body"]), "fast") {
				return true
			}
		}
		return false
	})
	if n := len(be.eventsFor("$default")); n > 40 {
		t.Errorf("the fast connection waited for %d slow messages", n-1)
	}
	evs := be.waitEvents("$default", 51)
	next := 0
	for _, ev := range evs {
		body := fmt.Sprint(ev["body"])
		if !strings.Contains(body, "slow") {
			continue
		}
		if want := fmt.Sprintf(`"i":%d}`, next); !strings.HasSuffix(body, want) {
			t.Fatalf("message %d out of order: %s", next, body)
		}
		next++
	}
	mu.Lock()
	defer mu.Unlock()
	if maxInflight != 1 {
		t.Fatalf("%d messages of one connection were in flight at once", maxInflight)
	}
}

// The structured log has a line for every connect, disconnect and route
// invocation, with the fields operators need.
func TestLogLines(t *testing.T) {
	be := newBackend(t)
	be.setRespond(func(map[string]any) (int, string) { return 200, "pong" })
	e := startServer(t, backendAPI(be.srv.URL, ""))
	c := e.dial("test", nil)
	write(t, c, `{"action":"twoway"}`)
	read(t, c)
	c.Close(websocket.StatusNormalClosure, "bye")
	be.waitEvents("$disconnect", 1)
	waitFor(t, "log lines", func() bool { return len(e.logs.lines("route")) >= 3 })
	conn := e.logs.lines("connect")
	if len(conn) != 1 || conn[0]["connectionId"] == nil || conn[0]["sourceIp"] != "127.0.0.1" {
		t.Fatalf("connect lines %v", conn)
	}
	disc := e.logs.lines("disconnect")
	if len(disc) != 1 || disc[0]["code"] != float64(1000) || disc[0]["reason"] != "bye" || disc[0]["durationS"] == nil {
		t.Fatalf("disconnect lines %v", disc)
	}
	// The connect line comes first: it is logged before the socket is
	// handed over, so the connection cannot deliver and close before it
	// (it once came after the disconnect, and this test missed it).
	if c, d := e.logs.first("connect"), e.logs.first("disconnect"); c > d {
		t.Errorf("the connect line is line %d, after the disconnect line %d", c, d)
	}
	routes := map[string]map[string]any{}
	for _, l := range e.logs.lines("route") {
		routes[fmt.Sprint(l["route"])] = l
	}
	for _, key := range []string{"$connect", "twoway", "$disconnect"} {
		l := routes[key]
		if l == nil || l["integration"] != "backend" || l["outcome"] != "ok" || l["latencyMs"] == nil || l["requestId"] == nil {
			t.Errorf("route line for %s: %v", key, l)
		}
	}
	if routes["twoway"]["status"] != float64(200) {
		t.Errorf("route line status %v", routes["twoway"]["status"])
	}
}

func TestHTTPRouting(t *testing.T) {
	e := startServer(t, "")
	for path, want := range map[string]int{
		"/":              200,
		"/healthz":       200,
		"/readyz":        200,
		"/metrics":       200,
		"/production":    426,
		"/production/":   426,
		"/nope":          404,
		"/production/x/": 404,
	} {
		resp, err := http.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	for _, name := range []string{"switchboard_connections{api=\"chat\"}", "switchboard_slow_consumer_closes_total", "switchboard_disconnects_total"} {
		if !strings.Contains(b.String(), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
}

// Two APIs in one process are independent: their own stages, routes,
// connections and management namespaces.
func TestTwoAPIs(t *testing.T) {
	e := startServer(t, `
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
    routes:
      sendMessage: {action: {type: broadcast}}
  - id: echoer
    stage: echo
    routeSelectionExpression: \$default
    routes:
      $default: {action: {type: echo}}
`)
	chat := e.dial("production", nil)
	echo := e.dial("echo", nil)
	write(t, echo, `{"action":"sendMessage","x":1}`)
	if _, b := read(t, echo); string(b) != `{"action":"sendMessage","x":1}` {
		t.Fatalf("echo route: %q", b)
	}
	write(t, chat, `{"action":"sendMessage","message":"only chat"}`)
	if _, b := read(t, chat); !strings.Contains(string(b), "only chat") {
		t.Fatalf("chat broadcast: %q", b)
	}
	// The echo API's connection did not get the chat broadcast: its next
	// frame is its own echo.
	write(t, echo, `second`)
	if _, b := read(t, echo); string(b) != "second" {
		t.Fatalf("a broadcast crossed APIs: %q", b)
	}
	// Each stage's management API sees only its own connections.
	for stage, want := range map[string]int{"production": 1, "echo": 1} {
		page, err := e.srv.Gateway().ListConnections(context.Background(), stage, "", 10)
		if err != nil || len(page.Connections) != want {
			t.Fatalf("%s: %d connections (%v)", stage, len(page.Connections), err)
		}
		other := map[string]string{"production": "echo", "echo": "production"}[stage]
		otherPage, _ := e.srv.Gateway().ListConnections(context.Background(), other, "", 10)
		id := otherPage.Connections[0].ID
		if _, err := e.srv.Gateway().GetConnection(context.Background(), stage, id); err == nil {
			t.Fatalf("stage %s sees a connection of stage %s", stage, other)
		}
	}
}

// A connection whose $connect has not answered yet is gone for the
// management API (410), as on AWS.
func TestManagementDuringConnect(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""))
	release := make(chan struct{})
	be.setRespond(func(ev map[string]any) (int, string) {
		if routeKey(ev) == "$connect" {
			<-release
		}
		return 200, ""
	})
	dialed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, e.wsURL("test"), nil)
		if err == nil {
			defer c.CloseNow()
			_, b, rerr := c.Read(ctx)
			if rerr == nil && string(b) != "after connect" {
				err = fmt.Errorf("got %q", b)
			} else {
				err = rerr
			}
		}
		dialed <- err
	}()
	ev := be.waitEvents("$connect", 1)[0]
	id := ctxField(ev, "connectionId")
	resp, err := http.Post(e.base+"/test/@connections/"+strings.ReplaceAll(id, "=", "%3D"), "text/plain", strings.NewReader("too early"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || resp.Header.Get("x-amzn-ErrorType") != "GoneException" {
		t.Fatalf("POST during $connect: %d %q, want 410 GoneException", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
	close(release)
	waitFor(t, "the connection to open", func() bool {
		_, err := e.srv.Gateway().GetConnection(context.Background(), "test", id)
		return err == nil
	})
	if err := e.srv.Gateway().PostToConnection(context.Background(), "test", id, []byte("after connect")); err != nil {
		t.Fatal(err)
	}
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
}

// The maximum connection duration closes an active connection with 1001
// and $disconnect reports it.
func TestMaxConnectionDuration(t *testing.T) {
	be := newBackend(t)
	e := startServer(t, backendAPI(be.srv.URL, ""), func(c *config.Config) {
		c.APIs[0].Limits.MaxConnectionDuration = config.Duration(time.Second)
	})
	c := e.dial("test", nil)
	done := make(chan websocket.StatusCode, 1)
	go func() { done <- closeStatus(t, c) }()
	for i := 0; i < 30; i++ { // stay active: activity does not extend the duration
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"x"}`))
		cancel()
		if err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := <-done; code != websocket.StatusGoingAway {
		t.Fatalf("close code %v, want 1001", code)
	}
	rc := be.waitEvents("$disconnect", 1)[0]["requestContext"].(map[string]any)
	if rc["disconnectStatusCode"] != float64(1001) || rc["disconnectReason"] != "maximum connection duration reached" {
		t.Fatalf("disconnect %v", rc)
	}
}

// A lambda integration end to end: the gateway invokes the function
// through the Lambda Invoke API (a loopback fake) with the real SDK.
func TestLambdaIntegration(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "dummy")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	empty := t.TempDir() + "/none"
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)

	var mu sync.Mutex
	var routes []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2015-03-31/functions/chat/invocations" || !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		key := routeKey(ev)
		mu.Lock()
		routes = append(routes, key)
		mu.Unlock()
		switch {
		case key == "$default" && ev["body"] == "boom":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			fmt.Fprint(w, `{"errorType":"Error","errorMessage":"boom"}`)
		case key == "$default":
			fmt.Fprintf(w, `{"statusCode":200,"body":%q}`, "echo: "+ev["body"].(string))
		default:
			fmt.Fprint(w, `{"statusCode":200}`)
		}
	}))
	defer fake.Close()
	e := startServer(t, fmt.Sprintf(`
apis:
  - id: lam
    stage: lam
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: fn}
      $disconnect: {integration: fn}
      $default: {integration: fn, routeResponseSelectionExpression: $default}
    integrations:
      fn:
        type: lambda
        timeout: 5s
        lambda: {functionName: chat, region: us-east-1, endpoint: %s}
`, fake.URL))
	c := e.dial("lam", nil)
	write(t, c, "hello")
	if _, b := read(t, c); string(b) != "echo: hello" {
		t.Fatalf("got %q", b)
	}
	write(t, c, "boom")
	if m := readJSON(t, c); m["message"] != "Internal server error" {
		t.Fatalf("function error answered %v", m)
	}
	c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "$disconnect through Lambda", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(routes) == 4 && routes[3] == "$disconnect"
	})
	if routes[0] != "$connect" {
		t.Fatalf("routes %v", routes)
	}
}
