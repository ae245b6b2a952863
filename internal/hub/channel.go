package hub

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// channel is a channel with at least one member. Every field is guarded
// by its shard's mutex.
type channel struct {
	name    string
	ns      *Namespace
	members []*Member
	// index finds a member's place in members; built only for channels
	// with more than indexMin members (small channels are scanned).
	index map[*Member]int32
	v1    int // members that speak switchboard.v1
}

const indexMin = 16

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
	if m.v1 {
		ch.v1++
	}
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
	if m.v1 {
		ch.v1--
	}
	return true
}

// PublishResult is what Publish did.
type PublishResult struct {
	Recipients int
	// Position is the publication's place in the stream; nil without
	// history.
	Position *history.Position
}

// Publish sends data to every member of the channel except exclude (nil
// for none), after keeping it in the channel's history when the namespace
// has one. The namespace's publish rule is the caller's business.
func (h *Hub) Publish(ctx context.Context, name string, data []byte, exclude *Member) (PublishResult, error) {
	ns, _, err := h.Lookup(name)
	if err != nil {
		return PublishResult{}, err
	}
	s := h.shardOf(name)
	s.mu.Lock()
	var res PublishResult
	if ns.History != nil {
		pos, err := h.history.Append(ctx, name, data, *ns.History)
		if err != nil {
			s.mu.Unlock()
			return PublishResult{}, fmt.Errorf("keep publication in history: %w", err)
		}
		res.Position = &pos
	}
	var slow []*Member
	if ch := s.channels[name]; ch != nil {
		res.Recipients, slow = h.fanout(s, ch, data, res.Position, exclude)
	}
	s.mu.Unlock()
	// A member this publication overflowed is being closed as a slow
	// consumer: it leaves its channels now, not when its close handshake
	// ends, so presence never lists it meanwhile. (Remove takes other
	// shards' locks, hence after unlocking this one.)
	for _, m := range slow {
		h.Remove(m)
	}
	h.publications.Add(1)
	return res, nil
}

