package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
)

// Options configure a Backend.
type Options struct {
	// Now is the clock of leases; time.Now when nil.
	Now func() time.Time
	// Lease is how long a node's lease lasts after its last renewal;
	// 10 s when zero.
	Lease time.Duration
	// History keeps channel streams for Publish with stream options;
	// history.NewMemory (closed by Close) when nil. Streams are named
	// "<api>/<channel>".
	History history.History
	// Poll is how often waiting reapers look again without a Wake; Lease/2
	// when zero.
	Poll time.Duration
}

// key names one channel of one API.
type key struct{ api, channel string }

// membership is a member of a channel and whether it asked for notices.
type membership struct {
	m      cluster.Member
	notice bool
}

// handlerFunc is a Bus handler.
type handlerFunc func(api, channel string, m cluster.Message)

// nodeState is a node's entry in the Backend. The plain fields are guarded
// by Backend.mu; the atomics are read on the delivery path without it.
type nodeState struct {
	node    cluster.Node
	joined  bool
	left    bool
	stopped bool      // killed or cut: no more renewals
	lastOK  time.Time // the last renewal, when stopped
	lost    chan struct{}
	lostSet bool
	claimed bool
	records map[string]cluster.Record // by connection id
	subs    map[key]struct{}          // the channels it subscribed

	handler atomic.Pointer[handlerFunc]
	deaf    atomic.Bool // killed or cut: nothing is delivered to it
	cut     atomic.Bool // cut off: its calls fail with ErrUnavailable
}

// shard orders its channels: every publication, subscription change and
// membership change of a channel happens under its shard's mu, which also
// guards the shard's maps.
type shard struct {
	mu      sync.Mutex
	subs    map[key]map[*nodeState]struct{}
	members map[key]map[string]membership // by connection id
	users   map[key]map[string]int        // a channel's connections per non-empty user
}

// Backend is the shared state of an in-process cluster.
type Backend struct {
	now     func() time.Time
	lease   time.Duration
	poll    time.Duration
	hist    history.History
	ownHist *history.Memory

	mu      sync.Mutex
	nodes   map[string]*nodeState // by incarnation
	changed chan struct{}         // closed and replaced by Wake

	umu   sync.Mutex
	users map[key]map[string]struct{} // key{api, user} → connection ids

	seed   maphash.Seed
	shards [64]shard
	bcast  sync.Mutex // one order of broadcasts
}

