package hub

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/history"
)

// Errors of the hub. The gateway hands them on to its callers.
var (
	ErrInvalidChannel    = errors.New("invalid channel name")
	ErrNoNamespace       = errors.New("no channel namespace matches the channel")
	ErrInvalidUser       = errors.New("invalid user id")
	ErrTooManyChannels   = errors.New("the connection is in too many channels")
	ErrAlreadySubscribed = errors.New("already subscribed to the channel")
	ErrNoHistory         = errors.New("the channel's namespace keeps no history")
	ErrNoPresence        = errors.New("the channel's namespace keeps no presence")
	ErrEpochMismatch     = errors.New("the channel's stream has another epoch")
	// ErrMemberGone: the member's connection has ended.
	ErrMemberGone = errors.New("the connection has ended")
)

// shards is the number of channel shards. A power of two well above the
// number of cores, so that publishers to different channels rarely meet.
const shards = 64

// Options configure a Hub.
type Options struct {
	// API is the hub's name on the Bus, in Presence and in the history
	// (the gateway gives the API's stage, unique where ids may repeat).
	API string
	// Channels is the API's channel configuration, defaults applied.
	Channels config.Channels
	// Bus orders and delivers the hub's publications (decision 0024 §2.2):
	// Publish goes through it, and the hub fans out what it delivers
	// (Deliver, which the Bus's handler must call). Required. The
	// single-node default is a cluster/memory node; a Bus that implements
	// LocalBus gives exact "queued on" recipient counts when Presence is
	// nil.
	Bus cluster.Bus
	// Presence, when not nil, makes membership cluster-wide: joins and
	// leaves go to it, join/leave notices come back through the Bus, and
	// presence pages and counts are read from it. Nil (one node): the hub
	// answers from its own tables and sends notices itself.
	Presence cluster.Presence
	// History is the stream store the Bus appends to, as this hub reads
	// it (subscribe recovery, History). Required when a namespace has
	// history.size > 0.
	History history.History
	// OnMembership, when not nil, is told of every join and leave of a
	// channel this node's step made, with what it changed (first and last
	// connection of a user, of the channel; the counts after it): in a
	// cluster from the Presence step's result, so that each is told once
	// cluster-wide (a dead node's members through Reaped); on one node from
	// the hub's own counts. It is called outside every hub lock, on the
	// goroutine that joined or left, and must not block (queue). See
	// doc.go.
	OnMembership func(api, channel string, ev MembershipEvent)
	// Logger receives warnings (a failed history call). Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Codecs are the front-ends' protocols, after the built-in Raw and V1:
	// Codecs[i] gets the id FirstFrontEnd+i, which the gateway gives
	// NewMember for that front-end's connections. At most MaxCodecs-2.
	Codecs []Codec
}

// Hub is one API's channels and users. It is safe for concurrent use.
type Hub struct {
	// Immutable after New.
	namespaces   []*Namespace
	maxPerConn   int
	maxNameBytes int
	history      history.History
	log          *slog.Logger
	now          func() time.Time
	api          string
	bus          cluster.Bus
	local        LocalBus // bus, when it is a LocalBus and presence is nil
	presence     cluster.Presence
	onMembership func(api, channel string, ev MembershipEvent)
	codecs       []Codec   // by CodecID: Raw, V1, then Options.Codecs
	calls        sync.Pool // of *localCall

	shards [shards]shard
	users  users

	quiet         atomic.Bool  // Quiet was called: no more join/leave notices
	channels      atomic.Int64 // channels with at least one member
	subscriptions atomic.Int64 // memberships
	publications  atomic.Uint64
	resets        atomic.Uint64
}

// LocalBus is implemented by a Bus that can deliver this node's share of a
// publication or broadcast synchronously, on the caller's goroutine, through
// a function of the caller rather than through the handler (cluster/memory).
// A hub without Presence (one node) uses it to count the connections a
// publication was queued on, as recipients (decision 0024 §2.2).
type LocalBus interface {
	PublishLocal(ctx context.Context, api, channel string, m cluster.Message, o *history.StreamOptions, self func(cluster.Message)) (cluster.Published, error)
	BroadcastLocal(ctx context.Context, api string, m cluster.Message, self func(cluster.Message)) error
}

