// Package redishistory is the history.History of a cluster: channels'
// streams live in Redis (a single server or a Redis Cluster), so every
// Switchboard node reads and appends the same streams, and a stream's epoch
// and offsets survive the restart of every Switchboard node.
//
// # Layout
//
// A channel has two keys with the same hash tag (so one slot, one master):
//
//	<prefix>{<channel>}:m  HASH   e = epoch, s = top offset, a = ms of the last Append
//	<prefix>{<channel>}:s  STREAM one entry per kept publication, id "<offset>-0",
//	                              fields t = ms of its Append (server TIME), d = data
//
// A '}' or '%' in the channel name is written %7D or %25, so the tag always
// ends where the channel does; the empty name is written "%", so the tag is
// never empty (Redis would hash "{}" keys whole, into different slots). Append and Read are each one Lua script
// (one round trip, run atomically by the master): the script creates the
// stream with a new epoch when the meta hash is absent or forgotten, applies
// the call's Size and TTL (dropping the expired head and trimming to Size),
// and Append increments s and adds the entry in the same step, so offsets
// are consecutive and in the order the scripts run, whichever node calls.
// Remove deletes both keys. Redis expiry (PEXPIREAT) drops a quiet
// channel's keys: the stream TTL after its last Append, the meta hash
// MetaTTL after it. Docs/decisions/0023 gives the reasons.
//
// # Errors
//
// Every Redis or network error is returned, wrapped with the operation and
// the channel; nothing panics and nothing is retried behind the caller's
// back except Read, which is idempotent. An Append whose reply is lost (a
// timeout, a connection cut, a master killed after it ran the script) may
// or may not have been applied: the caller cannot know, exactly as with any
// remote write.
//
// # Concurrency
//
// A Store holds no state of its own besides its immutable options: all its
// methods are safe for concurrent use, and several Stores (in one process or
// on several nodes) on the same Redis and prefix share the same streams.
// The rueidis client pipelines concurrent calls on its connections.
package redishistory
