package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// ForwarderCluster is what a ForwarderFactory made: N nodes, each serving
// the Local it was given, each with its own Forwarder to call the others.
type ForwarderCluster struct {
	Nodes      []cluster.Node
	Forwarders []cluster.Forwarder // Forwarders[i] is node i's
	// Stop ends node i as a killed process: calls to it must fail with
	// cluster.ErrNodeGone (an HTTP peer closes its listener and its
	// connections, so dials are refused).
	Stop func(i int)
	// Hang makes node i accept calls and never answer (HTTP: a listener
	// on its address that accepts and stays silent); nil when the backend
	// has no transport to hang, and the subtest is skipped.
	Hang func(i int)
}

// ForwarderFactory makes len(locals) nodes, node i answering calls with
// locals[i]. errs are the sentinel errors the Locals return (the gateway's,
// in production): a Forwarder must give each back so that errors.Is holds.
// The factory registers its own cleanup with t.Cleanup.
type ForwarderFactory func(t *testing.T, locals []cluster.Local, errs []error) ForwarderCluster

// Sentinels stand for the gateway's and the hub's sentinel errors in
// RunForwarder: what the factory is given as errs.
var Sentinels = []error{
	errors.New("connection is gone"),
	errors.New("no API is served under this stage"),
	errors.New("payload too large"),
	errors.New("invalid connection id"),
	errors.New("invalid cursor"),
	errors.New("invalid channel name"),
	errors.New("no channel namespace matches the channel"),
	errors.New("invalid user id"),
	errors.New("the connection is in too many channels"),
	errors.New("already subscribed to the channel"),
}

// Call is one call a FakeLocal received.
type Call struct {
	Op                               string // post, get, delete, join, leave, list, user
	Stage, ID, Channel, Cursor, User string
	Limit                            int
	UserOp                           cluster.UserOp
	Data                             []byte
	Deadline                         bool // the call's context had a deadline
}

// FakeLocal is a cluster.Local for forwarding tests: it records every call
// and answers with what it was told (Info, Page, UserResult, Err); with
// Block set, a call waits for its context to end and returns its error.
type FakeLocal struct {
	mu    sync.Mutex
	calls []Call
	info  cluster.ConnectionInfo
	page  cluster.ConnectionPage
	user  cluster.UserResult
	err   error
	block bool
}

var _ cluster.Local = (*FakeLocal)(nil)

// NewFakeLocal returns a FakeLocal that answers every call with success and
// zero values.
func NewFakeLocal() *FakeLocal { return &FakeLocal{} }

// Answer sets what the next calls return: info for Get, page for List, u
// for User, and err for every call (nil: success).
func (l *FakeLocal) Answer(info cluster.ConnectionInfo, page cluster.ConnectionPage, u cluster.UserResult, err error) {
	l.mu.Lock()
	l.info, l.page, l.user, l.err = info, page, u, err
	l.mu.Unlock()
}

