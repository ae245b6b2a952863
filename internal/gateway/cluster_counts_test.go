package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// counters is a cluster.Counter shared by the nodes of a test cluster: the
// counts each node reported, summed as a lease-carrying Registry would.
type counters struct {
	mu     sync.Mutex
	counts map[string]map[string]int // incarnation → stage → count
	fail   error                     // Connections' answer when set
}

func (cs *counters) total(stage string) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := 0
	for _, c := range cs.counts {
		n += c[stage]
	}
	return n
}

// countingRegistry is a node's Registry with the shared counters.
type countingRegistry struct {
	cluster.Registry
	cs *counters
}

func (r countingRegistry) SetCounts(c map[string]int) {
	r.cs.mu.Lock()
	r.cs.counts[r.Self().Incarnation] = c
	r.cs.mu.Unlock()
}

func (r countingRegistry) Connections(ctx context.Context, stage string) (int, error) {
	r.cs.mu.Lock()
	err := r.cs.fail
	r.cs.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return r.cs.total(stage), nil
}

// TestClusterBroadcastRecipients: with a Registry that implements
// cluster.Counter, the gateway reports its open connections per stage as
// they change, and a @broadcast answers the cluster-wide count; when the
// count cannot be read, nothing is sent (503).
func TestClusterBroadcastRecipients(t *testing.T) {
	cs := &counters{counts: map[string]map[string]int{}}
	tc := newTestCluster(t, 2, func(r cluster.Registry) cluster.Registry { return countingRegistry{r, cs} })
	a, _ := tc.dial(tc.nodes[0], "")
	_, _ = tc.dial(tc.nodes[0], "")
	b, bID := tc.dial(tc.nodes[1], "")
	waitFor(t, "three connections reported", func() bool { return cs.total("prod") == 3 })

	cs.mu.Lock()
	cs.fail = cluster.ErrUnavailable
	cs.mu.Unlock()
	if r := tc.call(tc.nodes[1], "POST", "/prod/@broadcast", "lost"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("@broadcast with the counts unavailable: %d %s; want 503", r.status, r.body)
	}
	cs.mu.Lock()
	cs.fail = nil
	cs.mu.Unlock()

	r := tc.call(tc.nodes[1], "POST", "/prod/@broadcast", "hello")
	var res struct{ Recipients int }
	if err := json.Unmarshal(r.body, &res); err != nil || r.status != 200 || res.Recipients != 3 {
		t.Fatalf("@broadcast: %d %s; want recipients 3", r.status, r.body)
	}
	if got := read(t, a); got != "hello" { // not "lost": nothing was sent
		t.Errorf("client on n0 read %q; want hello", got)
	}
	if got := read(t, b); got != "hello" {
		t.Errorf("client on n1 read %q; want hello", got)
	}

	// A closed connection is reported too.
	if r := tc.call(tc.nodes[0], "DELETE", "/prod/@connections/"+url.PathEscape(bID), ""); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	waitFor(t, "two connections reported", func() bool { return cs.total("prod") == 2 })
	r = tc.call(tc.nodes[0], "POST", "/prod/@broadcast", "again")
	if err := json.Unmarshal(r.body, &res); err != nil || res.Recipients != 2 {
		t.Errorf("@broadcast after a close: %d %s; want recipients 2", r.status, r.body)
	}
}
