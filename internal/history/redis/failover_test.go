package redishistory_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// TestFailover kills (SIGKILL) the Redis master that holds a channel, once
// its replica has every append. While the replica takes over, calls fail
// with errors (never a panic, never a silent success); then appends resume
// with the next offset in the same epoch and every publication is still
// there.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own and kills a master")
	}
	cl := redistest.StartCluster(t, redistest.ClusterOptions{NodeTimeout: time.Second})
	s := newStore(t, newClient(t, cl.Addrs()...), "")
	const ch = "failover:chat"
	var before history.Position
	var err error
	for range 5 {
		if before, err = s.Append(t.Context(), ch, history.Publication{Data: []byte("x")}, long); err != nil {
			t.Fatal(err)
		}
	}
	meta, _ := s.Keys(ch)
	master, err := cl.MasterFor(meta)
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, master)

	cl.Kill(master)
	killed := time.Now()
	var failures int
	var pos history.Position
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		pos, err = s.Append(ctx, ch, history.Publication{Data: []byte("y")}, long)
		cancel()
		if err == nil {
			break
		}
		failures++
		if !strings.Contains(err.Error(), `append to "failover:chat"`) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Append during failover: unexpected error %v", err)
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("appends not back 30 s after the kill: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("appends back %v after the kill, %d failed calls before", time.Since(killed), failures)
	if want := (history.Position{Epoch: before.Epoch, Offset: before.Offset + 1}); pos != want {
		t.Fatalf("first Append after the failover = %+v, want %+v (the replica had every append)", pos, want)
	}
	res, err := s.Read(t.Context(), ch, 0, 100, long)
	if err != nil {
		t.Fatal(err)
	}
	if res.Top != pos || !res.Complete || len(res.Publications) != 6 {
		t.Fatalf("Read after the failover = %+v, want Top %+v and offsets 1..6", res, pos)
	}
}

var replOffset = regexp.MustCompile(`(?m)^master_repl_offset:(\d+)\r?$`)
var slaveOffset = regexp.MustCompile(`(?m)^slave0:.*,offset=(\d+),`)

// waitReplicated waits until master's replica has acknowledged everything
// the master wrote.
func waitReplicated(t *testing.T, master *redistest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := master.Do("INFO", "replication")
		if err != nil {
			t.Fatal(err)
		}
		m, r := replOffset.FindStringSubmatch(info), slaveOffset.FindStringSubmatch(info)
		if m != nil && r != nil && m[1] == r[1] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica of %s did not catch up:\n%s", master.Addr, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
