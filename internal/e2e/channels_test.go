package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// client is a WebSocket client of a test cluster whose received messages
// a reader goroutine records, so that tests wait for what they expect.
type client struct {
	t    *testing.T
	name string
	ws   *websocket.Conn
	id   string
	v1   bool

	mu     sync.Mutex
	frames [][]byte
	err    error         // what ended the reader
	done   chan struct{} // closed when the reader ended
}

// open dials nd as a raw or switchboard.v1 client; user, when not "",
// becomes the connection's user id (the backend answers it as
// X-Switchboard-User). tag must be unique within the cluster.
func (c *testCluster) open(nd *node, tag, user string, v1 bool) *client {
	t := c.t
	t.Helper()
	st := stage
	if c.stage != "" {
		st = c.stage
	}
	q := url.Values{"tag": {tag}}
	if user != "" {
		q.Set("user", user)
	}
	var o websocket.DialOptions
	if v1 {
		o.Subprotocols = []string{"switchboard.v1"}
	}
	ws, _, err := websocket.Dial(ctx(t), "ws://"+nd.addr+"/"+st+"?"+q.Encode(), &o)
	if err != nil {
		t.Fatalf("dial %s: %v", nd.name, err)
	}
	ws.SetReadLimit(1 << 20)
	cl := &client{t: t, name: tag, ws: ws, v1: v1, done: make(chan struct{})}
	t.Cleanup(func() { ws.CloseNow(); <-cl.done })
	go cl.read()
	cl.id = c.backend.connectionID(t, tag)
	if v1 {
		cl.waitFrame("connected", func(f frame) bool { return f.Type == "connected" })
	}
	return cl
}

func (cl *client) read() {
	defer close(cl.done)
	for {
		_, b, err := cl.ws.Read(contextBackground())
		cl.mu.Lock()
		if err != nil {
			cl.err = err
			cl.mu.Unlock()
			return
		}
		cl.frames = append(cl.frames, b)
		cl.mu.Unlock()
	}
}

// snapshot returns the messages received so far.
func (cl *client) snapshot() [][]byte {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Clone(cl.frames)
}

// closed reports whether the reader ended (the connection closed).
func (cl *client) closed() bool {
	select {
	case <-cl.done:
		return true
	default:
		return false
	}
}

func (cl *client) send(msg string) {
	cl.t.Helper()
	if err := cl.ws.Write(ctx(cl.t), websocket.MessageText, []byte(msg)); err != nil {
		cl.t.Fatalf("%s: write: %v", cl.name, err)
	}
}

// frame is a switchboard.v1 server message (the fields the tests read).
type frame struct {
	Type    string          `json:"type"`
	ID      int             `json:"id"`
	Channel string          `json:"channel"`
	Epoch   string          `json:"epoch"`
	Offset  uint64          `json:"offset"`
	Data    json.RawMessage `json:"data"`
	Text    *string         `json:"text"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	ConnectionID string `json:"connectionId"`
}

// v1Frames decodes every message as a switchboard.v1 frame.
func (cl *client) v1Frames() []frame {
	var out []frame
	for _, b := range cl.snapshot() {
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			cl.t.Fatalf("%s: not a v1 frame: %q", cl.name, b)
		}
		out = append(out, f)
	}
	return out
}

// waitFrame waits for a v1 frame that match accepts and returns it.
func (cl *client) waitFrame(what string, match func(frame) bool) frame {
	cl.t.Helper()
	var got frame
	waitFor(cl.t, cl.name+": "+what, func() bool {
		for _, f := range cl.v1Frames() {
			if match(f) {
				got = f
				return true
			}
		}
		if cl.closed() {
			cl.t.Fatalf("%s closed (%v) while waiting for %s", cl.name, cl.err, what)
		}
		return false
	})
	return got
}

// call sends a v1 message with id and returns its reply's result, failing
// the test on an error reply.
func (cl *client) call(id int, msg string) json.RawMessage {
	cl.t.Helper()
	cl.send(msg)
	r := cl.waitFrame(fmt.Sprintf("reply %d", id), func(f frame) bool { return f.Type == "reply" && f.ID == id })
	if r.Error != nil {
		cl.t.Fatalf("%s: %s: error %d %s", cl.name, msg, r.Error.Code, r.Error.Message)
	}
	return r.Result
}

// pub is one publication as a member saw it: its p field (each test
// publication's unique name) and, for v1 members, its stream position.
type pub struct {
	P      string
	Epoch  string
	Offset uint64
}

// payloadName returns the p field of a JSON payload ("" for none).
func payloadName(b []byte) string {
	var v struct {
		P string `json:"p"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	return v.P
}

