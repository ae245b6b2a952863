package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// tagCodec is a front-end codec for the tests: it writes what it was given
// as text, and counts its calls.
type tagCodec struct {
	pubs, directs, notices atomic.Int64
}

func (c *tagCodec) Publication(dst []byte, p *Publication) (ws.Opcode, []byte) {
	c.pubs.Add(1)
	pos := "-"
	if p.Pos != nil {
		pos = fmt.Sprint(p.Pos.Offset)
	}
	return ws.OpText, fmt.Appendf(dst, "pub|%s|%s|%s|%s|%s", p.Channel, p.Name, p.User, pos, p.Data)
}

func (c *tagCodec) Direct(dst, data []byte) (ws.Opcode, []byte) {
	c.directs.Add(1)
	return ws.OpBinary, fmt.Appendf(dst, "direct|%s", data)
}

func (c *tagCodec) Notice(dst []byte, channel string, m cluster.Member, join, userEdge bool) (ws.Opcode, []byte) {
	c.notices.Add(1)
	return ws.OpText, fmt.Appendf(dst, "notice|%s|%s|%s|join=%t|edge=%t", channel, m.ID, m.User, join, userEdge)
}

// silentCodec says nothing on presence changes.
type silentCodec struct{ tagCodec }

func (c *silentCodec) Notice(dst []byte, _ string, _ cluster.Member, _, _ bool) (ws.Opcode, []byte) {
	c.notices.Add(1)
	return 0, dst
}

var historyNS = config.Namespace{Pattern: "*", Subscribe: "allow", Publish: "subscribers",
	History: config.History{Size: 100, TTL: config.Duration(time.Minute), MetaTTL: config.Duration(time.Hour)}}

// noticeNS is historyNS with join and leave notices.
var noticeNS = func() config.Namespace { ns := historyNS; ns.JoinLeave = true; return ns }()

