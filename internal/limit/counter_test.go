package limit

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func mustCounter(t testing.TB, perKey, total int) *Counter {
	t.Helper()
	c, err := NewCounter(perKey, total)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCounterErrors(t *testing.T) {
	for _, tc := range [][2]int{{-1, 0}, {0, -1}, {1 << 31, 0}} {
		if _, err := NewCounter(tc[0], tc[1]); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("NewCounter(%d, %d) error = %v, want ErrInvalidLimit", tc[0], tc[1], err)
		}
	}
}

func TestCounterPerKeyAndTotal(t *testing.T) {
	c := mustCounter(t, 2, 3)
	r1, ok1 := c.TryAcquire("a")
	_, ok2 := c.TryAcquire("a")
	r3, ok3 := c.TryAcquire("a")
	if !ok1 || !ok2 || ok3 || r3 != nil {
		t.Fatalf("per key 2: got %v %v %v (release %v)", ok1, ok2, ok3, r3 != nil)
	}
	_, okB := c.TryAcquire("b")
	_, okC := c.TryAcquire("c")
	if !okB || okC {
		t.Fatalf("total 3: b %v, c %v; want true, false", okB, okC)
	}
	st := c.Stats()
	if st.Total != 3 || st.Keys != 2 || st.RefusedKey != 1 || st.RefusedTotal != 1 {
		t.Fatalf("stats %+v", st)
	}
	r1()
	if _, ok := c.TryAcquire("c"); !ok {
		t.Fatal("refused after a release made room")
	}
}

func TestCounterReleaseIsIdempotent(t *testing.T) {
	c := mustCounter(t, 3, 0)
	r1, _ := c.TryAcquire("k")
	r2, _ := c.TryAcquire("k")
	r1()
	r1()
	r1()
	if n := c.Count("k"); n != 1 {
		t.Fatalf("count %d after releasing one of two three times, want 1", n)
	}
	r2()
	r2()
	if st := c.Stats(); st.Total != 0 || st.Keys != 0 {
		t.Fatalf("stats %+v after releasing all, want nothing open and no keys", st)
	}
	if _, ok := c.TryAcquire("k"); !ok {
		t.Fatal("refused after releasing")
	}
}

func TestCounterNoPerKeyLimit(t *testing.T) {
	c := mustCounter(t, 0, 2)
	ra, _ := c.TryAcquire("a")
	c.TryAcquire("a")
	if _, ok := c.TryAcquire("b"); ok {
		t.Fatal("third admitted with a total of 2")
	}
	ra()
	if st := c.Stats(); st.Total != 1 || st.Keys != 0 {
		t.Fatalf("stats %+v; want 1 open, no keys tracked", st)
	}
	unlimited := mustCounter(t, 0, 0)
	for range 1000 {
		if _, ok := unlimited.TryAcquire(""); !ok {
			t.Fatal("refused without limits")
		}
	}
	var nilC *Counter
	r, ok := nilC.TryAcquire("x")
	if !ok || r == nil {
		t.Fatal("nil Counter refused")
	}
	r()
}

// Releasing every key frees the map: its table is rebuilt small.
func TestCounterMemoryAfterFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	c := mustCounter(t, 1, 0)
	base := heapAlloc()
	rels := make([]func(), 0, 200_000)
	for i := range 200_000 {
		r, ok := c.TryAcquire("198.51.100." + strconv.Itoa(i))
		if !ok {
			t.Fatal("refused")
		}
		rels = append(rels, r)
	}
	full := heapAlloc()
	for _, r := range rels {
		r()
	}
	rels = nil
	after := heapAlloc()
	t.Logf("heap: %d B before, %d B with 200k keys, %d B after releasing", base, full, after)
	if st := c.Stats(); st.Total != 0 || st.Keys != 0 {
		t.Fatalf("stats %+v after releasing all", st)
	}
	if after > base+(full-base)/10 {
		t.Fatalf("after releasing the heap is %d B, more than a tenth of the flood's %d B", after-base, full-base)
	}
}

func TestCounterConcurrent(t *testing.T) {
	const perKey, total = 3, 20
	c := mustCounter(t, perKey, total)
	var open atomic.Int64
	var perKeyOpen [5]atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 5000 {
				k := (g + i) % 5
				r, ok := c.TryAcquire(strconv.Itoa(k))
				if !ok {
					continue
				}
				if n := open.Add(1); n > total {
					t.Errorf("%d open > total %d", n, total)
				}
				if n := perKeyOpen[k].Add(1); n > perKey {
					t.Errorf("%d open for key %d > %d", n, k, perKey)
				}
				perKeyOpen[k].Add(-1)
				open.Add(-1)
				// Release twice, from two goroutines.
				var inner sync.WaitGroup
				inner.Go(r)
				r()
				inner.Wait()
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Total != 0 || st.Keys != 0 {
		t.Fatalf("stats %+v after all released", st)
	}
}

// A tracking counter takes new limits while things are open: they count
// against the new limits, and releases made under the old ones balance.
func TestCounterSetLimits(t *testing.T) {
	c, err := NewTrackingCounter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rel []func()
	for range 3 {
		r, ok := c.TryAcquire("a")
		if !ok {
			t.Fatal("refused without limits")
		}
		rel = append(rel, r)
	}
	if c.Count("a") != 3 {
		t.Fatalf("count %d, want 3 (tracked without a per-key limit)", c.Count("a"))
	}
	if err := c.SetLimits(2, 10); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TryAcquire("a"); ok {
		t.Fatal("a fourth for key a admitted under maxPerKey 2")
	}
	if r, ok := c.TryAcquire("b"); !ok {
		t.Fatal("another key refused")
	} else {
		r()
	}
	rel[0]()
	rel[1]()
	if _, ok := c.TryAcquire("a"); !ok {
		t.Fatal("refused after enough closed")
	}
	if err := c.SetLimits(0, 2); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TryAcquire("c"); ok {
		t.Fatal("admitted past the new total of 2")
	}
	if err := c.SetLimits(-1, 0); err == nil {
		t.Fatal("a negative limit was accepted")
	}

	plain, _ := NewCounter(0, 5)
	if err := plain.SetLimits(1, 5); err == nil {
		t.Fatal("a per-key limit was set on a counter that does not track keys")
	}
	if err := plain.SetLimits(0, 1); err != nil {
		t.Fatal(err)
	}
}
