package hub

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	// Channels is the API's channel configuration, defaults applied.
	Channels config.Channels
	// History keeps the streams of namespaces with history. Required when
	// a namespace has history.size > 0.
	History history.History
	// Logger receives warnings (a failed history call). Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
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

	shards [shards]shard
	users  users

	quiet         atomic.Bool  // Quiet was called: no more join/leave notices
	channels      atomic.Int64 // channels with at least one member
	subscriptions atomic.Int64 // memberships
	publications  atomic.Uint64
}

// shard holds the channels whose names hash to it; mu guards them and
// every field of their channel values.
type shard struct {
	mu       sync.Mutex
	channels map[string]*channel
	buf      []byte // encoding scratch, guarded by mu
}

// New builds a hub.
func New(o Options) (*Hub, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Hub{
		maxPerConn:   o.Channels.MaxPerConnection,
		maxNameBytes: o.Channels.MaxNameBytes,
		history:      o.History,
		log:          o.Logger,
		now:          o.Now,
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

// Subscriptions reports the number of memberships over all channels.
func (h *Hub) Subscriptions() int { return int(h.subscriptions.Load()) }

// Publications reports how many publications the hub has fanned out.
func (h *Hub) Publications() uint64 { return h.publications.Load() }
