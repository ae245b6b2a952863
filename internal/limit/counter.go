package limit

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// counterShards is the number of shards of a Counter's per-key map.
const counterShards = 32

// Counter counts things that are open at once — connections — per key and
// in total, and refuses more than maxPerKey for one key or maxTotal in all.
//
// Memory: a key is in the map only while its count is above zero, so the
// map holds at most one entry per open thing; maps that emptied after a
// flood are rebuilt small (see shrink).
//
// Counter is safe for concurrent use. A nil *Counter admits everything.
type Counter struct {
	maxPerKey int   // immutable; 0: no per-key limit, and no map
	maxTotal  int64 // immutable; 0: no total limit
	seed      maphash.Seed
	shards    []counterShard // nil without a per-key limit

	total    atomic.Int64
	refKey   atomic.Uint64
	refTotal atomic.Uint64
}

type counterShard struct {
	mu   sync.Mutex
	m    map[string]int32 // guarded by mu; only counts above zero
	peak int              // guarded by mu
	_    [64]byte
}

// CounterStats are a Counter's counts, for metrics.
type CounterStats struct {
	Total        int    // things open now
	Keys         int    // keys with at least one open thing (0 without a per-key limit)
	RefusedKey   uint64 // TryAcquire refused by maxPerKey
	RefusedTotal uint64 // TryAcquire refused by maxTotal
}

// NewCounter returns a counter admitting at most maxPerKey at once per key
// and maxTotal at once in all; 0 means no limit of that kind.
func NewCounter(maxPerKey, maxTotal int) (*Counter, error) {
	if maxPerKey < 0 || maxPerKey > 1<<31-1 {
		return nil, fmt.Errorf("%w: maxPerKey %d: want 0 (no limit) to 2147483647", ErrInvalidLimit, maxPerKey)
	}
	if maxTotal < 0 {
		return nil, fmt.Errorf("%w: maxTotal %d: want 0 (no limit) or more", ErrInvalidLimit, maxTotal)
	}
	c := &Counter{maxPerKey: maxPerKey, maxTotal: int64(maxTotal), seed: maphash.MakeSeed()}
	if maxPerKey > 0 {
		c.shards = make([]counterShard, counterShards)
		for i := range c.shards {
			c.shards[i].m = make(map[string]int32)
		}
	}
	return c, nil
}

// TryAcquire counts one more for key if neither limit is reached. When ok,
// the caller must call release once the thing closes; release may be
// called from any goroutine and more than once (only the first counts).
// When not ok, release is nil.
func (c *Counter) TryAcquire(key string) (release func(), ok bool) {
	if c == nil {
		return func() {}, true
	}
	for {
		n := c.total.Load()
		if c.maxTotal > 0 && n >= c.maxTotal {
			c.refTotal.Add(1)
			return nil, false
		}
		if c.total.CompareAndSwap(n, n+1) {
			break
		}
	}
	if c.shards != nil {
		s := c.shard(key)
		s.mu.Lock()
		n := s.m[key]
		if int(n) >= c.maxPerKey {
			s.mu.Unlock()
			c.total.Add(-1)
			c.refKey.Add(1)
			return nil, false
		}
		s.m[key] = n + 1
		s.peak = max(s.peak, len(s.m))
		s.mu.Unlock()
	}
	var done atomic.Bool
	return func() {
		if !done.Swap(true) {
			c.release(key)
		}
	}, true
}

func (c *Counter) release(key string) {
	if c.shards != nil {
		s := c.shard(key)
		s.mu.Lock()
		if n := s.m[key] - 1; n > 0 {
			s.m[key] = n
		} else {
			delete(s.m, key)
			s.m = shrink(s.m, &s.peak)
		}
		s.mu.Unlock()
	}
	c.total.Add(-1)
}

// Count returns the number open for key (0 without a per-key limit).
func (c *Counter) Count(key string) int {
	if c == nil || c.shards == nil {
		return 0
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.m[key])
}

// Stats returns the counts and refusals.
func (c *Counter) Stats() CounterStats {
	if c == nil {
		return CounterStats{}
	}
	st := CounterStats{Total: int(c.total.Load()), RefusedKey: c.refKey.Load(), RefusedTotal: c.refTotal.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Keys += len(s.m)
		s.mu.Unlock()
	}
	return st
}

func (c *Counter) shard(key string) *counterShard {
	return &c.shards[maphash.String(c.seed, key)&(counterShards-1)]
}
