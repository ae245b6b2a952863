// Package redistest starts real redis-server processes for tests: a single
// node (StartServer) and a Redis Cluster of 3 masters and 3 replicas
// (StartCluster, or SharedCluster for one cluster per test binary). It is
// test support only; no production package imports it.
//
// Every process is Debian's redis-server (found on PATH, or at
// $REDIS_SERVER), started in its own directory under a temporary directory,
// listening on free 127.0.0.1 ports, with persistence off (--save "",
// --appendonly no) unless the caller passes other arguments. The system
// service, if any, is never used. Processes are stopped by their PID, with
// SIGKILL, in t.Cleanup (or Cluster.Close); they also get SIGKILL from the
// kernel if the test binary dies first (Pdeathsig), so no redis-server is
// left behind.
//
// Proxy (StartProxy) is a loopback TCP proxy a test puts between a client
// and a server to cut the client off while both keep running: Cut drops
// the forwarded connections and blackholes new ones (accepted, never
// answered), Heal forwards again. It is how a test partitions a
// Switchboard node from Redis without a network namespace.
//
// Without redis-server a test calling these helpers is skipped with a
// message that says how to install it, or fails when the CI environment
// variable is set: CI must not silently skip the Redis tests.
//
// # Concurrency
//
// A Server, Cluster or Proxy may be used from several goroutines; Kill,
// Close, Cut and Heal are safe to call more than once. Do is a one-shot
// RESP client (one connection per call) for the helpers' own needs and for
// tests that want to look at a node without a client library.
package redistest
