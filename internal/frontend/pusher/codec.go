package pusher

import (
	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/jsonenc"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// DefaultEvent is the event name Pusher clients get for a publication
// that has none: one from the management API, a switchboard.v1 client or
// a route action (bind it with channel.bind("message", …)).
const DefaultEvent = "message"

// Codec encodes the hub's publications and presence notices for Pusher
// connections (hub.Codec; decision 0025). It is stateless: the server
// gives one to the gateway (gateway.Options.Codecs) and the id it gets to
// the front-end (Options.Codec).
type Codec struct{}

var _ hub.Codec = Codec{}

// Publication is a channel event: {"event", "channel", "data": string,
// "user_id"?}. The publication's bytes are the data string's content (a
// JSON payload arrives as its JSON text, which pusher-js parses); the
// publisher's user id is set only on client events of presence channels.
func (Codec) Publication(dst []byte, p *hub.Publication) (ws.Opcode, []byte) {
	name := p.Name
	if name == "" {
		name = DefaultEvent
	}
	return ws.OpText, pusherproto.AppendChannelEvent(dst, name, p.Channel, p.Data, p.User)
}

// Direct is a message to one connection (the management API's
// PostToConnection, @users): an event without a channel, which pusher-js
// hands to pusher.bind(DefaultEvent, …).
func (Codec) Direct(dst, data []byte) (ws.Opcode, []byte) {
	dst = append(dst, `{"event":"`+DefaultEvent+`","data":`...)
	dst = jsonenc.AppendString(dst, data)
	return ws.OpText, append(dst, '}')
}

// Notice is pusher_internal:member_added / member_removed on a presence
// channel, for the user's first connection in the channel (join) or its
// last (leave) only, cluster-wide (reference §7); nothing otherwise.
func (Codec) Notice(dst []byte, channel string, m cluster.Member, join, userEdge bool) (ws.Opcode, []byte) {
	if !userEdge || m.User == "" {
		return 0, dst
	}
	ch, err := pusherproto.ParseChannel(channel)
	if err != nil || ch.Type != pusherproto.Presence {
		return 0, dst
	}
	pm := pusherproto.Member{ID: m.User, Info: m.Info}
	if join {
		return ws.OpText, pusherproto.AppendMemberAdded(dst, channel, pm)
	}
	return ws.OpText, pusherproto.AppendMemberRemoved(dst, channel, pm)
}
