package redcluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// TestFailover kills (SIGKILL) the Redis master of a channel's slot, once
// its replica has every publication, while two nodes are subscribed:
// publications fail with ErrUnavailable (never a silent success) until the
// replica takes over, then succeed again; each node re-subscribes on the
// new master, gets a Reset, and its handler sees every offset once, in
// order, whatever it missed filled from the stream.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own and kills a master")
	}
	cl := redistest.StartCluster(t, redistest.ClusterOptions{NodeTimeout: time.Second})
	nodes := newNodes(t, cl.Addrs(), 2)
	logs := []*log{newLog(), newLog()}
	api, ch := unique("api"), unique("ch")
	for i, n := range nodes {
		n.Bus().Handle(logs[i].handle)
		if err := n.Bus().Subscribe(t.Context(), api, ch); err != nil {
			t.Fatal(err)
		}
	}
	pub := func(data string) (cluster.Published, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		return nodes[0].Bus().Publish(ctx, api, ch, cluster.Message{Kind: cluster.Publication, Data: []byte(data)}, long)
	}
	for k := range 5 {
		if _, err := pub(fmt.Sprint("before", k)); err != nil {
			t.Fatal(err)
		}
	}
	master, err := cl.MasterFor(nodes[0].keys.channelBase(api, ch) + "m")
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, master)
	cl.Kill(master)
	killed := time.Now()
	failures := 0
	var top uint64
	for k := 0; ; k++ {
		p, err := pub(fmt.Sprint("during", k))
		if err == nil {
			top = p.Position.Offset
			break
		}
		if !errors.Is(err, cluster.ErrUnavailable) {
			t.Fatalf("Publish during the failover: %v; want ErrUnavailable", err)
		}
		failures++
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("publications not back 30 s after the kill: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // a publisher retrying, not an ordering
	}
	t.Logf("publications back %v after the kill, %d failed before", time.Since(killed), failures)
	for k := range 5 {
		p, err := pub(fmt.Sprint("after", k))
		if err != nil {
			t.Fatal(err)
		}
		top = p.Position.Offset
	}
	for i := range nodes {
		waitFor(t, fmt.Sprintf("node %d to get offset %d", i, top), func() bool { return logs[i].lastOffset(ch) == top })
		want := uint64(1)
		for _, m := range logs[i].of(ch) {
			if m.Kind != cluster.Publication {
				continue
			}
			if m.Offset != want {
				t.Fatalf("node %d: offset %d; want %d (consecutive, once each)", i, m.Offset, want)
			}
			want++
		}
		if logs[i].count(ch, cluster.Reset) == 0 {
			t.Errorf("node %d: no Reset after its subscription's master died", i)
		}
		t.Logf("node %d: %d Resets, %d publications filled from the stream", i, logs[i].count(ch, cluster.Reset), nodes[i].bus.filled.Load())
	}
}

var (
	replOffset  = regexp.MustCompile(`(?m)^master_repl_offset:(\d+)\r?$`)
	slaveOffset = regexp.MustCompile(`(?m)^slave0:.*,offset=(\d+),`)
)

// waitReplicated waits until master's replica has acknowledged everything
// the master wrote.
func waitReplicated(t *testing.T, master *redistest.Server) {
	t.Helper()
	waitFor(t, "the replica to catch up", func() bool {
		info, err := master.Do("INFO", "replication")
		if err != nil {
			t.Fatal(err)
		}
		m, r := replOffset.FindStringSubmatch(info), slaveOffset.FindStringSubmatch(info)
		return m != nil && r != nil && m[1] == r[1]
	})
}