// pubs returns the publications of channel the client received, in order
// (raw clients: every message with a p field; v1: pub frames of channel).
func (cl *client) pubs(channel string) []pub {
	var out []pub
	if !cl.v1 {
		for _, b := range cl.snapshot() {
			if p := payloadName(b); p != "" {
				out = append(out, pub{P: p})
			}
		}
		return out
	}
	for _, f := range cl.v1Frames() {
		if f.Type == "pub" && f.Channel == channel {
			out = append(out, pub{P: payloadName(f.Data), Epoch: f.Epoch, Offset: f.Offset})
		}
	}
	return out
}

// messages returns the p names of the data sent to this connection alone
// (v1 message frames; raw: every message with a p field).
func (cl *client) messages() []string {
	var out []string
	if !cl.v1 {
		for _, b := range cl.snapshot() {
			if p := payloadName(b); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	for _, f := range cl.v1Frames() {
		if f.Type == "message" {
			out = append(out, payloadName(f.Data))
		}
	}
	return out
}

func names(ps []pub) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.P
	}
	return out
}

// request is manage without failing: for goroutines other than the
// test's.
func request(addr, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// decode unmarshals b into v or fails the test.
func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

// broadcastRecipients posts a @broadcast of a probe (a payload without a
// p field, which the clients' checks ignore) through nd and returns its
// recipients.
func broadcastRecipients(t testing.TB, nd *node) int {
	t.Helper()
	var r struct{ Recipients int }
	decode(t, manage(t, nd.addr, "POST", "/"+stage+"/@broadcast", []byte(`{"probe":1}`), 200), &r)
	return r.Recipients
}

// TestChannelsAcrossNodes: channels, users, broadcast, presence and the
// connection listing are cluster-wide (issue 10 point 4), on one Redis and
// on the 3 + 3 Redis Cluster.
func TestChannelsAcrossNodes(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		srv := redistest.StartServer(t)
		channelsAcrossNodes(t, redisTarget{mode: "single", addrs: []string{srv.Addr}})
	})
	t.Run("cluster", func(t *testing.T) {
		channelsAcrossNodes(t, redisTarget{mode: "cluster", addrs: redistest.SharedCluster(t).Addrs()})
	})
}

