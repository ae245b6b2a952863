// Package history keeps each channel's recent publications so that a client
// that reconnects can recover the ones it missed.
//
// A channel whose namespace keeps history has a stream: at most Size
// publications, each kept at most TTL, numbered by offset 1, 2, 3, … within
// an epoch. The epoch is a random string that changes whenever the stream is
// lost — it never existed, it was forgotten after MetaTTL without an Append,
// it was removed, or the process holding it restarted — so an offset is only
// meaningful together with its epoch. A client remembers the (epoch, offset)
// of the last publication it processed and, after reconnecting, the hub asks
// Read for everything after that offset; whether that amounts to a recovery
// is the hub's decision, from the epoch, Top and Complete that Read reports.
//
// History is the interface the hub consumes; Memory is the in-process
// implementation, the default and the test double; redishistory (package
// internal/history/redis) keeps the streams in Redis for a cluster. Every
// implementation must pass the conformance suite in package historytest.
//
// # Options
//
// StreamOptions (a namespace's settings) come with every call rather than
// being registered per channel, so a configuration reload applies on the next
// call: the latest call's options govern the stream. A smaller Size trims the
// oldest publications at once; a shorter TTL expires them at once.
//
// # Concurrency
//
// All History methods are safe for concurrent use. Appends to one channel
// are serialized: each gets the next offset, in the order the calls take
// effect, so concurrent appends yield exactly the offsets 1..N without gaps
// or duplicates. A Read sees a consistent stream: every append that returned
// before the Read began, none half-done.
//
// Memory shards its streams by channel name over 64 mutexes, so calls on
// different channels rarely contend; no method holds more than one shard lock
// at a time, so there is no lock order. Its one background goroutine (the
// sweeper, started by NewMemory and stopped by Close) drops expired
// publications and forgotten streams every SweepInterval, locking one shard
// at a time.
//
// Data passed to Append is kept, not copied, and the Data of every
// Publication that Read returns is shared with the stream and with other
// readers: neither the caller of Append nor a reader may modify it.
package history
