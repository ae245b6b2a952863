package redcluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
	redishistory "github.com/switchboardhq/switchboard/internal/history/redis"
)

// publishHistory orders a publication with history: the stream prelude and
// append of decision 0023 (shared with redishistory's Append), the member
// count, and the SPUBLISH of the envelope, all in the channel's slot.
// KEYS: :m :s :pm :p. ARGV[1..4] Prelude's, 5 data, 6 exclude, 7 name, 8
// user (kept in the stream entry as x, n and u), 9 the kind byte, 10 the
// envelope's member, exclude and named sections. Returns {epoch, offset,
// members}.
var publishHistory = rueidis.NewLuaScript(redishistory.Prelude + redishistory.AppendBody + `
local members = redis.call('ZCARD', KEYS[3])
local o = string.format('%d', off)
redis.call('SPUBLISH', KEYS[4], ARGV[9] .. o .. ':' .. epoch .. ':' .. ARGV[10] .. ARGV[5])
return {epoch, o, members}
`)

// publishPlain orders a publication without history. KEYS: :pm :p. ARGV[1]
// the whole envelope. Returns the member count.
var publishPlain = rueidis.NewLuaScript(`
local members = redis.call('ZCARD', KEYS[1])
redis.call('SPUBLISH', KEYS[2], ARGV[1])
return members
`)

// fillScript reads a channel's stream for a node that missed deliveries.
// KEYS: :m :s. ARGV[1] first entry id, ARGV[2] last ("+" for the top),
// ARGV[3] count. Returns {epoch, top, flat, b} with flat = id, data,
// exclude, name, user, ... ("" for a field the entry lacks); epoch "" when
// the channel has no stream; b the offset the epoch began after
// (rotateScript), 0 for a new stream. Read-only.
var fillScript = rueidis.NewLuaScriptRetryable(`
local m = redis.call('HMGET', KEYS[1], 'e', 's', 'b')
local es = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[2], 'COUNT', ARGV[3])
local flat = {}
for i = 1, #es do
  local f = es[i][2]
  local d, x, n, u = '', '', '', ''
  for j = 1, #f, 2 do
    local k = f[j]
    if k == 'd' then d = f[j + 1] elseif k == 'x' then x = f[j + 1]
    elseif k == 'n' then n = f[j + 1] elseif k == 'u' then u = f[j + 1] end
  end
  flat[#flat + 1] = es[i][1]
  flat[#flat + 1] = d
  flat[#flat + 1] = x
  flat[#flat + 1] = n
  flat[#flat + 1] = u
end
return {m[1] or '', m[2] or '0', flat, m[3] or '0'}
`)

// rotateScript gives a channel's stream a new epoch after a rollback (an
// acknowledged append lost in a failover, its offset about to be handed
// out again), unless another node did already: KEYS :m, ARGV[1] the epoch
// the caller saw roll back, ARGV[2] a fresh one. The offsets go on; b
// records the offset the new epoch began after, so a node seeing the new
// epoch does not take its older offsets for new publications. Returns
// {epoch, b}.
var rotateScript = rueidis.NewLuaScript(`
local m = redis.call('HMGET', KEYS[1], 'e', 's', 'b')
if m[1] and m[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'e', ARGV[2], 'b', m[2])
  return {ARGV[2], m[2]}
end
return {m[1] or '', m[3] or '0'}
`)

var errUnsubscribed = errors.New("unsubscribed while subscribing")

// fillBatch is how many stream entries one fill read returns.
const fillBatch = 500

// fillFields is how many values fillScript returns per entry.
const fillFields = 5

