// Package frontend is the seam between Switchboard's core and its protocol
// front-ends: Pusher Channels (frontend/pusher) now, Azure Web PubSub and
// Socket.IO later (decision 0025).
//
// A front-end owns a wire protocol: its URL paths on the listener, its
// handshake and authentication, its frames, its HTTP API and its
// webhooks. The core owns everything else, the same for every protocol:
// connections (ids, sockets, limits, drain, the registry the management
// API and the cluster see), channels, presence, users and history (the
// hub, the cluster seams), and delivery. A front-end reaches the core
// through three things only:
//
//   - Core: accept a connection on an API (gateway.Gateway.Accept, which
//     hands its messages to the front-end's gateway.Session on the
//     connection's pool task, in order) and the gateway's data methods
//     (publish, channel info, presence, users), which are cluster-wide;
//   - the hub of the connection's API (gateway.Conn.Hub), for subscribe,
//     unsubscribe and presence with the connection's hub.Member;
//   - a hub codec, which encodes publications and presence notices for
//     its members once per publication per node.
//
// So a publication from any front-end, the management API, a
// switchboard.v1 client or a route action reaches the members of every
// protocol, each encoded once for its protocol.
//
// Concurrency: a Frontend's Routes are called by the server's HTTP
// goroutines concurrently; Sessions follow gateway.Session's contract.
package frontend

import (
	"context"
	"net/http"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// Frontend is one protocol front-end, built by the server from the
// configuration.
type Frontend interface {
	// Name is the protocol's name in logs and metrics ("pusher").
	Name() string
	// Routes are the path prefixes it serves on the main listener. The
	// server routes a request to the route with the longest matching
	// prefix, before the stages; configuration validation keeps stages
	// out of these prefixes.
	Routes() []Route
	// Shutdown stops what the front-end runs besides its connections (the
	// gateway drains those), flushing what it can until ctx ends.
	Shutdown(ctx context.Context) error
}

// Route is one path prefix of a front-end and its handler.
type Route struct {
	Prefix  string // escaped path prefix, such as "/app/"
	Handler http.Handler
}

// Core is what the gateway offers a front-end. *gateway.Gateway implements
// it; the data methods are the management API's, so they act cluster-wide.
type Core interface {
	Accept(w http.ResponseWriter, r *http.Request, o gateway.AcceptOptions) (*gateway.Conn, error)
	Publish(ctx context.Context, stage, channel string, data []byte, exclude string) (gateway.PublishResult, error)
	Channel(ctx context.Context, stage, channel, cursor string, limit int) (gateway.ChannelInfo, error)
	DisconnectUser(ctx context.Context, stage, user string) (int, error)
	PostToUser(ctx context.Context, stage, user string, data []byte) (int, error)
}

var _ Core = (*gateway.Gateway)(nil)

// Match returns the route of routes whose prefix is the longest one path
// starts with, or false.
func Match(routes []Route, path string) (Route, bool) {
	best, ok := Route{}, false
	for _, rt := range routes {
		if len(rt.Prefix) > len(best.Prefix) && len(path) >= len(rt.Prefix) && path[:len(rt.Prefix)] == rt.Prefix {
			best, ok = rt, true
		}
	}
	return best, ok
}
