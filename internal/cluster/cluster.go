package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/switchboardhq/switchboard/internal/history"
)

// Errors of the seams.
var (
	// ErrNodeGone: the incarnation that minted a connection id holds no
	// lease (dead, reaped, left, never existed), or the id carries no
	// incarnation at all. The gateway answers 410 GoneException.
	ErrNodeGone = errors.New("cluster: node gone")
	// ErrUnavailable: the shared state or a peer node did not answer in
	// time; the call may or may not have taken effect (HTTP 503).
	ErrUnavailable = errors.New("cluster: unavailable")
	// ErrNotJoined: a Registry call that needs a lease came before Join or
	// after Leave.
	ErrNotJoined = errors.New("cluster: node has not joined")
	// ErrInvalidCursor: a presence cursor this implementation did not issue.
	ErrInvalidCursor = errors.New("cluster: invalid cursor")
	// ErrInvalidLimit: a page limit below 1.
	ErrInvalidLimit = errors.New("cluster: invalid page limit")
)

// Node is one member of the cluster, identified by its incarnation.
type Node struct {
	Incarnation string // 8 hex chars; inside every connection id the node mints
	ID          string // cluster.nodeId, or Incarnation
	Advertise   string // host:port of its internal endpoint ("" in memory)
	StartedAt   time.Time
}

// Record is what a survivor needs to deliver a connection's $disconnect.
type Record struct {
	API, ID, User string
	// Connection is event.Connection of the CONNECT event, JSON (identity,
	// authorizer, connectedAt, stage, domainName).
	Connection []byte
	// Protocol names the protocol front-end the connection speaks
	// ("pusher"; decision 0025), "" for the API's own connections (raw
	// and switchboard.v1). A survivor delivers $disconnect only for the
	// latter: a front-end connection never ran the API's routes. A record
	// written before the field existed reads as "".
	Protocol string
}

// Registry knows which node holds a connection and keeps this node's lease.
type Registry interface {
	Self() Node
	// Join takes this node's first lease. Fails (serve exits 1) when the
	// shared state is unreachable.
	Join(ctx context.Context) error
	// NewID mints a connection id carrying Self().Incarnation (see NewID).
	NewID() string
	// Owner returns the live node whose incarnation id carries, Self()
	// included, or ErrNodeGone when that incarnation holds no lease.
	Owner(ctx context.Context, id string) (Node, error)
	// Nodes lists the live nodes, ordered by incarnation.
	Nodes(ctx context.Context) ([]Node, error)
	// Add records an open connection after its $connect succeeded and
	// before the upgrade; Remove drops it after its $disconnect was
	// delivered.
	Add(ctx context.Context, r Record) error
	Remove(ctx context.Context, api, id string) error
	// Lost is closed when this node lost its lease: the gateway closes
	// every socket without $disconnect and the server rejoins under a new
	// incarnation.
	Lost() <-chan struct{}
	// Reap runs until ctx ends: for every lapsed incarnation this node
	// claims, it calls f with the dead node and an iterator over its
	// Records; f handles each and calls Done(id). The claim is held while f
	// runs; when f returns an error, or returns with records left, the
	// claim is released and the node reaped again later (by any node).
	// Reap returns ctx's error.
	Reap(ctx context.Context, f func(ctx context.Context, dead Node, rs Records) error) error
	// Leave ends this node's membership after a graceful drain: its
	// records, its channel set and its lease are deleted.
	Leave(ctx context.Context) error
}

// Counter is an optional interface of a Registry whose leases carry each
// node's open connections per API (the API on the seams is its stage). The
// gateway reports its counts with SetCounts whenever they change; they
// reach the lease at the next renewal. Connections sums them over the live
// nodes as of each one's last renewal: the `recipients` of a clustered
// @broadcast. A Registry without it makes that answer 0.
type Counter interface {
	SetCounts(counts map[string]int)
	Connections(ctx context.Context, api string) (int, error)
}

// Records iterates over a dead node's connections during a claim.
type Records interface {
	// Next returns up to n records not yet handed out by this iterator,
	// ordered by connection id; empty when none are left.
	Next(ctx context.Context, n int) ([]Record, error)
	// Done deletes the record of connection id: its $disconnect went out.
	Done(ctx context.Context, id string) error
}

// Kind says what a Message is.
type Kind uint8

