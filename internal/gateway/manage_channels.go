package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// api returns the API of stage.
func (g *Gateway) api(stage string) (*API, error) {
	if a := g.apis[stage]; a != nil {
		return a, nil
	}
	return nil, ErrNoSuchStage
}

// Publish sends data to every connection in channel except exclude (a
// connection id, or ""), and keeps it in the channel's history when its
// namespace has one. The management API is trusted: the namespace's
// publish rule does not apply.
func (g *Gateway) Publish(ctx context.Context, stage, channel string, data []byte, exclude string) (PublishResult, error) {
	a, err := g.api(stage)
	if err != nil {
		return PublishResult{}, err
	}
	if len(data) > a.state.Load().maxPost {
		return PublishResult{}, ErrPayloadTooLarge
	}
	if exclude != "" && !event.ValidID(exclude) {
		return PublishResult{}, ErrInvalidConnectionID
	}
	res, err := g.publish(a, channel, data, exclude)
	if err != nil {
		return PublishResult{}, err
	}
	return PublishResult{Recipients: res.Recipients, Position: streamPosition(res.Position)}, nil
}

// PublishEvent is Publish for a named publication (hub.Event: event name,
// publisher's user, exclude), as protocol front-ends publish (decision
// 0025). The same limits apply.
func (g *Gateway) PublishEvent(ctx context.Context, stage, channel string, e hub.Event) (PublishResult, error) {
	a, err := g.api(stage)
	if err != nil {
		return PublishResult{}, err
	}
	if len(e.Data) > a.state.Load().maxPost {
		return PublishResult{}, ErrPayloadTooLarge
	}
	if e.Exclude != "" && !event.ValidID(e.Exclude) {
		return PublishResult{}, ErrInvalidConnectionID
	}
	res, err := a.hub.PublishEvent(g.ctx, channel, e)
	if err != nil {
		return PublishResult{}, err
	}
	a.m.publications.Inc()
	if !a.hub.Clustered() {
		a.m.deliveries.Add(float64(res.Recipients))
	}
	return PublishResult{Recipients: res.Recipients, Position: streamPosition(res.Position)}, nil
}

// Broadcast sends data to every connection of the API except exclude. It
// returns the number of connections it was queued on (one node), or in a
// cluster the API's connections on every node as of their last lease
// renewal (see broadcast).
func (g *Gateway) Broadcast(ctx context.Context, stage string, data []byte, exclude string) (int, error) {
	a, err := g.api(stage)
	if err != nil {
		return 0, err
	}
	if len(data) > a.state.Load().maxPost {
		return 0, ErrPayloadTooLarge
	}
	if exclude != "" && !event.ValidID(exclude) {
		return 0, ErrInvalidConnectionID
	}
	return g.broadcast(ctx, a, data, exclude, true)
}

// Join puts a connection in a channel (management API PUT); the namespace's
// subscribe rule is not applied: the caller is trusted. Joining a channel
// the connection is already in succeeds.
func (g *Gateway) Join(ctx context.Context, stage, channel, connectionID string) error {
	if g.cl != nil {
		if fwd, err := g.forwarded(ctx, stage, connectionID, func(ctx context.Context, f cluster.Forwarder, to cluster.Node) error {
			return f.Join(ctx, to, stage, channel, connectionID)
		}); fwd {
			return err
		}
	}
	c, err := g.lookup(stage, connectionID)
	if err != nil {
		return err
	}
	_, err = c.api.hub.Subscribe(ctx, c.member, channel, hub.SubscribeOptions{Notify: true})
	switch {
	case errors.Is(err, hub.ErrAlreadySubscribed):
		return nil
	case errors.Is(err, hub.ErrMemberGone):
		return ErrGone
	case err != nil:
		return err
	}
	c.api.countMembership()
	return nil
}

