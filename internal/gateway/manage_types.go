package gateway

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/hub"
)

// Errors returned by the management data methods (PostToConnection,
// GetConnection, DeleteConnection, ListConnections). The management API
// maps them to AWS error types; the CLI and tests branch on them with
// errors.Is.
var (
	// ErrGone: the connection is unknown, already closed, or still inside
	// its $connect route (AWS GoneException, 410).
	ErrGone = errors.New("connection is gone")
	// ErrNoSuchStage: no API is served under this stage (AWS answers a
	// wrong stage with 403 Forbidden).
	ErrNoSuchStage = errors.New("no API is served under this stage")
	// ErrPayloadTooLarge: the data exceeds the API's maxMessageBytes
	// (PayloadTooLargeException, 413).
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrInvalidConnectionID: the id cannot be a Switchboard connection id
	// (BadRequestException, 400).
	ErrInvalidConnectionID = errors.New("invalid connection id")
	// ErrInvalidCursor: a list cursor that this server did not issue
	// (BadRequestException, 400).
	ErrInvalidCursor = errors.New("invalid cursor")
)

// ConnectionInfo is what GetConnection and ListConnections report about
// one open connection: the cluster seam's type, so that a connection held
// by another node is reported in the same shape.
type ConnectionInfo = cluster.ConnectionInfo

// ConnectionPage is one page of ListConnections. Next is empty on the last
// page; otherwise pass it back as the cursor for the following page.
type ConnectionPage = cluster.ConnectionPage

// Errors of the channel, user and publish methods.
var (
	// ErrInvalidChannel: the name is not a valid channel name (400).
	ErrInvalidChannel = hub.ErrInvalidChannel
	// ErrNoNamespace: no namespace of the API matches the channel (400).
	ErrNoNamespace = hub.ErrNoNamespace
	// ErrInvalidUser: the user id is empty, too long or has control
	// characters (400).
	ErrInvalidUser = hub.ErrInvalidUser
	// ErrTooManyChannels: the connection is already in the API's
	// channels.maxPerConnection channels (LimitExceededException, 429).
	ErrTooManyChannels = hub.ErrTooManyChannels
	// ErrNoHistory: the channel's namespace keeps no history (400).
	ErrNoHistory = hub.ErrNoHistory
	// ErrEpochMismatch: a history query named an epoch that is not the
	// stream's current one: the publications it refers to are lost
	// (ConflictException, 409).
	ErrEpochMismatch = hub.ErrEpochMismatch
)

// StreamPosition is a place in a channel's history stream: the offset of a
// publication within an epoch. Offsets start at 1; 0 is "before the first".
type StreamPosition struct {
	Epoch  string
	Offset uint64
}

// PublishResult is what a publication to a channel did.
type PublishResult struct {
	// Recipients is the number of connections the publication was queued on.
	Recipients int
	// Position is the publication's place in the channel's stream; nil
	// when the namespace keeps no history.
	Position *StreamPosition
}

// Member is one connection in a channel, as presence reports it.
type Member struct {
	ConnectionID string
	User         string          // "" when the connection has no user
	Info         json.RawMessage // nil when it has none
}

// ChannelInfo is what the management API reports about a channel.
type ChannelInfo struct {
	Channel string
	// Members is the number of connections in the channel.
	Members int
	// PresenceEnabled tells whether the namespace keeps presence; Presence
	// is then one page of members, ordered by connection id, and Next the
	// cursor of the following page ("" on the last).
	PresenceEnabled bool
	Presence        []Member
	Next            string
	// Position is the top of the channel's stream; nil without history.
	Position *StreamPosition
}

// HistoryQuery selects publications from a channel's stream.
type HistoryQuery struct {
	// Since: return publications with a larger offset (0: from the oldest
	// kept).
	Since uint64
	// Epoch, when set, must be the stream's epoch (else ErrEpochMismatch).
	Epoch string
	// Limit is the most publications returned, 1..1000.
	Limit int
}

// HistoryPage is the answer to a HistoryQuery.
type HistoryPage struct {
	Position     StreamPosition // the top of the stream
	Publications []Publication  // oldest first
	// Truncated reports that publications after Since were already
	// dropped (by size or TTL): the page does not start at Since+1.
	Truncated bool
}

// Publication is one kept publication.
type Publication struct {
	Offset uint64
	Time   time.Time
	Data   []byte
}
