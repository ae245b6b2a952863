// Package httpint is the "http" integration: it POSTs each Lambda proxy
// event (package event) as JSON to a configured URL and reads the reply
// with event.ParseHTTP, so any HTTP server can stand in for a Lambda
// function.
//
// Each request carries Content-Type: application/json, the configured
// headers, and X-Switchboard-Route (the route key), X-Switchboard-Event
// (CONNECT, MESSAGE or DISCONNECT) and X-Amzn-RequestId (the event's
// requestId). When ctx carries a span (tracing on), the W3C traceparent
// and tracestate of that span are added (package tracing). Redirects are not followed unless the *http.Client given to
// New has its own CheckRedirect: a 3xx reply is the integration's answer.
// At most 6 MiB of reply body are read (AWS Lambda's response limit).
//
// # Timeouts and failures
//
// Each call has a deadline of Config.Timeout (default 29 s, AWS's
// integration timeout) that covers waiting for a free slot, connecting,
// sending, and reading the whole reply. Missing it gives an error wrapping
// integration.ErrTimeout. If the caller's context ends first (shutdown),
// Invoke returns an error wrapping that context's error instead. Anything
// else that goes wrong (connection refused, a reply over 6 MiB, a plain
// 5xx reply, a malformed proxy object) is an error that names the URL and
// the cause; the gateway treats all of them as a failed integration.
//
// # Concurrency
//
// An Integration is immutable after New and safe for concurrent use. At
// most Config.MaxConcurrency calls (default 256) are in flight at once;
// further calls wait for a slot, within their deadline. Invoke starts no
// goroutines of its own (net/http's connection goroutines belong to the
// transport); request bodies are encoded into pooled buffers that return to
// the pool when the transport closes the body. Connections are kept alive
// and shared through the *http.Client: pass one client built on
// NewTransport to every integration of a server, or let New build its own
// and release it with CloseIdleConnections.
package httpint
