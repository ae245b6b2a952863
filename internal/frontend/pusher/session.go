package pusher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/frontend/pusher/webhook"
	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/limit"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// session is one pusher-js connection (gateway.Session). Its methods run
// on the connection's pool task, one message at a time, so its fields
// need no lock.
type session struct {
	f        *Frontend
	app      *app
	c        *gateway.Conn
	socketID string
	release  func() // the app's connection count on this node

	bucket limit.Bucket // client events per second
	// user is the signed-in user (pusher:signin), nil before.
	user *pusherproto.User
	// presence is the user id this connection joined each presence
	// channel as (for client events' user_id).
	presence map[string]string
}

// Message handles one message from the client (reference §2–§11).
func (s *session) Message(op ws.Opcode, payload []byte, at time.Time) {
	if op != ws.OpText {
		s.error("", 0, "binary frames are not part of the Pusher protocol; send JSON text")
		return
	}
	fr, err := pusherproto.Decode(payload, s.app.cfg.Limits.EventBytes.Int()+1024)
	if err != nil {
		s.error("", 0, err.Error())
		return
	}
	switch fr.Event {
	case pusherproto.EventPing:
		s.send(pusherproto.AppendPong(nil))
	case pusherproto.EventPong:
		// The answer to a ping: reading it was the activity.
	case pusherproto.EventSubscribe:
		s.subscribe(fr.Data)
	case pusherproto.EventUnsubscribe:
		ch, err := pusherproto.DecodeUnsubscribe(fr.Data)
		if err != nil {
			s.error("", 0, err.Error())
			return
		}
		// No acknowledgement; unsubscribing from a channel one is not in
		// is not an error (reference §4.1).
		if _, err := s.c.Hub().Unsubscribe(s.c.Member(), ch, false, ""); err != nil && !errors.Is(err, hub.ErrInvalidChannel) && !errors.Is(err, hub.ErrNoNamespace) {
			s.f.log.Warn("pusher unsubscribe failed", "app", s.app.cfg.ID, "channel", ch, "error", err.Error())
		}
		delete(s.presence, ch)
	case pusherproto.EventSignin:
		s.signin(fr.Data)
	default:
		if pusherproto.IsClientEvent(fr.Event) {
			s.clientEvent(fr, at)
			return
		}
		s.error(fr.Channel, 0, fmt.Sprintf("Unsupported event %q", fr.Event))
	}
}

// Closed implements gateway.Session.
func (s *session) Closed(ws.CloseCode, string) { s.release() }

func (s *session) send(b []byte) { _ = s.c.Send(ws.TextFrame(b)) }

func (s *session) error(channel string, code pusherproto.Code, msg string) {
	s.send(pusherproto.AppendError(nil, channel, code, msg))
}

// subscriptionError tells pusher-js the subscription failed; the socket
// stays open (reference §4.1 [REC]).
func (s *session) subscriptionError(channel, typ, msg string, status int) {
	s.send(pusherproto.AppendSubscriptionError(nil, channel, typ, msg, status))
}

// subscribe handles pusher:subscribe: the channel's type decides the
// signature it needs (reference §5–§7).
func (s *session) subscribe(data []byte) {
	sub, err := pusherproto.DecodeSubscribe(data)
	if err != nil {
		s.error("", 0, err.Error())
		return
	}
	name := sub.Channel
	ch, err := pusherproto.ParseChannel(name)
	if err == nil && len(name) > s.app.cfg.Limits.ChannelNameBytes {
		err = fmt.Errorf("channel name longer than %d bytes", s.app.cfg.Limits.ChannelNameBytes)
	}
	if err != nil {
		s.subscriptionError(name, "InvalidChannel", err.Error(), 400)
		return
	}
	key, secret := s.app.cfg.Key, s.app.cfg.Secret
	var as *cluster.Member
	switch ch.Type {
	case pusherproto.Private, pusherproto.PrivateEncrypted:
		if err := pusherproto.VerifyChannel(key, secret, s.socketID, name, "", sub.Auth); err != nil {
			s.subscriptionError(name, "AuthError", err.Error(), 401)
			return
		}
	case pusherproto.Presence:
		m, err := s.presenceMember(name, sub)
		if err != nil {
			s.subscriptionError(name, "AuthError", err.Error(), 401)
			return
		}
		as = &cluster.Member{User: m.ID, Info: m.Info}
	case pusherproto.ServerToUser:
		if s.user == nil || s.user.ID != ch.UserID {
			s.subscriptionError(name, "AuthError", "only the connection signed in as user "+ch.UserID+" may subscribe to "+name, 401)
			return
		}
	}
	h, member := s.c.Hub(), s.c.Member()
	ctx := context.Background()
	reply := pusherproto.AppendSubscriptionSucceeded(nil, name)
	if as != nil {
		members, full, err := s.presenceList(ctx, name, as)
		if err != nil {
			s.subscriptionError(name, "InternalError", "reading the channel's members failed; try again", 500)
			s.f.log.Warn("pusher presence list failed", "app", s.app.cfg.ID, "channel", name, "error", err.Error())
			return
		}
		if full {
			s.subscriptionError(name, "LimitReached", fmt.Sprintf("presence channel %s has reached its %d members", name, s.app.cfg.Limits.PresenceMembers), 4100)
			return
		}
		reply = pusherproto.AppendPresenceSubscriptionSucceeded(nil, name, members)
	}
	if member.In(name) {
		// A duplicate subscribe is answered again, with no second join
		// (reference §4.1 [REC]).
		s.send(reply)
		return
	}
	_, err = h.Subscribe(ctx, member, name, hub.SubscribeOptions{As: as, Reply: ws.TextFrame(reply)})
	switch {
	case errors.Is(err, hub.ErrAlreadySubscribed):
		s.send(reply)
		return
	case errors.Is(err, hub.ErrNoNamespace), errors.Is(err, hub.ErrInvalidChannel):
		s.subscriptionError(name, "InvalidChannel", "no channel namespace of the API admits "+name, 400)
		return
	case errors.Is(err, hub.ErrTooManyChannels):
		s.subscriptionError(name, "LimitReached", err.Error(), 4100)
		return
	case err != nil:
		s.subscriptionError(name, "InternalError", "subscribing failed; try again", 500)
		s.f.log.Warn("pusher subscribe failed", "app", s.app.cfg.ID, "channel", name, "error", err.Error())
		return
	}
	if as != nil {
		if s.presence == nil {
			s.presence = map[string]string{}
		}
		s.presence[name] = as.User
	}
	if ch.Cache {
		s.replayCache(ctx, name)
	}
}

