package gateway

import (
	"container/heap"
	"encoding/base64"
	"strconv"
	"sync"
	"sync/atomic"
)

const registryShards = 64

// registry holds the open connections of one API, sharded by id so that
// lookups from the management API and registrations do not contend.
type registry struct {
	seq   atomic.Uint64
	count atomic.Int64
	// changed, when set (cluster mode, before the first connection), is
	// called after every change of count.
	changed func()
	shards  [registryShards]struct {
		mu sync.RWMutex
		m  map[string]*Conn
	}
}

func newRegistry() *registry {
	r := &registry{}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*Conn)
	}
	return r
}

// shard picks a shard from the id's characters (ids are random).
func (r *registry) shard(id string) int {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % registryShards)
}

// add registers c and gives it its place in the connection order.
func (r *registry) add(c *Conn) {
	c.seq = r.seq.Add(1)
	s := &r.shards[r.shard(c.info.ID)]
	s.mu.Lock()
	s.m[c.info.ID] = c
	s.mu.Unlock()
	r.count.Add(1)
	if r.changed != nil {
		r.changed()
	}
}

// remove unregisters c; it reports whether c was registered.
func (r *registry) remove(c *Conn) bool {
	s := &r.shards[r.shard(c.info.ID)]
	s.mu.Lock()
	cur, ok := s.m[c.info.ID]
	if ok && cur == c {
		delete(s.m, c.info.ID)
	}
	s.mu.Unlock()
	if ok && cur == c {
		r.count.Add(-1)
		if r.changed != nil {
			r.changed()
		}
		return true
	}
	return false
}

func (r *registry) get(id string) *Conn {
	s := &r.shards[r.shard(id)]
	s.mu.RLock()
	c := s.m[id]
	s.mu.RUnlock()
	return c
}

func (r *registry) len() int { return int(r.count.Load()) }

// each calls f for every registered connection; f must not block. It
// returns the number of connections visited.
func (r *registry) each(f func(*Conn)) int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for _, c := range s.m {
			f(c)
			n++
		}
		s.mu.RUnlock()
	}
	return n
}

// page returns up to limit connections registered after the one that
// issued cursor, oldest first, and the cursor of the next page ("" when
// this is the last). Connections that register meanwhile appear on later
// pages; none is repeated.
func (r *registry) page(cursor string, limit int) ([]*Conn, string, error) {
	var after uint64
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", ErrInvalidCursor
		}
		if after, err = strconv.ParseUint(string(b), 10, 64); err != nil {
			return nil, "", ErrInvalidCursor
		}
	}
	// Keep the limit+1 smallest seqs above after in a max-heap.
	h := &connHeap{}
	r.each(func(c *Conn) {
		if c.seq <= after {
			return
		}
		if h.Len() <= limit {
			heap.Push(h, c)
		} else if c.seq < (*h)[0].seq {
			(*h)[0] = c
			heap.Fix(h, 0)
		}
	})
	out := make([]*Conn, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(*Conn)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString(strconv.AppendUint(nil, out[limit-1].seq, 10))
	}
	return out, next, nil
}

// connHeap is a max-heap of connections by seq.
type connHeap []*Conn

func (h connHeap) Len() int           { return len(h) }
func (h connHeap) Less(i, j int) bool { return h[i].seq > h[j].seq }
func (h connHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *connHeap) Push(x any)        { *h = append(*h, x.(*Conn)) }
func (h *connHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
