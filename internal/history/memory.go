package history

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// MemoryOptions configure NewMemory. The zero value means the defaults.
type MemoryOptions struct {
	// Now is the clock that stamps publications and ages streams.
	// Default: time.Now.
	Now func() time.Time
	// SweepInterval is how often the sweeper drops expired publications and
	// forgotten streams that no call touches. Default: 1s.
	SweepInterval time.Duration
}

// Memory is the in-process History: streams live in this process only, so a
// restart loses them and reconnecting clients see a new epoch. It is the
// default implementation and the test double.
//
// Create it with NewMemory and stop it with Close.
type Memory struct {
	// Immutable after NewMemory.
	now      func() time.Time
	interval time.Duration
	stop     chan struct{} // closed by Close to stop the sweeper
	done     chan struct{} // closed by the sweeper when it returns

	closeOnce sync.Once

	shards [shardCount]shard
}

// shardCount is how many locks the streams are spread over.
const shardCount = 64

// minRing is the first ring allocated for a stream (or its Size, if
// smaller); rings double from there up to Size.
const minRing = 4

var _ History = (*Memory)(nil)

// A shard holds the streams whose channel names hash to it.
type shard struct {
	mu      sync.Mutex
	streams map[string]*stream // guarded by mu; nil once the Memory is closed
	pubs    int                // guarded by mu; publications kept by streams
	_       [40]byte           // pads the shard to a cache line so neighbours' locks don't share one
}

// A stream is one channel's history. All fields are guarded by its shard's
// mutex.
type stream struct {
	epoch   string
	top     uint64        // offset of the newest publication; 0 before the first
	touched time.Time     // the last Append, or the creation
	ttl     time.Duration // the latest call's options, which the sweeper applies
	metaTTL time.Duration

	// ring holds the n kept publications, offsets top-n+1 .. top, the
	// oldest at ring[head]. It grows by doubling up to Size, so a quiet
	// channel holds few slots.
	ring []entry
	head int
	n    int
}

// An entry is a kept publication; its offset follows from its place in the
// ring.
type entry struct {
	at         time.Time
	name, user string
	data       []byte
}

// NewMemory returns an empty Memory and starts its sweeper goroutine; Close
// stops it.
func NewMemory(o MemoryOptions) *Memory {
	m := &Memory{
		now:      o.Now,
		interval: o.SweepInterval,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.interval <= 0 {
		m.interval = time.Second
	}
	for i := range m.shards {
		m.shards[i].streams = make(map[string]*stream)
	}
	go m.sweeper()
	return m
}

// Close stops the sweeper, waits for it to return and drops every stream.
// Later calls return ErrClosed. Close is idempotent.
func (m *Memory) Close() {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
		for i := range m.shards {
			sh := &m.shards[i]
			sh.mu.Lock()
			sh.streams, sh.pubs = nil, 0
			sh.mu.Unlock()
		}
	})
}

// Append implements History. It does not block; ctx is only checked for
// cancellation, so that a cancelled caller adds nothing.
func (m *Memory) Append(ctx context.Context, channel string, p Publication, o StreamOptions) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, err
	}
	if err := o.Validate(); err != nil {
		return Position{}, err
	}
	sh := m.shard(channel)
	sh.mu.Lock()
	if sh.streams == nil {
		sh.mu.Unlock()
		return Position{}, ErrClosed
	}
	// The clock is read under the lock so that times never decrease along
	// a ring, which lets expiry stop at the first publication it keeps.
	now := m.now()
	s := sh.stream(channel, now, o.MetaTTL)
	before := s.n
	s.apply(now, o)
	s.push(entry{at: now, name: p.Name, user: p.User, data: p.Data}, o.Size)
	s.top++
	s.touched = now
	sh.pubs += s.n - before
	pos := Position{Epoch: s.epoch, Offset: s.top}
	sh.mu.Unlock()
	return pos, nil
}

// Read implements History. It does not block; ctx is only checked for
// cancellation. It allocates only the returned slice.
func (m *Memory) Read(ctx context.Context, channel string, since uint64, limit int, o StreamOptions) (ReadResult, error) {
	if err := ctx.Err(); err != nil {
		return ReadResult{}, err
	}
	if err := o.Validate(); err != nil {
		return ReadResult{}, err
	}
	sh := m.shard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.streams == nil {
		return ReadResult{}, ErrClosed
	}
	now := m.now()
	s := sh.stream(channel, now, o.MetaTTL)
	before := s.n
	s.apply(now, o)
	sh.pubs += s.n - before

	kept := uint64(s.n)
	res := ReadResult{
		Top: Position{Epoch: s.epoch, Offset: s.top},
		// The kept offsets are top-kept+1 .. top: since+1 is among them,
		// or since is at or past the top.
		Complete: since >= s.top-kept,
	}
	if limit <= 0 || since >= s.top || kept == 0 {
		return res, nil
	}
	first := s.top - kept + 1
	start := max(since+1, first)
	count := min(s.top-start+1, uint64(limit))
	pubs := make([]Publication, count)
	i := s.head + int(start-first)
	for j := range pubs {
		if i >= len(s.ring) {
			i -= len(s.ring)
		}
		e := &s.ring[i]
		pubs[j] = Publication{Offset: start + uint64(j), Time: e.at, Name: e.name, User: e.user, Data: e.data}
		i++
	}
	res.Publications = pubs
	return res, nil
}

