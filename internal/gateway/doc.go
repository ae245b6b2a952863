// Package gateway is Switchboard's core: it turns WebSocket connections
// into AWS-style route invocations and keeps the connection state that
// the management API reads and changes.
//
// Data flow. A handshake on /{stage} runs the API's $connect route and,
// when it accepts, upgrades the connection (package ws) and registers it.
// Each message a connection receives goes to the connection's inbox; a
// worker from the API's bounded pool drains the inbox in order: route
// selection (package route), then the route's integration or built-in
// action, then the reply or AWS error frame. When the socket closes, a
// final inbox item fires $disconnect (with retries), so $disconnect is the
// last event of every connection and fires exactly once.
//
// Ordering: messages of one connection are processed one at a time in
// arrival order — a slow integration call delays that connection's later
// messages, never other connections'. A connection whose inbox holds
// limits.inboundQueueMessages messages stops being read until the backlog
// halves, pushing back on the client through TCP.
//
// Reload: what a configuration reload may change of an API — routes,
// integrations, connect auth, limits — is an immutable apiState behind an
// atomic pointer (state.go); Reload builds new states aside and swaps them
// in, and a replaced state's integrations are closed once no handshake or
// inbox item holds it any more (decision 0019).
//
// Concurrency: Gateway and API are immutable after New except for the
// registries, pools, open-connection counters and the state pointer, which
// are safe for concurrent use; reloads are serialized by reloadMu. A Conn's inbox
// is guarded by its mutex; everything else in a Conn is immutable after
// the handshake. Handler callbacks from package ws never block: they only
// append to the inbox and hand the connection to the pool.
//
// Tracing (trace.go, Options.TracerProvider): each route invocation and
// authorizer call is a span, and the integration is called with its
// context, which carries it to the backend. With a nil or noop provider no
// span is started and no attribute built.
package gateway
