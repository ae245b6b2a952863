package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SubState is a subscription's state.
type SubState int

const (
	SubSubscribing  SubState = iota // asked for, or waiting for a connection to ask again
	SubSubscribed                   // the server confirmed it on the current connection
	SubUnsubscribed                 // Unsubscribe, or the server removed it (final)
	SubError                        // the server refused it (final)
)

func (s SubState) String() string {
	switch s {
	case SubSubscribing:
		return "subscribing"
	case SubSubscribed:
		return "subscribed"
	case SubUnsubscribed:
		return "unsubscribed"
	case SubError:
		return "error"
	}
	return fmt.Sprintf("SubState(%d)", int(s))
}

// Position is a place in a channel's stream: the last publication seen.
type Position struct {
	Epoch  string
	Offset uint64
}

// SubEvent is a change of a subscription's state. On SubSubscribed after a
// recovery attempt, Recovering is true and Recovered says whether every
// missed publication follows (Missed of them, before live ones) or not
// (Reason is the server's: "epoch changed", "too old", "too many", "no
// history"), in which case the application should reload its state.
type SubEvent struct {
	State      SubState
	Recovering bool
	Recovered  bool
	Missed     int
	Reason     string // of recovered false, and of SubUnsubscribed by the server
	Err        error  // of SubError
}

// PresenceEvent is a join or leave on a channel with joinLeave.
type PresenceEvent struct {
	Join   bool
	Member Member
}

// SubscribeOptions change a subscription.
type SubscribeOptions struct {
	// Since, when set, recovers from this position on the first subscribe
	// (a position the application stored).
	Since *Position
	// OnEvent is told of every state change.
	OnEvent func(SubEvent)
	// OnPresence receives joins and leaves.
	OnPresence func(PresenceEvent)
}

// Subscription is a channel subscription that survives reconnects.
type Subscription struct {
	c       *Client
	channel string
	handler func(Publication)
	opts    SubscribeOptions

	mu     sync.Mutex
	state  SubState
	pos    Position
	hasPos bool
	sentOn *conn      // the connection the last subscribe went on
	first  chan error // the first outcome, for Subscribe
	once   sync.Once  // closes first
	err    error      // of SubError
	final  bool       // unsubscribed or error
}

// Subscribe subscribes to channel; handler receives its publications, in
// order, each once. It returns when the server confirmed the subscription
// (or refused it). From then on the subscription is renewed after every
// reconnect, recovering from the last publication seen.
func (c *Client) Subscribe(ctx context.Context, channel string, handler func(Publication), opts SubscribeOptions) (*Subscription, error) {
	if c.opts.Mode != ModeV1 {
		return nil, ErrNotV1
	}
	if handler == nil {
		return nil, errors.New("switchboard: Subscribe needs a handler")
	}
	s := &Subscription{c: c, channel: channel, handler: handler, opts: opts, first: make(chan error, 1)}
	if opts.Since != nil {
		s.pos, s.hasPos = *opts.Since, true
	}
	c.mu.Lock()
	if c.state == StateClosed {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	if c.subs[channel] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("switchboard: already subscribed to %q", channel)
	}
	c.subs[channel] = s
	cn := c.cur
	c.mu.Unlock()
	if cn != nil {
		s.send(cn)
	}
	select {
	case err := <-s.first:
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		uctx, cancel := context.WithTimeout(c.ctx, time.Second)
		s.Unsubscribe(uctx)
		cancel()
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.closedErr()
	}
}

// Channel is the subscription's channel.
func (s *Subscription) Channel() string { return s.channel }

