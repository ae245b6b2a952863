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
	maxPerKey atomic.Int64 // 0: no per-key limit (SetLimits changes it)
	maxTotal  atomic.Int64 // 0: no total limit (SetLimits changes it)
	seed      maphash.Seed
	shards    []counterShard // immutable; nil when keys are not tracked

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
	return newCounter(maxPerKey, maxTotal, maxPerKey > 0)
}

// NewTrackingCounter is NewCounter for limits that may change while things
// are open (a configuration reload): it counts per key even without a
// per-key limit, so that SetLimits can set one that counts what is
// already open. The price is one map entry per key with anything open.
func NewTrackingCounter(maxPerKey, maxTotal int) (*Counter, error) {
	return newCounter(maxPerKey, maxTotal, true)
}

func newCounter(maxPerKey, maxTotal int, track bool) (*Counter, error) {
	if err := checkCounterLimits(maxPerKey, maxTotal); err != nil {
		return nil, err
	}
	c := &Counter{seed: maphash.MakeSeed()}
	c.maxPerKey.Store(int64(maxPerKey))
	c.maxTotal.Store(int64(maxTotal))
	if track {
		c.shards = make([]counterShard, counterShards)
		for i := range c.shards {
			c.shards[i].m = make(map[string]int32)
		}
	}
	return c, nil
}

func checkCounterLimits(maxPerKey, maxTotal int) error {
	if maxPerKey < 0 || maxPerKey > 1<<31-1 {
		return fmt.Errorf("%w: maxPerKey %d: want 0 (no limit) to 2147483647", ErrInvalidLimit, maxPerKey)
	}
	if maxTotal < 0 {
		return fmt.Errorf("%w: maxTotal %d: want 0 (no limit) or more", ErrInvalidLimit, maxTotal)
	}
	return nil
}

// SetLimits changes the limits; what is open stays open (a lower limit
// refuses new things until enough have closed). A per-key limit needs a
// counter that tracks keys (NewTrackingCounter, or NewCounter with a
// per-key limit).
func (c *Counter) SetLimits(maxPerKey, maxTotal int) error {
	if err := checkCounterLimits(maxPerKey, maxTotal); err != nil {
		return err
	}
	if maxPerKey > 0 && c.shards == nil {
		return fmt.Errorf("%w: this counter does not track keys: a per-key limit needs NewTrackingCounter", ErrInvalidLimit)
	}
	c.maxPerKey.Store(int64(maxPerKey))
	c.maxTotal.Store(int64(maxTotal))
	return nil
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
		if mt := c.maxTotal.Load(); mt > 0 && n >= mt {
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
		if mk := c.maxPerKey.Load(); mk > 0 && int64(n) >= mk {
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

// Count returns the number open for key (0 when keys are not tracked).
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
