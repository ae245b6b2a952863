package hub

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// channel is a channel this node has members in, or is subscribing to or
// unsubscribing from on the Bus. Every field is guarded by its shard's
// mutex.
type channel struct {
	name    string
	ns      *Namespace
	members []*Member
	// index finds a member's place in members; built only for channels
	// with more than indexMin members (small channels are scanned).
	index map[*Member]int32
	// users counts the members per non-empty user, kept only on one node
	// with Options.OnMembership (localEdges); nil when none.
	users map[string]int32
	// codecs counts the members per codec, so that a notice is encoded
	// only for the protocols present.
	codecs [MaxCodecs]int32
	// as holds the members that joined with their own presence identity
	// (SubscribeOptions.As); nil when none did.
	as map[*Member]cluster.Member

	// The Bus side. pending counts Subscribes past their Bus step and not
	// yet committed; busOn says the node is subscribed on the Bus; busOp,
	// while not nil, is a Bus.Subscribe or Unsubscribe in flight (closed
	// when it ends). The channel leaves its shard's map only when it has
	// no member, nothing pending, no Bus subscription and no Bus call in
	// flight.
	pending int
	busOn   bool
	busOp   chan struct{}

	// The stream position of the last publication delivered (history
	// namespaces; known once a delivery or a subscribe's read set it):
	// what a member joining now has seen (L of decision 0024 §4).
	known bool
	epoch string
	last  uint64
}

const indexMin = 16

// who is m's presence identity in ch: what it joined as (SubscribeOptions.As)
// or its connection's.
func (ch *channel) who(m *Member) cluster.Member {
	if id, ok := ch.as[m]; ok {
		return id
	}
	return cluster.Member{ID: m.id, User: m.user, Info: m.info}
}

func (ch *channel) find(m *Member) int {
	if ch.index != nil {
		if i, ok := ch.index[m]; ok {
			return int(i)
		}
		return -1
	}
	for i, x := range ch.members {
		if x == m {
			return i
		}
	}
	return -1
}

func (ch *channel) add(m *Member) {
	ch.members = append(ch.members, m)
	ch.codecs[m.codec]++
	switch {
	case ch.index != nil:
		ch.index[m] = int32(len(ch.members) - 1)
	case len(ch.members) > indexMin:
		ch.index = make(map[*Member]int32, 2*len(ch.members))
		for i, x := range ch.members {
			ch.index[x] = int32(i)
		}
	}
}

// remove takes m out of the channel; it reports whether m was in it.
func (ch *channel) remove(m *Member) bool {
	i := ch.find(m)
	if i < 0 {
		return false
	}
	last := len(ch.members) - 1
	moved := ch.members[last]
	ch.members[i] = moved
	ch.members[last] = nil
	ch.members = ch.members[:last]
	if ch.index != nil {
		delete(ch.index, m)
		if moved != m {
			ch.index[moved] = int32(i)
		}
	}
	ch.codecs[m.codec]--
	return true
}

// PublishResult is what Publish did.
type PublishResult struct {
	// Recipients is, on one node (no Presence), the number of connections
	// the publication was queued on; in a cluster, the channel's members
	// cluster-wide when the publication was ordered (cluster.Published).
	Recipients int
	// Position is the publication's place in the stream; nil without
	// history.
	Position *history.Position
}

// Event is a publication as a publisher gives it.
type Event struct {
	// Name is the event name ("" for none) and User the publishing
	// connection's user id ("" for none); codecs that name events encode
	// them (Codec.Publication), the history keeps them.
	Name, User string
	Data       []byte
	// Exclude is the connection left out, on every node ("" for none).
	Exclude string
}

// Publish sends data to every member of the channel, on every node, except
// the connection exclude ("" for none): PublishEvent without a name or
// user.
func (h *Hub) Publish(ctx context.Context, name string, data []byte, exclude string) (PublishResult, error) {
	return h.PublishEvent(ctx, name, Event{Data: data, Exclude: exclude})
}

