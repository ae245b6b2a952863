package limit

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxShards bounds the shards of a Keyed or a Counter; each shard
	// has its own mutex.
	maxShards = 64
	// minPerShard is the fewest keys a Keyed shard holds, so small tables
	// keep an exact least-recently-used order in one shard.
	minPerShard = 256
	// evictScan is how many least recently used keys a full shard looks
	// at for a full bucket before it refuses a new key.
	evictScan = 8
	// sweepPerCall is how many idle keys one Allow may remove from its
	// shard.
	sweepPerCall = 2
	// sweepOtherEvery is how many calls to a shard (a power of two) make
	// one Allow also sweep up to sweepOther idle keys of another shard, so
	// that shards no key maps to any more are emptied too.
	sweepOtherEvery = 8
	sweepOther      = 16
)

// Keyed is a token bucket per key (a source IP, a user), all with the same
// rate, in a table of at most maxKeys keys.
//
// Memory: keys live in a map split into shards, each shard bounded by its
// share of maxKeys and ordered by last use. A key whose bucket is full
// carries no information (it would be created full again), so:
//
//   - every Allow also removes up to two least recently used keys of its
//     shard whose buckets have been full for idleAfter, and one Allow in
//     8 of a shard up to 16 of another shard, in turn (amortized
//     cleanup, no goroutine: a Keyed nobody calls keeps its keys);
//   - a new key in a shard at its bound evicts the least recently used
//     key whose bucket is full (among the shard's 8 oldest);
//   - if none of those is full, the shard's oldest keys are all being
//     limited right now (and the others were used more recently): the
//     new key is refused (fail closed) and counted in
//     KeyedStats.Overflow. Under a flood of new keys the table therefore
//     never grows past maxKeys, and a flood can only push out keys that
//     were already full.
//
// Each shard holds its share of maxKeys (up to 64 shards of at least 256
// keys), so a new key may be refused while other shards still have room:
// plan maxKeys with about 10% to spare.
//
// A key costs about 85 bytes plus its length rounded up to a size class
// (107 bytes with a 20-byte key, BenchmarkKeyedMemory).
//
// Keyed is safe for concurrent use. A nil *Keyed admits everything.
type Keyed struct {
	rate   Rate
	idle   int64 // nanoseconds a full bucket is kept
	now    func() time.Time
	base   time.Time // nanoseconds are counted from here, on the monotonic clock when now has one
	seed   maphash.Seed
	shards []keyedShard
	mask   uint64

	cursor   atomic.Uint64 // the shard to sweep next, for sweepOther
	evicted  atomic.Uint64
	overflow atomic.Uint64
}

type keyedShard struct {
	mu    sync.Mutex
	m     map[string]*keyedEntry // guarded by mu
	root  keyedEntry             // guarded by mu; root.next is the most recently used key, root.prev the least
	max   int                    // immutable
	peak  int                    // guarded by mu; see shrink
	calls uint32                 // guarded by mu; Allow calls, for sweepOther
	_     [64]byte               // keeps shards' mutexes on different cache lines
}

// keyedEntry is one key's bucket, linked into its shard's use order.
type keyedEntry struct {
	key        string
	tat        int64
	prev, next *keyedEntry
}

// KeyedStats are counters of a Keyed, for metrics.
type KeyedStats struct {
	Keys     int    // keys in the table now
	Evicted  uint64 // keys with a full bucket removed to make room for a new key
	Overflow uint64 // new keys refused because the table was full of keys being limited
}

// ErrInvalidLimit reports a size or duration a limiter cannot use.
var ErrInvalidLimit = errors.New("invalid limit")

