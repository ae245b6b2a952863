// Package e2e holds end-to-end tests that run the real switchboard binary
// as several processes: a cluster of nodes on a real redis-server or
// Redis Cluster (internal/redistest), driven by real WebSocket clients,
// the official AWS SDK for Go v2 and plain HTTP, with kill -9 of nodes
// and of Redis masters. It has no code outside its tests.
package e2e
