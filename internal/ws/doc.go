// Package ws is Switchboard's WebSocket transport (RFC 6455, and
// permessage-deflate of RFC 7692 when Limits.Deflate enables it, see
// deflate.go): the opening handshake over net/http, frame parsing and
// encoding, the closing handshake, and the two drivers that move bytes.
//
// The epoll driver (Linux, plain TCP) takes each upgraded socket out of
// Go's runtime poller and runs it on one of a few event loops, so an idle
// connection costs no goroutine and no buffer — a few hundred bytes of
// state. The goroutine driver gives each connection a reader goroutine and
// a writer goroutine while output is pending; it is used on other
// platforms and for connections that are not plain sockets (TLS).
// docs/decisions/0002-websocket-transport.md says why Switchboard owns
// this code instead of using a WebSocket library.
//
// Concurrency contract:
//   - One reader per connection (its event loop, or its reader goroutine)
//     parses input and calls the Handler. Handler methods must not block.
//   - One writer per connection (the same event loop, or the writer
//     goroutine) owns every write to the socket, with one exception: under
//     the epoll driver, SendDirect (a frame for one connection alone, such
//     as a management post) that finds nothing waiting to go out (no
//     queued frame, no pending wakeup, no bytes the loop has not written
//     yet) writes its frame itself, with c.mu held, in one non-blocking
//     writev, together with the frames other SendDirect callers queued
//     while it yielded the processor once to gather them; what the socket
//     does not take is queued and the loop woken as for any frame. Send
//     and Close only queue work; nothing blocks. A
//     queue past Limits.MaxQueueBytes closes the connection as a slow
//     consumer (1013).
//   - A Frame is immutable and can be queued on many connections: fan-out
//     encodes once. Frames queued between two flushes go out in one writev.
//     A Message adds a compressed frame, made once for all the connections
//     that negotiated permessage-deflate.
//   - Time limits are checked on a sweep every Options.Tick.
//   - OnClose is called exactly once per attached connection.
package ws
