// Package pusher is the Pusher Channels front-end (issue 11, decision
// 0025): pusher-js clients connect to /app/{key} and speak protocol 7;
// Pusher's server SDKs call the HTTP API at /apps/{app_id}/...; the app's
// webhooks tell its backend of occupancy, presence and client events. The
// facts it follows are in the team's reference, pusher-channels.md.
//
// It is a protocol front-end on Switchboard's core, not a second server:
// an app's channels are the hub channels of one API (config.PusherApp.API),
// so a publication through the Pusher HTTP API, the management API, a
// switchboard.v1 client or a route action reaches Pusher and v1 clients
// alike, each encoded once per protocol (Codec), across the cluster when
// there is one. Its connections are gateway connections (gateway.Accept):
// limits, drain (close 4200, "reconnect now"), the management API and the
// cluster treat them as any other.
//
// What it owns: the handshake (unknown app 4001, over the app's connection
// quota 4004, protocol older than 5 4007, each as pusher:error then a
// close with that code); channel authorization and user sign-in
// signatures (package pusherproto); presence identities per subscription
// (hub.SubscribeOptions.As) and the member limit; client events and their
// rules; cache channels (the API keeps their last publication:
// config.pusherNamespaces); webhooks (package webhook), fired once
// cluster-wide from the hub's membership events (OnMembership).
//
// The HTTP API (httpapi.go) is a translation onto the gateway's data
// methods, which act cluster-wide: triggers, socket_id exclusion,
// occupancy, subscription_count, user_count, users, the channel list
// (gateway.Channels walks the nodes' connections for it) and
// terminate_connections.
//
// Concurrency: a session's methods run on its connection's pool task (one
// message at a time); the Frontend's handlers run on HTTP goroutines; the
// apps are an immutable set swapped by Reload.
package pusher
