// Package origin checks the Origin header of WebSocket handshakes against
// an allowlist, against cross-site WebSocket hijacking: browsers send
// cookies and other ambient credentials with a WebSocket handshake to any
// site, and the Origin header is the only sign of which page opened it.
//
// A Checker is built once from patterns (see New) and then answers Allow
// for each handshake. Non-browser clients send no Origin and are allowed:
// they are not confused deputies, and the check is no authentication.
//
// Concurrency: a Checker is immutable after New and safe for concurrent
// use.
package origin
