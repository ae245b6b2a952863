package authorizer

import (
	"container/list"
	"time"
)

// DefaultMaxCacheEntries is the cache bound when Options.MaxCacheEntries
// is 0.
const DefaultMaxCacheEntries = 10000

// cache holds parsed authorizer outputs by identity key for a fixed TTL,
// at most max of them; when full, the oldest entry goes. It is not safe
// for concurrent use: Authorizer.mu guards it.
//
// Every entry lives for the same TTL, so the insertion order kept in order
// is also the expiry order (with a clock that does not go back): put drops
// expired entries from the front, and a get that finds an expired entry
// drops it.
type cache struct {
	ttl     time.Duration
	max     int
	entries map[string]*list.Element // of *cacheEntry
	order   *list.List               // oldest first
}

type cacheEntry struct {
	key     string
	res     *result
	expires time.Time
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{ttl: ttl, max: max, entries: make(map[string]*list.Element), order: list.New()}
}

// get returns the entry for key if it has not expired at now.
func (c *cache) get(key string, now time.Time) (*result, bool) {
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	return e.res, true
}

// put stores res for key from now on, replacing an older entry for key,
// and evicts expired entries and, beyond max, the oldest ones.
func (c *cache) put(key string, res *result, now time.Time) {
	exp := now.Add(c.ttl)
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		e.res, e.expires = res, exp
		c.order.MoveToBack(el)
	} else {
		c.entries[key] = c.order.PushBack(&cacheEntry{key: key, res: res, expires: exp})
	}
	for el := c.order.Front(); el != nil && (c.order.Len() > c.max || !now.Before(el.Value.(*cacheEntry).expires)); el = c.order.Front() {
		c.remove(el)
	}
}

func (c *cache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).key)
	c.order.Remove(el)
}

func (c *cache) len() int { return c.order.Len() }