func channelsAcrossNodes(t *testing.T, r redisTarget) {
	c := startCluster(t, 3, r)
	n0, n1, n2 := c.nodes[0], c.nodes[1], c.nodes[2]
	const room = "room:all"
	// alice has a connection on every node, one of them raw.
	v0 := c.open(n0, "v0", "alice", true)
	v1 := c.open(n1, "v1", "bob", true)
	v2 := c.open(n2, "v2", "alice", true)
	r0 := c.open(n0, "r0", "carol", false)
	r1 := c.open(n1, "r1", "alice", false)
	r2 := c.open(n2, "r2", "", false)
	all := []*client{v0, v1, v2, r0, r1, r2}

	// Join: v1 subscribe, management PUT through a node that does not
	// hold the connection and through one that does, a join route action.
	for _, v := range []*client{v0, v1, v2} {
		v.call(1, fmt.Sprintf(`{"type":"subscribe","id":1,"channel":%q}`, room))
	}
	manage(t, n1.addr, "PUT", "/"+stage+"/@channels/"+room+"/connections/"+url.PathEscape(r0.id), nil, 204)
	manage(t, n1.addr, "PUT", "/"+stage+"/@channels/"+room+"/connections/"+url.PathEscape(r1.id), nil, 204)
	r2.send(`{"action":"enter","room":"` + room + `"}`)
	type channelInfo struct {
		Members  int
		Presence []struct {
			ConnectionID string
			User         string
		}
		NextCursor string
		Epoch      string
		Offset     uint64
	}
	waitFor(t, "six members cluster-wide", func() bool {
		var ci channelInfo
		decode(t, manage(t, n0.addr, "GET", "/"+stage+"/@channels/"+room, nil, 200), &ci)
		return ci.Members == 6
	})

	// Four publishers on three nodes at once: the management API on n0, a
	// v1 client on n1, a broadcast route action on n2, a @batch on n1.
	const each = 20
	var wg sync.WaitGroup
	errs := make(chan error, 4*each)
	wg.Go(func() {
		for i := range each {
			code, out, err := request(n0.addr, "POST", "/"+stage+"/@channels/"+room, fmt.Appendf(nil, `{"p":"m-%d"}`, i))
			if err != nil || code != 200 {
				errs <- fmt.Errorf("management publish %d: %d %s %v", i, code, out, err)
			}
		}
	})
	wg.Go(func() {
		for i := range each {
			v1.send(fmt.Sprintf(`{"type":"publish","id":%d,"channel":%q,"data":{"p":"v-%d"}}`, 100+i, room, i))
		}
	})
	wg.Go(func() {
		for i := range each {
			if err := r2.ws.Write(contextBackground(), websocket.MessageText, fmt.Appendf(nil, `{"action":"say","room":%q,"p":"r-%d"}`, room, i)); err != nil {
				errs <- err
			}
		}
	})
	wg.Go(func() {
		var ops []string
		for i := range each {
			ops = append(ops, fmt.Sprintf(`{"channel":%q,"data":{"p":"b-%d"}}`, room, i))
		}
		code, out, err := request(n1.addr, "POST", "/"+stage+"/@batch", []byte(`{"operations":[`+strings.Join(ops, ",")+`]}`))
		if err != nil || code != 200 || strings.Contains(string(out), `"error"`) {
			errs <- fmt.Errorf("batch: %d %s %v", code, out, err)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range each {
		v1.waitFrame("publish reply", func(f frame) bool { return f.Type == "reply" && f.ID == 100+i && f.Error == nil })
	}
	for _, cl := range all {
		waitFor(t, cl.name+" receives every publication", func() bool { return len(cl.pubs(room)) >= 4*each })
	}
	// One order for every member on every node; v1 offsets 1..80.
	want := names(v0.pubs(room))
	for _, cl := range all {
		got := cl.pubs(room)
		if len(got) != 4*each || !slices.Equal(names(got), want) {
			t.Fatalf("%s received %v; %s received %v", cl.name, names(got), v0.name, want)
		}
		if cl.v1 {
			for i, p := range got {
				if p.Offset != uint64(i+1) || p.Epoch != got[0].Epoch || p.Epoch == "" {
					t.Fatalf("%s: publication %d at %s/%d", cl.name, i, p.Epoch, p.Offset)
				}
			}
		}
	}
	seen := map[string]int{}
	for i, p := range want {
		seen[p] = i
	}
	if len(seen) != 4*each {
		t.Fatalf("duplicates among %v", want)
	}
	for _, src := range []string{"m", "b"} { // sequential publishers keep their order
		for i := 1; i < each; i++ {
			if seen[fmt.Sprintf("%s-%d", src, i-1)] > seen[fmt.Sprintf("%s-%d", src, i)] {
				t.Errorf("%s-%d delivered before %s-%d", src, i, src, i-1)
			}
		}
	}

	// exclude and excludeSelf, across nodes: each leaves out one member on
	// another node than the publisher's; x-end (published last) shows the
	// excluded publications would have arrived already (one order).
	manage(t, n0.addr, "POST", "/"+stage+"/@channels/"+room+"?exclude="+url.QueryEscape(r1.id), []byte(`{"p":"x-1"}`), 200)
	v2.call(200, fmt.Sprintf(`{"type":"publish","id":200,"channel":%q,"data":{"p":"x-2"},"excludeSelf":true}`, room))
	manage(t, n1.addr, "POST", "/"+stage+"/@batch", fmt.Appendf(nil, `{"operations":[{"channel":%q,"exclude":%q,"data":{"p":"x-3"}}]}`, room, v0.id), 200)
	var xr struct{ Recipients int }
	decode(t, manage(t, n2.addr, "POST", "/"+stage+"/@channels/"+room, []byte(`{"p":"x-end"}`), 200), &xr)
	if xr.Recipients != 6 { // the members on every node when it was ordered
		t.Errorf("publication's recipients %d; want 6", xr.Recipients)
	}
	excluded := map[*client]string{r1: "x-1", v2: "x-2", v0: "x-3"}
	for _, cl := range all {
		waitFor(t, cl.name+" receives x-end", func() bool { return slices.Contains(names(cl.pubs(room)), "x-end") })
		got := names(cl.pubs(room))[4*each:]
		var wantX []string
		for _, x := range []string{"x-1", "x-2", "x-3", "x-end"} {
			if excluded[cl] != x {
				wantX = append(wantX, x)
			}
		}
		if !slices.Equal(got, wantX) {
			t.Errorf("%s received %v after the concurrent publications; want %v", cl.name, got, wantX)
		}
	}

	// @users/alice through n1 reaches her connections on n0, n1 and n2.
	var ur struct{ Recipients int }
	decode(t, manage(t, n1.addr, "POST", "/"+stage+"/@users/alice", []byte(`{"p":"u-1"}`), 200), &ur)
	if ur.Recipients != 3 {
		t.Errorf("POST @users/alice: recipients %d; want 3", ur.Recipients)
	}
	var ul struct {
		User        string
		Connections []struct {
			ConnectionID string
			Channels     []string
		}
	}
	decode(t, manage(t, n2.addr, "GET", "/"+stage+"/@users/alice", nil, 200), &ul)
	var ids []string
	for _, cn := range ul.Connections {
		ids = append(ids, cn.ConnectionID)
		if !slices.Equal(cn.Channels, []string{room}) {
			t.Errorf("GET @users/alice: %s in %v; want [%s]", cn.ConnectionID, cn.Channels, room)
		}
	}
	if !sameSet(ids, []string{v0.id, r1.id, v2.id}) {
		t.Errorf("GET @users/alice lists %v; want %v", ids, []string{v0.id, r1.id, v2.id})
	}

	// @broadcast through n2 reaches every connection of every node; its
	// recipients are the nodes' counts as of their last lease renewal.
	waitFor(t, "@broadcast recipients 6", func() bool { return broadcastRecipients(t, n2) == 6 })
	var br struct{ Recipients int }
	decode(t, manage(t, n2.addr, "POST", "/"+stage+"/@broadcast", []byte(`{"p":"all"}`), 200), &br)
	if br.Recipients != 6 {
		t.Errorf("@broadcast recipients %d; want 6", br.Recipients)
	}
	// exclude names a connection on another node than the one asked; a
	// later broadcast shows it would have arrived (one order).
	manage(t, n2.addr, "POST", "/"+stage+"/@broadcast?exclude="+url.QueryEscape(r0.id), []byte(`{"p":"all-x"}`), 200)
	// A @batch broadcast and a broadcast route action (no channel) reach
	// every node too.
	var bb struct{ Results []struct{ Recipients int } }
	decode(t, manage(t, n0.addr, "POST", "/"+stage+"/@batch", []byte(`{"operations":[{"broadcast":true,"data":{"p":"all-b"}}]}`), 200), &bb)
	if len(bb.Results) != 1 || bb.Results[0].Recipients != 6 {
		t.Errorf("@batch broadcast: %+v; want recipients 6", bb)
	}
	r2.send(`{"action":"shout","p":"all-r"}`)
	waitFor(t, "the broadcast action's message on n2", func() bool { return slices.Contains(r2.messages(), "all-r") })
	manage(t, n1.addr, "POST", "/"+stage+"/@broadcast", []byte(`{"p":"all-end"}`), 200)
	for _, cl := range all {
		waitFor(t, cl.name+" receives the broadcasts", func() bool { return slices.Contains(cl.messages(), "all-end") })
		msgs := cl.messages()
		if got := slices.Contains(msgs, "all-x"); got != (cl != r0) {
			t.Errorf("%s: received the broadcast excluding %s: %v", cl.name, r0.name, got)
		}
		for _, p := range []string{"all", "all-b", "all-r"} {
			if !slices.Contains(msgs, p) {
				t.Errorf("%s: no broadcast %q in %v", cl.name, p, msgs)
			}
		}
		alice := cl == v0 || cl == r1 || cl == v2
		if got := slices.Contains(msgs, "u-1"); got != alice {
			t.Errorf("%s: received @users/alice's message: %v; want %v (%v)", cl.name, got, alice, msgs)
		}
	}

	// Presence, channel info and the connection listing are cluster-wide.
	everyone := []string{v0.id, v1.id, v2.id, r0.id, r1.id, r2.id}
	var members []string
	cursor := ""
	for pages := 0; ; pages++ {
		var ci channelInfo
		decode(t, manage(t, n0.addr, "GET", "/"+stage+"/@channels/"+room+"?limit=4&cursor="+url.QueryEscape(cursor), nil, 200), &ci)
		if ci.Members != 6 || ci.Epoch == "" || ci.Offset != 4*each+4 {
			t.Fatalf("channel info %+v; want 6 members at offset %d", ci, 4*each+4)
		}
		for _, m := range ci.Presence {
			members = append(members, m.ConnectionID)
		}
		if cursor = ci.NextCursor; cursor == "" || pages > 6 {
			break
		}
	}
	if !sameSet(members, everyone) || len(members) != 6 {
		t.Errorf("presence pages list %v; want %v", members, everyone)
	}
	var pr struct {
		Members  int
		Presence []struct {
			ConnectionID string
			User         string
		}
	}
	if err := json.Unmarshal(v1.call(300, fmt.Sprintf(`{"type":"presence","id":300,"channel":%q}`, room)), &pr); err != nil {
		t.Fatal(err)
	}
	members = members[:0]
	users := map[string]string{}
	for _, m := range pr.Presence {
		members = append(members, m.ConnectionID)
		users[m.ConnectionID] = m.User
	}
	if pr.Members != 6 || !sameSet(members, everyone) || users[r1.id] != "alice" || users[r2.id] != "" || users[v1.id] != "bob" {
		t.Errorf("v1 presence: %+v; want the six members %v", pr, everyone)
	}
	var listed []string
	cursor = ""
	for pages := 0; ; pages++ {
		var page struct {
			Connections []struct{ ConnectionID string }
			NextCursor  string
		}
		decode(t, manage(t, n1.addr, "GET", "/"+stage+"/@connections?limit=2&cursor="+url.QueryEscape(cursor), nil, 200), &page)
		for _, cn := range page.Connections {
			listed = append(listed, cn.ConnectionID)
		}
		if cursor = page.NextCursor; cursor == "" || pages > 10 {
			break
		}
	}
	if len(listed) != 6 || !sameSet(listed, everyone) {
		t.Errorf("GET @connections pages list %v; want %v", listed, everyone)
	}

	// DELETE @users/alice through n0 closes her three connections on three
	// nodes; presence and the broadcast count follow.
	var dr struct{ Disconnected int }
	decode(t, manage(t, n0.addr, "DELETE", "/"+stage+"/@users/alice", nil, 200), &dr)
	if dr.Disconnected != 3 {
		t.Errorf("DELETE @users/alice: disconnected %d; want 3", dr.Disconnected)
	}
	for _, cl := range []*client{v0, r1, v2} {
		waitFor(t, "$disconnect of "+cl.name, func() bool { return len(c.backend.route("$disconnect", cl.id)) == 1 })
		waitFor(t, cl.name+" closed", cl.closed)
	}
	waitFor(t, "three members left", func() bool {
		var ci channelInfo
		decode(t, manage(t, n2.addr, "GET", "/"+stage+"/@channels/"+room, nil, 200), &ci)
		return ci.Members == 3
	})
	waitFor(t, "@broadcast recipients 3", func() bool { return broadcastRecipients(t, n1) == 3 })
	decode(t, manage(t, n1.addr, "GET", "/"+stage+"/@users/alice", nil, 200), &ul)
	if len(ul.Connections) != 0 {
		t.Errorf("GET @users/alice after DELETE lists %+v", ul.Connections)
	}
}

// contextBackground is the context of the clients' readers and of writes
// from goroutines other than the test's: the connection's end stops them.
func contextBackground() context.Context { return context.Background() }

// sameSet reports whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
