// Package compat runs the official clients of other real-time services,
// unchanged, against the real switchboard binary: pusher-js 8.6.0 (in
// Node and its web build in headless Chromium) and the pusher Node server
// SDK 5.3.4 (compat/pusher, run with node --test), and pusher-http-go v5
// as the browser page's channel authorization endpoint. It has no code
// outside its tests.
//
// The Go tests build the binary once, write a configuration with Pusher
// apps, start `switchboard serve` on a loopback port, install the npm
// packages with npm ci when compat/pusher/node_modules is missing, and run
// the Node tests with the server's address in their environment; a Node
// failure fails the Go test with the Node output. Without node and npm
// they skip, except in CI ($CI set), where they fail.
package compat