// fanout queues one publication on the channel's members: each frame is
// encoded once and shared. It returns how many members it was queued on
// and the members whose queue it overflowed. s.mu is held.
func (h *Hub) fanout(s *shard, ch *channel, data []byte, pos *history.Position, exclude *Member) (int, []*Member) {
	// A ws.Message is compressed at most once, by the first member
	// that negotiated permessage-deflate.
	var raw, v1 *ws.Message
	if len(ch.members) > ch.v1 {
		raw = ws.NewMessage(ws.DataFrame(data))
	}
	if ch.v1 > 0 {
		s.buf = protocol.AppendPub(s.buf[:0], ch.name, ProtocolPosition(pos), data, protocol.Classify(data))
		v1 = ws.NewMessage(ws.TextFrame(s.buf))
	}
	n := 0
	var slow []*Member
	for _, m := range ch.members {
		if m == exclude {
			continue
		}
		f := raw
		if m.v1 {
			f = v1
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
	// Position is the stream's top when the subscription began; nil
	// without history.
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

// Subscribe puts m in the channel. With a recovery position it queues
// the missed publications right after the reply, under the channel's
// lock, so the member sees no gap and no duplicate between them and live
// publications. Authorization is the caller's business.
func (h *Hub) Subscribe(ctx context.Context, m *Member, name string, o SubscribeOptions) (SubscribeResult, error) {
	ns, _, err := h.Lookup(name)
	if err != nil {
		return SubscribeResult{}, err
	}
	s := h.shardOf(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[name]
	if ch != nil && ch.find(m) >= 0 {
		return SubscribeResult{}, ErrAlreadySubscribed
	}
	if err := h.checkRoom(m); err != nil {
		return SubscribeResult{}, err
	}

	var res SubscribeResult
	var missed []history.Publication
	if ns.History != nil {
		since, limit := uint64(0), 0
		if o.Recover != nil {
			since, limit = o.Recover.Offset, ns.RecoveryLimit+1
		}
		rr, err := h.history.Read(ctx, name, since, limit, *ns.History)
		if err != nil {
			return SubscribeResult{}, fmt.Errorf("read history: %w", err)
		}
		top := rr.Top
		res.Position = &top
		if o.Recover != nil {
			res.Recovering = true
			switch {
			case o.Recover.Epoch != top.Epoch || o.Recover.Offset > top.Offset:
				res.Reason = ReasonEpochChanged
			case !rr.Complete:
				res.Reason = ReasonTooOld
			case len(rr.Publications) > ns.RecoveryLimit || tooBig(rr.Publications, o.MaxRecoveryBytes):
				res.Reason = ReasonTooMany
			default:
				res.Recovered, res.Missed, missed = true, len(rr.Publications), rr.Publications
			}
		}
	} else if o.Recover != nil {
		res.Recovering, res.Reason = true, ReasonNoHistory
	}

	// Commit: the member may have ended, or joined other channels, while
	// the history was read.
	m.mu.Lock()
	if m.gone {
		m.mu.Unlock()
		return SubscribeResult{}, ErrMemberGone
	}
	if len(m.chans) >= h.maxPerConn {
		m.mu.Unlock()
		return SubscribeResult{}, ErrTooManyChannels
	}
	if ch == nil {
		ch = &channel{name: name, ns: ns}
		s.channels[name] = ch
		h.channels.Add(1)
	}
	m.chans = append(m.chans, ch)
	m.mu.Unlock()
	ch.add(m)
	h.subscriptions.Add(1)

	if m.v1 {
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
		for _, p := range missed {
			pos := protocol.Position{Epoch: res.Position.Epoch, Offset: p.Offset}
			s.buf = protocol.AppendPub(s.buf[:0], name, &pos, p.Data, protocol.Classify(p.Data))
			_ = m.out.Send(ws.TextFrame(s.buf))
		}
	}
	if ns.JoinLeave {
		h.notice(s, ch, m, true)
	}
	return res, nil
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
	defer s.mu.Unlock()
	ch := s.channels[name]
	if ch == nil || !ch.remove(m) {
		return false, nil
	}
	m.mu.Lock()
	m.dropChannelLocked(ch)
	m.mu.Unlock()
	h.left(s, ch, m)
	if notify && m.v1 {
		s.buf = protocol.AppendUnsubscribed(s.buf[:0], name, reason)
		_ = m.out.Send(ws.TextFrame(s.buf))
	}
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
		if ch.remove(m) {
			h.left(s, ch, m)
		}
		s.mu.Unlock()
	}
	if m.user != "" {
		h.users.remove(m)
	}
}

// left finishes a removal from ch: counters, leave notices, and dropping
// the channel when it is empty. s.mu is held.
func (h *Hub) left(s *shard, ch *channel, m *Member) {
	h.subscriptions.Add(-1)
	if len(ch.members) == 0 {
		delete(s.channels, ch.name)
		h.channels.Add(-1)
		return
	}
	if ch.ns.JoinLeave {
		h.notice(s, ch, m, false)
	}
}

// notice sends a join or leave message about m to the channel's other
// switchboard.v1 members. s.mu is held.
func (h *Hub) notice(s *shard, ch *channel, m *Member, join bool) {
	if ch.v1 == 0 || (ch.v1 == 1 && m.v1 && join) || h.quiet.Load() {
		return
	}
	pm := protocol.Member{ConnectionID: m.id, User: m.user, Info: m.info}
	if join {
		s.buf = protocol.AppendJoin(s.buf[:0], ch.name, pm)
	} else {
		s.buf = protocol.AppendLeave(s.buf[:0], ch.name, pm)
	}
	f := ws.TextFrame(s.buf)
	for _, x := range ch.members {
		if x != m && x.v1 {
			_ = x.out.Send(f)
		}
	}
}