// Fail makes every call return err (nil: success).
func (l *FakeLocal) Fail(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

// Block makes calls wait for their context's end.
func (l *FakeLocal) Block(b bool) {
	l.mu.Lock()
	l.block = b
	l.mu.Unlock()
}

// Calls returns a copy of the calls received so far.
func (l *FakeLocal) Calls() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (l *FakeLocal) record(ctx context.Context, c Call) error {
	_, c.Deadline = ctx.Deadline()
	c.Data = bytes.Clone(c.Data)
	l.mu.Lock()
	l.calls = append(l.calls, c)
	block, err := l.block, l.err
	l.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

// Post implements cluster.Local.
func (l *FakeLocal) Post(ctx context.Context, stage, id string, data []byte) error {
	return l.record(ctx, Call{Op: "post", Stage: stage, ID: id, Data: data})
}

// Get implements cluster.Local.
func (l *FakeLocal) Get(ctx context.Context, stage, id string) (cluster.ConnectionInfo, error) {
	if err := l.record(ctx, Call{Op: "get", Stage: stage, ID: id}); err != nil {
		return cluster.ConnectionInfo{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return cloneInfo(l.info), nil
}

// Delete implements cluster.Local.
func (l *FakeLocal) Delete(ctx context.Context, stage, id string) error {
	return l.record(ctx, Call{Op: "delete", Stage: stage, ID: id})
}

// Join implements cluster.Local.
func (l *FakeLocal) Join(ctx context.Context, stage, channel, id string) error {
	return l.record(ctx, Call{Op: "join", Stage: stage, Channel: channel, ID: id})
}

// Leave implements cluster.Local.
func (l *FakeLocal) Leave(ctx context.Context, stage, channel, id string) error {
	return l.record(ctx, Call{Op: "leave", Stage: stage, Channel: channel, ID: id})
}

// List implements cluster.Local.
func (l *FakeLocal) List(ctx context.Context, stage, cursor string, limit int) (cluster.ConnectionPage, error) {
	if err := l.record(ctx, Call{Op: "list", Stage: stage, Cursor: cursor, Limit: limit}); err != nil {
		return cluster.ConnectionPage{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := cluster.ConnectionPage{Next: l.page.Next}
	for _, c := range l.page.Connections {
		p.Connections = append(p.Connections, cloneInfo(c))
	}
	return p, nil
}

// User implements cluster.Local.
func (l *FakeLocal) User(ctx context.Context, stage, user string, op cluster.UserOp, data []byte) (cluster.UserResult, error) {
	if err := l.record(ctx, Call{Op: "user", Stage: stage, User: user, UserOp: op, Data: data}); err != nil {
		return cluster.UserResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u := cluster.UserResult{Count: l.user.Count}
	for _, c := range l.user.Connections {
		u.Connections = append(u.Connections, cloneInfo(c))
	}
	return u, nil
}

func cloneInfo(c cluster.ConnectionInfo) cluster.ConnectionInfo {
	c.Channels = slices.Clone(c.Channels)
	return c
}

// RunForwarder runs the conformance suite of cluster.Forwarder (decision
// 0024 §2.6): every op round-trips its arguments and results, every
// sentinel error comes back as itself, large payloads and concurrent calls
// pass, a stopped node gives cluster.ErrNodeGone, a node that does not
// answer gives cluster.ErrUnavailable within the caller's deadline.
func RunForwarder(t *testing.T, f ForwarderFactory) {
	tests := []struct {
		name string
		test func(t *testing.T, f ForwarderFactory)
	}{
		{"PostRoundTrip", testForwardPost},
		{"GetRoundTrip", testForwardGet},
		{"DeleteJoinLeaveRoundTrip", testForwardDeleteJoinLeave},
		{"ListRoundTrip", testForwardList},
		{"UserRoundTrip", testForwardUser},
		{"SentinelErrors", testForwardSentinels},
		{"UnknownError", testForwardUnknownError},
		{"LargePayload", testForwardLarge},
		{"Concurrent", testForwardConcurrent},
		{"StoppedPeer", testForwardStopped},
		{"OtherIncarnation", testForwardOtherIncarnation},
		{"SlowLocal", testForwardSlowLocal},
		{"PeerNeverAnswers", testForwardHang},
		{"DeadlineReachesOwner", testForwardDeadline},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, f) })
	}
}

// fakes makes n FakeLocals and a cluster serving them.
func fakes(t *testing.T, f ForwarderFactory, n int) (ForwarderCluster, []*FakeLocal) {
	t.Helper()
	ls := make([]*FakeLocal, n)
	locals := make([]cluster.Local, n)
	for i := range ls {
		ls[i] = NewFakeLocal()
		locals[i] = ls[i]
	}
	c := f(t, locals, slices.Clone(Sentinels))
	if len(c.Nodes) != n || len(c.Forwarders) != n {
		t.Fatalf("factory made %d nodes and %d forwarders, want %d", len(c.Nodes), len(c.Forwarders), n)
	}
	return c, ls
}

// oneCall checks that l received exactly want.
func oneCall(t *testing.T, l *FakeLocal, want Call) {
	t.Helper()
	calls := l.Calls()
	if len(calls) != 1 {
		t.Fatalf("the owner received %d calls, want 1: %+v", len(calls), calls)
	}
	got := calls[0]
	got.Deadline = false
	if !equalCall(got, want) {
		t.Fatalf("the owner received\n%+v\nwant\n%+v", got, want)
	}
}

func equalCall(a, b Call) bool {
	return a.Op == b.Op && a.Stage == b.Stage && a.ID == b.ID && a.Channel == b.Channel &&
		a.Cursor == b.Cursor && a.User == b.User && a.Limit == b.Limit && a.UserOp == b.UserOp &&
		a.Deadline == b.Deadline && bytes.Equal(a.Data, b.Data)
}

// sampleInfo is a connection with every field set, times at nanosecond
// precision in a zone other than UTC.
func sampleInfo(i int) cluster.ConnectionInfo {
	zone := time.FixedZone("X", 5*3600+30*60)
	return cluster.ConnectionInfo{
		ID:             fmt.Sprintf("conn-%04d-é", i),
		ConnectedAt:    time.Date(2026, 12, 6, 1, 2, 3, 123456789+i, zone),
		LastActiveAt:   time.Date(2026, 12, 6, 1, 2, 4, 987654321-i, time.UTC),
		SourceIP:       "2001:db8::1",
		UserAgent:      "agent/1.0 (\"quoted\")",
		User:           fmt.Sprintf("user-%d", i),
		Channels:       []string{"a", fmt.Sprintf("room:%d", i), "ünïcode"},
		SendQueueBytes: 1<<20 + i,
		Inbox:          i,
	}
}

func equalInfo(a, b cluster.ConnectionInfo) bool {
	return a.ID == b.ID && a.ConnectedAt.Equal(b.ConnectedAt) && a.LastActiveAt.Equal(b.LastActiveAt) &&
		a.SourceIP == b.SourceIP && a.UserAgent == b.UserAgent && a.User == b.User &&
		slices.Equal(a.Channels, b.Channels) && // nil and empty are equal
		a.SendQueueBytes == b.SendQueueBytes && a.Inbox == b.Inbox
}

func equalInfos(a, b []cluster.ConnectionInfo) bool {
	return slices.EqualFunc(a, b, equalInfo)
}

func testForwardPost(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	for _, data := range [][]byte{[]byte(`{"hello":"world"}`), {0, 1, 2, 0xff, 0xfe}, nil} {
		ls[1].mu.Lock()
		ls[1].calls = nil
		ls[1].mu.Unlock()
		if err := c.Forwarders[0].Post(ctx, c.Nodes[1], "prod", "AbCdEfGhIjKlMnO=", data); err != nil {
			t.Fatalf("Post: %v", err)
		}
		oneCall(t, ls[1], Call{Op: "post", Stage: "prod", ID: "AbCdEfGhIjKlMnO=", Data: data})
	}
	if n := len(ls[0].Calls()); n != 0 {
		t.Fatalf("the caller's own Local received %d calls", n)
	}
}

func testForwardGet(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	for _, want := range []cluster.ConnectionInfo{sampleInfo(1), {ID: "bare"}} {
		ls[1].mu.Lock()
		ls[1].calls = nil
		ls[1].mu.Unlock()
		ls[1].Answer(want, cluster.ConnectionPage{}, cluster.UserResult{}, nil)
		got, err := c.Forwarders[0].Get(ctx, c.Nodes[1], "dev", want.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !equalInfo(got, want) {
			t.Fatalf("Get = %+v, want %+v", got, want)
		}
		if !got.ConnectedAt.IsZero() && got.ConnectedAt.Nanosecond() != want.ConnectedAt.Nanosecond() {
			t.Fatalf("connectedAt lost precision: %v vs %v", got.ConnectedAt, want.ConnectedAt)
		}
		if want.ConnectedAt.IsZero() && !got.ConnectedAt.IsZero() {
			t.Fatalf("a zero connectedAt came back as %v", got.ConnectedAt)
		}
		oneCall(t, ls[1], Call{Op: "get", Stage: "dev", ID: want.ID})
	}
}

func testForwardDeleteJoinLeave(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 3)
	ctx := ctx(t)
	fw, to := c.Forwarders[2], c.Nodes[0]
	if err := fw.Delete(ctx, to, "prod", "id-1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := fw.Join(ctx, to, "prod", "chat:room/1", "id-2"); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if err := fw.Leave(ctx, to, "stage-2", "chat:room/2", "id-3"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	want := []Call{
		{Op: "delete", Stage: "prod", ID: "id-1"},
		{Op: "join", Stage: "prod", Channel: "chat:room/1", ID: "id-2"},
		{Op: "leave", Stage: "stage-2", Channel: "chat:room/2", ID: "id-3"},
	}
	got := ls[0].Calls()
	for i := range got {
		got[i].Deadline = false
	}
	if !slices.EqualFunc(got, want, equalCall) {
		t.Fatalf("the owner received %+v, want %+v", got, want)
	}
	if len(ls[1].Calls())+len(ls[2].Calls()) != 0 {
		t.Fatal("another node received calls")
	}
}

func testForwardList(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	for _, tc := range []struct {
		cursor string
		limit  int
		page   cluster.ConnectionPage
	}{
		{"", 25, cluster.ConnectionPage{Connections: []cluster.ConnectionInfo{sampleInfo(1), sampleInfo(2), sampleInfo(3)}, Next: "0a1b2c3d.17"}},
		{"0a1b2c3d.17", 0, cluster.ConnectionPage{}},
		{"x", -1, cluster.ConnectionPage{Connections: []cluster.ConnectionInfo{{ID: "only"}}}},
	} {
		ls[1].mu.Lock()
		ls[1].calls = nil
		ls[1].mu.Unlock()
		ls[1].Answer(cluster.ConnectionInfo{}, tc.page, cluster.UserResult{}, nil)
		got, err := c.Forwarders[0].List(ctx, c.Nodes[1], "prod", tc.cursor, tc.limit)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if got.Next != tc.page.Next || !equalInfos(got.Connections, tc.page.Connections) {
			t.Fatalf("List = %+v, want %+v", got, tc.page)
		}
		oneCall(t, ls[1], Call{Op: "list", Stage: "prod", Cursor: tc.cursor, Limit: tc.limit})
	}
}

func testForwardUser(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	for _, tc := range []struct {
		op   cluster.UserOp
		data []byte
		res  cluster.UserResult
	}{
		{cluster.UserPost, []byte("to every connection"), cluster.UserResult{Count: 3}},
		{cluster.UserDisconnect, nil, cluster.UserResult{Count: 2}},
		{cluster.UserList, nil, cluster.UserResult{Count: 2, Connections: []cluster.ConnectionInfo{sampleInfo(7), sampleInfo(8)}}},
		{cluster.UserList, nil, cluster.UserResult{}},
	} {
		ls[1].mu.Lock()
		ls[1].calls = nil
		ls[1].mu.Unlock()
		ls[1].Answer(cluster.ConnectionInfo{}, cluster.ConnectionPage{}, tc.res, nil)
		got, err := c.Forwarders[0].User(ctx, c.Nodes[1], "prod", "alice@example.com", tc.op, tc.data)
		if err != nil {
			t.Fatalf("User(%d): %v", tc.op, err)
		}
		if got.Count != tc.res.Count || !equalInfos(got.Connections, tc.res.Connections) {
			t.Fatalf("User(%d) = %+v, want %+v", tc.op, got, tc.res)
		}
		oneCall(t, ls[1], Call{Op: "user", Stage: "prod", User: "alice@example.com", UserOp: tc.op, Data: tc.data})
	}
}

// everyOp calls every op of fw on to and returns their errors by op name.
func everyOp(ctx context.Context, fw cluster.Forwarder, to cluster.Node) map[string]error {
	errs := map[string]error{}
	errs["post"] = fw.Post(ctx, to, "prod", "id", []byte("x"))
	_, errs["get"] = fw.Get(ctx, to, "prod", "id")
	errs["delete"] = fw.Delete(ctx, to, "prod", "id")
	errs["join"] = fw.Join(ctx, to, "prod", "ch", "id")
	errs["leave"] = fw.Leave(ctx, to, "prod", "ch", "id")
	_, errs["list"] = fw.List(ctx, to, "prod", "", 10)
	_, errs["user"] = fw.User(ctx, to, "prod", "u", cluster.UserList, nil)
	return errs
}

func testForwardSentinels(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	all := append(slices.Clone(Sentinels), cluster.ErrNodeGone, cluster.ErrUnavailable, cluster.ErrNotJoined, cluster.ErrInvalidCursor, cluster.ErrInvalidLimit)
	for _, s := range all {
		ls[1].Fail(fmt.Errorf("local detail: %w", s))
		for op, err := range everyOp(ctx, c.Forwarders[0], c.Nodes[1]) {
			if !errors.Is(err, s) {
				t.Errorf("%s answered %v, want %q", op, err, s)
				continue
			}
			for _, other := range all {
				if other != s && errors.Is(err, other) {
					t.Errorf("%s answered %v, which is also %q", op, err, other)
				}
			}
		}
	}
}

func testForwardUnknownError(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	ls[1].Fail(errors.New("disk on fire"))
	all := append(slices.Clone(Sentinels), cluster.ErrNodeGone, cluster.ErrUnavailable)
	for op, err := range everyOp(ctx, c.Forwarders[0], c.Nodes[1]) {
		if err == nil {
			t.Errorf("%s: an unknown error of the owner came back as success", op)
			continue
		}
		for _, s := range all {
			if errors.Is(err, s) {
				t.Errorf("%s: an unknown error of the owner came back as %q: %v", op, s, err)
			}
		}
	}
}

func testForwardLarge(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := c.Forwarders[0].Post(ctx, c.Nodes[1], "prod", "id", data); err != nil {
		t.Fatalf("Post of 1 MiB: %v", err)
	}
	oneCall(t, ls[1], Call{Op: "post", Stage: "prod", ID: "id", Data: data})
	// A large answer: a user with 2,000 connections.
	res := cluster.UserResult{Count: 2000}
	for i := range 2000 {
		res.Connections = append(res.Connections, sampleInfo(i))
	}
	ls[1].Answer(cluster.ConnectionInfo{}, cluster.ConnectionPage{}, res, nil)
	got, err := c.Forwarders[0].User(ctx, c.Nodes[1], "prod", "u", cluster.UserList, nil)
	if err != nil {
		t.Fatalf("User list of 2,000: %v", err)
	}
	if got.Count != res.Count || !equalInfos(got.Connections, res.Connections) {
		t.Fatalf("User list of 2,000 came back different (%d connections)", len(got.Connections))
	}
}

func testForwardConcurrent(t *testing.T, f ForwarderFactory) {
	const nodes, workers, calls = 3, 8, 40
	c, ls := fakes(t, f, nodes)
	ctx := ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, nodes*workers*calls)
	for from := range nodes {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range calls {
					to := (from + 1 + k%(nodes-1)) % nodes
					id := fmt.Sprintf("%d-%d-%d", from, w, k)
					if err := c.Forwarders[from].Post(ctx, c.Nodes[to], "prod", id, []byte(id)); err != nil {
						errs <- fmt.Errorf("post %s to %d: %w", id, to, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for i, l := range ls {
		for _, call := range l.Calls() {
			if call.ID != string(call.Data) || seen[call.ID] {
				t.Fatalf("node %d received %+v (duplicate or mixed up)", i, call)
			}
			seen[call.ID] = true
		}
	}
	if len(seen) != nodes*workers*calls {
		t.Fatalf("the owners received %d calls, want %d", len(seen), nodes*workers*calls)
	}
}

func testForwardStopped(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 3)
	ctx := ctx(t)
	// Warm the connections to node 1 first: a kept-alive connection to a
	// stopped node must not turn into ErrUnavailable.
	for range 3 {
		if err := c.Forwarders[0].Post(ctx, c.Nodes[1], "prod", "id", nil); err != nil {
			t.Fatalf("Post before stop: %v", err)
		}
	}
	c.Stop(1)
	for round := range 2 {
		for op, err := range everyOp(ctx, c.Forwarders[0], c.Nodes[1]) {
			if !errors.Is(err, cluster.ErrNodeGone) {
				t.Errorf("round %d: %s to a stopped node: %v, want ErrNodeGone", round, op, err)
			}
		}
	}
	if n := len(ls[1].Calls()); n != 3 {
		t.Errorf("the stopped node received %d calls, want the 3 before it stopped", n)
	}
	if err := c.Forwarders[0].Post(ctx, c.Nodes[2], "prod", "id", nil); err != nil {
		t.Fatalf("Post to a live node after another stopped: %v", err)
	}
}

func testForwardOtherIncarnation(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ctx := ctx(t)
	restarted := c.Nodes[1]
	restarted.Incarnation = cluster.NewIncarnation() // same address, another process
	for op, err := range everyOp(ctx, c.Forwarders[0], restarted) {
		if !errors.Is(err, cluster.ErrNodeGone) {
			t.Errorf("%s to an incarnation that the address no longer serves: %v, want ErrNodeGone", op, err)
		}
	}
	if n := len(ls[1].Calls()); n != 0 {
		t.Errorf("the node at the address received %d calls meant for another incarnation", n)
	}
}

// callTimeout is the deadline of calls to a node that does not answer.
const callTimeout = 200 * time.Millisecond

// noAnswer checks that every op to a node that does not answer fails with
// ErrUnavailable, each returning once its deadline passed.
func noAnswer(t *testing.T, fw cluster.Forwarder, to cluster.Node) {
	t.Helper()
	for op, call := range map[string]func(ctx context.Context) error{
		"post": func(ctx context.Context) error { return fw.Post(ctx, to, "prod", "id", []byte("x")) },
		"get":  func(ctx context.Context) error { _, err := fw.Get(ctx, to, "prod", "id"); return err },
		"list": func(ctx context.Context) error { _, err := fw.List(ctx, to, "prod", "", 1); return err },
	} {
		cctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		done := make(chan error, 1)
		go func() { done <- call(cctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, cluster.ErrUnavailable) {
				t.Errorf("%s to a node that does not answer: %v, want ErrUnavailable", op, err)
			}
			// The context's own Err may lag its deadline (its timer fires
			// late on a loaded machine), so compare with the deadline.
			if dl, _ := cctx.Deadline(); time.Now().Before(dl) {
				t.Errorf("%s gave up before its deadline: %v", op, err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("%s to a node that does not answer did not return after its deadline", op)
		}
		cancel()
	}
}

func testForwardSlowLocal(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	ls[1].Block(true)
	noAnswer(t, c.Forwarders[0], c.Nodes[1])
}

func testForwardHang(t *testing.T, f ForwarderFactory) {
	c, _ := fakes(t, f, 2)
	if c.Hang == nil {
		t.Skip("the backend has no transport that can hang")
	}
	c.Hang(1)
	noAnswer(t, c.Forwarders[0], c.Nodes[1])
}

func testForwardDeadline(t *testing.T, f ForwarderFactory) {
	c, ls := fakes(t, f, 2)
	// No deadline from the caller: the Forwarder's cap gives the owner one.
	if err := c.Forwarders[0].Delete(context.Background(), c.Nodes[1], "prod", "id"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	calls := ls[1].Calls()
	if len(calls) != 1 || !calls[0].Deadline {
		t.Fatalf("the owner's call had no deadline: %+v", calls)
	}
}