// NewKeyed returns per-key token buckets of perSecond events per second
// with bursts of burst (as NewRate), for at most maxKeys keys at once; a
// key's bucket is forgotten once it has been full for idleAfter (0: as soon
// as it is full, which loses nothing but costs a new entry on the key's
// next event). now is the clock; nil means time.Now.
func NewKeyed(perSecond float64, burst int, maxKeys int, idleAfter time.Duration, now func() time.Time) (*Keyed, error) {
	r, err := newRate(perSecond, burst)
	if err != nil {
		return nil, err
	}
	if maxKeys < 1 {
		return nil, fmt.Errorf("%w: maxKeys %d: want at least 1", ErrInvalidLimit, maxKeys)
	}
	if idleAfter < 0 {
		return nil, fmt.Errorf("%w: idleAfter %v: want 0 or more", ErrInvalidLimit, idleAfter)
	}
	if now == nil {
		now = time.Now
	}
	n := 1
	for n < maxShards && maxKeys/(n*2) >= minPerShard {
		n *= 2
	}
	k := &Keyed{
		rate:   r,
		idle:   int64(idleAfter),
		now:    now,
		base:   now(),
		seed:   maphash.MakeSeed(),
		shards: make([]keyedShard, n),
		mask:   uint64(n - 1),
	}
	for i := range k.shards {
		s := &k.shards[i]
		s.max = maxKeys / n
		if i < maxKeys%n {
			s.max++
		}
		s.m = make(map[string]*keyedEntry)
		s.root.next, s.root.prev = &s.root, &s.root
	}
	return k, nil
}

// Allow takes one token from key's bucket and reports whether there was
// one. It is false as well when key is new and the table has no room (see
// Keyed).
func (k *Keyed) Allow(key string) bool {
	if k == nil {
		return true
	}
	now := k.nanos()
	s := &k.shards[maphash.String(k.seed, key)&k.mask]
	s.mu.Lock()
	e := s.m[key]
	if e == nil {
		if len(s.m) >= s.max && !k.evictLocked(s, now) {
			s.mu.Unlock()
			k.overflow.Add(1)
			return false
		}
		e = &keyedEntry{key: strings.Clone(key), tat: math.MinInt64}
		s.m[e.key] = e
		s.peak = max(s.peak, len(s.m))
	} else {
		e.unlink()
	}
	s.pushFront(e)
	ok := k.rate.allow(&e.tat, now)
	k.sweepLocked(s, now, sweepPerCall)
	s.calls++
	other := s.calls%sweepOtherEvery == 0 && len(k.shards) > 1
	s.mu.Unlock()
	if other {
		// One lock at a time, and never wait for it.
		t := &k.shards[k.cursor.Add(1)&k.mask]
		if t.mu.TryLock() {
			k.sweepLocked(t, now, sweepOther)
			t.mu.Unlock()
		}
	}
	return ok
}

// Stats returns the table's size and counters.
func (k *Keyed) Stats() KeyedStats {
	if k == nil {
		return KeyedStats{}
	}
	st := KeyedStats{Evicted: k.evicted.Load(), Overflow: k.overflow.Load()}
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		st.Keys += len(s.m)
		s.mu.Unlock()
	}
	return st
}

// nanos is the time since k was made, in nanoseconds.
func (k *Keyed) nanos() int64 { return int64(k.now().Sub(k.base)) }

// evictLocked removes the least recently used key whose bucket is full,
// among the shard's evictScan oldest, and reports whether there was one.
func (k *Keyed) evictLocked(s *keyedShard, now int64) bool {
	e := s.root.prev
	for range evictScan {
		if e == &s.root {
			return false
		}
		if e.tat <= now {
			s.removeLocked(e)
			k.evicted.Add(1)
			return true
		}
		e = e.prev
	}
	return false
}

// sweepLocked removes up to n least recently used keys whose
// buckets have been full for k.idle. It stops at the first key that is not
// idle: keys used later were used more recently, and a bucket is full at
// most one burst's refill time after its last use, so the table is swept
// in nearly the order buckets fill up.
func (k *Keyed) sweepLocked(s *keyedShard, now int64, n int) {
	for range n {
		e := s.root.prev
		if e == &s.root || now-e.tat < k.idle {
			return
		}
		s.removeLocked(e)
	}
}

func (s *keyedShard) pushFront(e *keyedEntry) {
	e.prev, e.next = &s.root, s.root.next
	s.root.next.prev = e
	s.root.next = e
}

func (e *keyedEntry) unlink() {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *keyedShard) removeLocked(e *keyedEntry) {
	e.unlink()
	delete(s.m, e.key)
	s.m = shrink(s.m, &s.peak)
}
