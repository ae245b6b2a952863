package hub

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/memory"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// recorder is a Sender that keeps what it was sent. With limit > 0 it
// refuses frames past limit, like a slow consumer's full queue.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
	limit  int
}

func (r *recorder) Send(f ws.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limit > 0 && len(r.frames) >= r.limit {
		return ws.ErrSlowConsumer
	}
	r.frames = append(r.frames, payloadOf(f))
	return nil
}

func (r *recorder) SendMessage(m *ws.Message) error { return r.Send(m.Frame()) }

// payloadOf returns the payload of an unmasked server frame.
func payloadOf(f ws.Frame) []byte {
	n, h := int(f[1]&0x7f), 2
	switch n {
	case 126:
		n, h = int(binary.BigEndian.Uint16(f[2:])), 4
	case 127:
		n, h = int(binary.BigEndian.Uint64(f[2:])), 10
	}
	return f[h : h+n]
}

// messages decodes what r got as JSON objects.
func (r *recorder) messages(t *testing.T) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]map[string]any, len(r.frames))
	for i, f := range r.frames {
		if err := json.Unmarshal(f, &out[i]); err != nil {
			t.Fatalf("frame %d is not JSON: %q", i, f)
		}
	}
	return out
}

func (r *recorder) raw() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.frames))
	for i, f := range r.frames {
		out[i] = string(f)
	}
	return out
}

func newHub(t *testing.T, namespaces ...config.Namespace) *Hub {
	t.Helper()
	return newHubWith(t, nil, namespaces...)
}

