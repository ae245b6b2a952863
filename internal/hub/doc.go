// Package hub keeps an API's channels, users and presence, and fans
// publications out to the connections in a channel.
//
// A Member is one connection as the hub sees it; the gateway creates one
// per connection and the hub keeps its channel memberships on it. Channels
// live in shards chosen by the channel name; each shard has one mutex that
// guards its channels. A publication to a channel takes the channel's
// shard lock, gets its offset from the history, encodes its frames once
// (one per protocol in use: raw and switchboard.v1) and queues the same
// bytes on every member with a non-blocking Send; so every member of a
// channel sees its publications in one order, publishers to channels in
// other shards run in parallel, and no publisher ever waits for a slow
// socket. The writes themselves happen on the WebSocket engine's event
// loops, which coalesce what is queued for one connection into one write.
//
// Subscribing with a recovery position reads the history and queues the
// missed publications under the same shard lock, so nothing published
// meanwhile is lost or duplicated.
//
// Lock order: shard mutex, then Member.mu, then users-shard mutex. Send is
// called with a shard mutex held: it must not block and must never call
// back into the hub (ws.Conn.Send only queues and schedules; a connection
// it closes reports OnClose later, from its event loop).
package hub
