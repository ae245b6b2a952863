package clustertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/event"
)

// RunRegistry runs the Registry conformance subtests.
func RunRegistry(t *testing.T, f Factory) {
	newSuite(f).runAll(t, []subtest{
		{"IDsCarryIncarnation", testIDsCarryIncarnation},
		{"OwnerUnknown", testOwnerUnknown},
		{"NodesOrdered", testNodesOrdered},
		{"LapsedLeaseGone", testLapsedLeaseGone},
		{"ReapOnce", testReapOnce},
		{"ReapAddRemove", testReapAddRemove},
		{"ReapAfterCancel", testReapAfterCancel},
		{"LeaveNothingToReap", testLeaveNothingToReap},
		{"CutLosesLease", testCutLosesLease},
	})
}

func testIDsCarryIncarnation(t *testing.T, s *suite) {
	c := s.f(t, 3)
	seen := map[string]bool{}
	for i, n := range c.Nodes {
		self := n.Registry.Self()
		if len(self.Incarnation) != 8 {
			t.Fatalf("node %d: incarnation %q: want 8 hex characters", i, self.Incarnation)
		}
		for range 50 {
			id := n.Registry.NewID()
			if !event.ValidID(id) {
				t.Fatalf("node %d: id %q has not the AWS shape", i, id)
			}
			if seen[id] {
				t.Fatalf("id %q minted twice", id)
			}
			seen[id] = true
			if inc, ok := cluster.IncarnationOf(id); !ok || inc != self.Incarnation {
				t.Fatalf("node %d: id %q carries %q, %v; want %q", i, id, inc, ok, self.Incarnation)
			}
			for j, m := range c.Nodes {
				owner, err := m.Registry.Owner(ctx(t), id)
				if err != nil || owner.Incarnation != self.Incarnation {
					t.Fatalf("node %d: Owner(%s of node %d) = %+v, %v; want node %s", j, id, i, owner, err, self.Incarnation)
				}
			}
		}
	}
}

func testOwnerUnknown(t *testing.T, s *suite) {
	c := s.f(t, 2)
	for _, id := range []string{cluster.NewID(cluster.NewIncarnation()), event.NewID(), "not an id", ""} {
		if _, err := c.Nodes[0].Registry.Owner(ctx(t), id); !errors.Is(err, cluster.ErrNodeGone) {
			// event.NewID may by chance carry a live incarnation: 2 in 2^32.
			t.Errorf("Owner(%q) = %v; want ErrNodeGone", id, err)
		}
	}
}

func incarnations(ns []cluster.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Incarnation
	}
	return out
}

