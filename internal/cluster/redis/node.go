package redcluster

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/history"
	redishistory "github.com/switchboardhq/switchboard/internal/history/redis"
)

// DefaultPrefix is the key prefix when Options.Prefix is empty (the
// configuration's cluster.redis.keyPrefix default).
const DefaultPrefix = "switchboard:"

// Options configure New.
type Options struct {
	// Client is the Redis connection (one server, a Redis Cluster or
	// Sentinel). Required. The Node does not close it.
	Client rueidis.Client
	// Prefix starts every key and shard channel. Default DefaultPrefix; no
	// '{' or '}'.
	Prefix string
	// NodeID labels this node (cluster.nodeId); the incarnation when empty.
	NodeID string
	// Advertise is the host:port of this node's internal endpoint.
	Advertise string
	// Lease is how long the node counts as alive after a renewal; 10 s
	// when zero. Renewal is how often it renews; Lease/3 when zero.
	Lease, Renewal time.Duration
	// CommandTimeout bounds one command or script; 2 s when zero.
	CommandTimeout time.Duration
	// Logger receives warnings; discarded when nil.
	Logger *slog.Logger
}

// Node is one process's view of the cluster on Redis.
type Node struct {
	// Immutable after New.
	o    Options
	self cluster.Node
	keys keys

	reg  *registry
	bus  *bus
	pres *presence
}

// New builds a Node with a fresh incarnation. It does not contact Redis:
// Registry().Join does.
func New(o Options) (*Node, error) {
	if o.Client == nil {
		return nil, errors.New("redcluster: Options.Client is required")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redcluster: prefix %q contains '{' or '}': they would change the keys' hash slots; remove them", o.Prefix)
	}
	if o.Lease <= 0 {
		o.Lease = 10 * time.Second
	}
	if o.Renewal <= 0 {
		o.Renewal = o.Lease / 3
	}
	if o.Lease <= 2*o.Renewal {
		return nil, fmt.Errorf("redcluster: lease %v must be more than twice the renewal %v", o.Lease, o.Renewal)
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	inc := cluster.NewIncarnation()
	id := o.NodeID
	if id == "" {
		id = inc
	}
	n := &Node{
		o:    o,
		self: cluster.Node{Incarnation: inc, ID: id, Advertise: o.Advertise, StartedAt: time.Now()},
		keys: keys{prefix: o.Prefix},
	}
	n.reg = newRegistry(n)
	n.bus = newBus(n)
	n.pres = newPresence(n)
	return n, nil
}

// Registry returns the node's Registry.
func (n *Node) Registry() cluster.Registry { return n.reg }

// Bus returns the node's Bus.
func (n *Node) Bus() cluster.Bus { return n.bus }

// Presence returns the node's Presence.
func (n *Node) Presence() cluster.Presence { return n.pres }

// Kill ends the node as kill -9 would, for tests: no more renewals, no
// more deliveries, nothing cleaned up (its keys are left to a reaper).
func (n *Node) Kill() {
	n.reg.kill()
	n.bus.kill()
}

// Close stops the node's background work (renewal, reaper, pub/sub)
// without leaving the cluster; Registry().Leave leaves it.
func (n *Node) Close() {
	n.bus.close()
	n.reg.close()
}

// History returns the history store of an API's channels: the streams the
// Bus's publish script appends to (the same keys, P<api>:{<channel>}:m and
// :s), so that recovery and history reads see exactly what was published.
// The store holds no state; one per call is fine.
func (n *Node) History(api string) history.History {
	s, err := redishistory.New(redishistory.Options{Client: n.o.Client, Prefix: n.keys.historyPrefix(api)})
	if err != nil {
		// New refuses only a nil client or a prefix with braces, both
		// checked by New of this Node.
		panic("redcluster: " + err.Error())
	}
	return s
}
