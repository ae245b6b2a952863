// Package clustertest holds the conformance suites that every
// implementation of the cluster seams must pass (decision 0024 §2.6):
// RunRegistry, RunBus and RunPresence. The memory backend runs them in its
// tests; the Redis backend will run the same suites on a single server and
// on a Redis Cluster.
//
// Each subtest asks the factory for a fresh cluster of N nodes on one
// backend (joined, ready to use) and uses API and channel names unique to
// the run, so a backend shared between runs need not be flushed. Events are
// awaited with a bounded waitFor, never ordered by sleeping; lease expiry is
// asked of the factory (Cluster.Expire), which a memory backend satisfies
// by moving its injected clock and a Redis backend by waiting.
package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// Seams are one node's views of the shared backend.
type Seams struct {
	Registry cluster.Registry
	Bus      cluster.Bus
	Presence cluster.Presence
}

// Cluster is what a factory made: N joined nodes on one fresh backend.
type Cluster struct {
	Nodes []Seams
	// Kill ends node i as kill -9 would: it stops renewing its lease,
	// receives nothing more, and leaves its records and memberships to a
	// reaper. The suite makes no further call on node i.
	Kill func(i int)
	// Cut cuts node i off the shared state while it keeps running (its
	// lease is no longer renewed); nil when the backend cannot do it, and
	// the subtests that need it are skipped.
	Cut func(i int)
	// Expire returns once the lease of every killed or cut node has lapsed
	// and the other nodes can see it (memory: move the clock past the
	// lease and wake; Redis: wait lease + renewal).
	Expire func(t *testing.T)
}

// Factory makes a Cluster of n nodes on a fresh backend; it registers its
// own cleanup with t.Cleanup.
type Factory func(t *testing.T, n int) Cluster

// suite is the state shared by one run's subtests.
type suite struct {
	run string
	f   Factory
}

func newSuite(f Factory) *suite {
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	return &suite{run: hex.EncodeToString(nonce[:]), f: f}
}

// name returns a name unique to this run and subtest.
func (s *suite) name(t *testing.T, what string) string {
	return fmt.Sprintf("clustertest:%s:%s:%s", s.run, t.Name(), what)
}

type subtest struct {
	name string
	test func(t *testing.T, s *suite)
}

func (s *suite) runAll(t *testing.T, tests []subtest) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, s) })
	}
}

// waitTimeout bounds every wait for an event.
const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ctx returns a context that ends with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	t.Cleanup(cancel)
	return c
}

// recorder keeps what a node's Bus handler was given, per channel.
type recorder struct {
	t        *testing.T
	mu       sync.Mutex
	got      map[string][]cluster.Message // by api + "\x00" + channel
	inside   map[string]bool
	parallel bool // a channel's handler was entered while running
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, got: map[string][]cluster.Message{}, inside: map[string]bool{}}
}

func (r *recorder) handle(api, channel string, m cluster.Message) {
	k := api + "\x00" + channel
	r.mu.Lock()
	if r.inside[k] {
		r.parallel = true
	}
	r.inside[k] = true
	r.mu.Unlock()
	m.Data = append([]byte(nil), m.Data...)
	r.mu.Lock()
	r.got[k] = append(r.got[k], m)
	r.inside[k] = false
	r.mu.Unlock()
}

// messages returns a copy of what channel got.
func (r *recorder) messages(api, channel string) []cluster.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cluster.Message(nil), r.got[api+"\x00"+channel]...)
}

func (r *recorder) count(api, channel string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[api+"\x00"+channel])
}

func (r *recorder) checkSequential() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parallel {
		r.t.Error("the handler ran concurrently for one channel")
	}
}

// handleAll sets a recorder as the handler of every node's Bus.
func handleAll(t *testing.T, c Cluster) []*recorder {
	rs := make([]*recorder, len(c.Nodes))
	for i, n := range c.Nodes {
		rs[i] = newRecorder(t)
		n.Bus.Handle(rs[i].handle)
	}
	return rs
}