// TestCodecsEncodeOncePerProtocol: a named publication reaches the members
// of each protocol encoded by its codec, each codec called once however
// many of its members there are; raw members get the bytes alone and
// switchboard.v1 members a "pub" with "event".
func TestCodecsEncodeOncePerProtocol(t *testing.T) {
	tag := &tagCodec{}
	h := newHubWith(t, withCodecs([]Codec{tag}), historyNS)
	ctx := context.Background()
	raw, rawR := member("raw", "", false)
	v1, v1R := member("v1", "", true)
	var tags []*recorder
	for i := range 3 {
		r := &recorder{}
		tags = append(tags, r)
		if _, err := h.Subscribe(ctx, NewMember(fmt.Sprint("t", i), "", nil, FirstFrontEnd, r), "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []*Member{raw, v1} {
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before := tag.pubs.Load()
	if _, err := h.PublishEvent(ctx, "room", Event{Name: "client-move", User: "u-1", Data: []byte(`{"x":1}`), Exclude: "t2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish(ctx, "room", []byte("plain"), ""); err != nil {
		t.Fatal(err)
	}
	if n := tag.pubs.Load() - before; n != 2 {
		t.Errorf("the codec encoded %d times for 2 publications to 3 of its members", n)
	}
	if got, want := rawR.raw(), []string{`{"x":1}`, "plain"}; !slices.Equal(got, want) {
		t.Errorf("raw member got %q; want %q", got, want)
	}
	msgs := v1R.messages(t)
	if len(msgs) != 2 || msgs[0]["event"] != "client-move" || msgs[0]["type"] != "pub" || msgs[0]["offset"] != 1.0 || msgs[0]["user"] != nil {
		t.Errorf("v1 member got %v; want a pub with event client-move at offset 1 (and no user)", msgs)
	}
	if _, ok := msgs[1]["event"]; len(msgs) == 2 && ok {
		t.Errorf("v1 pub without a name has an event: %v", msgs[1])
	}
	want := []string{"pub|room|client-move|u-1|1|{\"x\":1}", "pub|room|||2|plain"}
	for i, r := range tags[:2] {
		if got := r.raw(); !slices.Equal(got, want) {
			t.Errorf("front-end member %d got %q; want %q", i, got, want)
		}
	}
	if got := tags[2].raw(); !slices.Equal(got, want[1:]) {
		t.Errorf("excluded front-end member got %q; want only the second", got)
	}
}

// TestCodecReplay: a recovery replays publications encoded by the member's
// codec exactly as they were live, name and user included (from the
// history).
func TestCodecReplay(t *testing.T) {
	tag := &tagCodec{}
	h := newHubWith(t, withCodecs([]Codec{tag}), historyNS)
	ctx := context.Background()
	live := &recorder{}
	if _, err := h.Subscribe(ctx, NewMember("live", "", nil, FirstFrontEnd, live), "room", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := h.PublishEvent(ctx, "room", Event{Name: "a", User: "u", Data: []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{{Name: "b", Data: []byte("2")}, {User: "v", Data: []byte("3")}, {Data: []byte("4")}} {
		if _, err := h.PublishEvent(ctx, "room", e); err != nil {
			t.Fatal(err)
		}
	}
	late := &recorder{}
	res, err := h.Subscribe(ctx, NewMember("late", "", nil, FirstFrontEnd, late), "room",
		SubscribeOptions{Recover: &history.Position{Epoch: first.Position.Epoch, Offset: 0}})
	if err != nil || !res.Recovered || res.Missed != 4 {
		t.Fatalf("Subscribe with recovery = %+v, %v; want 4 recovered", res, err)
	}
	if got, want := late.raw(), live.raw(); !slices.Equal(got, want) || len(got) != 4 {
		t.Errorf("replay %q; live %q", got, want)
	}
}

// TestCodecNotices: join and leave notices reach the members of each codec
// that has them, encoded once per codec, with the user edge (first and
// last connection of a user in the channel); raw members and codecs that
// say nothing get nothing, and a member is not told about itself.
func TestCodecNotices(t *testing.T) {
	tag, silent := &tagCodec{}, &silentCodec{}
	h := newHubWith(t, withCodecs([]Codec{tag, silent}), noticeNS)
	ctx := context.Background()
	watch := &recorder{}
	quiet := &recorder{}
	raw := &recorder{}
	for _, m := range []*Member{
		NewMember("watch", "w", nil, FirstFrontEnd, watch),
		NewMember("quiet", "q", nil, FirstFrontEnd+1, quiet),
		NewMember("raw", "", nil, Raw, raw),
	} {
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	watch.frames, quiet.frames, raw.frames = nil, nil, nil
	before := tag.notices.Load()
	a1 := NewMember("a1", "alice", nil, V1, &recorder{})
	a2 := NewMember("a2", "alice", nil, FirstFrontEnd, &recorder{})
	anon := NewMember("anon", "", nil, Raw, &recorder{})
	for _, m := range []*Member{a1, a2, anon} {
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []*Member{a1, a2} {
		if _, err := h.Unsubscribe(m, "room", false, ""); err != nil {
			t.Fatal(err)
		}
	}
	h.Remove(anon)
	want := []string{
		"notice|room|a1|alice|join=true|edge=true",
		"notice|room|a2|alice|join=true|edge=false",
		"notice|room|anon||join=true|edge=true",
		"notice|room|a1|alice|join=false|edge=false",
		"notice|room|a2|alice|join=false|edge=true",
		"notice|room|anon||join=false|edge=true",
	}
	if got := watch.raw(); !slices.Equal(got, want) {
		t.Errorf("front-end member got\n%q; want\n%q", got, want)
	}
	if got := quiet.raw(); len(got) != 0 {
		t.Errorf("member of a silent codec got %q", got)
	}
	if got := raw.raw(); len(got) != 0 {
		t.Errorf("raw member got %q", got)
	}
	// a2, of the tag codec, saw anon's join and a1's leave; a1 (v1) the
	// joins of a2 and anon.
	if got := a2.out.(*recorder).raw(); len(got) != 2 || !strings.Contains(got[0], "|anon|") || !strings.Contains(got[1], "|a1|") {
		t.Errorf("a2 got %q; want anon's join, a1's leave and no notice about itself", got)
	}
	if got := a1.out.(*recorder).messages(t); len(got) != 2 || got[0]["type"] != "join" || got[1]["type"] != "join" {
		t.Errorf("a1 got %v; want the joins of a2 and anon", got)
	}
	// One tag encoding per notice.
	if n := tag.notices.Load() - before; n != 6 {
		t.Errorf("the tag codec encoded %d notices; want 6", n)
	}
}

// TestCodecDirect: a direct message is encoded by the member's codec, once
// per codec however many members get it.
func TestCodecDirect(t *testing.T) {
	tag := &tagCodec{}
	h := newHubWith(t, withCodecs([]Codec{tag}), historyNS)
	r := &recorder{}
	if err := h.Send(NewMember("x", "", nil, FirstFrontEnd, r), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	f := h.Frames([]byte("all"))
	first := f.For(FirstFrontEnd)
	if f.For(FirstFrontEnd) != first || tag.directs.Load() != 2 {
		t.Errorf("Frames encoded %d times for two members of one codec", tag.directs.Load()-1)
	}
	if got := r.raw(); !slices.Equal(got, []string{"direct|hi"}) {
		t.Errorf("direct send: %q", got)
	}
	if got := string(payloadOf(f.For(V1).Frame())); got != `{"type":"message","text":"all"}` {
		t.Errorf("v1 direct: %s", got)
	}
	if got := string(payloadOf(f.For(Raw).Frame())); got != "all" {
		t.Errorf("raw direct: %s", got)
	}
	var zero Frames
	zero.Data = []byte("z")
	if got := string(payloadOf(zero.For(FirstFrontEnd).Frame())); got != "z" {
		t.Errorf("a Frames without the hub's codecs gives %q for a front-end codec; want the raw bytes", got)
	}
}

func TestCodecErrors(t *testing.T) {
	h := newHubWith(t, withCodecs([]Codec{&tagCodec{}}), historyNS)
	_, err := h.Subscribe(context.Background(), NewMember("x", "", nil, FirstFrontEnd+1, &recorder{}), "room", SubscribeOptions{})
	if !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("Subscribe with an unknown codec: %v; want ErrUnknownCodec", err)
	}
	tooMany := make([]Codec, MaxCodecs-1) // with Raw and V1: one too many
	for i := range tooMany {
		tooMany[i] = &tagCodec{}
	}
	for _, codecs := range [][]Codec{tooMany, {nil}} {
		if _, err := New(Options{API: "x", Bus: h.bus, Codecs: codecs}); err == nil {
			t.Errorf("New with %d codecs: no error", len(codecs))
		}
	}
	if _, err := New(Options{API: "x", Bus: h.bus, Codecs: tooMany[1:]}); err != nil {
		t.Errorf("New with %d codecs: %v", MaxCodecs-2, err)
	}
}

// TestFanoutAllocationsPerMember: publishing allocates the same whatever
// the number of members, with three protocols in the channel.
func TestFanoutAllocationsPerMember(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	allocs := func(n int) float64 {
		h := newHubWith(t, withCodecs([]Codec{&tagCodec{}}), config.Namespace{Pattern: "*", Subscribe: "allow"})
		ctx := context.Background()
		for i := range n {
			m := NewMember(fmt.Sprint(i), "", nil, CodecID(i%3), discard{})
			if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		e := Event{Name: "n", Data: []byte(`{"a":1}`)}
		return testing.AllocsPerRun(200, func() { _, _ = h.PublishEvent(ctx, "room", e) })
	}
	if small, big := allocs(3), allocs(3000); big != small {
		t.Errorf("a publication to 3 members allocates %v times, to 3000 members %v", small, big)
	}
}

// withCodecs sets the hub's front-end codecs (newHubWith).
func withCodecs(c []Codec) func(*Options) {
	return func(o *Options) { o.Codecs = c }
}