// State is the subscription's state now.
func (s *Subscription) State() SubState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Position is the position of the last publication delivered (ok false
// when the channel keeps no history or none was seen).
func (s *Subscription) Position() (Position, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos, s.hasPos
}

// send asks cn for the subscription, once per connection.
func (s *Subscription) send(cn *conn) {
	s.mu.Lock()
	if s.final || s.sentOn == cn {
		s.mu.Unlock()
		return
	}
	s.sentOn = cn
	s.state = SubSubscribing
	msg := map[string]any{"type": "subscribe", "channel": s.channel}
	recovering := s.hasPos
	if recovering {
		msg["recover"] = map[string]any{"epoch": s.pos.Epoch, "offset": s.pos.Offset}
	}
	s.mu.Unlock()
	// Bounded: a write stuck on a dead socket must not hold up the
	// reconnect loop (a timed-out write closes cn, and the next
	// connection asks again).
	ctx, cancel := context.WithTimeout(s.c.ctx, s.c.opts.LivenessTimeout)
	defer cancel()
	s.c.send(ctx, cn, msg, func(m inMsg) { s.reply(cn, m, recovering) })
}

// subscribeResult is a subscribe reply's result.
type subscribeResult struct {
	Epoch     string  `json:"epoch"`
	Offset    *uint64 `json:"offset"`
	Recovered *bool   `json:"recovered"`
	Missed    int     `json:"missed"`
	Reason    string  `json:"reason"`
}

// reply handles the answer to a subscribe, in the reader, before the
// recovered publications that follow it.
func (s *Subscription) reply(cn *conn, m inMsg, recovering bool) {
	if m.gone {
		return // lost() follows
	}
	s.mu.Lock()
	if s.final || s.sentOn != cn {
		s.mu.Unlock()
		return
	}
	if m.Error != nil {
		s.mu.Unlock()
		s.fail(m.Error)
		return
	}
	var r subscribeResult
	if err := json.Unmarshal(m.Result, &r); err != nil {
		s.mu.Unlock()
		s.fail(fmt.Errorf("switchboard: bad subscribe result: %w", err))
		return
	}
	ev := SubEvent{State: SubSubscribed, Recovering: recovering}
	recovered := r.Recovered != nil && *r.Recovered
	if recovering && recovered {
		ev.Recovered, ev.Missed = true, r.Missed
		// The position stays: the missed publications carry theirs.
	} else {
		if recovering {
			ev.Reason = r.Reason
			if ev.Reason == "" {
				ev.Reason = "not recovered"
			}
		}
		if r.Epoch != "" && r.Offset != nil {
			s.pos, s.hasPos = Position{r.Epoch, *r.Offset}, true
		} else {
			s.pos, s.hasPos = Position{}, false
		}
	}
	s.state = SubSubscribed
	s.mu.Unlock()
	s.event(ev)
	s.once.Do(func() { s.first <- nil })
}

// fail makes the subscription final in SubError.
func (s *Subscription) fail(err error) {
	s.mu.Lock()
	s.state, s.err, s.final = SubError, err, true
	s.mu.Unlock()
	s.c.forget(s)
	s.event(SubEvent{State: SubError, Err: err})
	s.once.Do(func() { s.first <- err })
}

// removed: the server took the connection out of the channel.
func (s *Subscription) removed(reason string) {
	s.mu.Lock()
	if s.final {
		s.mu.Unlock()
		return
	}
	s.state, s.final = SubUnsubscribed, true
	s.mu.Unlock()
	s.c.forget(s)
	s.event(SubEvent{State: SubUnsubscribed, Reason: reason})
}

// lost: cn ended; the subscription waits for the next connection.
func (s *Subscription) lost(cn *conn) {
	s.mu.Lock()
	if s.final || s.sentOn != cn || s.state == SubSubscribing {
		s.mu.Unlock()
		return
	}
	s.state = SubSubscribing
	s.mu.Unlock()
	s.event(SubEvent{State: SubSubscribing})
}

// publication delivers p unless it was delivered already.
func (s *Subscription) publication(p Publication) {
	s.mu.Lock()
	if s.final {
		s.mu.Unlock()
		return
	}
	if p.Epoch != "" {
		if s.hasPos && s.pos.Epoch == p.Epoch && p.Offset <= s.pos.Offset {
			s.mu.Unlock()
			return // a duplicate
		}
		s.pos, s.hasPos = Position{p.Epoch, p.Offset}, true
	}
	s.mu.Unlock()
	h := s.handler
	s.c.q.push(func() { h(p) })
}

func (s *Subscription) presence(join bool, m Member) {
	if f := s.opts.OnPresence; f != nil {
		e := PresenceEvent{Join: join, Member: m}
		s.c.q.push(func() { f(e) })
	}
}

func (s *Subscription) event(e SubEvent) {
	if f := s.opts.OnEvent; f != nil {
		s.c.q.push(func() { f(e) })
	}
}

// Unsubscribe leaves the channel; the subscription is final. When the
// client is connected it waits for the server's answer; when it is not,
// it returns at once (the next connection does not subscribe).
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	s.mu.Lock()
	if s.final {
		s.mu.Unlock()
		return nil
	}
	s.state, s.final = SubUnsubscribed, true
	s.mu.Unlock()
	s.c.forget(s)
	s.event(SubEvent{State: SubUnsubscribed})
	s.once.Do(func() { s.first <- fmt.Errorf("switchboard: unsubscribed from %q", s.channel) })
	c := s.c
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	ch := make(chan inMsg, 1)
	if err := c.send(ctx, cn, map[string]any{"type": "unsubscribe", "channel": s.channel}, func(m inMsg) { ch <- m }); err != nil {
		if errors.Is(err, ErrDisconnected) {
			return nil // the connection that had it is gone
		}
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return m.Error
		}
		return nil // answered, or the connection is gone
	case <-ctx.Done():
		return ctx.Err()
	}
}

// forget removes s from the client's subscriptions.
func (c *Client) forget(s *Subscription) {
	c.mu.Lock()
	if c.subs[s.channel] == s {
		delete(c.subs, s.channel)
	}
	c.mu.Unlock()
}