// PublishEvent sends e to every member of the channel, on every node,
// except e.Exclude, after keeping it in the channel's history when the
// namespace has one: one Bus.Publish, which orders it and delivers it to
// every node's handler (this one's included; the hub does not fan out its
// own publications apart from that), where each protocol's codec encodes
// it once. The namespace's publish rule is the caller's business. A Bus
// error (cluster.ErrUnavailable among them) is returned wrapped, so
// errors.Is sees it.
func (h *Hub) PublishEvent(ctx context.Context, name string, e Event) (PublishResult, error) {
	ns, _, err := h.Lookup(name)
	if err != nil {
		return PublishResult{}, err
	}
	msg := cluster.Message{Kind: cluster.Publication, Exclude: e.Exclude, Name: e.Name, User: e.User, Data: e.Data}
	var res PublishResult
	var p cluster.Published
	if h.local != nil {
		c := h.calls.Get().(*localCall)
		c.name = name
		p, err = h.local.PublishLocal(ctx, h.api, name, msg, ns.History, c.deliver)
		res.Recipients = c.n
		// A member this publication overflowed is being closed as a slow
		// consumer: it leaves its channels now, not when its close
		// handshake ends, so presence never lists it meanwhile. (Remove
		// takes locks and calls the Bus, hence after PublishLocal.)
		for _, m := range c.slow {
			h.Remove(m)
		}
		clear(c.slow)
		c.name, c.n, c.slow = "", 0, c.slow[:0]
		h.calls.Put(c)
	} else {
		p, err = h.bus.Publish(ctx, h.api, name, msg, ns.History)
		res.Recipients = p.Members
	}
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish: %w", err)
	}
	res.Position = p.Position
	return res, nil
}

// localCall is one Publish through LocalBus: deliver is this node's share
// of the publication, and it keeps what the fan-out did. Pooled (with its
// method value bound once), so that a publication allocates nothing for it.
type localCall struct {
	h       *Hub
	name    string
	n       int
	slow    []*Member
	deliver func(cluster.Message)
}

func newLocalCall(h *Hub) *localCall {
	c := &localCall{h: h}
	c.deliver = func(m cluster.Message) {
		var slow []*Member
		c.n, slow = c.h.deliver(c.name, m)
		c.slow = append(c.slow, slow...)
	}
	return c
}

// Deliver fans out one message the Bus delivered for the channel: the Bus
// handler calls it (the gateway's, which dispatches by API). It returns how
// many connections a publication was queued on. Publications are queued
// under the channel's shard lock, at their position, without the member
// Message.Exclude names, encoded once per codec present (with the
// message's Name and User); a publication whose offset is not past the
// last one delivered in the same epoch is a duplicate and is dropped; Join
// and Leave become notices to this node's members whose codec has them;
// Reset is counted and logged (the Bus fills the gap). Deliver takes no lock of the
// Bus and never calls it, so the Bus may call it under its own locks.
func (h *Hub) Deliver(name string, m cluster.Message) int {
	n, slow := h.deliver(name, m)
	if len(slow) > 0 {
		// Remove calls the Bus and Presence, which may be holding the lock
		// this delivery runs under: not from here.
		go func() {
			for _, x := range slow {
				h.Remove(x)
			}
		}()
	}
	return n
}

