// Package bench is Switchboard's load tool (`switchboard bench`). It is
// written to cost as little as possible per connection, so that the
// server, not the tool, is what gets measured: a client connection is a
// socket and a few bytes of state, with no goroutine while it is idle.
//
// The measurements:
//   - Idle opens connections and reads the server's memory per
//     connection (`bench idle`).
//   - Fanout opens subscribers in several worker processes (the
//     open-files limit is per process), each reading its sockets from an
//     epoll loop, then publishes to their channel through the management
//     API at fixed rates, open loop, and measures the fan-out rate and
//     each delivery's latency from its due time (`bench fanout`).
//   - Forward times management POSTs to one connection through the
//     cluster node that holds it and through another node (`bench
//     forward`).
//   - Manage posts to a WebSocket connection it holds (and drains)
//     through POST /{stage}/@connections/{id}, closed loop on keep-alive
//     connections with pre-built (pre-signed) requests, in rounds that
//     alternate with a no-op net/http server it starts as a child
//     process, and reports the ratio (`bench manage`).
//   - Storm starts a server itself (this binary's serve), connects Go
//     clients (package client) to it from several worker processes,
//     restarts it on the same port (SIGTERM or SIGKILL) and measures how
//     the clients come back, with the client's full jitter or plain
//     exponential backoff: the time until all are back, the new server's
//     peak handshake rate, the clients' failed handshakes and a timeline
//     (`bench storm`). Unlike the other measurements' connections, each
//     of its clients is the real Go client, goroutines and all: what it
//     measures is the client's reconnect behaviour.
//
// Idle and Fanout also drive a cluster: given several nodes' URLs they
// spread the connections over them round robin and report each node's
// figures; Fanout can read the Redis servers' INFO around each step
// (redisinfo.go: a few RESP commands by hand, not a client).
//
// Idle and Fanout speak switchboard.v1 by default (raw for idle), or
// Pusher protocol 7 with a Pusher app's key (fanout_pusher.go: /app/{key},
// connection_established, pusher:subscribe to a public channel); Fanout
// can mix both protocols on one channel (one protocol per worker) and
// publish through the Pusher HTTP API, signed with the app's secret.
//
// The fan-out and storm workers are child processes that speak JSON
// lines on stdin and stdout (procs.go: childProc, readCommands); a worker
// exits when its stdin closes, so a coordinator that dies leaves none.
//
// Concurrency: each measurement runs on its own; results are plain data.
// A fan-out worker's event loop owns its sockets and guards its counters
// with one mutex (see fanLoop); the coordinator talks to each worker over
// its stdin and stdout, one command and one reply at a time.
// A storm worker's clients report their state changes from their own
// goroutines into one mutex-guarded table (stormWorker).
package bench