// Resubscription backoff after the pub/sub connection failed.
const (
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

type handlerFunc func(api, channel string, m cluster.Message)

// bus is the Node's cluster.Bus: one script per publication, one sharded
// pub/sub subscription per channel this node subscribed (see sub).
type bus struct {
	n       *Node
	handler atomic.Pointer[handlerFunc]
	killed  atomic.Bool

	mu      sync.Mutex
	subs    map[string]*sub // by shard channel
	retired map[string]*sub // unsubscribed, worker maybe still delivering
	wg      sync.WaitGroup  // receive loops

	// Counters, for tests and benchmarks: Resets delivered, publications
	// filled from streams, subscriptions broken (Receive ended without
	// Unsubscribe).
	resets, filled, broken atomic.Uint64
}

var _ cluster.Bus = (*bus)(nil)

func newBus(n *Node) *bus {
	return &bus{n: n, subs: map[string]*sub{}, retired: map[string]*sub{}}
}

// kill stops every delivery at once, without unsubscribing (Node.Kill).
func (b *bus) kill() {
	b.killed.Store(true)
	b.stopAll()
}

// close stops every subscription's receive loop and waits for them.
func (b *bus) close() { b.stopAll() }

func (b *bus) stopAll() {
	b.mu.Lock()
	all := make([]*sub, 0, len(b.subs))
	for k, s := range b.subs {
		all = append(all, s)
		delete(b.subs, k)
	}
	b.mu.Unlock()
	for _, s := range all {
		s.cancel()
		s.stop()
	}
	b.wg.Wait()
}

func (b *bus) Handle(f func(api, channel string, m cluster.Message)) {
	h := handlerFunc(f)
	b.handler.Store(&h)
}

func (b *bus) Publish(ctx context.Context, api, channel string, m cluster.Message, o *history.StreamOptions) (cluster.Published, error) {
	if err := ctx.Err(); err != nil {
		return cluster.Published{}, err
	}
	if b.killed.Load() {
		return cluster.Published{}, errKilled
	}
	if m.Kind < cluster.Publication || m.Kind > cluster.Leave {
		return cluster.Published{}, fmt.Errorf("redcluster: publish: invalid message kind %v", m.Kind)
	}
	if o != nil {
		if err := o.Validate(); err != nil {
			return cluster.Published{}, err
		}
	}
	base := b.n.keys.channelBase(api, channel)
	cctx, cancel := b.n.cmdCtx(ctx)
	defer cancel()
	what := "publish to " + strconv.Quote(channel)
	if o == nil {
		m.Epoch, m.Offset = "", 0
		n, err := publishPlain.Exec(cctx, b.n.o.Client, []string{base + "pm", base + "p"},
			[]string{string(encodeEnvelope(m))}).AsInt64()
		if err != nil {
			return cluster.Published{}, wrap(ctx, what, err)
		}
		return cluster.Published{Members: int(n)}, nil
	}
	args := append(redishistory.PreludeArgs(*o), string(m.Data), m.Exclude, m.Name, m.User, string([]byte{kindByte(m)}), string(envelopeMiddle(m)))
	res, err := publishHistory.Exec(cctx, b.n.o.Client, []string{base + "m", base + "s", base + "pm", base + "p"}, args).ToArray()
	if err != nil {
		return cluster.Published{}, wrap(ctx, what, err)
	}
	if len(res) != 3 {
		return cluster.Published{}, fmt.Errorf("redcluster: %s: script returned %d values, want 3", what, len(res))
	}
	epoch, err1 := res[0].ToString()
	offText, err2 := res[1].ToString()
	members, err3 := res[2].AsInt64()
	off, err4 := strconv.ParseUint(offText, 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil || epoch == "" || off == 0 {
		return cluster.Published{}, fmt.Errorf("redcluster: %s: bad script reply (epoch %q, offset %q): %v", what, epoch, offText, err)
	}
	return cluster.Published{Position: &history.Position{Epoch: epoch, Offset: off}, Members: int(members)}, nil
}

func (b *bus) Broadcast(ctx context.Context, api string, m cluster.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.killed.Load() {
		return errKilled
	}
	if m.Kind < cluster.Publication || m.Kind > cluster.Leave {
		return fmt.Errorf("redcluster: broadcast: invalid message kind %v", m.Kind)
	}
	m.Epoch, m.Offset = "", 0
	c := b.n.o.Client
	cctx, cancel := b.n.cmdCtx(ctx)
	defer cancel()
	err := c.Do(cctx, c.B().Spublish().Channel(b.n.keys.broadcast(api)).Message(rueidis.BinaryString(encodeEnvelope(m))).Build()).Error()
	return wrap(ctx, "broadcast to "+strconv.Quote(api), err)
}

// shard returns the shard channel of (api, channel): the broadcast channel
// of api when channel is "" (decision 0024 §2.2, as built).
func (b *bus) shard(api, channel string) string {
	if channel == "" {
		return b.n.keys.broadcast(api)
	}
	return b.n.keys.channelBase(api, channel) + "p"
}

// Subscribe subscribes this node to channel's deliveries, or with channel ""
// to api's broadcasts, and returns once Redis confirmed the SSUBSCRIBE.
// Subscribing twice is one subscription.
func (b *bus) Subscribe(ctx context.Context, api, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.killed.Load() {
		return errKilled
	}
	shard := b.shard(api, channel)
	b.mu.Lock()
	s := b.subs[shard]
	fresh := s == nil
	if fresh {
		s = newSub(b, api, channel, shard)
		s.prev = b.retired[shard]
		b.subs[shard] = s
	}
	b.mu.Unlock()
	if fresh {
		if channel != "" {
			// The stream's position before SSUBSCRIBE: a Reset before any
			// delivery fills from there.
			if err := s.readBase(ctx); err != nil {
				s.fail(err)
				b.drop(s)
				return wrap(ctx, "subscribe to "+strconv.Quote(channel), err)
			}
		}
		b.wg.Add(1)
		s.started.Store(true)
		go s.run()
	}
	select {
	case <-s.confirmed:
		return nil
	case <-s.failed:
		if fresh {
			b.drop(s)
		}
		return wrap(ctx, "subscribe to "+strconv.Quote(channel), s.err)
	case <-ctx.Done():
		if fresh {
			b.drop(s)
		}
		return ctx.Err()
	}
}

// Unsubscribe stops channel's deliveries to this node (api's broadcasts
// for channel ""). Unsubscribing a channel not subscribed is not an error.
func (b *bus) Unsubscribe(ctx context.Context, api, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.killed.Load() {
		return errKilled
	}
	b.mu.Lock()
	s := b.subs[b.shard(api, channel)]
	b.mu.Unlock()
	if s != nil {
		b.drop(s)
	}
	return nil
}

// drop ends s: its receive loop, its worker (after the delivery in
// progress), and the server-side subscription.
func (b *bus) drop(s *sub) {
	b.mu.Lock()
	if b.subs[s.shard] != s {
		b.mu.Unlock()
		return
	}
	delete(b.subs, s.shard)
	b.retired[s.shard] = s
	b.mu.Unlock()
	s.cancel()
	if s.started.Load() {
		<-s.done
	}
	s.stop()
	// A concurrent Subscribe still waiting for this subscription returns.
	s.fail(errUnsubscribed)
	go func() {
		<-s.stopped
		b.mu.Lock()
		if b.retired[s.shard] == s {
			delete(b.retired, s.shard)
		}
		b.mu.Unlock()
	}()
	// The local subscription is gone (nothing more is delivered); tell
	// Redis too, so it stops sending. On failure the connection keeps
	// receiving the channel and rueidis drops it.
	c := b.n.o.Client
	ctx, cancel := context.WithTimeout(context.Background(), b.n.o.CommandTimeout)
	defer cancel()
	if err := c.Do(ctx, c.B().Sunsubscribe().Channel(s.shard).Build()).Error(); err != nil {
		b.n.o.Logger.Warn("redcluster: SUNSUBSCRIBE failed", "channel", s.shard, "err", err)
	}
}

// sub is one shard channel's subscription on this node. A receive loop
// (run) keeps rueidis's Receive going and re-subscribes after a lost
// connection; what it receives, and the confirmations of re-subscriptions,
// go into a queue that one worker at a time drains, calling the handler:
// so the handler runs sequentially per channel, in the channel's order,
// and never on rueidis's reading goroutine (a slow handler does not stall
// the connection, and a fill may use it).
type sub struct {
	b                   *bus
	api, channel, shard string
	ctx                 context.Context
	cancel              context.CancelFunc
	done                chan struct{} // the receive loop ended
	confirmed           chan struct{} // closed at the first confirmation
	failed              chan struct{} // closed with err when the first subscription failed
	err                 error
	failOnce            sync.Once
	confirms            atomic.Int64
	started             atomic.Bool // run was started (done will close)
	prev                *sub        // an earlier subscription of the shard whose worker must end first

	mu      sync.Mutex
	queue   []item
	running bool
	dead    bool
	stopped chan struct{} // closed once dead and no worker runs
	stopOne sync.Once

	// The worker's own (one worker at a time, under mu's hand-over).
	epoch string // of the last delivered publication with history, or the base
	last  uint64 // its offset: L of decision 0024 §4
}

type item struct {
	reset bool // a re-subscription was confirmed
	msg   string
}

func newSub(b *bus, api, channel, shard string) *sub {
	ctx, cancel := context.WithCancel(context.Background())
	return &sub{
		b: b, api: api, channel: channel, shard: shard, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), confirmed: make(chan struct{}), failed: make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// readBase reads the stream's epoch and top before the subscription.
func (s *sub) readBase(ctx context.Context) error {
	n := s.b.n
	cctx, cancel := n.cmdCtx(ctx)
	defer cancel()
	c := n.o.Client
	vs, err := c.Do(cctx, c.B().Hmget().Key(n.keys.channelBase(s.api, s.channel)+"m").Field("e", "s").Build()).ToArray()
	if err != nil {
		return err
	}
	if len(vs) == 2 {
		e, err1 := vs[0].ToString()
		top, err2 := vs[1].AsUint64()
		if err1 == nil && err2 == nil {
			s.epoch, s.last = e, top
		}
	}
	return nil
}

// run keeps the subscription alive until s is cancelled.
func (s *sub) run() {
	defer s.b.wg.Done()
	defer close(s.done)
	c := s.b.n.o.Client
	ctx := rueidis.WithOnSubscriptionHook(s.ctx, s.hook)
	backoff := minBackoff
	for {
		before := s.confirms.Load()
		err := c.Receive(ctx, c.B().Ssubscribe().Channel(s.shard).Build(), s.receive)
		if s.ctx.Err() != nil {
			return
		}
		s.b.broken.Add(1)
		if s.confirms.Load() == 0 && err != nil {
			s.fail(err)
		}
		if errors.Is(err, rueidis.ErrClosing) {
			s.fail(err)
			return
		}
		if s.confirms.Load() != before {
			backoff = minBackoff
		}
		// nil: Redis ended the subscription (its slot moved); else the
		// connection or the SSUBSCRIBE failed. Either way, subscribe again:
		// the confirmation queues a Reset and a fill.
		s.b.n.o.Logger.Debug("redcluster: re-subscribing", "channel", s.shard, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *sub) fail(err error) {
	s.failOnce.Do(func() {
		s.err = err
		close(s.failed)
	})
}

// hook sees rueidis's subscription confirmations, on its reading
// goroutine, before any message of that subscription.
func (s *sub) hook(ps rueidis.PubSubSubscription) {
	if ps.Kind != "ssubscribe" || ps.Channel != s.shard {
		return
	}
	if s.confirms.Add(1) == 1 {
		close(s.confirmed)
		return
	}
	s.push(item{reset: true})
}

func (s *sub) receive(m rueidis.PubSubMessage) { s.push(item{msg: m.Message}) }

// push queues it and starts a worker if none runs.
func (s *sub) push(it item) {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, it)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.work()
	}
}

// stop marks s dead: nothing more is queued or delivered after the
// delivery in progress; stopped closes once no worker runs.
func (s *sub) stop() {
	s.mu.Lock()
	s.dead = true
	s.queue = nil
	idle := !s.running
	s.mu.Unlock()
	if idle {
		s.stopOne.Do(func() { close(s.stopped) })
	}
}

func (s *sub) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

func (s *sub) work() {
	if p := s.prev; p != nil {
		<-p.stopped
		s.prev = nil
	}
	for {
		s.mu.Lock()
		if s.dead || len(s.queue) == 0 {
			s.running = false
			dead := s.dead
			s.mu.Unlock()
			if dead {
				s.stopOne.Do(func() { close(s.stopped) })
			}
			return
		}
		it := s.queue[0]
		s.queue[0] = item{}
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		s.mu.Unlock()
		s.handle(it)
	}
}

// deliver calls the handler unless s or the node is gone.
func (s *sub) deliver(m cluster.Message) {
	if s.b.killed.Load() || s.isDead() {
		return
	}
	if h := s.b.handler.Load(); h != nil {
		(*h)(s.api, s.channel, m)
	}
}

func (s *sub) handle(it item) {
	if it.reset {
		s.reset()
		return
	}
	m, err := decodeEnvelope(it.msg)
	if err != nil {
		s.b.n.o.Logger.Warn("redcluster: dropped a malformed delivery", "channel", s.shard, "err", err)
		return
	}
	if m.Kind != cluster.Publication || m.Epoch == "" || s.channel == "" {
		s.deliver(m)
		return
	}
	if m.Epoch != s.epoch {
		// A new stream (expired and re-created, or first seen): its
		// offsets start at 1.
		s.epoch, s.last = m.Epoch, 0
	}
	if m.Offset <= s.last {
		return // delivered already (by a fill)
	}
	if m.Offset > s.last+1 {
		s.fill(m.Offset - 1)
	}
	if m.Epoch != s.epoch || m.Offset <= s.last {
		return
	}
	s.deliver(m)
	s.last = m.Offset
}

// reset handles a confirmed re-subscription: deliveries may have been
// lost. The handler gets a Reset, then, for a channel with history, every
// publication after the last one delivered, from the stream.
func (s *sub) reset() {
	s.b.resets.Add(1)
	s.deliver(cluster.Message{Kind: cluster.Reset})
	if s.channel == "" {
		return
	}
	s.fill(0)
}

// rotate handles a rollback seen after a re-subscription: the stream's top
// is below the last offset delivered in the same epoch, so an acknowledged
// append was lost in a failover and its offset will be handed out again
// (decision 0024 §4). It gives the stream a new epoch (rotateScript; the
// first node to see it does it, the others adopt it) and continues after
// top in it, so clients recovering from the old epoch are told "epoch
// changed" instead of being given another publication under an offset
// they know. It reports whether the fill may go on.
func (s *sub) rotate(meta string, top uint64) bool {
	n := s.b.n
	n.o.Logger.Warn("redcluster: stream top below the last delivered offset (rollback): rotating the epoch", "channel", s.shard, "top", top, "last", s.last)
	ctx, cancel := n.cmdCtx(s.ctx)
	defer cancel()
	res, err := rotateScript.Exec(ctx, n.o.Client, []string{meta}, []string{s.epoch, newEpoch()}).ToArray()
	if err != nil || len(res) != 2 {
		n.o.Logger.Warn("redcluster: cannot rotate the epoch", "channel", s.shard, "err", err)
		s.last = top
		return false
	}
	epoch, _ := res[0].ToString()
	began, _ := res[1].AsUint64()
	if epoch == "" {
		return false
	}
	s.epoch, s.last = epoch, began
	return true
}

// newEpoch returns 8 random bytes in unpadded base64url, as redishistory's
// epochs.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// fill delivers the stream's publications after s.last up to upto (0: up
// to the top), in order. A stream of another epoch than s.epoch starts
// over from its offset 1 (reset path) or ends the fill. When offsets are
// missing from the stream (trimmed or expired), or the stream cannot be
// read, the handler gets a Reset: deliveries were lost.
func (s *sub) fill(upto uint64) {
	n := s.b.n
	c := n.o.Client
	base := n.keys.channelBase(s.api, s.channel)
	keys := []string{base + "m", base + "s"}
	lost := false
	defer func() {
		if lost {
			s.b.resets.Add(1)
			s.deliver(cluster.Message{Kind: cluster.Reset})
		}
	}()
	for {
		end := "+"
		if upto != 0 {
			if s.last >= upto {
				return
			}
			end = strconv.FormatUint(upto, 10) + "-0"
		}
		start := strconv.FormatUint(s.last+1, 10) + "-0"
		ctx, cancel := n.cmdCtx(s.ctx)
		res, err := fillScript.Exec(ctx, c, keys, []string{start, end, strconv.Itoa(fillBatch)}).ToArray()
		cancel()
		if err != nil || len(res) != 4 {
			if s.ctx.Err() == nil {
				n.o.Logger.Warn("redcluster: cannot fill missed deliveries", "channel", s.shard, "err", err)
				lost = true
			}
			return
		}
		epoch, _ := res[0].ToString()
		topText, _ := res[1].ToString()
		top, _ := strconv.ParseUint(topText, 10, 64)
		flat, _ := res[2].ToArray()
		began, _ := res[3].AsUint64()
		if epoch == "" {
			return // no stream (yet, or any more)
		}
		if epoch != s.epoch {
			if upto != 0 {
				return // the delivery being handled belongs to another stream
			}
			s.epoch, s.last = epoch, began
			continue
		}
		if began > s.last {
			// The epoch was rotated at began: the offsets up to it were
			// delivered under the previous epoch.
			s.last = began
			continue
		}
		if upto == 0 && top < s.last {
			if !s.rotate(keys[0], top) {
				return
			}
			continue
		}
		if len(flat) < fillFields {
			if upto != 0 || s.last < top {
				lost = true
			}
			return
		}
		for i := 0; i+fillFields <= len(flat); i += fillFields {
			id, _ := flat[i].ToString()
			offText, _, _ := strings.Cut(id, "-")
			off, err := strconv.ParseUint(offText, 10, 64)
			if err != nil || off <= s.last {
				continue
			}
			if off != s.last+1 {
				lost = true
			}
			data, _ := flat[i+1].ToString()
			exclude, _ := flat[i+2].ToString()
			name, _ := flat[i+3].ToString()
			user, _ := flat[i+4].ToString()
			m := cluster.Message{Kind: cluster.Publication, Epoch: epoch, Offset: off, Exclude: exclude, Name: name, User: user}
			if data != "" {
				m.Data = []byte(data)
			}
			s.deliver(m)
			s.b.filled.Add(1)
			s.last = off
		}
		switch {
		case len(flat) == fillFields*fillBatch:
			// a full batch: read on
		case upto == 0:
			return
		default:
			if s.last < upto {
				lost = true // the stream no longer holds them
			}
			return
		}
	}
}