// deliver is Deliver; it returns the members a publication overflowed.
func (h *Hub) deliver(name string, m cluster.Message) (int, []*Member) {
	if m.Kind == cluster.Reset {
		h.resets.Add(1)
		h.log.Warn("cluster bus reset: deliveries may have been lost and refilled", "api", h.api, "channel", name)
		return 0, nil
	}
	s := h.shardOf(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[name]
	if ch == nil {
		return 0, nil
	}
	switch m.Kind {
	case cluster.Publication:
		var pos *history.Position
		if m.Epoch != "" {
			if ch.known && ch.epoch == m.Epoch && m.Offset <= ch.last {
				return 0, nil // a duplicate
			}
			ch.known, ch.epoch, ch.last = true, m.Epoch, m.Offset
			s.pos = history.Position{Epoch: m.Epoch, Offset: m.Offset}
			pos = &s.pos
		}
		h.publications.Add(1)
		if len(ch.members) == 0 {
			return 0, nil
		}
		s.pub = Publication{Channel: ch.name, Name: m.Name, User: m.User, Data: m.Data, Pos: pos}
		n, slow := h.fanout(s, ch, m.Exclude)
		s.pub = Publication{} // let the data go
		return n, slow
	case cluster.Join, cluster.Leave:
		if h.presence != nil {
			h.noticeOf(s, ch, m.Member, m.Kind == cluster.Join, nil, edgeOf(m.UserEdge))
		}
	}
	return 0, nil
}

// fanout queues the publication s.pub on the channel's members: it is
// encoded once per codec, by the first member of that codec, and the
// frame shared. It returns how many members it was queued on and the
// members whose queue it overflowed. s.mu is held.
func (h *Hub) fanout(s *shard, ch *channel, exclude string) (int, []*Member) {
	// A ws.Message is compressed at most once, by the first member
	// that negotiated permessage-deflate.
	var msgs [MaxCodecs]*ws.Message
	// The excluded member, by id; nil when none is (a pointer compare in
	// the loop below, as cheap as no exclusion).
	var ex *Member
	if exclude != "" {
		for _, m := range ch.members {
			if m.id == exclude {
				ex = m
				break
			}
		}
	}
	n := 0
	var slow []*Member
	for _, m := range ch.members {
		if m == ex {
			continue
		}
		c := m.codec % MaxCodecs // (no bounds check)
		f := msgs[c]
		if f == nil {
			f = h.encode(s, c)
			msgs[c] = f
		}
		switch err := m.out.SendMessage(f); {
		case err == nil:
			n++
		case errors.Is(err, ws.ErrSlowConsumer):
			slow = append(slow, m)
		}
	}
	return n, slow
}

// encode encodes s.pub with codec c. s.mu is held.
func (h *Hub) encode(s *shard, c CodecID) *ws.Message {
	op, b := h.codecs[c].Publication(s.buf[:0], &s.pub)
	m := ws.NewMessage(ws.NewFrame(op, b))
	s.keep(b)
	return m
}

// keep makes b, the last encoding, the shard's scratch, unless it grew
// past maxScratch (a rare big payload is not held by every shard).
func (s *shard) keep(b []byte) {
	if cap(b) > maxScratch {
		b = nil
	}
	s.buf = b[:0]
}

// ProtocolPosition converts a stream position for switchboard.v1 (nil
// stays nil).
func ProtocolPosition(p *history.Position) *protocol.Position {
	if p == nil {
		return nil
	}
	return &protocol.Position{Epoch: p.Epoch, Offset: p.Offset}
}

// SubscribeOptions say how a member subscribes.
type SubscribeOptions struct {
	// Recover asks for the publications after this position.
	Recover *history.Position
	// As, when not nil, is the member's presence identity in this channel
	// (user and info; its ID is the member's), instead of its connection's:
	// Pusher presence channels take the user from each subscription's
	// channel_data.
	As *cluster.Member
	// Reply, when not nil, is queued on the member when it is added, under
	// the channel's lock, so before any publication of the channel reaches
	// it (a front-end's "subscribed" frame, such as Pusher's
	// subscription_succeeded). Not for switchboard.v1 members (ReplyID).
	Reply ws.Frame
	// ReplyID, when not 0, makes the hub queue the switchboard.v1 reply
	// with this id itself, before any publication of the channel.
	ReplyID uint64
	// Notify queues a "subscribed" message for a switchboard.v1 member
	// (membership set by the server, not asked for by the client).
	Notify bool
	// MaxRecoveryBytes, when above 0, bounds the payload bytes a recovery
	// may queue at once: more is refused as "too many", so that a replay
	// never overflows the connection's queue (which would close it as a
	// slow consumer, and its reconnect would try the same replay again).
	MaxRecoveryBytes int
}

// SubscribeResult is what Subscribe did.
type SubscribeResult struct {
	// Position is the channel's position when the member was added: the
	// last publication this node delivered on it (the stream's top, but
	// for publications still on their way); nil without history.
	Position   *history.Position
	Recovering bool // a recovery was asked for
	Recovered  bool
	Missed     int    // publications replayed, when Recovered
	Reason     string // why not, when Recovering and not Recovered
}

// Recovery reasons (docs/protocol.md).
const (
	ReasonEpochChanged = "epoch changed"
	ReasonTooOld       = "too old"
	ReasonTooMany      = "too many"
	ReasonNoHistory    = "no history"
)

// readTries bounds the history reads of a subscribe that keep missing the
// channel's last delivered position (decision 0024 §4); the last try reads
// under the shard lock.
const readTries = 8

// Subscribe puts m in the channel. With a recovery position it queues
// the missed publications right after the reply, so the member sees no gap
// and no duplicate between them and live publications. Authorization is
// the caller's business.
//
// The steps (decision 0024 §4, "Subscribe with recovery"), none calling
// the Bus, Presence or the history under the shard lock except the last
// read try: Bus.Subscribe when the channel is new on this node; with
// Presence, Presence.Join (its notice comes back through the Bus); a
// history read; then under the lock, if the channel's last delivered
// position L moved past the read, read again, else replay (since, L], add
// the member and report L as its position.
func (h *Hub) Subscribe(ctx context.Context, m *Member, name string, o SubscribeOptions) (SubscribeResult, error) {
	ns, _, err := h.Lookup(name)
	if err != nil {
		return SubscribeResult{}, err
	}
	if int(m.codec) >= len(h.codecs) {
		return SubscribeResult{}, fmt.Errorf("%w: %d", ErrUnknownCodec, m.codec)
	}
	s := h.shardOf(name)
	if h.presence == nil && ns.History == nil {
		// The common case on one node: the channel is already subscribed
		// on the Bus and there is nothing to read: one critical section.
		s.mu.Lock()
		if ch := s.channels[name]; ch != nil && ch.busOn {
			if ch.find(m) >= 0 {
				s.mu.Unlock()
				return SubscribeResult{}, ErrAlreadySubscribed
			}
			var res SubscribeResult
			if o.Recover != nil {
				res.Recovering, res.Reason = true, ReasonNoHistory
			}
			ch.pending++
			return h.add(s, ch, m, ns, o, res, nil)
		}
		s.mu.Unlock()
	}
	ch, err := h.attach(ctx, s, m, name, ns)
	if err != nil {
		return SubscribeResult{}, err
	}
	if h.presence != nil {
		cm := cluster.Member{ID: m.id, User: m.user, Info: m.info}
		if o.As != nil {
			cm.User, cm.Info = o.As.User, o.As.Info
		}
		jr, err := h.presence.Join(ctx, h.api, name, cm, ns.JoinLeave)
		if err != nil {
			s.mu.Lock()
			ch.pending--
			unsub := h.settle(s, ch)
			s.mu.Unlock()
			h.finishUnsubscribe(s, ch, unsub)
			return SubscribeResult{}, fmt.Errorf("join the channel's presence: %w", err)
		}
		// Reported before the member is added: its leave cannot come
		// before it.
		h.reportJoin(name, cm, jr)
	}
	res, err := h.commit(ctx, s, ch, m, ns, o)
	if err != nil && h.presence != nil && !errors.Is(err, ErrAlreadySubscribed) {
		lr, lerr := h.presence.Leave(context.WithoutCancel(ctx), h.api, name, m.id, ns.JoinLeave)
		if lerr != nil {
			h.log.Warn("cluster presence: undo a join", "api", h.api, "channel", name, "error", lerr.Error())
		}
		h.reportLeave(name, lr)
	}
	return res, err
}

// attach finds or makes the channel, makes sure this node is subscribed
// on the Bus, and counts the caller as pending: the caller must then
// commit, or undo with pending-- and settle.
func (h *Hub) attach(ctx context.Context, s *shard, m *Member, name string, ns *Namespace) (*channel, error) {
	s.mu.Lock()
	for {
		ch := s.channels[name]
		if ch != nil && ch.find(m) >= 0 {
			s.mu.Unlock()
			return nil, ErrAlreadySubscribed
		}
		if err := h.checkRoom(m); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if ch == nil {
			ch = &channel{name: name, ns: ns}
			s.channels[name] = ch
		}
		if ch.busOn {
			ch.pending++
			s.mu.Unlock()
			return ch, nil
		}
		if op := ch.busOp; op != nil {
			// Another Subscribe or an Unsubscribe is talking to the Bus:
			// wait for it, then look again.
			s.mu.Unlock()
			select {
			case <-op:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			s.mu.Lock()
			continue
		}
		op := make(chan struct{})
		ch.busOp = op
		ch.pending++
		s.mu.Unlock()
		err := h.bus.Subscribe(ctx, h.api, name)
		s.mu.Lock()
		ch.busOp = nil
		close(op)
		if err != nil {
			ch.pending--
			h.settle(s, ch) // not subscribed: nothing to undo on the Bus
			s.mu.Unlock()
			return nil, fmt.Errorf("subscribe on the cluster bus: %w", err)
		}
		ch.busOn = true
		s.mu.Unlock()
		return ch, nil
	}
}

// commit reads the history (history namespaces) and adds m to ch, which
// counts m as pending.
func (h *Hub) commit(ctx context.Context, s *shard, ch *channel, m *Member, ns *Namespace, o SubscribeOptions) (SubscribeResult, error) {
	var res SubscribeResult
	if ns.History == nil {
		if o.Recover != nil {
			res.Recovering, res.Reason = true, ReasonNoHistory
		}
		s.mu.Lock()
		return h.add(s, ch, m, ns, o, res, nil)
	}
	since, limit := uint64(0), 0
	if o.Recover != nil {
		since, limit = o.Recover.Offset, ns.RecoveryLimit+1
	}
	for try := 1; ; try++ {
		last := try == readTries
		var rr history.ReadResult
		var err error
		if last {
			// A last resort against a channel that keeps moving: read
			// under the lock, which holds this channel's deliveries back
			// for one read.
			s.mu.Lock()
			rr, err = h.history.Read(ctx, ch.name, since, limit, *ns.History)
		} else {
			rr, err = h.history.Read(ctx, ch.name, since, limit, *ns.History)
			s.mu.Lock()
		}
		if err != nil {
			ch.pending--
			unsub := h.settle(s, ch)
			s.mu.Unlock()
			h.finishUnsubscribe(s, ch, unsub)
			return SubscribeResult{}, fmt.Errorf("read history: %w", err)
		}
		top := rr.Top
		if ch.known {
			// The read must not be behind what the channel delivered (a
			// member added now would miss (top, L]); a recovery from a
			// position this node has not delivered yet waits for it.
			behind := ch.epoch != top.Epoch || ch.last > top.Offset
			ahead := o.Recover != nil && o.Recover.Epoch == ch.epoch && o.Recover.Offset > ch.last && o.Recover.Offset <= top.Offset
			if (behind || ahead) && !last {
				s.mu.Unlock()
				continue
			}
			if behind {
				ch.pending--
				unsub := h.settle(s, ch)
				s.mu.Unlock()
				h.finishUnsubscribe(s, ch, unsub)
				return SubscribeResult{}, fmt.Errorf("%w: the channel's stream moved on during %d reads", cluster.ErrUnavailable, readTries)
			}
		} else {
			ch.known, ch.epoch, ch.last = true, top.Epoch, top.Offset
		}
		pos := history.Position{Epoch: ch.epoch, Offset: ch.last}
		res.Position = &pos
		pubs := rr.Publications
		for len(pubs) > 0 && pubs[len(pubs)-1].Offset > pos.Offset {
			pubs = pubs[:len(pubs)-1] // delivered next, live
		}
		var missed []history.Publication
		if o.Recover != nil {
			res.Recovering = true
			switch {
			case o.Recover.Epoch != pos.Epoch || o.Recover.Offset > pos.Offset:
				res.Reason = ReasonEpochChanged
			case !rr.Complete:
				res.Reason = ReasonTooOld
			case len(pubs) > ns.RecoveryLimit || tooBig(pubs, o.MaxRecoveryBytes):
				res.Reason = ReasonTooMany
			default:
				res.Recovered, res.Missed, missed = true, len(pubs), pubs
			}
		}
		return h.add(s, ch, m, ns, o, res, missed)
	}
}

// add puts m in ch and queues its reply and replay. s.mu is held; add
// releases it (and then calls the Bus when the subscribe failed and left
// the channel idle).
func (h *Hub) add(s *shard, ch *channel, m *Member, ns *Namespace, o SubscribeOptions, res SubscribeResult, missed []history.Publication) (SubscribeResult, error) {
	// The member may have ended, or joined other channels, meanwhile.
	m.mu.Lock()
	err := error(nil)
	switch {
	case m.gone:
		err = ErrMemberGone
	case len(m.chans) >= h.maxPerConn:
		err = ErrTooManyChannels
	case ch.find(m) >= 0:
		err = ErrAlreadySubscribed
	}
	if err != nil {
		m.mu.Unlock()
		ch.pending--
		unsub := h.settle(s, ch)
		s.mu.Unlock()
		h.finishUnsubscribe(s, ch, unsub)
		return SubscribeResult{}, err
	}
	m.chans = append(m.chans, ch)
	m.mu.Unlock()
	ch.pending--
	ch.add(m)
	if o.As != nil {
		if ch.as == nil {
			ch.as = make(map[*Member]cluster.Member)
		}
		ch.as[m] = cluster.Member{ID: m.id, User: o.As.User, Info: o.As.Info}
	}
	var ev MembershipEvent
	if h.localEdges() {
		ev = joinedLocally(ch, m)
	}
	if len(ch.members) == 1 {
		h.channels.Add(1)
	}
	h.subscriptions.Add(1)
	name := ch.name

	if o.Reply != nil && m.codec != V1 {
		_ = m.out.Send(o.Reply)
	}
	if m.codec == V1 {
		switch {
		case o.ReplyID != 0:
			s.buf = protocol.AppendReply(s.buf[:0], o.ReplyID, protocol.AppendSubscribeResult(nil, protocol.SubscribeResult{
				Position:   ProtocolPosition(res.Position),
				Recovering: res.Recovering,
				Recovered:  res.Recovered,
				Missed:     res.Missed,
				Reason:     res.Reason,
			}))
			_ = m.out.Send(ws.TextFrame(s.buf))
		case o.Notify:
			s.buf = protocol.AppendSubscribed(s.buf[:0], name, ProtocolPosition(res.Position))
			_ = m.out.Send(ws.TextFrame(s.buf))
		}
	}
	// The replay, encoded as the live publications were (name and user
	// included).
	for _, p := range missed {
		s.pos = history.Position{Epoch: res.Position.Epoch, Offset: p.Offset}
		s.pub = Publication{Channel: name, Name: p.Name, User: p.User, Data: p.Data, Pos: &s.pos}
		op, b := h.codecs[m.codec].Publication(s.buf[:0], &s.pub)
		_ = m.out.Send(ws.NewFrame(op, b))
		s.keep(b)
	}
	s.pub = Publication{}
	if ns.JoinLeave && h.presence == nil {
		h.notice(s, ch, m, true)
	}
	s.mu.Unlock()
	if h.localEdges() {
		h.onMembership(h.api, name, ev)
	}
	return res, nil
}

// settle starts taking an idle channel away: with no member and nothing
// pending, a channel subscribed on the Bus gets an Unsubscribe in flight
// (settle returns true: the caller calls finishUnsubscribe after unlocking
// s.mu), and one that is not leaves the shard's map. s.mu is held.
func (h *Hub) settle(s *shard, ch *channel) bool {
	if len(ch.members) > 0 || ch.pending > 0 || ch.busOp != nil {
		return false
	}
	if ch.busOn {
		ch.busOn = false
		ch.busOp = make(chan struct{})
		return true
	}
	if s.channels[ch.name] == ch {
		delete(s.channels, ch.name)
	}
	return false
}

// finishUnsubscribe unsubscribes ch on the Bus when settle said so; s.mu
// is not held.
func (h *Hub) finishUnsubscribe(s *shard, ch *channel, unsub bool) {
	if !unsub {
		return
	}
	if err := h.bus.Unsubscribe(context.Background(), h.api, ch.name); err != nil {
		h.log.Warn("cluster bus: unsubscribe", "api", h.api, "channel", ch.name, "error", err.Error())
	}
	s.mu.Lock()
	op := ch.busOp
	ch.busOp = nil
	close(op)
	h.settle(s, ch) // idle still (nobody joins while busOp is set): leaves the map
	s.mu.Unlock()
}

// tooBig reports whether replaying pubs would queue more than max bytes
// (max 0: no bound). Each pub envelope adds about 100 bytes to its payload.
func tooBig(pubs []history.Publication, max int) bool {
	if max <= 0 {
		return false
	}
	n := 0
	for _, p := range pubs {
		n += len(p.Data) + 100
		if n > max {
			return true
		}
	}
	return false
}

// checkRoom fails early when m cannot join another channel.
func (h *Hub) checkRoom(m *Member) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return ErrMemberGone
	}
	if len(m.chans) >= h.maxPerConn {
		return ErrTooManyChannels
	}
	return nil
}