// The kinds of Message.
const (
	Publication Kind = iota + 1 // a publication: Data
	Join                        // Member joined the channel
	Leave                       // Member left the channel
	// Reset means deliveries may have been lost (resubscribed): check the
	// stream top and fill the gap.
	Reset
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Publication:
		return "publication"
	case Join:
		return "join"
	case Leave:
		return "leave"
	case Reset:
		return "reset"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Message is what the Bus delivers to every subscribed node.
type Message struct {
	Kind    Kind
	Epoch   string // with history; "" without
	Offset  uint64 // with history; 0 without
	Exclude string // connection id left out on every node ("" none): exclude, excludeSelf, excludeSender
	Member  Member // Join, Leave
	// UserEdge (Join, Leave): the member was its user's first connection in
	// the channel (Join) or its last (Leave), cluster-wide
	// (JoinResult.UserFirst, LeaveResult.UserLast).
	UserEdge bool
	// Name is a publication's event name and User its publisher's user id
	// ("" when none): front-ends that name events (Pusher) encode them.
	// Kept in the history with the data, so a refilled publication has
	// them too.
	Name, User string
	Data       []byte
}

// Published is what Publish did.
type Published struct {
	Position *history.Position // nil without history
	Members  int               // the channel's members, cluster-wide, when the publication was ordered
}

// Bus delivers messages to every node with members in a channel, in one
// order per channel, and to every node of an API.
type Bus interface {
	// Publish orders m on channel (and keeps it in history when o != nil,
	// setting m's Epoch and Offset) and delivers it to every node that
	// subscribed channel, this node included, in one order per channel.
	Publish(ctx context.Context, api, channel string, m Message, o *history.StreamOptions) (Published, error)
	// Broadcast delivers m to every live node serving api; handlers see it
	// with channel "".
	Broadcast(ctx context.Context, api string, m Message) error
	// Subscribe returns once deliveries of channel reach this node;
	// Unsubscribe stops them.
	Subscribe(ctx context.Context, api, channel string) error
	Unsubscribe(ctx context.Context, api, channel string) error
	// Handle sets the handler (once, before Subscribe). It is called for
	// one channel sequentially, in the channel's order.
	Handle(f func(api, channel string, m Message))
}

// Member is one connection in a channel.
type Member struct {
	ID, User string
	Info     json.RawMessage
}

// PresencePage is one page of a channel's members.
type PresencePage struct {
	Members int
	List    []Member // ordered by connection id
	Next    string   // cursor; "" on the last page
}

// JoinResult is what a Presence.Join changed, decided in the same atomic
// step as the membership itself, so that each transition is reported by
// exactly one call cluster-wide.
type JoinResult struct {
	// Joined is false when the connection was a member already: nothing
	// changed, no notice was ordered, and UserFirst and Occupied are false.
	Joined    bool
	Members   int  // connections in the channel after the join, cluster-wide
	Users     int  // distinct non-empty users in the channel after it
	UserFirst bool // m.User != "" and this is the user's first connection in the channel
	Occupied  bool // the channel went from 0 connections to 1
}

// LeaveResult is what a Presence.Leave (or RemoveNode, for each member it
// took out) changed, decided in the same atomic step as the membership.
type LeaveResult struct {
	// Left is false when the connection was not in the channel: nothing
	// changed and nothing else is set.
	Left     bool
	Members  int    // connections in the channel after the leave, cluster-wide
	Users    int    // distinct non-empty users in the channel after it
	UserLast bool   // the member had a user and was its last connection in the channel
	Vacated  bool   // the channel went from 1 connection to 0
	Member   Member // who left: id, user and info as recorded at Join
}

// Presence keeps channel members and users, cluster-wide.
type Presence interface {
	// Join records m in channel; with notice, a Join message (UserEdge =
	// UserFirst) is ordered on the channel (Bus) in the same step. Joining
	// again with an id that is a member changes nothing (Joined false).
	// Leave is the reverse; leaving a channel one is not in is not an
	// error, changes nothing (Left false) and orders no notice.
	Join(ctx context.Context, api, channel string, m Member, notice bool) (JoinResult, error)
	Leave(ctx context.Context, api, channel, id string, notice bool) (LeaveResult, error)
	Page(ctx context.Context, api, channel, cursor string, limit int) (PresencePage, error)
	// The user index: which connections (hence which nodes) a user has.
	AddUser(ctx context.Context, api, user, id string) error
	RemoveUser(ctx context.Context, api, user, id string) error
	UserConnections(ctx context.Context, api, user string) ([]string, error)
	// RemoveNode takes every membership of a dead incarnation out of every
	// channel (ordering the Leave notices where they were asked for at
	// Join) and calls f once for each removed member with what its removal
	// changed, as Leave would report it. Used by the reaper.
	RemoveNode(ctx context.Context, incarnation string, f func(api, channel string, r LeaveResult)) error
}

// ConnectionInfo is what a node reports about one of its open connections
// (gateway.ConnectionInfo is an alias of it).
type ConnectionInfo struct {
	ID           string
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
	User         string   // "" when the connection has no user id
	Channels     []string // the channels it is in, sorted
	// SendQueueBytes is what the node has accepted for the client and not
	// yet written to its socket; Inbox is how many of the client's
	// messages wait for their route. Both are 0 from a node older than
	// peer answer version 2.
	SendQueueBytes int
	Inbox          int
}

// ConnectionPage is one page of a node's connections; Next is "" on the
// last page.
type ConnectionPage struct {
	Connections []ConnectionInfo
	Next        string
}

// UserOp is what Forwarder.User does with a user's connections on a node.
type UserOp uint8

// The user operations.
const (
	UserPost       UserOp = iota + 1 // send data to each
	UserDisconnect                   // close each
	UserList                         // list them
)

// UserResult is the answer of Forwarder.User: how many connections were
// acted on, and for UserList, their information.
type UserResult struct {
	Count       int
	Connections []ConnectionInfo
}

// Forwarder carries management calls to the node that holds a connection.
// Errors come back as the gateway's sentinels; a node that cannot be reached
// gives ErrNodeGone (refused) or ErrUnavailable (no answer).
type Forwarder interface {
	Post(ctx context.Context, to Node, stage, id string, data []byte) error
	Get(ctx context.Context, to Node, stage, id string) (ConnectionInfo, error)
	Delete(ctx context.Context, to Node, stage, id string) error
	Join(ctx context.Context, to Node, stage, channel, id string) error
	Leave(ctx context.Context, to Node, stage, channel, id string) error
	List(ctx context.Context, to Node, stage, cursor string, limit int) (ConnectionPage, error)
	User(ctx context.Context, to Node, stage, user string, op UserOp, data []byte) (UserResult, error)
}

// incarnationBytes is the part of a connection id that names its node.
const incarnationBytes = 4

// NewIncarnation returns a fresh random incarnation: 8 hex characters.
func NewIncarnation() string {
	var b [incarnationBytes]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewID mints a connection id carrying incarnation: 11 bytes = the 4 of the
// incarnation + 7 random, URL-safe base64 with padding, the same
// 16-character AWS shape as event.NewID. It panics when incarnation is not 8
// hex characters (a programming error: incarnations come from
// NewIncarnation).
func NewID(incarnation string) string {
	var raw [11]byte
	if n, err := hex.Decode(raw[:incarnationBytes], []byte(incarnation)); err != nil || n != incarnationBytes || len(incarnation) != 2*incarnationBytes {
		panic("cluster: invalid incarnation " + incarnation)
	}
	_, _ = rand.Read(raw[incarnationBytes:])
	return base64.URLEncoding.EncodeToString(raw[:])
}

// IncarnationOf returns the incarnation that id carries, or false when id
// does not have the shape NewID produces.
func IncarnationOf(id string) (string, bool) {
	if len(id) != 16 || id[15] != '=' {
		return "", false
	}
	var raw [11]byte
	n, err := base64.URLEncoding.Decode(raw[:], []byte(id))
	if err != nil || n != 11 {
		return "", false
	}
	return hex.EncodeToString(raw[:incarnationBytes]), true
}

// Local is what a node serves to the other nodes: management calls on the
// connections it holds itself, never forwarded again. The gateway
// implements it; the Forwarder's receiving side (cluster/peer's server, or
// the memory Forwarder's direct call) calls it. Its errors are the
// gateway's sentinels, which a Forwarder carries back unchanged in meaning.
type Local interface {
	Post(ctx context.Context, stage, id string, data []byte) error
	Get(ctx context.Context, stage, id string) (ConnectionInfo, error)
	Delete(ctx context.Context, stage, id string) error
	Join(ctx context.Context, stage, channel, id string) error
	Leave(ctx context.Context, stage, channel, id string) error
	// List returns a page of this node's own connections.
	List(ctx context.Context, stage, cursor string, limit int) (ConnectionPage, error)
	// User acts on this node's connections of user.
	User(ctx context.Context, stage, user string, op UserOp, data []byte) (UserResult, error)
}

// Seams are one node's views of the cluster, as the gateway and its hubs
// use them. The zero value means "no cluster": the gateway then runs one
// node on the in-process backend (cluster/memory), today's behaviour.
type Seams struct {
	Registry  Registry
	Bus       Bus
	Presence  Presence
	Forwarder Forwarder
	// History returns the stream store that Bus.Publish appends to, as the
	// hub of api reads it (memory: Node.History; Redis: the history store
	// under the API's key prefix). Required when a namespace keeps history.
	History func(api string) history.History
}
