package protocol

import "strconv"

// Subprotocol is the Sec-WebSocket-Protocol value a client offers to speak
// this protocol.
const Subprotocol = "switchboard.v1"

// Type is a client message type: the "type" field of a client message.
type Type uint8

// The client message types of switchboard.v1. The zero Type is none.
const (
	TypeSubscribe   Type = iota + 1 // "subscribe": join a channel
	TypeUnsubscribe                 // "unsubscribe": leave a channel
	TypePublish                     // "publish": publish to a channel
	TypePresence                    // "presence": list a channel's members
	TypePing                        // "ping": a round trip through the server's queues
	TypeRefresh                     // "refresh": a new JWT for the connection
)

// String returns the type as it is written in the "type" field, or
// "Type(N)" for a value that is not a client message type.
func (t Type) String() string {
	switch t {
	case TypeSubscribe:
		return "subscribe"
	case TypeUnsubscribe:
		return "unsubscribe"
	case TypePublish:
		return "publish"
	case TypePresence:
		return "presence"
	case TypePing:
		return "ping"
	case TypeRefresh:
		return "refresh"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Position is a position in a channel's stream: the offset of a
// publication within an epoch. An offset means nothing without its epoch,
// which changes whenever the stream is lost.
type Position struct {
	Epoch  string
	Offset uint64
}

// Message is one decoded client message. Which fields are set depends on
// Type; the others are zero.
type Message struct {
	Type Type
	// ID is the client's id for the message, from 1 to MaxID; 0 when the
	// client gave none, in which case a success gets no reply.
	ID uint64
	// Channel is the channel of a subscribe, unsubscribe, publish or
	// presence message (always present for those; it may be "", and its
	// name is not validated here).
	Channel string
	// Token is the JWT of a refresh message.
	Token string
	// Recover is the position a subscribe asks to recover from, or nil.
	Recover *Position
	// Payload is the bytes a publish message publishes: the raw JSON of
	// "data" (without surrounding whitespace), the decoded string of
	// "text", or the decoded bytes of "b64". Non-nil for every publish,
	// possibly empty. It may share memory with the decoded frame.
	Payload []byte
	// ExcludeSelf asks that a publication is not delivered to the
	// publishing connection.
	ExcludeSelf bool
}

// MaxID is the largest message id, 2^53−1: the largest integer every
// JavaScript client can represent exactly.
const MaxID = 1<<53 - 1