// Unsubscribe takes m out of the channel. With notify, a switchboard.v1
// member is told (an "unsubscribed" message with reason). It reports
// whether m was in the channel.
func (h *Hub) Unsubscribe(m *Member, name string, notify bool, reason string) (bool, error) {
	if _, _, err := h.Lookup(name); err != nil {
		return false, err
	}
	s := h.shardOf(name)
	s.mu.Lock()
	ch := s.channels[name]
	if ch == nil || !ch.remove(m) {
		s.mu.Unlock()
		return false, nil
	}
	m.mu.Lock()
	m.dropChannelLocked(ch)
	m.mu.Unlock()
	unsub, ev := h.left(s, ch, m)
	if notify && m.codec == V1 {
		s.buf = protocol.AppendUnsubscribed(s.buf[:0], name, reason)
		_ = m.out.Send(ws.TextFrame(s.buf))
	}
	s.mu.Unlock()
	h.afterLeave(s, ch, m, unsub, ev)
	return true, nil
}

// Remove takes a member whose connection ended out of every channel (at
// once: no ghost stays in presence) and out of its user's connections.
// Afterwards it joins nothing more. Remove is idempotent.
func (h *Hub) Remove(m *Member) {
	m.mu.Lock()
	if m.gone {
		m.mu.Unlock()
		return
	}
	m.gone = true
	chans := m.chans
	m.chans = nil
	m.mu.Unlock()
	for _, ch := range chans {
		s := h.shardOf(ch.name)
		s.mu.Lock()
		removed := ch.remove(m)
		var unsub bool
		var ev MembershipEvent
		if removed {
			unsub, ev = h.left(s, ch, m)
		}
		s.mu.Unlock()
		if removed {
			h.afterLeave(s, ch, m, unsub, ev)
		}
	}
	if m.user != "" {
		h.users.remove(m)
	}
}

