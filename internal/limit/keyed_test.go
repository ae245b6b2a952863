package limit

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

func mustKeyed(t testing.TB, perSecond float64, burst, maxKeys int, idle time.Duration, clk *fakeClock) *Keyed {
	t.Helper()
	k, err := NewKeyed(perSecond, burst, maxKeys, idle, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewKeyedErrors(t *testing.T) {
	for _, tc := range []struct {
		perSecond float64
		burst     int
		maxKeys   int
		idle      time.Duration
		want      error
	}{
		{0, 1, 10, 0, ErrInvalidRate},
		{1, 0, 10, 0, ErrInvalidRate},
		{1, 1, 0, 0, ErrInvalidLimit},
		{1, 1, 10, -time.Second, ErrInvalidLimit},
	} {
		_, err := NewKeyed(tc.perSecond, tc.burst, tc.maxKeys, tc.idle, nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("NewKeyed(%v, %d, %d, %v) error = %v, want %v", tc.perSecond, tc.burst, tc.maxKeys, tc.idle, err, tc.want)
		}
	}
}

func TestKeyedShardsShareMaxKeys(t *testing.T) {
	for _, maxKeys := range []int{1, 7, 255, 512, 1000, 100_000, 1 << 30} {
		k, err := NewKeyed(1, 1, maxKeys, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0
		for i := range k.shards {
			sum += k.shards[i].max
		}
		if sum != maxKeys || len(k.shards) > maxShards || len(k.shards)&(len(k.shards)-1) != 0 {
			t.Errorf("maxKeys %d: %d shards holding %d keys", maxKeys, len(k.shards), sum)
		}
	}
}

func TestKeyedPerKeyRate(t *testing.T) {
	clk := newFakeClock()
	k := mustKeyed(t, 1, 3, 100, time.Minute, clk)
	for _, key := range []string{"10.0.0.1", "10.0.0.2"} {
		ok := 0
		for range 10 {
			if k.Allow(key) {
				ok++
			}
		}
		if ok != 3 {
			t.Fatalf("%s: %d allowed, want the burst of 3", key, ok)
		}
	}
	clk.Add(time.Second)
	if !k.Allow("10.0.0.1") || k.Allow("10.0.0.1") {
		t.Fatal("after 1s at 1/s: want exactly one more token")
	}
	clk.Add(time.Hour)
	ok := 0
	for range 10 {
		if k.Allow("10.0.0.2") {
			ok++
		}
	}
	if ok != 3 {
		t.Fatalf("after an hour: %d allowed, want 3 (a full bucket, not more)", ok)
	}
}

// A flood of distinct keys over time: the table never holds more than
// maxKeys, and full buckets make room.
func TestKeyedFloodEvictsFullBuckets(t *testing.T) {
	clk := newFakeClock()
	const maxKeys = 1000
	k := mustKeyed(t, 10, 2, maxKeys, time.Hour, clk) // full 200ms after last use
	for i := range 100_000 {
		if !k.Allow("flood-" + strconv.Itoa(i)) {
			t.Fatalf("key %d refused though the oldest keys were full", i)
		}
		clk.Add(time.Millisecond) // 1000 keys span 1s > 200ms refill
		if i%997 == 0 {
			if n := k.Stats().Keys; n > maxKeys {
				t.Fatalf("after %d keys the table holds %d > %d", i+1, n, maxKeys)
			}
		}
	}
	st := k.Stats()
	if st.Keys != maxKeys || st.Evicted != 100_000-maxKeys || st.Overflow != 0 {
		t.Fatalf("stats %+v, want %d keys, %d evicted, no overflow", st, maxKeys, 100_000-maxKeys)
	}
}

// A flood of distinct keys at one instant: nothing is full, so new keys
// are refused once the table is full, and keys already in it keep their
// buckets.
func TestKeyedFloodFailsClosed(t *testing.T) {
	clk := newFakeClock()
	const maxKeys = 500
	k := mustKeyed(t, 1, 5, maxKeys, time.Hour, clk)
	for i := range maxKeys {
		if !k.Allow("k" + strconv.Itoa(i)) {
			t.Fatalf("key %d refused before the table was full", i)
		}
	}
	for i := range 10_000 {
		if k.Allow("attacker-" + strconv.Itoa(i)) {
			t.Fatalf("new key %d admitted into a full table of non-full buckets", i)
		}
	}
	st := k.Stats()
	if st.Keys != maxKeys || st.Overflow != 10_000 || st.Evicted != 0 {
		t.Fatalf("stats %+v, want %d keys, 10000 overflow, 0 evicted", st, maxKeys)
	}
	// Known keys still have their own buckets: 4 tokens left of 5.
	ok := 0
	for range 10 {
		if k.Allow("k7") {
			ok++
		}
	}
	if ok != 4 {
		t.Fatalf("known key: %d allowed, want 4", ok)
	}
	// Once buckets are full again, new keys get in.
	clk.Add(5 * time.Second)
	if !k.Allow("late") {
		t.Fatal("new key refused after the buckets refilled")
	}
}

// Idle keys are swept by later calls, without a goroutine.
func TestKeyedSweepsIdleKeys(t *testing.T) {
	clk := newFakeClock()
	k := mustKeyed(t, 100, 1, 10_000, time.Minute, clk)
	for i := range 1000 {
		k.Allow("old-" + strconv.Itoa(i))
	}
	clk.Add(time.Minute + 20*time.Millisecond)
	// Each call removes up to two idle keys of its shard, and every 8th
	// call to a shard up to 16 of another.
	for i := range 10_000 {
		k.Allow("new-" + strconv.Itoa(i%10))
	}
	if n := k.Stats().Keys; n != 10 {
		t.Fatalf("%d keys after sweeping, want the 10 in use", n)
	}
	// Keys not idle long enough stay.
	clk.Add(30 * time.Second)
	for range 100 {
		k.Allow("other")
	}
	if n := k.Stats().Keys; n != 11 {
		t.Fatalf("%d keys, want 11 (the 10 used 30s ago are not idle yet)", n)
	}
}

func TestKeyedIdleZeroForgetsFullBuckets(t *testing.T) {
	clk := newFakeClock()
	k := mustKeyed(t, 10, 1, 100, 0, clk)
	k.Allow("a")
	clk.Add(100 * time.Millisecond)
	k.Allow("b")
	if n := k.Stats().Keys; n != 1 {
		t.Fatalf("%d keys, want 1: a was full and idleAfter is 0", n)
	}
}

func TestKeyedNil(t *testing.T) {
	var k *Keyed
	if !k.Allow("x") {
		t.Fatal("nil Keyed refused")
	}
	if st := k.Stats(); st != (KeyedStats{}) {
		t.Fatalf("nil Keyed stats %+v", st)
	}
}

// The map gives back its memory after a flood is swept.
func TestKeyedMemoryAfterFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	clk := newFakeClock()
	k := mustKeyed(t, 100, 1, 200_000, time.Second, clk)
	base := heapAlloc()
	for i := range 200_000 {
		k.Allow(fmt.Sprintf("203.0.113.%d:%d", i%256, i))
	}
	full := heapAlloc()
	clk.Add(2 * time.Second)
	// Later traffic of one key sweeps every shard.
	for range 200_000 {
		k.Allow("survivor")
	}
	if n := k.Stats().Keys; n != 1 {
		t.Fatalf("%d keys after the sweep, want 1", n)
	}
	after := heapAlloc()
	t.Logf("heap: %d B before, %d B with 200k keys (%.0f B/key), %d B after the sweep",
		base, full, float64(full-base)/200_000, after)
	if after > base+(full-base)/10 {
		t.Fatalf("after the sweep the heap is %d B, more than a tenth of the flood's %d B", after-base, full-base)
	}
	runtime.KeepAlive(k)
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestKeyedConcurrent(t *testing.T) {
	clk := newFakeClock()
	k := mustKeyed(t, 1000, 10, 2000, 10*time.Millisecond, clk)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20_000 {
				switch i % 3 {
				case 0:
					k.Allow("shared")
				case 1:
					k.Allow(fmt.Sprintf("g%d-%d", g, i%3000))
				default:
					clk.Add(time.Microsecond)
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			if n := k.Stats().Keys; n > 2000 {
				t.Errorf("table holds %d keys > 2000", n)
				return
			}
		}
	})
	wg.Wait()
	if n := k.Stats().Keys; n > 2000 {
		t.Fatalf("table holds %d keys > 2000", n)
	}
	// The shard lists are consistent with the maps.
	for i := range k.shards {
		s := &k.shards[i]
		n := 0
		for e := s.root.next; e != &s.root; e = e.next {
			if s.m[e.key] != e {
				t.Fatalf("shard %d: listed key %q is not in the map", i, e.key)
			}
			n++
		}
		if n != len(s.m) {
			t.Fatalf("shard %d: %d listed, %d in the map", i, n, len(s.m))
		}
	}
}