// shard holds the channels whose names hash to it; mu guards them and
// every field of their channel values.
type shard struct {
	mu       sync.Mutex
	channels map[string]*channel
	buf      []byte           // encoding scratch, guarded by mu
	pub      Publication      // what codecs are given, guarded by mu
	pos      history.Position // pub's position, guarded by mu
}

// New builds a hub.
func New(o Options) (*Hub, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Bus == nil {
		return nil, errors.New("hub: no cluster Bus was given")
	}
	codecs, err := codecTable(o.Codecs)
	if err != nil {
		return nil, err
	}
	h := &Hub{
		codecs:       codecs,
		maxPerConn:   o.Channels.MaxPerConnection,
		maxNameBytes: o.Channels.MaxNameBytes,
		history:      o.History,
		log:          o.Logger,
		now:          o.Now,
		api:          o.API,
		bus:          o.Bus,
		presence:     o.Presence,
		onMembership: o.OnMembership,
	}
	if lb, ok := o.Bus.(LocalBus); ok && o.Presence == nil {
		h.local = lb
		h.calls.New = func() any { return newLocalCall(h) }
	}
	if h.maxPerConn <= 0 {
		h.maxPerConn = 128
	}
	if h.maxNameBytes <= 0 {
		h.maxNameBytes = 255
	}
	for i := range o.Channels.Namespaces {
		ns := newNamespace(&o.Channels.Namespaces[i])
		if ns.History != nil && h.history == nil {
			return nil, errors.New("hub: a namespace keeps history but no history store was given")
		}
		h.namespaces = append(h.namespaces, ns)
	}
	for i := range h.shards {
		h.shards[i].channels = make(map[string]*channel)
	}
	h.users.init()
	return h, nil
}

// shardOf picks the shard of a channel name.
func (h *Hub) shardOf(name string) *shard { return &h.shards[fnv32(name)%shards] }

// fnv32 is FNV-1a: cheap, and good enough to spread names over shards.
func fnv32(s string) uint32 {
	var x uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		x = (x ^ uint32(s[i])) * 16777619
	}
	return x
}

// Quiet stops join and leave notices. The gateway calls it when it
// starts draining: every member is about to leave, and telling each of n
// members about the other n−1 departures would cost n² sends for nothing.
func (h *Hub) Quiet() { h.quiet.Store(true) }

// Channels reports how many channels have at least one member.
func (h *Hub) Channels() int { return int(h.channels.Load()) }

// ChannelCount is one channel with members on this node.
type ChannelCount struct {
	Channel string
	Members int // members on this node
}

// LocalChannels returns the channels whose name starts with prefix and
// that have at least one member on this node, with that node-local count,
// in no particular order.
func (h *Hub) LocalChannels(prefix string) []ChannelCount {
	var out []ChannelCount
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		for name, ch := range s.channels {
			if len(ch.members) > 0 && strings.HasPrefix(name, prefix) {
				out = append(out, ChannelCount{Channel: name, Members: len(ch.members)})
			}
		}
		s.mu.Unlock()
	}
	return out
}

// Subscriptions reports the number of memberships over all channels.
func (h *Hub) Subscriptions() int { return int(h.subscriptions.Load()) }

// Publications reports how many publications the hub has fanned out.
func (h *Hub) Publications() uint64 { return h.publications.Load() }

// Resets reports how many Reset messages the Bus delivered (deliveries may
// have been lost and were filled by the Bus, decision 0024 §4).
func (h *Hub) Resets() uint64 { return h.resets.Load() }

// Clustered reports whether the hub has cluster-wide Presence: then
// PublishResult.Recipients counts members when the publication was
// ordered, and local deliveries are counted by Deliver.
func (h *Hub) Clustered() bool { return h.presence != nil }

// Local returns the hub's Bus as a LocalBus when the hub counts its own
// deliveries (no Presence), else nil.
func (h *Hub) Local() LocalBus { return h.local }