// Leave takes a connection out of a channel (management API DELETE). It
// succeeds when the connection was not in the channel.
func (g *Gateway) Leave(ctx context.Context, stage, channel, connectionID string) error {
	if g.cl != nil {
		if fwd, err := g.forwarded(ctx, stage, connectionID, func(ctx context.Context, f cluster.Forwarder, to cluster.Node) error {
			return f.Leave(ctx, to, stage, channel, connectionID)
		}); fwd {
			return err
		}
	}
	c, err := g.lookup(stage, connectionID)
	if err != nil {
		return err
	}
	if _, err := c.api.hub.Unsubscribe(c.member, channel, true, "removed by the server"); err != nil {
		return err
	}
	c.api.countMembership()
	return nil
}

// Channel reports a channel: its member count, a page of its presence
// (cursor "" for the first; limit 1..1000) and its stream position.
func (g *Gateway) Channel(ctx context.Context, stage, channel, cursor string, limit int) (ChannelInfo, error) {
	a, err := g.api(stage)
	if err != nil {
		return ChannelInfo{}, err
	}
	page, err := a.hub.Presence(ctx, channel, cursor, limit)
	if errors.Is(err, cluster.ErrInvalidCursor) {
		return ChannelInfo{}, ErrInvalidCursor
	}
	if err != nil {
		return ChannelInfo{}, err
	}
	info := ChannelInfo{Channel: channel, Members: page.Members, PresenceEnabled: page.Enabled, Next: page.Next}
	for _, m := range page.List {
		info.Presence = append(info.Presence, Member{ConnectionID: m.ConnectionID, User: m.User, Info: m.Info})
	}
	if hp, err := a.hub.History(ctx, channel, 0, "", 0); err == nil {
		info.Position = streamPosition(&hp.Top)
	} else if !errors.Is(err, hub.ErrNoHistory) {
		return ChannelInfo{}, err
	}
	return info, nil
}

// Admits checks that channel is a valid name that a namespace of stage's
// API admits (hub.ErrInvalidChannel, hub.ErrNoNamespace), without acting:
// a front-end checks every channel of a multi-channel publication first,
// so that a refused one stops it before any is sent.
func (g *Gateway) Admits(stage, channel string) error {
	a, err := g.api(stage)
	if err != nil {
		return err
	}
	_, _, err = a.hub.Lookup(channel)
	return err
}

// ChannelCount is one occupied channel and its member count.
type ChannelCount struct {
	Channel string
	Members int
}

