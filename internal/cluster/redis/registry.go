package redcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/cluster"
)

// The Registry on Redis (decision 0024 §2.1, §3, §6.2).
//
// Keys (all but the {nodes} ones in the incarnation's own slot):
//
//	P{nodes}:all       ZSET  incarnation → joined-at ms (the reapers' index)
//	P{nodes}:info      HASH  incarnation → {nodeId, advertise, startedAt}: what
//	                         a reaper hands f once the lease is gone; written
//	                         and removed with the ZSET entry, in one script
//	P{n:<inc>}:lease   STRING, PX lease: leaseValue (JSON), renewed with XX
//	P{n:<inc>}:claim   STRING, PX 3×renewal: the incarnation reaping <inc>
//	P{n:<inc>}:conns   HASH  connection id → storedRecord (JSON)
//	P{n:<inc>}:chans   SET   Presence's; deleted with the node's other keys
//
// Lifecycle: Join writes the lease (NX), then the ZSET entry and info; a
// reaper or Leave removes the ZSET entry and info first, then the node's
// keys, so a node in {nodes}:all whose lease is gone is always one to reap.

// nodeInfo is P{nodes}:info's value: what a node is, for as long as it is
// in {nodes}:all.
type nodeInfo struct {
	NodeID    string    `json:"nodeId"`
	Advertise string    `json:"advertise,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// leaseValue is the lease key's value.
type leaseValue struct {
	nodeInfo
	// Counts are the node's open connections per API as of its last
	// renewal (Node.SetCounts).
	Counts map[string]int `json:"counts,omitempty"`
}

// storedRecord is a conns hash value: cluster.Record without its ID (the
// field name).
type storedRecord struct {
	API        string          `json:"api"`
	User       string          `json:"user,omitempty"`
	Connection json.RawMessage `json:"connection,omitempty"`
	// Protocol is cluster.Record.Protocol; absent (records of older
	// nodes) for the API's own connections.
	Protocol string `json:"protocol,omitempty"`
}

// nodesInfo is the HASH of every joined node's nodeInfo: P{nodes}:info.
func (k keys) nodesInfo() string { return k.prefix + "{nodes}:info" }

// Scripts of the registry. Each touches keys of one slot.
var (
	// join: KEYS {nodes}:all, {nodes}:info; ARGV inc, joined-at ms, info.
	nodeJoinScript = rueidis.NewLuaScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1`)
	// forget: KEYS {nodes}:all, {nodes}:info; ARGV inc. The end of a
	// reap or a leave.
	forgetScript = rueidis.NewLuaScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`)
	// add: KEYS lease, conns; ARGV id, record. A record is written only
	// while the lease exists, so none lands on a node already reaped.
	addScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1`)
	// extend: KEYS claim; ARGV me, ms. Extends the claim only if it is ours.
	extendScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)
	// release: KEYS claim; ARGV me. Deletes the claim only if it is ours.
	releaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`)
)

// ErrStopped: Join of a node that left, lost its lease, was killed or
// closed (a new incarnation is a new Node), or Reap on a node that was
// killed or closed.
var ErrStopped = errors.New("redcluster: node stopped; make a new Node")

// scanCount is the COUNT of each HSCAN of a dead node's records.
const scanCount = 500

// registry is Node's Registry.
type registry struct {
	// Immutable after newRegistry.
	n        *Node
	claimTTL time.Duration // 3 × renewal
	margin   time.Duration // renewal/2: fence this much before the lease lapses
	lost     chan struct{} // closed once when the lease is lost
	stop     chan struct{} // closed once: renewal and watchdog end (leave, lost, kill, close)
	done     chan struct{} // closed once: kill or close; Reap returns
	bg       context.Context
	cancelBG context.CancelFunc // cancels bg: an in-flight renewal

	wg       sync.WaitGroup // renewal and watchdog goroutines
	stopOnce sync.Once
	doneOnce sync.Once
	joinMu   sync.Mutex    // one Join or Leave at a time; taken before mu
	passes   atomic.Uint64 // completed reaper passes (tests wait on them)
	renewals atomic.Uint64 // successful renewals (tests wait on them)
	reapers  atomic.Int32  // Reap calls running
	busy     atomic.Int32  // claims being worked on (f running)

	mu      sync.Mutex // guards the fields below
	joined  bool
	left    bool
	isLost  bool
	stopped bool      // killed or closed
	killed  bool      // killed: not even a claim is released
	lastOK  time.Time // send time of the last successful lease write (monotonic)
	counts  map[string]int
	cache   map[string]ownerEntry // by incarnation
}

// ownerEntry is a cached answer of Owner for one incarnation.
type ownerEntry struct {
	node cluster.Node
	gone bool
	at   time.Time
}

func newRegistry(n *Node) *registry {
	bg, cancel := context.WithCancel(context.Background())
	return &registry{
		n:        n,
		claimTTL: 3 * n.o.Renewal,
		margin:   n.o.Renewal / 2,
		lost:     make(chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		bg:       bg,
		cancelBG: cancel,
		cache:    make(map[string]ownerEntry),
	}
}

var _ cluster.Registry = (*registry)(nil)

// unavailable wraps a Redis error of op as cluster.ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redcluster: %s: %w", cluster.ErrUnavailable, op, err)
}

// cmdCtx bounds one command by Options.CommandTimeout.
func (r *registry) cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.n.o.CommandTimeout)
}

func (r *registry) Self() cluster.Node { return r.n.self }

func (r *registry) NewID() string { return cluster.NewID(r.n.self.Incarnation) }

// deadlineLocked is when this node fences: the send time of its last
// successful lease write + lease − renewal/2. The caller holds r.mu.
func (r *registry) deadlineLocked() time.Time {
	return r.lastOK.Add(r.n.o.Lease - r.margin)
}

// live reports whether this node holds its lease: joined, not left, lost,
// killed or closed, and within its fencing deadline.
func (r *registry) live() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.liveLocked()
}

func (r *registry) liveLocked() bool {
	return r.joined && !r.left && !r.isLost && !r.stopped && time.Now().Before(r.deadlineLocked())
}

// leaseJSON is the lease's current value.
func (r *registry) leaseJSON() string {
	r.mu.Lock()
	v := leaseValue{nodeInfo: r.info(), Counts: r.counts}
	b, _ := json.Marshal(v)
	r.mu.Unlock()
	return string(b)
}

func (r *registry) info() nodeInfo {
	s := r.n.self
	return nodeInfo{NodeID: s.ID, Advertise: s.Advertise, StartedAt: s.StartedAt}
}

func (r *registry) Join(ctx context.Context) error {
	r.joinMu.Lock()
	defer r.joinMu.Unlock()
	r.mu.Lock()
	switch {
	case r.left || r.isLost || r.stopped:
		r.mu.Unlock()
		return ErrStopped
	case r.joined:
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	inc := r.n.self.Incarnation
	lease, _, _, _ := r.n.keys.node(inc)
	sent := time.Now()
	cctx, cancel := r.cmdCtx(ctx)
	defer cancel()
	c := r.n.o.Client
	err := c.Do(cctx, c.B().Set().Key(lease).Value(r.leaseJSON()).Nx().PxMilliseconds(r.n.o.Lease.Milliseconds()).Build()).Error()
	switch {
	case rueidis.IsRedisNil(err):
		// The incarnation is random and never reused: a lease already there
		// is another process's, or this node's own from a Join that timed
		// out after Redis had written it, which this Join takes over.
		if err := r.retakeLease(cctx, lease); err != nil {
			return err
		}
	case err != nil:
		return unavailable("join", err)
	}
	info, _ := json.Marshal(r.info())
	err = nodeJoinScript.Exec(cctx, c, []string{r.n.keys.nodes(), r.n.keys.nodesInfo()},
		[]string{inc, strconv.FormatInt(r.n.self.StartedAt.UnixMilli(), 10), string(info)}).Error()
	if err != nil {
		// The lease lapses by itself; nothing else was written.
		return unavailable("join", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.left {
		return ErrStopped
	}
	r.joined = true
	r.lastOK = sent
	r.wg.Add(2)
	go r.renewLoop()
	go r.watch()
	return nil
}

// retakeLease is Join's answer to a lease that exists already: when it
// names this node (its id, address and start time), an earlier Join wrote
// it and timed out waiting for the reply, and Join goes on with it
// renewed; otherwise it is another process's and Join fails.
func (r *registry) retakeLease(ctx context.Context, lease string) error {
	inc := r.n.self.Incarnation
	c := r.n.o.Client
	raw, err := c.Do(ctx, c.B().Get().Key(lease).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		// It lapsed since: write it as a first Join would.
		err = c.Do(ctx, c.B().Set().Key(lease).Value(r.leaseJSON()).Nx().PxMilliseconds(r.n.o.Lease.Milliseconds()).Build()).Error()
		if rueidis.IsRedisNil(err) {
			return fmt.Errorf("redcluster: join: lease of incarnation %s already exists", inc)
		}
		return unavailableOr("join", err)
	}
	if err != nil {
		return unavailable("join", err)
	}
	var v leaseValue
	mine := r.info()
	if json.Unmarshal([]byte(raw), &v) != nil || v.NodeID != mine.NodeID || v.Advertise != mine.Advertise || !v.StartedAt.Equal(mine.StartedAt) {
		return fmt.Errorf("redcluster: join: lease of incarnation %s already exists, held by node %q", inc, v.NodeID)
	}
	err = c.Do(ctx, c.B().Set().Key(lease).Value(r.leaseJSON()).Xx().PxMilliseconds(r.n.o.Lease.Milliseconds()).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return fmt.Errorf("redcluster: join: the lease of incarnation %s lapsed while it was taken over; join again", inc)
	}
	return unavailableOr("join", err)
}

// unavailableOr is unavailable(op, err) for a failed call, nil for none.
func unavailableOr(op string, err error) error {
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}

// renewLoop renews the lease every Renewal until stop.
func (r *registry) renewLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.n.o.Renewal)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.renew()
	}
}

// renew writes the lease once with XX: a lease that lapsed is never
// written again (the node fences instead).
func (r *registry) renew() {
	lease, _, _, _ := r.n.keys.node(r.n.self.Incarnation)
	ctx, cancel := r.cmdCtx(r.bg)
	defer cancel()
	c := r.n.o.Client
	sent := time.Now()
	err := c.Do(ctx, c.B().Set().Key(lease).Value(r.leaseJSON()).Xx().PxMilliseconds(r.n.o.Lease.Milliseconds()).Build()).Error()
	switch {
	case err == nil:
		r.mu.Lock()
		if sent.After(r.lastOK) {
			r.lastOK = sent
		}
		r.mu.Unlock()
		r.renewals.Add(1)
	case rueidis.IsRedisNil(err):
		r.fence("the lease had lapsed when renewed")
	default:
		if r.bg.Err() == nil {
			r.n.o.Logger.Warn("redcluster: lease renewal failed", "incarnation", r.n.self.Incarnation, "err", err)
		}
	}
}

// watch fences the node when no lease write succeeded for lease −
// renewal/2, measured on the monotonic clock from the write's send time:
// Redis started the lease's clock later than that, so the node stops
// serving before Redis lets the lease lapse (decision 0024 §6.2).
func (r *registry) watch() {
	defer r.wg.Done()
	next := func() time.Duration {
		r.mu.Lock()
		defer r.mu.Unlock()
		return time.Until(r.deadlineLocked())
	}
	timer := time.NewTimer(next())
	defer timer.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-timer.C:
		}
		d := next()
		if d <= 0 {
			r.fence("no lease renewal succeeded within lease − renewal/2")
			return
		}
		timer.Reset(d)
	}
}

// fence closes Lost (once) and stops the renewals.
func (r *registry) fence(why string) {
	r.mu.Lock()
	first := !r.isLost && !r.left && !r.stopped
	if first {
		r.isLost = true
	}
	r.mu.Unlock()
	if !first {
		return
	}
	r.n.o.Logger.Warn("redcluster: node lost its cluster lease", "incarnation", r.n.self.Incarnation, "reason", why)
	close(r.lost)
	r.stopRenewals()
}

func (r *registry) stopRenewals() { r.stopOnce.Do(func() { close(r.stop) }) }

// kill ends the background work as kill -9 would: no cleanup in Redis,
// not even the release of a claim being worked on.
func (r *registry) kill() { r.halt(true) }

// close stops the background work without leaving the cluster.
func (r *registry) close() { r.halt(false) }

func (r *registry) halt(kill bool) {
	r.mu.Lock()
	r.stopped = true
	r.killed = r.killed || kill
	r.mu.Unlock()
	r.stopRenewals()
	r.doneOnce.Do(func() { close(r.done) })
	r.cancelBG()
	r.wg.Wait()
}

func (r *registry) Lost() <-chan struct{} { return r.lost }

func (r *registry) Owner(ctx context.Context, id string) (cluster.Node, error) {
	inc, ok := cluster.IncarnationOf(id)
	if !ok {
		return cluster.Node{}, cluster.ErrNodeGone
	}
	if inc == r.n.self.Incarnation {
		if r.live() {
			return r.n.self, nil
		}
		return cluster.Node{}, cluster.ErrNodeGone
	}
	now := time.Now()
	r.mu.Lock()
	e, hit := r.cache[inc]
	r.mu.Unlock()
	if hit && now.Sub(e.at) < r.n.o.Renewal {
		if e.gone {
			return cluster.Node{}, cluster.ErrNodeGone
		}
		return e.node, nil
	}
	lease, _, _, _ := r.n.keys.node(inc)
	cctx, cancel := r.cmdCtx(ctx)
	defer cancel()
	c := r.n.o.Client
	s, err := c.Do(cctx, c.B().Get().Key(lease).Build()).ToString()
	e = ownerEntry{at: now}
	switch {
	case rueidis.IsRedisNil(err):
		e.gone = true
	case err != nil:
		return cluster.Node{}, unavailable("owner", err)
	default:
		var v leaseValue
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return cluster.Node{}, fmt.Errorf("redcluster: owner: lease of %s: %w", inc, err)
		}
		e.node = v.node(inc)
	}
	r.mu.Lock()
	if len(r.cache) >= 1024 {
		for k, old := range r.cache {
			if now.Sub(old.at) >= r.n.o.Renewal {
				delete(r.cache, k)
			}
		}
	}
	r.cache[inc] = e
	r.mu.Unlock()
	if e.gone {
		return cluster.Node{}, cluster.ErrNodeGone
	}
	return e.node, nil
}

// node returns the cluster.Node of incarnation inc described by i.
func (i nodeInfo) node(inc string) cluster.Node {
	id := i.NodeID
	if id == "" {
		id = inc
	}
	return cluster.Node{Incarnation: inc, ID: id, Advertise: i.Advertise, StartedAt: i.StartedAt}
}

// forget drops Owner's cached answer for incarnation inc.
func (r *registry) forget(inc string) {
	r.mu.Lock()
	delete(r.cache, inc)
	r.mu.Unlock()
}

// Forget drops Owner's cached answer for the incarnation inc, so that the
// next Owner of its ids reads its lease again. The gateway calls it when a
// call forwarded to that node failed: the node may have died within the
// cache's interval (one Renewal). The Registry has the same method, for a
// caller that holds only the cluster.Registry (interface{ Forget(string) }).
func (n *Node) Forget(inc string) { n.reg.forget(inc) }

// Forget is Node.Forget.
func (r *registry) Forget(inc string) { r.forget(inc) }

// SetCounts is Node.SetCounts (cluster.Counter, for a caller holding only
// the cluster.Registry).
func (r *registry) SetCounts(counts map[string]int) { r.n.SetCounts(counts) }

// Connections is Node.Connections (cluster.Counter).
func (r *registry) Connections(ctx context.Context, api string) (int, error) {
	return r.n.Connections(ctx, api)
}

var _ cluster.Counter = (*registry)(nil)

// SetCounts sets this node's open connections per API, carried in its lease
// from the next renewal on (at most Renewal later) and summed by
// Connections. The gateway calls it when its counts change, or
// periodically; the map is copied.
func (n *Node) SetCounts(counts map[string]int) {
	c := maps.Clone(counts)
	n.reg.mu.Lock()
	n.reg.counts = c
	n.reg.mu.Unlock()
}

// Connections returns the open connections of api on every live node, as
// each reported them (SetCounts) at its last renewal: what a broadcast
// reaches (the `recipients` of @broadcast, decision 0024 §2.2).
func (n *Node) Connections(ctx context.Context, api string) (int, error) {
	ls, err := n.reg.leases(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, l := range ls {
		total += l.v.Counts[api]
	}
	return total, nil
}

// liveLease is one live node's lease.
type liveLease struct {
	inc string
	v   leaseValue
}

// leases reads the lease of every node in {nodes}:all, skipping those whose
// lease is gone, ordered by incarnation.
func (r *registry) leases(ctx context.Context) ([]liveLease, error) {
	cctx, cancel := r.cmdCtx(ctx)
	defer cancel()
	c := r.n.o.Client
	incs, err := c.Do(cctx, c.B().Zrange().Key(r.n.keys.nodes()).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		return nil, unavailable("nodes", err)
	}
	if len(incs) == 0 {
		return nil, nil
	}
	slices.Sort(incs)
	cmds := make(rueidis.Commands, len(incs))
	for i, inc := range incs {
		lease, _, _, _ := r.n.keys.node(inc)
		cmds[i] = c.B().Get().Key(lease).Build()
	}
	out := make([]liveLease, 0, len(incs))
	for i, res := range c.DoMulti(cctx, cmds...) {
		s, err := res.ToString()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, unavailable("nodes", err)
		}
		var v leaseValue
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			r.n.o.Logger.Warn("redcluster: unreadable lease skipped", "incarnation", incs[i], "err", err)
			continue
		}
		out = append(out, liveLease{inc: incs[i], v: v})
	}
	return out, nil
}

func (r *registry) Nodes(ctx context.Context) ([]cluster.Node, error) {
	ls, err := r.leases(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cluster.Node, len(ls))
	for i, l := range ls {
		out[i] = l.v.node(l.inc)
	}
	return out, nil
}

// ErrNotLive: Add on a node that holds no lease (not joined, left, lost,
// stopped, or past its fencing deadline).
var ErrNotLive = fmt.Errorf("%w: no lease", cluster.ErrNotJoined)

func (r *registry) Add(ctx context.Context, rec cluster.Record) error {
	if rec.ID == "" || rec.API == "" {
		return errors.New("redcluster: add: a record needs an API and an ID")
	}
	if len(rec.Connection) > 0 && !json.Valid(rec.Connection) {
		return fmt.Errorf("redcluster: add %s: Record.Connection is not JSON", rec.ID)
	}
	if !r.live() {
		return ErrNotLive
	}
	b, err := json.Marshal(storedRecord{API: rec.API, User: rec.User, Connection: rec.Connection, Protocol: rec.Protocol})
	if err != nil {
		return fmt.Errorf("redcluster: add %s: %w", rec.ID, err)
	}
	lease, _, conns, _ := r.n.keys.node(r.n.self.Incarnation)
	cctx, cancel := r.cmdCtx(ctx)
	defer cancel()
	ok, err := addScript.Exec(cctx, r.n.o.Client, []string{lease, conns}, []string{rec.ID, string(b)}).AsInt64()
	if err != nil {
		return unavailable("add", err)
	}
	if ok == 0 {
		r.fence("the lease had lapsed when a connection was added")
		return ErrNotLive
	}
	return nil
}

// Remove deletes connection id's record. The API is not checked:
// connection ids are unique across APIs.
func (r *registry) Remove(ctx context.Context, api, id string) error {
	_, _, conns, _ := r.n.keys.node(r.n.self.Incarnation)
	cctx, cancel := r.cmdCtx(ctx)
	defer cancel()
	c := r.n.o.Client
	if err := c.Do(cctx, c.B().Hdel().Key(conns).Field(id).Build()).Error(); err != nil {
		return unavailable("remove", err)
	}
	return nil
}

// Leave deletes this node's records, channel set, lease and {nodes}:all
// entry, after stopping its renewals. A node that lost its lease leaves
// its keys to a reaper (its records' $disconnects are still owed) and gets
// ErrNotLive; a node that never joined has nothing to delete.
func (r *registry) Leave(ctx context.Context) error {
	r.joinMu.Lock()
	defer r.joinMu.Unlock()
	r.mu.Lock()
	if r.left {
		r.mu.Unlock()
		return nil
	}
	joined, live := r.joined, r.liveLocked()
	if joined && !live {
		r.mu.Unlock()
		return ErrNotLive
	}
	r.left = true
	r.mu.Unlock()
	r.stopRenewals()
	r.wg.Wait()
	if !joined {
		return nil
	}
	return r.forgetNode(ctx, r.n.self.Incarnation, true)
}

// forgetNode removes incarnation inc from {nodes}:all and :info, then
// deletes its keys (claim included). In that order, a reaper that finds a
// lease gone either finds the node still in {nodes}:all (and reaps it) or
// not (and skips it): never a node half forgotten.
func (r *registry) forgetNode(ctx context.Context, inc string, leaving bool) error {
	op := "reap"
	if leaving {
		op = "leave"
	}
	cctx, cancel := r.cmdCtx(ctx)
	defer cancel()
	c := r.n.o.Client
	if err := forgetScript.Exec(cctx, c, []string{r.n.keys.nodes(), r.n.keys.nodesInfo()}, []string{inc}).Error(); err != nil {
		return unavailable(op, err)
	}
	lease, claim, conns, chans := r.n.keys.node(inc)
	if err := c.Do(cctx, c.B().Del().Key(lease, claim, conns, chans).Build()).Error(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// Reap looks for lapsed incarnations every Renewal while this node holds
// its lease, and calls f for each one it claims (SET NX PX 3×renewal),
// extending the claim every Renewal while f runs. f's ctx ends when Reap's
// ctx ends, when the claim is lost (not extended for 3×renewal −
// renewal/2, or taken), or when this node stops. When f returns nil and no
// records are left, the dead node is forgotten (its {nodes}:all entry,
// then its keys); otherwise its claim is released (if still held) and it
// is reaped again later, by any node. Reap returns ctx's error, or
// ErrStopped once the Node is killed or closed.
func (r *registry) Reap(ctx context.Context, f func(ctx context.Context, dead cluster.Node, rs cluster.Records) error) error {
	r.reapers.Add(1)
	defer r.reapers.Add(-1)
	t := time.NewTicker(r.n.o.Renewal)
	defer t.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-r.done:
			return ErrStopped
		default:
		}
		if r.live() {
			r.reapPass(ctx, f)
		}
		r.passes.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.done:
			return ErrStopped
		case <-t.C:
		}
	}
}

// reapPass claims and reaps, one after the other, the nodes in
// {nodes}:all whose lease is gone.
func (r *registry) reapPass(ctx context.Context, f func(context.Context, cluster.Node, cluster.Records) error) {
	c := r.n.o.Client
	cctx, cancel := r.cmdCtx(ctx)
	all, err := c.Do(cctx, c.B().Zrange().Key(r.n.keys.nodes()).Min("0").Max("-1").Withscores().Build()).AsZScores()
	if err != nil {
		cancel()
		if ctx.Err() == nil {
			r.n.o.Logger.Warn("redcluster: reaper: list nodes", "err", err)
		}
		return
	}
	var others []rueidis.ZScore
	cmds := make(rueidis.Commands, 0, len(all))
	for _, z := range all {
		if z.Member == r.n.self.Incarnation {
			continue
		}
		lease, _, _, _ := r.n.keys.node(z.Member)
		others = append(others, z)
		cmds = append(cmds, c.B().Exists().Key(lease).Build())
	}
	var gone []rueidis.ZScore
	if len(cmds) > 0 {
		for i, res := range c.DoMulti(cctx, cmds...) {
			if n, err := res.AsInt64(); err == nil && n == 0 {
				gone = append(gone, others[i])
			}
		}
	}
	cancel()
	for _, z := range gone {
		if ctx.Err() != nil || !r.live() {
			return
		}
		r.reapOne(ctx, z, f)
	}
}

// reapOne claims the dead incarnation z.Member and, if it got the claim,
// runs f on it.
func (r *registry) reapOne(ctx context.Context, z rueidis.ZScore, f func(context.Context, cluster.Node, cluster.Records) error) {
	inc, me := z.Member, r.n.self.Incarnation
	_, claim, conns, _ := r.n.keys.node(inc)
	c := r.n.o.Client
	log := r.n.o.Logger.With("dead", inc)
	cctx, cancel := r.cmdCtx(ctx)
	sent := time.Now()
	err := c.Do(cctx, c.B().Set().Key(claim).Value(me).Nx().PxMilliseconds(r.claimTTL.Milliseconds()).Build()).Error()
	if err != nil {
		cancel()
		if !rueidis.IsRedisNil(err) && ctx.Err() == nil {
			log.Warn("redcluster: reaper: claim", "err", err)
		}
		return // another node holds the claim, or Redis did not answer
	}
	// The node may have been forgotten (left, or reaped by another node)
	// between the listing and the claim: then there is nothing to reap.
	infoRes := c.DoMulti(cctx,
		c.B().Zscore().Key(r.n.keys.nodes()).Member(inc).Build(),
		c.B().Hget().Key(r.n.keys.nodesInfo()).Field(inc).Build())
	cancel()
	if _, err := infoRes[0].ToString(); err != nil {
		if !rueidis.IsRedisNil(err) {
			log.Warn("redcluster: reaper: check the node", "err", err)
		}
		r.release(ctx, claim)
		return
	}
	dead := nodeInfo{StartedAt: time.UnixMilli(int64(z.Score))}
	if s, err := infoRes[1].ToString(); err == nil {
		if err := json.Unmarshal([]byte(s), &dead); err != nil {
			log.Warn("redcluster: reaper: unreadable node info", "err", err)
		}
	}
	r.busy.Add(1)
	defer r.busy.Add(-1)
	fctx, stopF := context.WithCancel(ctx)
	held := make(chan struct{})
	go func() {
		defer close(held)
		r.holdClaim(fctx, stopF, claim, sent)
	}()
	rs := &records{r: r, conns: conns}
	ferr := f(fctx, dead.node(inc), rs)
	stopF()
	<-held
	r.mu.Lock()
	killed := r.killed
	r.mu.Unlock()
	if killed {
		return
	}
	// Finish even when ctx ended: a claim left behind would delay the next
	// reaper by up to 3×renewal.
	end := context.WithoutCancel(ctx)
	if ferr == nil {
		lctx, lcancel := r.cmdCtx(end)
		left, err := c.Do(lctx, c.B().Hlen().Key(conns).Build()).AsInt64()
		lcancel()
		if err == nil && left == 0 {
			if err := r.forgetNode(end, inc, false); err != nil {
				log.Warn("redcluster: reaper: forget the reaped node", "err", err)
				r.release(end, claim)
			}
			return
		}
		if err != nil {
			log.Warn("redcluster: reaper: count records left", "err", err)
		}
	}
	r.release(end, claim)
}

// holdClaim extends the claim every Renewal until ctx ends, and calls stop
// when the claim is lost: taken by another node, or not extended for
// claimTTL − renewal/2 since the send time of the last successful write
// (the claim may have lapsed in Redis: another node may be reaping).
func (r *registry) holdClaim(ctx context.Context, stop context.CancelFunc, claim string, lastOK time.Time) {
	tick := time.NewTicker(r.n.o.Renewal)
	defer tick.Stop()
	deadline := time.NewTimer(time.Until(lastOK.Add(r.claimTTL - r.margin)))
	defer deadline.Stop()
	c := r.n.o.Client
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stop:
			stop() // this node left, lost its lease or stopped
			return
		case <-deadline.C:
			r.n.o.Logger.Warn("redcluster: reaper: claim lost (not extended in time)", "claim", claim)
			stop()
			return
		case <-tick.C:
		}
		sent := time.Now()
		cctx, cancel := r.cmdCtx(ctx)
		ok, err := extendScript.Exec(cctx, c, []string{claim}, []string{r.n.self.Incarnation, strconv.FormatInt(r.claimTTL.Milliseconds(), 10)}).AsInt64()
		cancel()
		switch {
		case err != nil:
			// Keep trying until the deadline.
		case ok == 0:
			r.n.o.Logger.Warn("redcluster: reaper: claim lost (taken or lapsed)", "claim", claim)
			stop()
			return
		default:
			deadline.Reset(time.Until(sent.Add(r.claimTTL - r.margin)))
		}
	}
}

// release deletes claim if this node still holds it.
func (r *registry) release(ctx context.Context, claim string) {
	cctx, cancel := r.cmdCtx(context.WithoutCancel(ctx))
	defer cancel()
	if err := releaseScript.Exec(cctx, r.n.o.Client, []string{claim}, []string{r.n.self.Incarnation}).Error(); err != nil {
		r.n.o.Logger.Warn("redcluster: reaper: release claim (it lapses by itself)", "claim", claim, "err", err)
	}
}

// records iterates over a claimed node's records. The ids are read once, at
// the first Next (HSCAN, sorted: HSCAN has no order), the records n at a
// time (HMGET); a record deleted meanwhile is skipped. Memory: 16 bytes
// per record of the dead node while f runs.
type records struct {
	r     *registry
	conns string

	mu     sync.Mutex
	loaded bool
	ids    []string // sorted
	pos    int      // ids[:pos] were handed out (or found deleted)
}

var _ cluster.Records = (*records)(nil)

func (rs *records) Next(ctx context.Context, n int) ([]cluster.Record, error) {
	if n < 1 {
		return nil, cluster.ErrInvalidLimit
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := rs.r.n.o.Client
	if !rs.loaded {
		if err := rs.load(ctx); err != nil {
			return nil, err
		}
	}
	var out []cluster.Record
	for len(out) < n && rs.pos < len(rs.ids) {
		batch := rs.ids[rs.pos:min(rs.pos+n-len(out), len(rs.ids))]
		cctx, cancel := rs.r.cmdCtx(ctx)
		vals, err := c.Do(cctx, c.B().Hmget().Key(rs.conns).Field(batch...).Build()).ToArray()
		cancel()
		if err != nil {
			return nil, unavailable("reap: read records", err)
		}
		rs.pos += len(batch)
		for i, v := range vals {
			s, err := v.ToString()
			if err != nil {
				continue // deleted meanwhile (nil)
			}
			var sr storedRecord
			if err := json.Unmarshal([]byte(s), &sr); err != nil {
				// Not written by Add: it would block the node's reaping
				// forever. Drop it, loudly.
				rs.r.n.o.Logger.Error("redcluster: reaper: unreadable record dropped", "key", rs.conns, "id", batch[i], "err", err)
				dctx, dcancel := rs.r.cmdCtx(ctx)
				_ = c.Do(dctx, c.B().Hdel().Key(rs.conns).Field(batch[i]).Build()).Error()
				dcancel()
				continue
			}
			out = append(out, cluster.Record{API: sr.API, ID: batch[i], User: sr.User, Connection: []byte(sr.Connection), Protocol: sr.Protocol})
		}
	}
	return out, nil
}

// load reads every record id of the dead node (HSCAN), sorted.
func (rs *records) load(ctx context.Context) error {
	c := rs.r.n.o.Client
	seen := map[string]struct{}{}
	var cursor uint64
	for {
		cctx, cancel := rs.r.cmdCtx(ctx)
		e, err := c.Do(cctx, c.B().Hscan().Key(rs.conns).Cursor(cursor).Count(scanCount).Build()).AsScanEntry()
		cancel()
		if err != nil {
			return unavailable("reap: scan records", err)
		}
		for i := 0; i+1 < len(e.Elements); i += 2 {
			seen[e.Elements[i]] = struct{}{} // HSCAN may return a field twice
		}
		cursor = e.Cursor
		if cursor == 0 {
			break
		}
	}
	rs.ids = slices.Sorted(maps.Keys(seen))
	rs.loaded = true
	return nil
}

func (rs *records) Done(ctx context.Context, id string) error {
	cctx, cancel := rs.r.cmdCtx(ctx)
	defer cancel()
	c := rs.r.n.o.Client
	if err := c.Do(cctx, c.B().Hdel().Key(rs.conns).Field(id).Build()).Error(); err != nil {
		return unavailable("reap: done", err)
	}
	return nil
}