// New returns an empty Backend.
func New(o Options) *Backend {
	b := &Backend{
		now:     o.Now,
		lease:   o.Lease,
		poll:    o.Poll,
		hist:    o.History,
		nodes:   make(map[string]*nodeState),
		users:   make(map[key]map[string]struct{}),
		changed: make(chan struct{}),
		seed:    maphash.MakeSeed(),
	}
	for i := range b.shards {
		b.shards[i].subs = make(map[key]map[*nodeState]struct{})
		b.shards[i].members = make(map[key]map[string]membership)
		b.shards[i].users = make(map[key]map[string]int)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.lease <= 0 {
		b.lease = 10 * time.Second
	}
	if b.poll <= 0 {
		b.poll = b.lease / 2
	}
	if b.hist == nil {
		b.ownHist = history.NewMemory(history.MemoryOptions{Now: b.now})
		b.hist = b.ownHist
	}
	return b
}

// Close stops the history the Backend made itself.
func (b *Backend) Close() {
	if b.ownHist != nil {
		b.ownHist.Close()
	}
}

// Wake makes waiting reapers and Lost watchers look at the clock again;
// call it after moving an injected clock.
func (b *Backend) Wake() {
	b.mu.Lock()
	b.wakeLocked()
	b.mu.Unlock()
}

func (b *Backend) wakeLocked() {
	now := b.now()
	for _, st := range b.nodes {
		if st.stopped && !st.lostSet && b.lapsedLocked(st, now) {
			st.lostSet = true
			close(st.lost)
		}
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// lapsedLocked reports whether st's lease has lapsed at now.
func (b *Backend) lapsedLocked(st *nodeState, now time.Time) bool {
	return st.stopped && !now.Before(st.lastOK.Add(b.lease))
}

// liveLocked reports whether st holds a lease at now.
func (b *Backend) liveLocked(st *nodeState, now time.Time) bool {
	return st.joined && !st.left && !b.lapsedLocked(st, now)
}

// Node is one node of a Backend.
type Node struct {
	b  *Backend
	st *nodeState
}

// NewNode adds a node with a fresh incarnation; id is its label
// (cluster.nodeId), the incarnation when "". It holds no lease until its
// Registry's Join.
func (b *Backend) NewNode(id string) *Node {
	inc := cluster.NewIncarnation()
	if id == "" {
		id = inc
	}
	st := &nodeState{
		node:    cluster.Node{Incarnation: inc, ID: id, StartedAt: b.now()},
		lost:    make(chan struct{}),
		records: make(map[string]cluster.Record),
		subs:    make(map[key]struct{}),
	}
	b.mu.Lock()
	b.nodes[inc] = st
	b.mu.Unlock()
	return &Node{b: b, st: st}
}

// Kill ends the node as kill -9 would: its lease is no longer renewed (it
// lapses Options.Lease after now), nothing is delivered to it any more, and
// its records and memberships stay for a reaper.
func (n *Node) Kill() {
	b := n.b
	n.st.deaf.Store(true)
	b.mu.Lock()
	n.stopLocked()
	subs := n.st.subs
	n.st.subs = map[key]struct{}{}
	b.wakeLocked()
	b.mu.Unlock()
	b.unsubscribeAll(n.st, subs)
}

// unsubscribeAll takes st out of the subscribers of subs.
func (b *Backend) unsubscribeAll(st *nodeState, subs map[key]struct{}) {
	for k := range subs {
		sh := b.shard(k)
		sh.mu.Lock()
		sh.unsubscribe(k, st)
		sh.mu.Unlock()
	}
}

// unsubscribe takes st out of k's subscribers; the caller holds sh.mu.
func (sh *shard) unsubscribe(k key, st *nodeState) {
	if set := sh.subs[k]; set != nil {
		delete(set, st)
		if len(set) == 0 {
			delete(sh.subs, k)
		}
	}
}

// Cut cuts the node off the shared state while it keeps running: its lease
// is no longer renewed, and its Lost closes once the lease has lapsed (seen
// at the next Wake or call).
//
// While cut, every call of its views that would reach the shared state
// fails with cluster.ErrUnavailable and nothing is delivered to it.
func (n *Node) Cut() {
	n.st.cut.Store(true)
	n.st.deaf.Store(true)
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	n.stopLocked()
	n.b.wakeLocked()
}

func (n *Node) stopLocked() {
	if !n.st.stopped {
		n.st.stopped = true
		n.st.lastOK = n.b.now()
	}
}

// Registry returns the node's Registry view.
func (n *Node) Registry() cluster.Registry { return (*registry)(n) }

// Bus returns the node's Bus view.
func (n *Node) Bus() cluster.Bus { return (*bus)(n) }

// History returns the stream store the node's Bus appends to, as the hub
// of api reads it: the Backend's History with names "<api>/<channel>".
func (n *Node) History(api string) history.History {
	return history.Prefixed(n.b.hist, api+"/")
}

// Presence returns the node's Presence view.
func (n *Node) Presence() cluster.Presence { return (*presence)(n) }

// check returns ctx's error, or cluster.ErrUnavailable when the node is
// cut off: what every call that would reach the shared state checks first.
func (n *Node) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n.st.cut.Load() {
		return fmt.Errorf("%w: node %s is cut off", cluster.ErrUnavailable, n.st.node.Incarnation)
	}
	return nil
}

// registry is Node's Registry view.
type registry Node

var _ cluster.Registry = (*registry)(nil)

// ErrStopped: Join of a node that left, was killed or cut off (a new
// incarnation is a new Node), or Subscribe on such a node.
var ErrStopped = errors.New("memory: node stopped; make a new node")

// ErrNotLive: Add on a node that holds no lease (not joined, left or lapsed).
var ErrNotLive = fmt.Errorf("%w: no lease", cluster.ErrNotJoined)

func (r *registry) Self() cluster.Node { return r.st.node }

func (r *registry) Join(ctx context.Context) error {
	if err := (*Node)(r).check(ctx); err != nil {
		return err
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.st.left || r.st.stopped {
		return ErrStopped
	}
	r.st.joined = true
	return nil
}

func (r *registry) NewID() string { return cluster.NewID(r.st.node.Incarnation) }

func (r *registry) Owner(ctx context.Context, id string) (cluster.Node, error) {
	if err := (*Node)(r).check(ctx); err != nil {
		return cluster.Node{}, err
	}
	inc, ok := cluster.IncarnationOf(id)
	if !ok {
		return cluster.Node{}, cluster.ErrNodeGone
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	st := r.b.nodes[inc]
	if st == nil || !r.b.liveLocked(st, r.b.now()) {
		return cluster.Node{}, cluster.ErrNodeGone
	}
	return st.node, nil
}

func (r *registry) Nodes(ctx context.Context) ([]cluster.Node, error) {
	if err := (*Node)(r).check(ctx); err != nil {
		return nil, err
	}
	r.b.mu.Lock()
	now := r.b.now()
	var out []cluster.Node
	for _, st := range r.b.nodes {
		if r.b.liveLocked(st, now) {
			out = append(out, st.node)
		}
	}
	r.b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Incarnation < out[j].Incarnation })
	return out, nil
}

func (r *registry) Add(ctx context.Context, rec cluster.Record) error {
	if err := (*Node)(r).check(ctx); err != nil {
		return err
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if !r.b.liveLocked(r.st, r.b.now()) {
		return ErrNotLive
	}
	r.st.records[rec.ID] = rec
	return nil
}

func (r *registry) Remove(ctx context.Context, api, id string) error {
	if err := (*Node)(r).check(ctx); err != nil {
		return err
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if rec, ok := r.st.records[id]; ok && rec.API == api {
		delete(r.st.records, id)
	}
	return nil
}

func (r *registry) Lost() <-chan struct{} { return r.st.lost }

func (r *registry) Leave(ctx context.Context) error {
	if err := (*Node)(r).check(ctx); err != nil {
		return err
	}
	b := r.b
	b.mu.Lock()
	r.st.left = true
	r.st.records = map[string]cluster.Record{}
	subs := r.st.subs
	r.st.subs = map[key]struct{}{}
	delete(b.nodes, r.st.node.Incarnation)
	b.wakeLocked()
	b.mu.Unlock()
	b.unsubscribeAll(r.st, subs)
	return nil
}

func (r *registry) Reap(ctx context.Context, f func(ctx context.Context, dead cluster.Node, rs cluster.Records) error) error {
	b := r.b
	tick := time.NewTicker(b.poll)
	defer tick.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		changed := b.changed
		var dead *nodeState
		now := b.now()
		// A node claims only while it holds its lease and reaches the
		// shared state.
		if b.liveLocked(r.st, now) && !r.st.stopped {
			for _, st := range b.nodes {
				if st != r.st && st.joined && b.lapsedLocked(st, now) && !st.claimed {
					dead = st
					st.claimed = true
					break
				}
			}
		}
		b.mu.Unlock()
		if dead != nil {
			err := f(ctx, dead.node, &records{b: b, st: dead, given: map[string]bool{}})
			b.mu.Lock()
			dead.claimed = false
			done := err == nil && len(dead.records) == 0
			if done {
				delete(b.nodes, dead.node.Incarnation)
			}
			b.mu.Unlock()
			if done {
				continue // look for the next dead node at once
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick.C:
		}
	}
}

// records iterates over a claimed node's records.
type records struct {
	b     *Backend
	st    *nodeState
	given map[string]bool
}

func (rs *records) Next(ctx context.Context, n int) ([]cluster.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs.b.mu.Lock()
	defer rs.b.mu.Unlock()
	var ids []string
	for id := range rs.st.records {
		if !rs.given[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > n {
		ids = ids[:max(n, 0)]
	}
	out := make([]cluster.Record, 0, len(ids))
	for _, id := range ids {
		rs.given[id] = true
		out = append(out, rs.st.records[id])
	}
	return out, nil
}

func (rs *records) Done(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rs.b.mu.Lock()
	delete(rs.st.records, id)
	rs.b.mu.Unlock()
	return nil
}

// shard returns k's shard.
func (b *Backend) shard(k key) *shard {
	var h maphash.Hash
	h.SetSeed(b.seed)
	h.WriteString(k.api)
	h.WriteByte(0)
	h.WriteString(k.channel)
	return &b.shards[h.Sum64()%uint64(len(b.shards))]
}

// deliver calls st's handler unless st is deaf or has none.
func deliver(st *nodeState, api, channel string, m cluster.Message) {
	if st.deaf.Load() {
		return
	}
	if h := st.handler.Load(); h != nil {
		(*h)(api, channel, m)
	}
}

// bus is Node's Bus view.
type bus Node

var _ cluster.Bus = (*bus)(nil)

func (u *bus) Publish(ctx context.Context, api, channel string, m cluster.Message, o *history.StreamOptions) (cluster.Published, error) {
	if err := (*Node)(u).check(ctx); err != nil {
		return cluster.Published{}, err
	}
	k := key{api, channel}
	sh := u.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return u.b.publishLocked(ctx, sh, k, m, o, nil, nil)
}

// PublishLocal is Publish, except that this node's delivery is made by
// calling self instead of the node's handler: synchronously, on the
// caller's goroutine, at the publication's place in the channel's order
// (under the channel's shard lock), before PublishLocal returns; and
// whether or not this node subscribed the channel. Other nodes get theirs
// through their handlers as usual. It lets a single node learn what its own
// fan-out did (hub.LocalBus).
func (u *bus) PublishLocal(ctx context.Context, api, channel string, m cluster.Message, o *history.StreamOptions, self func(cluster.Message)) (cluster.Published, error) {
	if err := (*Node)(u).check(ctx); err != nil {
		return cluster.Published{}, err
	}
	k := key{api, channel}
	sh := u.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return u.b.publishLocked(ctx, sh, k, m, o, u.st, self)
}

// publishLocked orders m on k; the caller holds sh.mu. With self != nil,
// node me gets the delivery through self instead of its handler.
func (b *Backend) publishLocked(ctx context.Context, sh *shard, k key, m cluster.Message, o *history.StreamOptions, me *nodeState, self func(cluster.Message)) (cluster.Published, error) {
	var p cluster.Published
	if o != nil {
		pos, err := b.hist.Append(ctx, k.api+"/"+k.channel, history.Publication{Name: m.Name, User: m.User, Data: m.Data}, *o)
		if err != nil {
			return cluster.Published{}, err
		}
		m.Epoch, m.Offset = pos.Epoch, pos.Offset
		p.Position = &pos
	}
	p.Members = len(sh.members[k])
	set := sh.subs[k]
	if self == nil {
		for st := range set {
			deliver(st, k.api, k.channel, m)
		}
		return p, nil
	}
	others := len(set)
	if _, in := set[me]; in {
		others--
	}
	if others > 0 { // (a single node skips the map walk)
		for st := range set {
			if st != me {
				deliver(st, k.api, k.channel, m)
			}
		}
	}
	if !me.deaf.Load() {
		self(m)
	}
	return p, nil
}

func (u *bus) Broadcast(ctx context.Context, api string, m cluster.Message) error {
	return u.BroadcastLocal(ctx, api, m, nil)
}

// BroadcastLocal is Broadcast, except that this node's delivery is made by
// calling self (when not nil) instead of the node's handler, synchronously
// on the caller's goroutine before BroadcastLocal returns.
func (u *bus) BroadcastLocal(ctx context.Context, api string, m cluster.Message, self func(cluster.Message)) error {
	if err := (*Node)(u).check(ctx); err != nil {
		return err
	}
	b := u.b
	b.bcast.Lock()
	defer b.bcast.Unlock()
	b.mu.Lock()
	now := b.now()
	var live []*nodeState
	for _, st := range b.nodes {
		if b.liveLocked(st, now) {
			live = append(live, st)
		}
	}
	b.mu.Unlock()
	for _, st := range live {
		if st == u.st && self != nil {
			if !st.deaf.Load() {
				self(m)
			}
			continue
		}
		deliver(st, api, "", m)
	}
	return nil
}

func (u *bus) Subscribe(ctx context.Context, api, channel string) error {
	if err := (*Node)(u).check(ctx); err != nil {
		return err
	}
	k := key{api, channel}
	// Under k's shard lock: a publication ordered after Subscribe returns
	// is delivered, one ordered before it is not.
	sh := u.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if u.st.left || u.st.stopped {
		return ErrStopped
	}
	set := sh.subs[k]
	if set == nil {
		set = make(map[*nodeState]struct{})
		sh.subs[k] = set
	}
	set[u.st] = struct{}{}
	u.st.subs[k] = struct{}{}
	return nil
}

func (u *bus) Unsubscribe(ctx context.Context, api, channel string) error {
	if err := (*Node)(u).check(ctx); err != nil {
		return err
	}
	k := key{api, channel}
	sh := u.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.unsubscribe(k, u.st)
	u.b.mu.Lock()
	delete(u.st.subs, k)
	u.b.mu.Unlock()
	return nil
}

func (u *bus) Handle(f func(api, channel string, m cluster.Message)) {
	h := handlerFunc(f)
	u.st.handler.Store(&h)
}

// presence is Node's Presence view.
type presence Node

var _ cluster.Presence = (*presence)(nil)

func (p *presence) Join(ctx context.Context, api, channel string, m cluster.Member, notice bool) (cluster.JoinResult, error) {
	if err := (*Node)(p).check(ctx); err != nil {
		return cluster.JoinResult{}, err
	}
	k := key{api, channel}
	sh := p.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	set := sh.members[k]
	if _, dup := set[m.ID]; dup {
		return cluster.JoinResult{Members: len(set), Users: len(sh.users[k])}, nil
	}
	if set == nil {
		set = make(map[string]membership)
		sh.members[k] = set
	}
	set[m.ID] = membership{m: m, notice: notice}
	r := cluster.JoinResult{Joined: true, Members: len(set), Occupied: len(set) == 1}
	if m.User != "" {
		us := sh.users[k]
		if us == nil {
			us = make(map[string]int)
			sh.users[k] = us
		}
		us[m.User]++
		r.UserFirst = us[m.User] == 1
	}
	r.Users = len(sh.users[k])
	if notice {
		_, err := p.b.publishLocked(ctx, sh, k, cluster.Message{Kind: cluster.Join, Member: m, UserEdge: r.UserFirst}, nil, nil, nil)
		return r, err
	}
	return r, nil
}

func (p *presence) Leave(ctx context.Context, api, channel, id string, notice bool) (cluster.LeaveResult, error) {
	if err := (*Node)(p).check(ctx); err != nil {
		return cluster.LeaveResult{}, err
	}
	k := key{api, channel}
	sh := p.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ms, r := sh.leave(k, id)
	if r.Left && notice {
		_, err := p.b.publishLocked(ctx, sh, k, cluster.Message{Kind: cluster.Leave, Member: ms.m, UserEdge: r.UserLast}, nil, nil, nil)
		return r, err
	}
	return r, nil
}

// leave removes id from k's members and returns its membership and what
// the removal changed; the caller holds sh.mu.
func (sh *shard) leave(k key, id string) (membership, cluster.LeaveResult) {
	set := sh.members[k]
	ms, ok := set[id]
	if !ok {
		return membership{}, cluster.LeaveResult{}
	}
	delete(set, id)
	if len(set) == 0 {
		delete(sh.members, k)
	}
	r := cluster.LeaveResult{Left: true, Members: len(set), Vacated: len(set) == 0, Member: ms.m}
	if u := ms.m.User; u != "" {
		us := sh.users[k]
		us[u]--
		if us[u] <= 0 {
			delete(us, u)
			r.UserLast = true
			if len(us) == 0 {
				delete(sh.users, k)
			}
		}
	}
	r.Users = len(sh.users[k])
	return ms, r
}

func (p *presence) Page(ctx context.Context, api, channel, cursor string, limit int) (cluster.PresencePage, error) {
	if err := (*Node)(p).check(ctx); err != nil {
		return cluster.PresencePage{}, err
	}
	if limit < 1 {
		return cluster.PresencePage{}, fmt.Errorf("%w: %d", cluster.ErrInvalidLimit, limit)
	}
	if cursor != "" {
		if _, ok := cluster.IncarnationOf(cursor); !ok {
			return cluster.PresencePage{}, cluster.ErrInvalidCursor
		}
	}
	k := key{api, channel}
	sh := p.b.shard(k)
	sh.mu.Lock()
	set := sh.members[k]
	all := make([]cluster.Member, 0, len(set))
	for _, ms := range set {
		all = append(all, ms.m)
	}
	sh.mu.Unlock()
	slices.SortFunc(all, func(a, b cluster.Member) int { return strings.Compare(a.ID, b.ID) })
	page := cluster.PresencePage{Members: len(all)}
	i := 0
	if cursor != "" {
		i, _ = slices.BinarySearchFunc(all, cursor, func(m cluster.Member, c string) int { return strings.Compare(m.ID, c) })
		if i < len(all) && all[i].ID == cursor {
			i++
		}
	}
	end := min(i+limit, len(all))
	page.List = all[i:end]
	if end < len(all) {
		page.Next = all[end-1].ID
	}
	return page, nil
}

func (p *presence) AddUser(ctx context.Context, api, user, id string) error {
	if err := (*Node)(p).check(ctx); err != nil {
		return err
	}
	k := key{api, user}
	p.b.umu.Lock()
	defer p.b.umu.Unlock()
	set := p.b.users[k]
	if set == nil {
		set = make(map[string]struct{})
		p.b.users[k] = set
	}
	set[id] = struct{}{}
	return nil
}

func (p *presence) RemoveUser(ctx context.Context, api, user, id string) error {
	if err := (*Node)(p).check(ctx); err != nil {
		return err
	}
	k := key{api, user}
	p.b.umu.Lock()
	defer p.b.umu.Unlock()
	if set := p.b.users[k]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(p.b.users, k)
		}
	}
	return nil
}

func (p *presence) UserConnections(ctx context.Context, api, user string) ([]string, error) {
	if err := (*Node)(p).check(ctx); err != nil {
		return nil, err
	}
	p.b.umu.Lock()
	set := p.b.users[key{api, user}]
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	p.b.umu.Unlock()
	slices.Sort(out)
	return out, nil
}

func (p *presence) RemoveNode(ctx context.Context, incarnation string, f func(api, channel string, r cluster.LeaveResult)) error {
	if err := (*Node)(p).check(ctx); err != nil {
		return err
	}
	type removed struct {
		k key
		r cluster.LeaveResult
	}
	for i := range p.b.shards {
		sh := &p.b.shards[i]
		var out []removed
		var err error
		sh.mu.Lock()
		for k, set := range sh.members {
			for id := range set {
				if inc, ok := cluster.IncarnationOf(id); !ok || inc != incarnation {
					continue
				}
				ms, r := sh.leave(k, id)
				out = append(out, removed{k, r})
				if ms.notice && err == nil {
					_, err = p.b.publishLocked(ctx, sh, k, cluster.Message{Kind: cluster.Leave, Member: ms.m, UserEdge: r.UserLast}, nil, nil, nil)
				}
			}
		}
		sh.mu.Unlock()
		for _, r := range out {
			f(r.k.api, r.k.channel, r.r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
