// Package cluster declares the seams through which several Switchboard
// nodes act as one gateway (decision 0024 §2): the Registry (which node holds
// a connection; node leases and the reaping of dead nodes), the Bus
// (cross-node delivery to a channel and to every node, in one order per
// channel), Presence (channel members and user connections, cluster-wide)
// and the Forwarder (management calls to the node that holds a connection).
//
// It holds interfaces, types and errors only, and imports nothing above
// history: hub and gateway import it, its implementations
// (internal/cluster/memory, later internal/cluster/redis and
// internal/cluster/peer) never import hub or gateway. The conformance suites
// every implementation passes are in internal/cluster/clustertest.
//
// The hub and the gateway go through these seams on every node: without a
// cluster section on one node of cluster/memory, with one on cluster/redis
// and cluster/peer, wired by internal/server (cluster.go).
//
// # Concurrency contract
//
// Every implementation is safe for concurrent use by any number of
// goroutines. Methods that may touch the network take a context first and
// return its error when it ends first.
//
// The Bus calls the handler set by Handle for one channel sequentially, in
// that channel's order, which is the same on every node; handlers of
// different channels may run concurrently. A handler must not block for
// long and must not call Publish, Presence.Join or Presence.Leave with a
// notice on the channel it is handling (an implementation may deliver under
// that channel's lock, as the memory backend does).
//
// Registry.Reap calls its function from the goroutine that called Reap, one
// dead node at a time.
package cluster