// presenceMember is who a presence subscription joins as: its
// channel_data, signed with the socket id and the channel; or, without
// channel_data, the signed-in user, signed as a private channel
// (reference §6.2).
func (s *session) presenceMember(name string, sub pusherproto.Subscribe) (pusherproto.Member, error) {
	key, secret := s.app.cfg.Key, s.app.cfg.Secret
	if sub.ChannelData == "" {
		if s.user == nil {
			return pusherproto.Member{}, errors.New("presence channels need channel_data in the subscription, or a signed-in connection (pusher:signin)")
		}
		if err := pusherproto.VerifyChannel(key, secret, s.socketID, name, "", sub.Auth); err != nil {
			return pusherproto.Member{}, err
		}
		return pusherproto.Member{ID: s.user.ID, Info: s.user.Info}, nil
	}
	if err := pusherproto.VerifyChannel(key, secret, s.socketID, name, sub.ChannelData, sub.Auth); err != nil {
		return pusherproto.Member{}, err
	}
	m, err := pusherproto.ParseChannelData(sub.ChannelData, s.app.cfg.Limits.PresenceMemberBytes.Int())
	if err != nil {
		return pusherproto.Member{}, err
	}
	m.Numeric = false // user ids travel as strings (docs/pusher.md)
	return m, nil
}