// Remove implements History.
func (m *Memory) Remove(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sh := m.shard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.streams == nil {
		return ErrClosed
	}
	if s := sh.streams[channel]; s != nil {
		sh.pubs -= s.n
		delete(sh.streams, channel)
	}
	return nil
}

// Streams returns how many streams are held, including forgotten ones the
// sweeper has not dropped yet. It locks the shards one at a time.
func (m *Memory) Streams() int {
	total := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		total += len(sh.streams)
		sh.mu.Unlock()
	}
	return total
}

// Publications returns how many publications are held, including expired
// ones the sweeper has not dropped yet. It locks the shards one at a time.
func (m *Memory) Publications() int {
	total := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		total += sh.pubs
		sh.mu.Unlock()
	}
	return total
}

// shard returns channel's shard, by the 32-bit FNV-1a hash of its name
// (inlined: hash/fnv would allocate).
func (m *Memory) shard(channel string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(channel); i++ {
		h ^= uint32(channel[i])
		h *= 16777619
	}
	return &m.shards[h%shardCount]
}

// sweeper runs sweep every interval until Close.
func (m *Memory) sweeper() {
	defer close(m.done)
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweep()
		}
	}
}

// sweep drops forgotten streams and expired publications, and shrinks rings
// that are mostly empty, holding one shard lock at a time.
func (m *Memory) sweep() {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		now := m.now()
		for name, s := range sh.streams {
			if s.forgotten(now, s.metaTTL) {
				sh.pubs -= s.n
				delete(sh.streams, name)
				continue
			}
			before := s.n
			s.expire(now)
			sh.pubs += s.n - before
			if len(s.ring) > minRing && s.n <= len(s.ring)/4 {
				s.resize(max(2*s.n, minRing))
			}
		}
		sh.mu.Unlock()
	}
}

// stream returns channel's stream, creating it with a new epoch when it is
// absent or was forgotten (metaTTL since its last Append). The caller holds
// sh.mu.
func (sh *shard) stream(channel string, now time.Time, metaTTL time.Duration) *stream {
	s := sh.streams[channel]
	if s != nil && !s.forgotten(now, metaTTL) {
		return s
	}
	if s == nil {
		s = new(stream)
		sh.streams[channel] = s
	} else {
		sh.pubs -= s.n
		*s = stream{}
	}
	s.epoch = newEpoch()
	s.touched = now
	return s
}

// forgotten reports whether metaTTL has passed since the stream's last
// Append (or its creation).
func (s *stream) forgotten(now time.Time, metaTTL time.Duration) bool {
	return now.Sub(s.touched) >= metaTTL
}

// apply adopts the latest call's options and drops the publications they no
// longer keep.
func (s *stream) apply(now time.Time, o StreamOptions) {
	s.ttl, s.metaTTL = o.TTL, o.MetaTTL
	s.expire(now)
	for s.n > o.Size {
		s.pop()
	}
	if len(s.ring) > o.Size {
		s.resize(s.n)
	}
}

// expire drops the publications older than ttl, oldest first, and releases
// the ring once it is empty.
func (s *stream) expire(now time.Time) {
	for s.n > 0 && now.Sub(s.ring[s.head].at) >= s.ttl {
		s.pop()
	}
	if s.n == 0 && s.ring != nil {
		s.ring, s.head = nil, 0
	}
}

// pop drops the oldest publication; the stream must not be empty.
func (s *stream) pop() {
	s.ring[s.head] = entry{} // let the data be collected
	s.head++
	if s.head == len(s.ring) {
		s.head = 0
	}
	s.n--
}

// push adds e as the newest publication, dropping the oldest when the
// stream holds size already. apply must have run with the same size, so
// that n <= len(ring) <= size.
func (s *stream) push(e entry, size int) {
	if s.n == size { // full: the newest takes the oldest's slot
		s.ring[s.head] = e
		s.head++
		if s.head == len(s.ring) {
			s.head = 0
		}
		return
	}
	if s.n == len(s.ring) {
		s.resize(min(size, max(2*len(s.ring), minRing)))
	}
	i := s.head + s.n
	if i >= len(s.ring) {
		i -= len(s.ring)
	}
	s.ring[i] = e
	s.n++
}

// resize moves the kept publications, oldest first, to a new ring of c
// slots (c >= n; 0 releases the ring).
func (s *stream) resize(c int) {
	if c == 0 {
		s.ring, s.head = nil, 0
		return
	}
	r := make([]entry, c)
	k := copy(r, s.ring[s.head:min(s.head+s.n, len(s.ring))])
	copy(r[k:], s.ring[:s.n-k])
	s.ring, s.head = r, 0
}

// newEpoch returns 8 random bytes in unpadded base64url: 11 characters.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: since Go 1.24 it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}
