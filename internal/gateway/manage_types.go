package gateway

import (
	"errors"
	"time"
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
// one open connection.
type ConnectionInfo struct {
	ID           string
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
}

// ConnectionPage is one page of ListConnections. Next is empty on the last
// page; otherwise pass it back as the cursor for the following page.
type ConnectionPage struct {
	Connections []ConnectionInfo
	Next        string
}
