package gateway

import (
	"context"
	"errors"
)

// TODO(issue 3): in progress — replaced by the hub.
var errTODO = errors.New("not implemented yet")

// Publish sends data to every connection in channel except exclude (a
// connection id, or ""), and keeps it in the channel's history when its
// namespace has one.
func (g *Gateway) Publish(ctx context.Context, stage, channel string, data []byte, exclude string) (PublishResult, error) {
	return PublishResult{}, errTODO
}

// Broadcast sends data to every connection of the API except exclude. It
// returns the number of connections it was queued on.
func (g *Gateway) Broadcast(ctx context.Context, stage string, data []byte, exclude string) (int, error) {
	return 0, errTODO
}

// Join puts a connection in a channel (management API PUT); the namespace's
// subscribe rule is not applied: the caller is trusted.
func (g *Gateway) Join(ctx context.Context, stage, channel, connectionID string) error {
	return errTODO
}

// Leave takes a connection out of a channel (management API DELETE). It
// succeeds when the connection was not in the channel.
func (g *Gateway) Leave(ctx context.Context, stage, channel, connectionID string) error {
	return errTODO
}

// Channel reports a channel: its member count, a page of its presence
// (cursor "" for the first; limit 1..1000) and its stream position.
func (g *Gateway) Channel(ctx context.Context, stage, channel, cursor string, limit int) (ChannelInfo, error) {
	return ChannelInfo{}, errTODO
}

// History reads a channel's kept publications.
func (g *Gateway) History(ctx context.Context, stage, channel string, q HistoryQuery) (HistoryPage, error) {
	return HistoryPage{}, errTODO
}

// PostToUser sends data to every connection of user. It returns how many
// connections it was queued on (0 when the user has none).
func (g *Gateway) PostToUser(ctx context.Context, stage, user string, data []byte) (int, error) {
	return 0, errTODO
}

// DisconnectUser closes every connection of user (1000), each followed by
// its $disconnect. It returns how many it closed.
func (g *Gateway) DisconnectUser(ctx context.Context, stage, user string) (int, error) {
	return 0, errTODO
}

// UserConnections lists the open connections of user, oldest first.
func (g *Gateway) UserConnections(ctx context.Context, stage, user string) ([]ConnectionInfo, error) {
	return nil, errTODO
}