// newHubWith is newHub with set (when not nil) changing the options.
func newHubWith(t *testing.T, set func(*Options), namespaces ...config.Namespace) *Hub {
	t.Helper()
	if len(namespaces) == 0 {
		namespaces = []config.Namespace{{Pattern: "*", Subscribe: "allow", Publish: "subscribers",
			History: config.History{Size: 100, TTL: config.Duration(time.Minute), MetaTTL: config.Duration(time.Hour)}}}
	}
	// One node on the in-process backend: the gateway's single-node
	// default.
	b := memory.New(memory.Options{})
	t.Cleanup(b.Close)
	node := b.NewNode("")
	if err := node.Registry().Join(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := Options{API: "test", Channels: config.Channels{MaxPerConnection: 8, MaxNameBytes: 64, Namespaces: namespaces},
		Bus: node.Bus(), History: node.History("test")}
	if set != nil {
		set(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	node.Bus().Handle(func(_, channel string, m cluster.Message) { h.Deliver(channel, m) })
	return h
}

func member(id, user string, v1 bool) (*Member, *recorder) {
	r := &recorder{}
	return NewMember(id, user, nil, codecOf(v1), r), r
}

func TestPublishReachesMembersOnce(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	a, ra := member("a", "", true)
	b, rb := member("b", "", false)
	c, rc := member("c", "", true)
	for _, m := range []*Member{a, b, c} {
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := h.Publish(ctx, "room", []byte(`{"x":1}`), c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if res.Recipients != 2 || res.Position == nil || res.Position.Offset != 1 {
		t.Fatalf("result %+v, want 2 recipients at offset 1", res)
	}
	got := ra.messages(t)
	if len(got) != 1 || got[0]["type"] != "pub" || got[0]["offset"] != 1.0 || got[0]["channel"] != "room" {
		t.Fatalf("v1 member got %v", got)
	}
	if raw := rb.raw(); len(raw) != 1 || raw[0] != `{"x":1}` {
		t.Fatalf("raw member got %q, want the bytes alone", raw)
	}
	if n := len(rc.raw()); n != 0 {
		t.Fatalf("excluded member got %d frames", n)
	}
}

func TestOrderUnderConcurrentPublishers(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	var recs []*recorder
	for i := range 20 {
		m, r := member(fmt.Sprint("m", i), "", true)
		recs = append(recs, r)
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const publishers, each = 8, 200
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				if _, err := h.Publish(ctx, "room", fmt.Appendf(nil, `{"p":%d,"i":%d}`, p, i), ""); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := recs[0].raw()
	if len(want) != publishers*each {
		t.Fatalf("got %d publications, want %d", len(want), publishers*each)
	}
	for i, r := range recs {
		got := r.raw()
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("member %d: publication %d is %s, member 0 saw %s", i, j, got[j], want[j])
			}
		}
		for j, m := range r.messages(t) {
			if m["offset"] != float64(j+1) {
				t.Fatalf("member %d: publication %d has offset %v", i, j, m["offset"])
			}
		}
	}
}

func TestRecoveryWhilePublishing(t *testing.T) {
	h := newHub(t, config.Namespace{Pattern: "*", Subscribe: "allow",
		History: config.History{Size: 10000, TTL: config.Duration(time.Minute), MetaTTL: config.Duration(time.Hour)}})
	ctx := context.Background()
	for i := range 10 {
		if _, err := h.Publish(ctx, "room", fmt.Appendf(nil, "%d", i+1), ""); err != nil {
			t.Fatal(err)
		}
	}
	hp, err := h.History(ctx, "room", 0, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	epoch := hp.Top.Epoch

	// Keep publishing while a member recovers from offset 4.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 11; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if _, err := h.Publish(ctx, "room", fmt.Appendf(nil, "%d", i), ""); err != nil {
				t.Error(err)
				return
			}
			if i > 3000 {
				return
			}
		}
	})
	time.Sleep(time.Millisecond)
	m, r := member("late", "", true)
	res, err := h.Subscribe(ctx, m, "room", SubscribeOptions{Recover: &history.Position{Epoch: epoch, Offset: 4}, ReplyID: 7})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	close(done)
	wg.Wait()
	if !res.Recovered {
		t.Fatalf("not recovered: %+v", res)
	}
	msgs := r.messages(t)
	if msgs[0]["type"] != "reply" || msgs[0]["id"] != 7.0 {
		t.Fatalf("first message %v, want the reply", msgs[0])
	}
	next := 5.0
	for _, m := range msgs[1:] {
		if m["offset"] != next || m["data"] != next {
			t.Fatalf("got offset %v data %v, want %v: a gap or a duplicate", m["offset"], m["data"], next)
		}
		next++
	}
	if next < 11 {
		t.Fatalf("recovered only up to %v", next-1)
	}
}

func TestRecoveryRefusals(t *testing.T) {
	ctx := context.Background()
	h := newHub(t,
		config.Namespace{Pattern: "small:*", Subscribe: "allow", History: config.History{Size: 3, TTL: config.Duration(time.Minute), MetaTTL: config.Duration(time.Hour), RecoveryLimit: 2}},
		config.Namespace{Pattern: "none:*", Subscribe: "allow"},
	)
	for i := range 5 {
		if _, err := h.Publish(ctx, "small:a", fmt.Appendf(nil, "%d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	hp, _ := h.History(ctx, "small:a", 0, "", 0)
	cases := []struct {
		channel string
		from    history.Position
		reason  string
	}{
		{"small:a", history.Position{Epoch: "other", Offset: 4}, ReasonEpochChanged},
		{"small:a", history.Position{Epoch: hp.Top.Epoch, Offset: 9}, ReasonEpochChanged},
		{"small:a", history.Position{Epoch: hp.Top.Epoch, Offset: 1}, ReasonTooOld},
		{"small:a", history.Position{Epoch: hp.Top.Epoch, Offset: 2}, ReasonTooMany},
		{"none:a", history.Position{Epoch: "x", Offset: 2}, ReasonNoHistory},
	}
	for i, tc := range cases {
		m, r := member(fmt.Sprint("m", i), "", true)
		res, err := h.Subscribe(ctx, m, tc.channel, SubscribeOptions{Recover: &tc.from, ReplyID: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Recovered || res.Reason != tc.reason {
			t.Errorf("%s from %+v: %+v, want reason %q", tc.channel, tc.from, res, tc.reason)
		}
		if msgs := r.messages(t); len(msgs) != 1 || msgs[0]["result"].(map[string]any)["reason"] != tc.reason {
			t.Errorf("%s: got %v, want one reply with the reason", tc.channel, msgs)
		}
	}
	// Within the count but past the byte budget: refused, not replayed.
	big, rbig := member("big", "", true)
	res, err := h.Subscribe(ctx, big, "small:a", SubscribeOptions{Recover: &history.Position{Epoch: hp.Top.Epoch, Offset: 3}, ReplyID: 1, MaxRecoveryBytes: 150})
	if err != nil || res.Recovered || res.Reason != ReasonTooMany {
		t.Fatalf("recovery past the byte budget: %+v %v", res, err)
	}
	if n := len(rbig.raw()); n != 1 {
		t.Fatalf("got %d frames, want the reply alone", n)
	}
	// Offset 3 of 5 with a limit of 2: exactly offsets 4 and 5.
	m, r := member("ok", "", true)
	res, err = h.Subscribe(ctx, m, "small:a", SubscribeOptions{Recover: &history.Position{Epoch: hp.Top.Epoch, Offset: 3}, ReplyID: 1})
	if err != nil || !res.Recovered || res.Missed != 2 {
		t.Fatalf("recover from 3: %+v %v", res, err)
	}
	if msgs := r.messages(t); len(msgs) != 3 || msgs[1]["offset"] != 4.0 || msgs[2]["offset"] != 5.0 {
		t.Fatalf("got %v", msgs)
	}
}

func TestRemoveLeavesNoGhost(t *testing.T) {
	h := newHub(t, config.Namespace{Pattern: "*", Subscribe: "allow", JoinLeave: true})
	ctx := context.Background()
	watcher, rw := member("w", "", true)
	gone, _ := member("g", "alice", true)
	h.AddUser(gone)
	for _, ch := range []string{"a", "b"} {
		for _, m := range []*Member{watcher, gone} {
			if _, err := h.Subscribe(ctx, m, ch, SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.Remove(gone)
	for _, ch := range []string{"a", "b"} {
		p, err := h.Presence(ctx, ch, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if p.Members != 1 || len(p.List) != 1 || p.List[0].ConnectionID != "w" {
			t.Fatalf("%s after removal: %+v", ch, p)
		}
	}
	if n := len(h.UserMembers("alice")); n != 0 {
		t.Fatalf("user still has %d connections", n)
	}
	var leaves int
	for _, m := range rw.messages(t) {
		if m["type"] == "leave" {
			leaves++
		}
	}
	if leaves != 2 {
		t.Fatalf("watcher saw %d leave notices, want 2", leaves)
	}
	if _, err := h.Subscribe(ctx, gone, "c", SubscribeOptions{}); !errors.Is(err, ErrMemberGone) {
		t.Fatalf("subscribe after removal: %v", err)
	}
	h.Remove(watcher)
	if h.Channels() != 0 || h.Subscriptions() != 0 {
		t.Fatalf("%d channels, %d subscriptions left", h.Channels(), h.Subscriptions())
	}
}

func TestLimitsAndErrors(t *testing.T) {
	h := newHub(t, config.Namespace{Pattern: "ok:*", Subscribe: "allow"})
	ctx := context.Background()
	m, _ := member("m", "", false)
	for i := range 8 {
		if _, err := h.Subscribe(ctx, m, fmt.Sprint("ok:", i), SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Subscribe(ctx, m, "ok:9", SubscribeOptions{}); !errors.Is(err, ErrTooManyChannels) {
		t.Fatalf("ninth channel: %v", err)
	}
	if _, err := h.Subscribe(ctx, m, "ok:1", SubscribeOptions{}); !errors.Is(err, ErrAlreadySubscribed) {
		t.Fatalf("twice: %v", err)
	}
	for _, bad := range []string{"", "has space", "a,b", "ctl\x01", string(make([]byte, 65))} {
		if _, err := h.Publish(ctx, bad, nil, ""); !errors.Is(err, ErrInvalidChannel) {
			t.Errorf("publish to %q: %v, want ErrInvalidChannel", bad, err)
		}
	}
	if _, err := h.Publish(ctx, "other", nil, ""); !errors.Is(err, ErrNoNamespace) {
		t.Errorf("no namespace: %v", err)
	}
	if _, err := h.History(ctx, "ok:1", 0, "", 10); !errors.Is(err, ErrNoHistory) {
		t.Errorf("history without history: %v", err)
	}
	if ok, err := h.Unsubscribe(m, "ok:1", false, ""); !ok || err != nil {
		t.Fatalf("unsubscribe: %v %v", ok, err)
	}
	if ok, _ := h.Unsubscribe(m, "ok:1", false, ""); ok {
		t.Fatal("unsubscribed twice")
	}
}

// A member whose queue refuses frames is skipped; the others get every
// publication.
func TestSlowMemberDoesNotStopOthers(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	slow := &recorder{limit: 2}
	s := NewMember("slow", "", nil, Raw, slow)
	fast, rf := member("fast", "", false)
	for _, m := range []*Member{s, fast} {
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		res, err := h.Publish(ctx, "room", fmt.Appendf(nil, "%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + btoi(i < 2); res.Recipients != want {
			t.Fatalf("publication %d: %d recipients, want %d", i, res.Recipients, want)
		}
	}
	if n := len(rf.raw()); n != 10 {
		t.Fatalf("fast member got %d of 10", n)
	}
	// The overflowed member left the channel at once: no ghost in presence.
	if p, _ := h.Presence(ctx, "room", "", 10); p.Members != 1 || p.List[0].ConnectionID != "fast" {
		t.Fatalf("presence after the overflow: %+v", p)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestPresencePages(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	for i := range 25 {
		m := NewMember(fmt.Sprintf("c%02d", i), "u", []byte(`{"n":1}`), Raw, &recorder{})
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	cursor := ""
	for range 10 {
		p, err := h.Presence(ctx, "room", cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		if p.Members != 25 {
			t.Fatalf("members %d", p.Members)
		}
		for _, m := range p.List {
			ids = append(ids, m.ConnectionID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(ids) != 25 || ids[0] != "c00" || ids[24] != "c24" {
		t.Fatalf("paged ids %v", ids)
	}
}

func TestValidNames(t *testing.T) {
	for _, ok := range []string{"a", "room:1", "user:alice", "комната", "x/y", "日本"} {
		if !ValidChannel(ok, 255) {
			t.Errorf("%q should be valid", ok)
		}
	}
	for _, bad := range []string{"", " ", "a b", "a,b", "a\tb", "\x7f", "a\u00a0b", "\xff"} {
		if ValidChannel(bad, 255) {
			t.Errorf("%q should be invalid", bad)
		}
	}
	if ValidUser("") || ValidUser("a,b") || ValidUser("a\nb") || !ValidUser("alice@example.com") {
		t.Error("ValidUser")
	}
}

// codecOf is the codec of a test member that speaks switchboard.v1 or not.
func codecOf(v1 bool) CodecID {
	if v1 {
		return V1
	}
	return Raw
}

// LocalChannels lists the channels with members on this node, by prefix,
// with their counts; a channel its last member left is not listed.
func TestLocalChannels(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	a, _ := member("a", "", true)
	b, _ := member("b", "", false)
	for _, sub := range []struct {
		m    *Member
		name string
	}{{a, "room-1"}, {b, "room-1"}, {a, "room-2"}, {b, "lobby"}} {
		if _, err := h.Subscribe(ctx, sub.m, sub.name, SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Unsubscribe(a, "room-2", false, ""); err != nil {
		t.Fatal(err)
	}
	got := h.LocalChannels("room-")
	if len(got) != 1 || got[0] != (ChannelCount{Channel: "room-1", Members: 2}) {
		t.Errorf("LocalChannels(room-) = %+v, want room-1 with 2 members", got)
	}
	if got := h.LocalChannels(""); len(got) != 2 {
		t.Errorf("LocalChannels() = %+v, want room-1 and lobby", got)
	}
}
