// Package client is the Go client of Switchboard: it connects to a stage,
// reconnects on its own with exponential backoff and full jitter, notices a
// server that stopped answering (liveness pings), and for switchboard.v1
// connections resubscribes every channel after a reconnect, recovering the
// publications it missed from the channel's history exactly once and in
// order, or saying plainly that it could not (Recovered false and the
// server's reason). It is the client of docs/clients.md; the wire protocol
// is docs/protocol.md.
//
// # Concurrency
//
// A *Client is safe for concurrent use. One goroutine reads the current
// connection, one pings it, one refreshes its token (when Options.GetToken
// is set and the token has an exp claim), one runs the reconnect loop, and
// one calls the application's callbacks (handlers, OnMessage, OnState,
// subscription events) one at a time, in the order the frames arrived: a
// slow callback delays later callbacks, never the reading of frames or
// the liveness pings. Close stops every goroutine and returns when they
// have exited; it must not be called from a callback (use go c.Close()).
//
// # When it stops
//
// The client reconnects after every failure except those that mean "stop"
// (see ErrStopped and StopCloseCodes): a handshake answered 4xx other than
// 408 and 429 (401 and 403 are auth refusals), and the close codes 1000
// (the management API deleted the connection), 1002, 1003, 1007, 1009
// (the client sent something the server refuses, which a reconnect would
// repeat) and 1008 (policy: "message rate exceeded", "ping flood", and
// "token expired" unless Options.GetToken can fetch a new token). The
// server's restarts and drains (1001, 1006, 1011, 1012, 1013) are
// reconnected after.
package client