// left finishes a removal from ch under the lock: counters, leave notices
// (one node), the membership event (one node with OnMembership), and
// settling an emptied channel. It reports whether the caller must finish a
// Bus unsubscribe (afterLeave). s.mu is held.
func (h *Hub) left(s *shard, ch *channel, m *Member) (bool, MembershipEvent) {
	h.subscriptions.Add(-1)
	var ev MembershipEvent
	if h.localEdges() {
		ev = leftLocally(ch, m)
	}
	if ch.as != nil {
		defer func() { // after the leave notice, which names m as it joined
			delete(ch.as, m)
			if len(ch.as) == 0 {
				ch.as = nil
			}
		}()
	}
	if len(ch.members) == 0 {
		h.channels.Add(-1)
		return h.settle(s, ch), ev
	}
	if ch.ns.JoinLeave && h.presence == nil {
		h.notice(s, ch, m, false)
	}
	return false, ev
}

// afterLeave does what a removal from ch needs outside the lock: leaving
// the cluster presence (whose leave notice comes back through the Bus),
// telling OnMembership (ev, from left, on one node), and the Bus
// unsubscribe of an emptied channel.
func (h *Hub) afterLeave(s *shard, ch *channel, m *Member, unsub bool, ev MembershipEvent) {
	if h.presence != nil {
		r, err := h.presence.Leave(context.Background(), h.api, ch.name, m.id, ch.ns.JoinLeave)
		if err != nil {
			h.log.Warn("cluster presence: leave", "api", h.api, "channel", ch.name, "error", err.Error())
		}
		h.reportLeave(ch.name, r)
	} else if h.localEdges() {
		h.onMembership(h.api, ch.name, ev)
	}
	h.finishUnsubscribe(s, ch, unsub)
}

