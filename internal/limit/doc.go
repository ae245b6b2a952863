// Package limit admits or refuses work — handshakes, connections,
// messages — with token buckets and counters whose memory stays bounded
// when a client floods the server with new keys.
//
// The types, and where they are meant to be used:
//
//   - Rate and Bucket: one connection's message rate. A Rate (rate and
//     burst) is built once per API and shared; each connection embeds a
//     16-byte Bucket and calls Allow with the current time for every
//     message. The zero Bucket allows everything.
//   - Keyed: a token bucket per key (source IP, user), for new
//     connections per IP. Keys live in a sharded map bounded by maxKeys;
//     see Keyed for the eviction and fail-closed policy. IPKey turns an
//     address into a key that groups an IPv6 client's /64.
//   - Global: one token bucket for a whole API (golang.org/x/time/rate).
//   - Counter: open connections per key and in total; each admitted
//     connection holds a release function. SetLimits changes the limits
//     of a counter that tracks keys (NewTrackingCounter), which a
//     configuration reload needs: what is open counts against new limits.
//
// A nil *Keyed, *Global or *Counter admits everything, so a limit that is
// not configured (0 in the configuration) can stay nil.
//
// Buckets use the generic cell rate algorithm (GCRA): a token bucket whose
// whole state is one int64, the "theoretical arrival time" after which the
// bucket is full again. It makes the per-connection Bucket 16 bytes, and a
// key of Keyed 107 bytes all told with a 20-byte key, least-recently-used
// links included; a map of x/time/rate Limiters (80 bytes each) takes 139
// bytes per key without any eviction order (BenchmarkKeyedMemory). And a
// full bucket is recognisable (tat <= now), so forgetting it loses nothing.
//
// Concurrency contract:
//   - Rate is immutable and safe to share.
//   - Bucket has no lock: it belongs to one goroutine at a time (a
//     connection's reader), like the connection's other read-side state.
//   - Keyed, Global and Counter are safe for concurrent use. Keyed and
//     Counter hold one mutex per shard for a few map operations and start
//     no goroutines; cleanup is amortized on the calls themselves.
//   - A release function returned by Counter.TryAcquire may be called from
//     any goroutine, any number of times; only the first call counts.
package limit
