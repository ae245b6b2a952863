package limit

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func BenchmarkBucketAllow(b *testing.B) {
	r, _ := NewRate(1e6, 100)
	bk := NewBucket(r)
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bk.Allow(now + int64(i)*1000)
	}
}

// BenchmarkBucketAllowTimeNow includes reading the clock, as a caller
// without a cached time would.
func BenchmarkBucketAllowTimeNow(b *testing.B) {
	r, _ := NewRate(1e6, 100)
	bk := NewBucket(r)
	b.ReportAllocs()
	for b.Loop() {
		bk.Allow(time.Now().UnixNano())
	}
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "203.0.113." + strconv.Itoa(i%256) + "/" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkKeyedAllow: known keys (10k of them) from all Ps.
func BenchmarkKeyedAllow(b *testing.B) {
	k, _ := NewKeyed(1e6, 100, 100_000, time.Minute, nil)
	keys := benchKeys(10_000)
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			k.Allow(keys[i%uint64(len(keys))])
			i++
		}
	})
}

// BenchmarkKeyedAllowSerial: known keys, one goroutine.
func BenchmarkKeyedAllowSerial(b *testing.B) {
	k, _ := NewKeyed(1e6, 100, 100_000, time.Minute, nil)
	keys := benchKeys(10_000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k.Allow(keys[i%len(keys)])
	}
}

// BenchmarkKeyedFlood: a new key every call into a full table whose
// oldest buckets are full, so each call evicts one.
func BenchmarkKeyedFlood(b *testing.B) {
	clk := newFakeClock()
	k, _ := NewKeyed(1000, 1, 10_000, time.Minute, clk.Now)
	keys := benchKeys(1 << 20)
	for _, key := range keys[:10_000] {
		k.Allow(key)
	}
	clk.Add(time.Second)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k.Allow(keys[i%len(keys)])
		clk.Add(time.Microsecond)
	}
}

// BenchmarkKeyedOverflow: a new key every call into a full table of
// limited keys: each call is refused.
func BenchmarkKeyedOverflow(b *testing.B) {
	clk := newFakeClock()
	k, _ := NewKeyed(1, 1, 10_000, time.Minute, clk.Now)
	keys := benchKeys(1 << 20)
	for _, key := range keys[:10_000] {
		k.Allow(key)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k.Allow(keys[10_000+i%(len(keys)-10_000)])
	}
}

// xrateKeyed is the obvious alternative to Keyed: a map of
// golang.org/x/time/rate Limiters under a mutex (without any eviction).
type xrateKeyed struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (x *xrateKeyed) Allow(key string) bool {
	x.mu.Lock()
	l := x.m[key]
	if l == nil {
		l = rate.NewLimiter(10, 20)
		x.m[key] = l
	}
	x.mu.Unlock()
	return l.Allow()
}

func BenchmarkXRateKeyedAllowSerial(b *testing.B) {
	x := &xrateKeyed{m: make(map[string]*rate.Limiter)}
	keys := benchKeys(10_000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		x.Allow(keys[i%len(keys)])
	}
}

// BenchmarkKeyedMemory reports the heap bytes per key of a table of 100k
// keys: Keyed, and the x/time/rate map for comparison. Key strings (14–20
// bytes) are counted once, in both.
func BenchmarkKeyedMemory(b *testing.B) {
	const n = 100_000
	keys := benchKeys(n)
	b.Run("limit.Keyed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			before := heapAlloc()
			// Room for 2n: each shard holds its share of maxKeys, so a
			// table fills up before every shard does.
			k, _ := NewKeyed(10, 20, 2*n, time.Minute, nil)
			for _, key := range keys {
				k.Allow(key)
			}
			b.ReportMetric(float64(heapAlloc()-before)/n, "B/key")
			if k.Stats().Keys != n {
				b.Fatal("keys missing")
			}
		}
	})
	b.Run("xrate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			before := heapAlloc()
			x := &xrateKeyed{m: make(map[string]*rate.Limiter)}
			for _, key := range keys {
				x.Allow(strings.Clone(key))
			}
			b.ReportMetric(float64(heapAlloc()-before)/n, "B/key")
			if len(x.m) != n {
				b.Fatal("keys missing")
			}
		}
	})
}

func BenchmarkGlobalAllow(b *testing.B) {
	g, _ := NewGlobal(1e9, 1000, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Allow()
		}
	})
}

// BenchmarkCounter: TryAcquire and release of one of 10k keys, from all Ps.
func BenchmarkCounter(b *testing.B) {
	c, _ := NewCounter(1000, 0)
	keys := benchKeys(10_000)
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			rel, ok := c.TryAcquire(keys[i%uint64(len(keys))])
			if ok {
				rel()
			}
			i++
		}
	})
}
