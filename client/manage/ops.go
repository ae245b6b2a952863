package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Path segments of the management resources.
const (
	segConnections = "@connections"
	segChannels    = "@channels"
	segUsers       = "@users"
	segBroadcast   = "@broadcast"
	segBatch       = "@batch"
)

// Connection describes one WebSocket connection.
type Connection struct {
	// ID is the connection id.
	ID           string    `json:"connectionId"`
	ConnectedAt  time.Time `json:"connectedAt"`
	Identity     Identity  `json:"identity"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	// Channels the connection is in: only UserConnections reports them.
	Channels []string `json:"channels,omitempty"`
}

// Identity is where a connection came from.
type Identity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// Page asks for one page of a list: at most Limit entries (1..1000; 0:
// the server's default, 100) after Cursor ("" for the first page; else
// the NextCursor of the previous page).
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) query() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// ConnectionPage is one page of ListConnections.
type ConnectionPage struct {
	Connections []Connection `json:"connections"`
	// NextCursor asks for the next page; "" on the last.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Position is a place in a channel's stream (channels that keep history).
type Position struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

// PublishResult is what a publication reached.
type PublishResult struct {
	// Recipients is the number of connections it was queued on.
	Recipients int `json:"recipients"`
	// Position is the publication's place in the stream; nil when the
	// channel keeps no history.
	*Position
}

// Member is one connection in a channel's presence.
type Member struct {
	ConnectionID string          `json:"connectionId"`
	User         string          `json:"user,omitempty"`
	Info         json.RawMessage `json:"info,omitempty"`
}

// ChannelInfo is a channel's member count, one page of its presence and
// its stream position.
type ChannelInfo struct {
	Channel string `json:"channel"`
	Members int    `json:"members"`
	// Presence is nil when the channel's namespace keeps no presence.
	Presence []Member `json:"presence,omitempty"`
	// NextCursor asks for the next page of Presence; "" on the last.
	NextCursor string `json:"nextCursor,omitempty"`
	// Position is nil when the channel keeps no history.
	*Position
}

// HistoryQuery asks for kept publications.
type HistoryQuery struct {
	// Since is the offset of the last publication seen; 0 reads from the
	// oldest kept.
	Since uint64
	// Epoch, when set, is the epoch Since belongs to: if the stream has
	// another, the call fails with ConflictException.
	Epoch string
	// Limit is 1..1000; 0: the server's default, 100.
	Limit int
}

// History is a page of a channel's kept publications, oldest first.
type History struct {
	// Position is the stream's latest position.
	Position
	// Truncated: publications after Since were dropped from the history
	// (size or ttl) before they could be read.
	Truncated    bool          `json:"truncated"`
	Publications []Publication `json:"publications"`
}

// Publication is one kept publication.
type Publication struct {
	Offset uint64
	Time   time.Time
	Data   []byte
}

// publicationJSON is a publication on the wire.
type publicationJSON struct {
	Offset uint64    `json:"offset"`
	Time   time.Time `json:"time"`
	payload
}

// MarshalJSON renders the publication as the API does: offset, time and
// the data in "data", "text" or "b64". json.Marshal escapes <, > and & in
// what it returns, changing the bytes of "data"; an Encoder with
// SetEscapeHTML(false) keeps them.
func (p Publication) MarshalJSON() ([]byte, error) {
	return marshal(publicationJSON{Offset: p.Offset, Time: p.Time, payload: encodePayload(p.Data)})
}

// UnmarshalJSON reads a publication as the API sends it.
func (p *Publication) UnmarshalJSON(b []byte) error {
	var w publicationJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	data, err := w.bytes()
	if err != nil {
		return fmt.Errorf("publication at offset %d: %w", w.Offset, err)
	}
	*p = Publication{Offset: w.Offset, Time: w.Time, Data: data}
	return nil
}

// Recipients is the answer of a send to several connections.
type recipients struct {
	Recipients int `json:"recipients"`
}

// PostToConnection sends data to one connection (AWS's PostToConnection).
// A connection that is unknown, closed or still in $connect is a
// GoneException.
func (c *Client) PostToConnection(ctx context.Context, connectionID string, data []byte) error {
	return c.do(ctx, request{method: http.MethodPost, segments: []string{segConnections, connectionID}, body: nonNil(data)}, nil)
}

// GetConnection describes one connection.
func (c *Client) GetConnection(ctx context.Context, connectionID string) (Connection, error) {
	var conn Connection
	err := c.do(ctx, request{method: http.MethodGet, segments: []string{segConnections, connectionID}}, &conn)
	conn.ID = connectionID
	return conn, err
}

// DeleteConnection closes one connection (1000); its $disconnect follows.
func (c *Client) DeleteConnection(ctx context.Context, connectionID string) error {
	return c.do(ctx, request{method: http.MethodDelete, segments: []string{segConnections, connectionID}}, nil)
}

// ListConnections returns one page of the stage's connections, oldest
// first.
func (c *Client) ListConnections(ctx context.Context, p Page) (ConnectionPage, error) {
	var page ConnectionPage
	err := c.do(ctx, request{method: http.MethodGet, segments: []string{segConnections}, query: p.query()}, &page)
	return page, err
}

// AllConnections yields every connection of the stage, following the
// pages (pageSize each; 0: the server's default) until the last or the
// first error, which it yields and stops.
func (c *Client) AllConnections(ctx context.Context, pageSize int) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) {
		p := Page{Limit: pageSize}
		for {
			page, err := c.ListConnections(ctx, p)
			if err != nil {
				yield(Connection{}, err)
				return
			}
			for _, conn := range page.Connections {
				if !yield(conn, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			p.Cursor = page.NextCursor
		}
	}
}

// JoinChannel puts a connection in a channel, without the namespace's
// subscribe rule.
func (c *Client) JoinChannel(ctx context.Context, channel, connectionID string) error {
	return c.do(ctx, request{method: http.MethodPut, segments: []string{segChannels, channel, "connections", connectionID}}, nil)
}

// LeaveChannel takes a connection out of a channel (no error when it was
// not in it).
func (c *Client) LeaveChannel(ctx context.Context, channel, connectionID string) error {
	return c.do(ctx, request{method: http.MethodDelete, segments: []string{segChannels, channel, "connections", connectionID}}, nil)
}

// SendOptions are the options of Publish and Broadcast.
type SendOptions struct {
	// Exclude is a connection id left out ("" for none), such as the
	// sender's.
	Exclude string
}

func (o SendOptions) query() url.Values {
	if o.Exclude == "" {
		return nil
	}
	return url.Values{"exclude": {o.Exclude}}
}

// Publish sends data to every connection in a channel and keeps it in the
// channel's history if it has one.
func (c *Client) Publish(ctx context.Context, channel string, data []byte, o SendOptions) (PublishResult, error) {
	var res PublishResult
	err := c.do(ctx, request{method: http.MethodPost, segments: []string{segChannels, channel}, query: o.query(), body: nonNil(data)}, &res)
	return res, err
}

// Channel returns a channel's member count, one page of its presence and
// its stream position.
func (c *Client) Channel(ctx context.Context, channel string, p Page) (ChannelInfo, error) {
	var info ChannelInfo
	err := c.do(ctx, request{method: http.MethodGet, segments: []string{segChannels, channel}, query: p.query()}, &info)
	return info, err
}

// Presence yields every member of a channel's presence, following the
// pages (pageSize each; 0: the server's default) until the last or the
// first error, which it yields and stops. A channel whose namespace keeps
// no presence yields nothing.
func (c *Client) Presence(ctx context.Context, channel string, pageSize int) iter.Seq2[Member, error] {
	return func(yield func(Member, error) bool) {
		p := Page{Limit: pageSize}
		for {
			info, err := c.Channel(ctx, channel, p)
			if err != nil {
				yield(Member{}, err)
				return
			}
			for _, m := range info.Presence {
				if !yield(m, nil) {
					return
				}
			}
			if info.NextCursor == "" {
				return
			}
			p.Cursor = info.NextCursor
		}
	}
}

// History reads a channel's kept publications after q.Since.
func (c *Client) History(ctx context.Context, channel string, q HistoryQuery) (History, error) {
	v := url.Values{}
	if q.Since != 0 {
		v.Set("since", strconv.FormatUint(q.Since, 10))
	}
	if q.Epoch != "" {
		v.Set("epoch", q.Epoch)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var h History
	err := c.do(ctx, request{method: http.MethodGet, segments: []string{segChannels, channel, "history"}, query: v}, &h)
	return h, err
}

// PostToUser sends data to every connection of a user and returns how
// many it was queued on (0 when the user has none).
func (c *Client) PostToUser(ctx context.Context, user string, data []byte) (int, error) {
	var res recipients
	err := c.do(ctx, request{method: http.MethodPost, segments: []string{segUsers, user}, body: nonNil(data)}, &res)
	return res.Recipients, err
}

// UserConnections lists the open connections of a user, oldest first,
// each with its channels.
func (c *Client) UserConnections(ctx context.Context, user string) ([]Connection, error) {
	var res struct {
		Connections []Connection `json:"connections"`
	}
	err := c.do(ctx, request{method: http.MethodGet, segments: []string{segUsers, user}}, &res)
	return res.Connections, err
}

// DisconnectUser closes every connection of a user and returns how many.
func (c *Client) DisconnectUser(ctx context.Context, user string) (int, error) {
	var res struct {
		Disconnected int `json:"disconnected"`
	}
	err := c.do(ctx, request{method: http.MethodDelete, segments: []string{segUsers, user}}, &res)
	return res.Disconnected, err
}

// Broadcast sends data to every connection of the stage and returns how
// many it was queued on.
func (c *Client) Broadcast(ctx context.Context, data []byte, o SendOptions) (int, error) {
	var res recipients
	err := c.do(ctx, request{method: http.MethodPost, segments: []string{segBroadcast}, query: o.query(), body: nonNil(data)}, &res)
	return res.Recipients, err
}

// nonNil makes an empty message a body of zero bytes rather than none, so
// that a POST always carries Content-Type and Content-Length.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