// Channels lists the occupied channels of stage whose name starts with
// prefix, sorted by name, each with its member count, cluster-wide. On one
// node the hub knows them. In a cluster no seam lists channels, so the
// names come from walking every node's connections (ListConnections, the
// Forwarder: each connection reports its channels) and the counts from the
// cluster Presence, as Channel reads them. That costs a walk of the API's
// connections per call: meant for the occasional listing (Pusher's GET
// channels), not for a hot path.
func (g *Gateway) Channels(ctx context.Context, stage, prefix string) ([]ChannelCount, error) {
	a, err := g.api(stage)
	if err != nil {
		return nil, err
	}
	var out []ChannelCount
	if g.cl == nil {
		for _, c := range a.hub.LocalChannels(prefix) {
			out = append(out, ChannelCount{Channel: c.Channel, Members: c.Members})
		}
	} else {
		names := map[string]bool{}
		for cursor := ""; ; {
			page, err := g.ListConnections(ctx, stage, cursor, 1000)
			if err != nil {
				return nil, err
			}
			for _, c := range page.Connections {
				for _, ch := range c.Channels {
					if strings.HasPrefix(ch, prefix) {
						names[ch] = true
					}
				}
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		for name := range names {
			page, err := a.hub.Presence(ctx, name, "", 1)
			if err != nil {
				return nil, err
			}
			if page.Members > 0 {
				out = append(out, ChannelCount{Channel: name, Members: page.Members})
			}
		}
	}
	slices.SortFunc(out, func(x, y ChannelCount) int { return strings.Compare(x.Channel, y.Channel) })
	return out, nil
}

// History reads a channel's kept publications.
func (g *Gateway) History(ctx context.Context, stage, channel string, q HistoryQuery) (HistoryPage, error) {
	a, err := g.api(stage)
	if err != nil {
		return HistoryPage{}, err
	}
	hp, err := a.hub.History(ctx, channel, q.Since, q.Epoch, q.Limit)
	if err != nil {
		return HistoryPage{}, err
	}
	page := HistoryPage{
		Position:     StreamPosition{Epoch: hp.Top.Epoch, Offset: hp.Top.Offset},
		Truncated:    hp.Truncated,
		Publications: make([]Publication, len(hp.Publications)),
	}
	for i, p := range hp.Publications {
		page.Publications[i] = Publication{Offset: p.Offset, Time: p.Time, Data: p.Data}
	}
	return page, nil
}

// userConns returns the open connections of user on stage.
func (g *Gateway) userConns(stage, user string) (*API, []*hub.Member, error) {
	a, err := g.api(stage)
	if err != nil {
		return nil, nil, err
	}
	if !hub.ValidUser(user) {
		return nil, nil, ErrInvalidUser
	}
	return a, a.hub.UserMembers(user), nil
}

// PostToUser sends data to every connection of user. It returns how many
// connections it was queued on (0 when the user has none).
func (g *Gateway) PostToUser(ctx context.Context, stage, user string, data []byte) (int, error) {
	if g.cl != nil && !isLocalOnly(ctx) {
		res, err := g.clusterUser(ctx, stage, user, cluster.UserPost, data)
		return res.Count, err
	}
	a, members, err := g.userConns(stage, user)
	if err != nil {
		return 0, err
	}
	if len(data) > a.state.Load().maxPost {
		return 0, ErrPayloadTooLarge
	}
	frames := a.hub.Frames(data)
	n := 0
	for _, m := range members {
		if c := a.registry.get(m.ID()); c != nil && c.ws.SendMessage(frames.For(c.codec)) == nil {
			n++
		}
	}
	a.m.deliveries.Add(float64(n))
	return n, nil
}

// DisconnectUser closes every connection of user (1000), each followed by
// its $disconnect. It returns how many it closed.
func (g *Gateway) DisconnectUser(ctx context.Context, stage, user string) (int, error) {
	if g.cl != nil && !isLocalOnly(ctx) {
		res, err := g.clusterUser(ctx, stage, user, cluster.UserDisconnect, nil)
		return res.Count, err
	}
	a, members, err := g.userConns(stage, user)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range members {
		if c := a.registry.get(m.ID()); c != nil && !c.gone() {
			c.ws.Close(ws.CloseNormal, "Connection Closed Normally")
			n++
		}
	}
	return n, nil
}

// UserConnections lists the open connections of user, oldest first.
func (g *Gateway) UserConnections(ctx context.Context, stage, user string) ([]ConnectionInfo, error) {
	if g.cl != nil && !isLocalOnly(ctx) {
		res, err := g.clusterUser(ctx, stage, user, cluster.UserList, nil)
		if err != nil {
			return nil, err
		}
		return res.Connections, nil
	}
	a, members, err := g.userConns(stage, user)
	if err != nil {
		return nil, err
	}
	var conns []*Conn
	for _, m := range members {
		if c := a.registry.get(m.ID()); c != nil && !c.gone() {
			conns = append(conns, c)
		}
	}
	slices.SortFunc(conns, func(x, y *Conn) int { return compareUint(x.seq, y.seq) })
	out := make([]ConnectionInfo, len(conns))
	for i, c := range conns {
		out[i] = c.connectionInfo()
	}
	return out, nil
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func streamPosition(p *history.Position) *StreamPosition {
	if p == nil {
		return nil
	}
	return &StreamPosition{Epoch: p.Epoch, Offset: p.Offset}
}