// notice sends a join or leave message about m, which was just added to
// or removed from ch, to the channel's other members. s.mu is held.
func (h *Hub) notice(s *shard, ch *channel, m *Member, join bool) {
	var self *Member
	if join {
		self = m // counted in ch
	}
	h.noticeOf(s, ch, ch.who(m), join, self, edgeLocal)
}

// The user edge of a notice: computed from this node's members (one node,
// where they are all the members), or given by the cluster Presence step
// that ordered the notice (cluster.Message.UserEdge).
const (
	edgeLocal uint8 = iota
	edgeYes
	edgeNo
)

func edgeOf(b bool) uint8 {
	if b {
		return edgeYes
	}
	return edgeNo
}

// noticeOf sends a join or leave message about member to the channel's
// members other than member itself, encoded once by each codec present
// that has one. self is member when it is this node's and counted in ch
// (a join), else nil; how is where its user edge comes from. s.mu is held.
func (h *Hub) noticeOf(s *shard, ch *channel, member cluster.Member, join bool, self *Member, how uint8) {
	if h.quiet.Load() {
		return
	}
	var frames [MaxCodecs]ws.Frame
	some, edge, edgeKnown := false, how == edgeYes, how != edgeLocal
	for i := V1; int(i) < len(h.codecs); i++ { // Raw says nothing
		n := ch.codecs[i]
		if self != nil && self.codec == i {
			n-- // not to itself
		}
		if n <= 0 {
			continue
		}
		if !edgeKnown {
			edge, edgeKnown = userEdge(ch, member), true
		}
		op, b := h.codecs[i].Notice(s.buf[:0], ch.name, member, join, edge)
		if op != 0 {
			frames[i] = ws.NewFrame(op, b)
			some = true
		}
		s.keep(b)
	}
	if !some {
		return
	}
	for _, x := range ch.members {
		if f := frames[x.codec%MaxCodecs]; f != nil && x.id != member.ID {
			_ = x.out.Send(f)
		}
	}
}

// userEdge reports whether member is its user's only connection in ch as
// this node sees it (member itself aside): its user's first on a join, its
// last on a leave. A member without a user is its own edge. Used on one
// node; with cluster Presence the notice brings the cluster-wide edge.
// s.mu is held.
func userEdge(ch *channel, member cluster.Member) bool {
	if member.User == "" {
		return true
	}
	for _, x := range ch.members {
		if x.id != member.ID && ch.who(x).User == member.User {
			return false
		}
	}
	return true
}