func testNodesOrdered(t *testing.T, s *suite) {
	c := s.f(t, 4)
	var want []string
	for _, n := range c.Nodes {
		want = append(want, n.Registry.Self().Incarnation)
	}
	slices.Sort(want)
	for i, n := range c.Nodes {
		got, err := n.Registry.Nodes(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(incarnations(got), want) {
			t.Errorf("node %d: Nodes = %v; want %v", i, incarnations(got), want)
		}
	}
}

func testLapsedLeaseGone(t *testing.T, s *suite) {
	c := s.f(t, 3)
	id := c.Nodes[1].Registry.NewID()
	dead := c.Nodes[1].Registry.Self().Incarnation
	c.Kill(1)
	c.Expire(t)
	for _, i := range []int{0, 2} {
		r := c.Nodes[i].Registry
		if _, err := r.Owner(ctx(t), id); !errors.Is(err, cluster.ErrNodeGone) {
			t.Errorf("node %d: Owner of the dead node's id = %v; want ErrNodeGone", i, err)
		}
		ns, err := r.Nodes(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(incarnations(ns), dead) {
			t.Errorf("node %d: Nodes still lists the dead node", i)
		}
		if len(ns) != 2 {
			t.Errorf("node %d: Nodes = %v; want the 2 live nodes", i, incarnations(ns))
		}
		own := r.NewID()
		if o, err := r.Owner(ctx(t), own); err != nil || o.Incarnation != r.Self().Incarnation {
			t.Errorf("node %d: Owner of its own id = %+v, %v", i, o, err)
		}
	}
}

// addRecords adds n records on node i and returns their ids, sorted. The
// records of odd k are a front-end's (recordProtocol).
func addRecords(t *testing.T, s *suite, c Cluster, i, n int) []string {
	t.Helper()
	r := c.Nodes[i].Registry
	var ids []string
	for k := range n {
		id := r.NewID()
		user := fmt.Sprint("u", k)
		rec := cluster.Record{API: s.name(t, "api"), ID: id, User: user, Connection: []byte(`{"stage":"test"}`), Protocol: recordProtocol(user)}
		if err := r.Add(ctx(t), rec); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// recordProtocol is the Protocol addRecords gives the record of user
// "u<k>": "pusher" for odd k, "" (the API's own) for even k.
func recordProtocol(user string) string {
	if n := len(user); n > 0 && (user[n-1]-'0')%2 == 1 {
		return "pusher"
	}
	return ""
}

// reaping collects what a set of reapers did.
type reaping struct {
	mu     sync.Mutex
	claims map[string]int      // dead incarnation → times claimed
	given  map[string][]string // dead incarnation → record ids handed out, in order
	by     map[string][]int    // dead incarnation → reaper index per claim
	wg     sync.WaitGroup
	cancel []context.CancelFunc
}

// startReapers runs Reap on the nodes idx; f handles each claim after the
// bookkeeping (nil: Done every record).
func startReapers(t *testing.T, c Cluster, idx []int, f func(i int, ctx context.Context, dead cluster.Node, rs cluster.Records) error) *reaping {
	rp := &reaping{claims: map[string]int{}, given: map[string][]string{}, by: map[string][]int{}}
	for _, i := range idx {
		rctx, cancel := context.WithCancel(context.Background())
		rp.cancel = append(rp.cancel, cancel)
		rp.wg.Add(1)
		go func() {
			defer rp.wg.Done()
			_ = c.Nodes[i].Registry.Reap(rctx, func(ctx context.Context, dead cluster.Node, rs cluster.Records) error {
				rp.mu.Lock()
				rp.claims[dead.Incarnation]++
				rp.by[dead.Incarnation] = append(rp.by[dead.Incarnation], i)
				rp.mu.Unlock()
				if f != nil {
					return f(i, ctx, dead, rp.recording(dead, rs))
				}
				return drain(ctx, rp.recording(dead, rs))
			})
		}()
	}
	t.Cleanup(rp.stop)
	return rp
}

func (rp *reaping) stop() {
	for _, c := range rp.cancel {
		c()
	}
	rp.wg.Wait()
}

// recording wraps rs so that handed-out records are noted.
func (rp *reaping) recording(dead cluster.Node, rs cluster.Records) cluster.Records {
	return recordingRecords{rp: rp, inc: dead.Incarnation, Records: rs}
}

type recordingRecords struct {
	rp  *reaping
	inc string
	cluster.Records
}

func (r recordingRecords) Next(ctx context.Context, n int) ([]cluster.Record, error) {
	recs, err := r.Records.Next(ctx, n)
	r.rp.mu.Lock()
	for _, rec := range recs {
		r.rp.given[r.inc] = append(r.rp.given[r.inc], rec.ID)
	}
	r.rp.mu.Unlock()
	return recs, err
}

// drain handles every record: Done each, 2 at a time.
func drain(ctx context.Context, rs cluster.Records) error {
	for {
		recs, err := rs.Next(ctx, 2)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		for _, r := range recs {
			if err := rs.Done(ctx, r.ID); err != nil {
				return err
			}
		}
	}
}

func (rp *reaping) snapshot(inc string) (claims int, given []string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.claims[inc], append([]string(nil), rp.given[inc]...)
}

// waitReaped waits until the reapers have handed out every record of the
// dead incarnation inc at least once.
func waitReaped(t *testing.T, rp *reaping, inc string, want []string) {
	t.Helper()
	waitFor(t, "the dead node's records handed out", func() bool {
		_, given := rp.snapshot(inc)
		return len(uniq(given)) >= len(want)
	})
}

func uniq(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func testReapOnce(t *testing.T, s *suite) {
	c := s.f(t, 5)
	want := addRecords(t, s, c, 3, 7)
	marker := addRecords(t, s, c, 4, 1)
	dead := c.Nodes[3].Registry.Self().Incarnation
	dead2 := c.Nodes[4].Registry.Self().Incarnation
	// The claimer of the first dead node holds its claim until a second
	// dead node, killed meanwhile, has been reaped by another reaper: the
	// others looked for lapsed nodes while the first was claimed.
	claimed, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rp := startReapers(t, c, []int{0, 1, 2}, func(_ int, ctx context.Context, d cluster.Node, rs cluster.Records) error {
		if d.Incarnation == dead {
			once.Do(func() { close(claimed) })
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return drain(ctx, rs)
	})
	c.Kill(3)
	c.Expire(t)
	waitClosed(t, claimed, "the first dead node to be claimed")
	c.Kill(4)
	c.Expire(t)
	waitReaped(t, rp, dead2, marker)
	close(release)
	waitReaped(t, rp, dead, want)
	// One more wake: a reaper that would claim the reaped node again has
	// its chance before the reapers stop.
	c.Expire(t)
	rp.stop()
	claims, given := rp.snapshot(dead)
	if claims != 1 {
		t.Errorf("the dead node was claimed %d times; want exactly once", claims)
	}
	if !slices.Equal(given, want) {
		t.Errorf("records handed out %v; want each once, in id order: %v", given, want)
	}
	if claims, _ := rp.snapshot(dead2); claims != 1 {
		t.Errorf("the second dead node was claimed %d times; want exactly once", claims)
	}
}

func testReapAddRemove(t *testing.T, s *suite) {
	c := s.f(t, 2)
	ids := addRecords(t, s, c, 1, 4)
	api := s.name(t, "api")
	if err := c.Nodes[1].Registry.Remove(ctx(t), api, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.Nodes[1].Registry.Remove(ctx(t), api, ids[1]); err != nil {
		t.Fatalf("second Remove: %v; want nil", err)
	}
	want := []string{ids[0], ids[2], ids[3]}
	dead := c.Nodes[1].Registry.Self().Incarnation
	var mu sync.Mutex
	var recs []cluster.Record
	rp := startReapers(t, c, []int{0}, func(_ int, ctx context.Context, d cluster.Node, rs cluster.Records) error {
		if d.Incarnation != dead {
			t.Errorf("claimed %s; want %s", d.Incarnation, dead)
		}
		for {
			got, err := rs.Next(ctx, 10)
			if err != nil || len(got) == 0 {
				return err
			}
			mu.Lock()
			recs = append(recs, got...)
			mu.Unlock()
			for _, r := range got {
				if err := rs.Done(ctx, r.ID); err != nil {
					return err
				}
			}
		}
	})
	c.Kill(1)
	c.Expire(t)
	waitReaped(t, rp, dead, want)
	rp.stop()
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, r := range recs {
		got = append(got, r.ID)
		if r.API != api || string(r.Connection) != `{"stage":"test"}` || r.User == "" || r.Protocol != recordProtocol(r.User) {
			t.Errorf("record %+v: fields not kept", r)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("reaped %v; want %v (the removed one left out)", got, want)
	}
}

func testReapAfterCancel(t *testing.T, s *suite) {
	c := s.f(t, 3)
	want := addRecords(t, s, c, 2, 5)
	dead := c.Nodes[2].Registry.Self().Incarnation
	// Reaper 0 takes one record, does it, takes a second and is stopped
	// before its Done (as a reaper killed mid-record).
	started := make(chan struct{})
	var once sync.Once
	rp0 := startReapers(t, c, []int{0}, func(_ int, ctx context.Context, _ cluster.Node, rs cluster.Records) error {
		recs, err := rs.Next(ctx, 1)
		if err != nil || len(recs) != 1 {
			return fmt.Errorf("first Next: %v, %v", recs, err)
		}
		if err := rs.Done(ctx, recs[0].ID); err != nil {
			return err
		}
		if _, err := rs.Next(ctx, 1); err != nil {
			return err
		}
		once.Do(func() { close(started) })
		<-ctx.Done()
		return ctx.Err()
	})
	c.Kill(2)
	c.Expire(t)
	waitClosed(t, started, "reaper 0 to hold a record")
	rp0.stop()
	rp1 := startReapers(t, c, []int{1}, nil)
	c.Expire(t)
	waitFor(t, "the rest reaped by another node", func() bool {
		_, given := rp1.snapshot(dead)
		return len(given) == 4
	})
	_, given0 := rp0.snapshot(dead)
	_, given1 := rp1.snapshot(dead)
	all := append(slices.Clone(given0), given1...)
	if !slices.Equal(uniq(all), want) {
		t.Errorf("records handed out %v; want all of %v", uniq(all), want)
	}
	if dup := len(all) - len(uniq(all)); dup > 1 {
		t.Errorf("%d records handed out twice; want at most one", dup)
	}
	if slices.Contains(given1, given0[0]) {
		t.Errorf("record %s was Done yet handed out again", given0[0])
	}
}

func testLeaveNothingToReap(t *testing.T, s *suite) {
	c := s.f(t, 3)
	addRecords(t, s, c, 1, 3)
	left := c.Nodes[1].Registry.Self().Incarnation
	id := c.Nodes[1].Registry.NewID()
	if err := c.Nodes[1].Registry.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes[0].Registry.Owner(ctx(t), id); !errors.Is(err, cluster.ErrNodeGone) {
		t.Errorf("Owner of a left node's id = %v; want ErrNodeGone", err)
	}
	marker := addRecords(t, s, c, 2, 1)
	dead := c.Nodes[2].Registry.Self().Incarnation
	rp := startReapers(t, c, []int{0}, nil)
	c.Kill(2)
	c.Expire(t)
	waitReaped(t, rp, dead, marker)
	rp.stop()
	if claims, _ := rp.snapshot(left); claims != 0 {
		t.Errorf("a node that left was claimed %d times; want never", claims)
	}
}

func testCutLosesLease(t *testing.T, s *suite) {
	c := s.f(t, 2)
	if c.Cut == nil {
		t.Skip("the backend cannot cut a node off")
	}
	lost := c.Nodes[1].Registry.Lost()
	select {
	case <-lost:
		t.Fatal("Lost closed on a live node")
	default:
	}
	c.Cut(1)
	// A cut node's calls fail (never succeed silently).
	short, cancel := context.WithTimeout(ctx(t), 2*time.Second)
	defer cancel()
	if _, err := c.Nodes[1].Bus.Publish(short, s.name(t, "api"), s.name(t, "ch"), pub("x"), nil); err == nil {
		t.Error("Publish of a cut node succeeded; want an error")
	}
	c.Expire(t)
	waitFor(t, "Lost to close", func() bool {
		select {
		case <-lost:
			return true
		default:
			return false
		}
	})
	if _, err := c.Nodes[0].Registry.Owner(ctx(t), c.Nodes[1].Registry.NewID()); !errors.Is(err, cluster.ErrNodeGone) {
		t.Errorf("Owner of a cut node's id after its lease = %v; want ErrNodeGone", err)
	}
	select {
	case <-c.Nodes[0].Registry.Lost():
		t.Error("the other node's Lost closed too")
	default:
	}
}

// waitClosed waits for ch to close, failing the test after waitTimeout.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}
