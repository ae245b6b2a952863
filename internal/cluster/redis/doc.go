// Package redcluster is the cluster seams (internal/cluster) on Redis 7 —
// a single server, a Redis Cluster or a Sentinel-managed master — through
// rueidis (decision 0022): the Registry with per-node leases and the
// reaper, the Bus on sharded pub/sub with one script per publication, and
// Presence with the user index. The key layout and every design choice are
// decision 0024 §3–§6; every key a script touches shares one hash tag.
//
// A Node is one Switchboard process's view: New builds it on a rueidis
// client the caller owns; Registry, Bus and Presence return its three
// seams. It passes clustertest.RunRegistry, RunBus and RunPresence on a
// single server and on a 3 + 3 Redis Cluster.
package redcluster
