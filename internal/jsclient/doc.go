// Package jsclient runs the TypeScript client's Node tests (clients/js,
// node --test) against the real switchboard binary. It has no code outside
// its tests.
//
// The Go test builds the binary, starts a Redis server (history survives a
// kill -9 of the switchboard process only in Redis), writes a configuration
// with a v1 API that keeps history and an API that requires a JWT, starts
// `switchboard serve` behind a TCP proxy that can stall its connections
// (sockets open, no bytes forwarded), and runs npm ci and the Node tests
// with the addresses in their environment. The Node tests drive the
// server through a control endpoint: POST /kill (SIGKILL and start again on
// the same port), POST /stall (stop forwarding the proxy's open
// connections). A Node failure fails the Go test with the Node output.
// Without node and npm the test skips, except in CI ($CI set).
package jsclient