// presenceList returns the channel's distinct users with self among them,
// and whether the channel is full for a user not yet in it.
func (s *session) presenceList(ctx context.Context, name string, self *cluster.Member) ([]pusherproto.Member, bool, error) {
	seen := map[string]bool{self.User: true}
	members := []pusherproto.Member{{ID: self.User, Info: self.Info}}
	limit := s.app.cfg.Limits.PresenceMembers
	selfPresent := false
	for cursor := ""; ; {
		page, err := s.c.Hub().Presence(ctx, name, cursor, 1000)
		if err != nil {
			return nil, false, err
		}
		for _, m := range page.List {
			if m.User == self.User {
				selfPresent = true
			}
			if m.User == "" || seen[m.User] {
				continue
			}
			seen[m.User] = true
			members = append(members, pusherproto.Member{ID: m.User, Info: m.Info})
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	full := !selfPresent && len(members)-1 >= limit
	return members, full, nil
}

// replayCache sends a cache channel's last event, or pusher:cache_miss
// (and the cache_miss webhook) when it has none (reference §9).
func (s *session) replayCache(ctx context.Context, name string) {
	page, err := s.c.Hub().History(ctx, name, 0, "", 1)
	if err == nil && len(page.Publications) > 0 {
		p := page.Publications[len(page.Publications)-1]
		_, b := Codec{}.Publication(nil, &hub.Publication{Channel: name, Name: p.Name, User: p.User, Data: p.Data})
		s.send(b)
		return
	}
	s.send(pusherproto.AppendCacheMiss(nil, name))
	if s.app.hasWebhooks {
		s.f.hooks.Emit(s.app.cfg.ID, webhook.Event{Name: webhook.CacheMiss, Channel: name, Time: s.f.now()})
	}
}

// signin handles pusher:signin (reference §11).
func (s *session) signin(data []byte) {
	if !s.app.cfg.UserAuthenticationEnabled() {
		s.error("", pusherproto.CodeUnauthorized, "user authentication is not enabled for this app")
		return
	}
	si, err := pusherproto.DecodeSignin(data)
	if err != nil {
		s.error("", 0, err.Error())
		return
	}
	if err := pusherproto.VerifyUser(s.app.cfg.Key, s.app.cfg.Secret, s.socketID, si.UserData, si.Auth); err != nil {
		s.error("", pusherproto.CodeUnauthorized, err.Error())
		return
	}
	u, err := pusherproto.ParseUserData(si.UserData, s.app.cfg.Limits.PresenceMemberBytes.Int())
	if err != nil {
		s.error("", pusherproto.CodeUnauthorized, err.Error())
		return
	}
	if s.user != nil && s.user.ID != u.ID {
		s.error("", pusherproto.CodeUnauthorized, "the connection is already signed in as another user")
		return
	}
	first := s.user == nil
	s.user = &u
	if first {
		// The connection joins its user's server-to-user channel itself,
		// before signin_success, so that a sendToUser or terminate that
		// follows the success reaches it (pusher-js subscribes to the
		// channel next, which is then answered as a duplicate). The
		// channel's members are the connections terminate_connections
		// closes, cluster-wide.
		name := pusherproto.ServerToUserChannel(u.ID)
		if _, err := s.c.Hub().Subscribe(context.Background(), s.c.Member(), name, hub.SubscribeOptions{As: &cluster.Member{User: u.ID, Info: u.Info}}); err != nil && !errors.Is(err, hub.ErrAlreadySubscribed) {
			s.f.log.Warn("pusher: joining the server-to-user channel failed", "app", s.app.cfg.ID, "user", u.ID, "error", err.Error())
		}
	}
	s.send(pusherproto.AppendSigninSuccess(nil, si.UserData))
	if len(u.Watchlist) > pusherproto.MaxWatchlist {
		s.error("", pusherproto.CodeWatchlistTooLong, fmt.Sprintf("watchlist longer than %d users: the rest is ignored", pusherproto.MaxWatchlist))
	}
}

// clientEvent checks a client event against every rule of reference §8,
// in its order, and publishes it to the channel's other members.
func (s *session) clientEvent(fr pusherproto.Frame, at time.Time) {
	reject := func(code pusherproto.Code, msg string) {
		s.f.m.events.WithLabelValues(s.app.cfg.ID, "rejected").Inc()
		s.error(fr.Channel, code, msg)
	}
	if !s.app.cfg.ClientEvents {
		reject(pusherproto.CodeClientEventRejected, "Client events are not enabled for this app")
		return
	}
	ce, err := pusherproto.DecodeClientEvent(fr)
	if err != nil {
		reject(pusherproto.CodeClientEventRejected, err.Error())
		return
	}
	ch, err := pusherproto.ParseChannel(ce.Channel)
	if err != nil || (ch.Type != pusherproto.Private && ch.Type != pusherproto.PrivateEncrypted && ch.Type != pusherproto.Presence) {
		reject(pusherproto.CodeClientEventRejected, "Client events are only allowed on private and presence channels")
		return
	}
	if !s.c.Member().In(ce.Channel) {
		reject(0, "Cannot broadcast client event (connection not subscribed to channel "+ce.Channel+")")
		return
	}
	data, err := pusherproto.EventData(ce.Data)
	if err != nil {
		reject(pusherproto.CodeClientEventRejected, err.Error())
		return
	}
	if len(data) > s.app.cfg.Limits.EventBytes.Int() {
		reject(pusherproto.CodeClientEventRejected, fmt.Sprintf("Client event rejected: data larger than %d bytes", s.app.cfg.Limits.EventBytes.Int()))
		return
	}
	if !s.bucket.Allow(at.UnixNano()) {
		reject(pusherproto.CodeClientEventRejected, "Client event rejected due to rate limit")
		return
	}
	user := s.presence[ce.Channel] // user_id on presence channels only
	_, err = s.f.core.PublishEvent(context.Background(), s.app.stage, ce.Channel,
		hub.Event{Name: ce.Event, User: user, Data: data, Exclude: s.c.ID()})
	if err != nil {
		reject(0, "Client event could not be delivered: "+err.Error())
		return
	}
	s.f.m.events.WithLabelValues(s.app.cfg.ID, "sent").Inc()
	if s.app.hasWebhooks {
		s.f.hooks.Emit(s.app.cfg.ID, webhook.Event{Name: webhook.ClientEvent, Channel: ce.Channel, Event: ce.Event,
			Data: ce.Data, SocketID: s.socketID, UserID: user, Time: s.f.now()})
	}
}
