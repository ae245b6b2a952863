// Package hub keeps an API's channels, users and presence, and fans
// publications out to the connections in a channel.
//
// A Member is one connection as the hub sees it; the gateway creates one
// per connection and the hub keeps its channel memberships on it. Channels
// live in shards chosen by the channel name; each shard has one mutex that
// guards its channels.
//
// Every publication goes through the cluster Bus (decision 0024): Publish
// is one Bus.Publish, which orders the publication (and keeps it in the
// channel's history, assigning its offset) and delivers it to every node
// with members in the channel, this one included; the Bus's handler calls
// Deliver, which takes the channel's shard lock, encodes the frames once
// (one per codec in use, see below) and queues the same bytes on every
// member but the excluded connection with a non-blocking Send. So every member of a channel, on every node, sees its publications
// in the Bus's one order, publishers to channels in other shards run in
// parallel, and no publisher ever waits for a slow socket. The writes
// themselves happen on the WebSocket engine's event loops, which coalesce
// what is queued for one connection into one write. On a single node the
// Bus is a cluster/memory node, which delivers synchronously (LocalBus), and
// Presence is nil: the hub answers presence and sends join/leave notices
// from its own tables. With Presence, membership is cluster-wide and
// notices come back through the Bus.
//
// Options.OnMembership tells a front-end of every join and leave with what
// it changed (MembershipEvent: the user's first or last connection in the
// channel, the channel's first or last connection, the counts after it),
// for presence announcements and occupancy webhooks that must happen once
// cluster-wide. In a cluster the facts are the cluster Presence step's
// result, so only the node whose Join or Leave made a change reports it (a
// duplicate join or a leave of a non-member reports nothing); a dead node's
// members are reported by the node that reaps them, through Reaped. On one
// node the hub counts a channel's users itself, only when OnMembership is
// set. The callback runs outside every hub lock, on the goroutine that
// joined or left (Subscribe, Unsubscribe, Remove, Reaped): it must not
// block (queue the work) but may call the hub. Events of one channel reach
// it in the order their calls finish, which racing goroutines or nodes may
// invert: a consumer that acts later on an edge (a delayed
// channel_vacated) re-reads the channel's count first.
//
// Codecs: every member speaks one wire protocol, whose Codec encodes what
// it is sent: publications, direct messages (Hub.Frames, Hub.Send) and
// join/leave notices. A member's CodecID indexes the hub's table: Raw (the
// bytes alone; no notices) and V1 (switchboard.v1), then the front-ends'
// codecs, registered through Options.Codecs when the hub is made
// (Options.Codecs[i] is FirstFrontEnd+i; the table never changes after
// New, so every hub of a process built with the same list gives a codec
// the same id). The gateway chooses a connection's codec for NewMember. A
// publication is encoded at most once per codec on a node, into the
// shard's scratch, by the first member of that codec; a notice once per
// codec with members in the channel. Codecs run under the shard lock: they
// never block and never call the hub.
//
// Named publications: PublishEvent carries an event name and the
// publisher's user id with the data, through the Bus (cluster.Message) and
// the history (history.Publication), to the codecs (Publication), so a
// recovered publication is encoded exactly like the live one.
//
// Subscribing with a recovery position reads the history outside the lock
// and replays, under the shard lock, what the channel's last delivered
// offset L covers, so nothing published meanwhile is lost or duplicated.
//
// Lock order: Bus (its own locks, under which it may call Deliver), then
// shard mutex, then Member.mu, then users-shard mutex. The hub never calls
// the Bus or Presence with a shard mutex held, and Deliver never calls
// them. Send is called with a shard mutex held: it must not block and must
// never call back into the hub (ws.Conn.Send only queues and schedules; a
// connection it closes reports OnClose later, from its event loop).
package hub
