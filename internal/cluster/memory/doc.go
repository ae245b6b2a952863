// Package memory is the in-process implementation of the cluster seams
// (decision 0024 §2): a Backend is "a cluster in one process", shared state
// from which any number of nodes are made with NewNode, each with its own
// Registry, Bus and Presence view. A single node is the embedded default;
// several nodes on one Backend are the test fake for multi-node behaviour.
//
// Leases use the Backend's clock (Options.Now), so that expiry and reaping
// are testable without sleeping: a node renews its lease continuously while
// it runs; Kill (as kill -9) and Cut (cut off from the shared state) stop
// the renewals at the current clock, and the lease lapses Options.Lease
// later. Time is read lazily; after moving an injected clock, call Wake so
// that waiting reapers and Lost watchers look again.
//
// A cut node's calls that would reach the shared state fail with
// cluster.ErrUnavailable, and nothing is delivered to it or to a killed node.
//
// Each channel belongs to one of 64 shards, and everything that orders a
// channel happens under its shard's lock: Bus.Publish appends to history
// (when stream options are given, stream "<api>/<channel>") and calls the
// handler of every node that subscribed the channel, synchronously, under
// that lock; Subscribe, Unsubscribe and presence changes with their notices
// take the same lock, so they are ordered with the publications. Handlers
// must therefore not publish to the channel they are handling. The publish
// path takes no lock other than its shard's (and the history's own).
// Registry state (nodes, leases, records) is under one Backend lock; the
// user index under another.
//
// Beyond the seams, a node's Bus has PublishLocal and BroadcastLocal
// (hub.LocalBus): the node's own share is delivered through a function of
// the caller, synchronously, so that a single node counts what its
// fan-out queued; and Node.History is the backend's history as the hub of
// one API reads it (names "<api>/<channel>").
//
// The gateway builds one node of its own Backend, without Presence, when
// it is given no cluster: today's single process. Several nodes of one
// Backend are the N-node fake of the hub and gateway tests.
package memory
