package protocol

import (
	"slices"
	"strconv"

	"github.com/switchboardhq/switchboard/internal/jsonenc"
)

// The Append functions append one server message (or one result object)
// to dst as compact JSON and return the extended slice, like the
// strconv.Append functions. They escape every string they are given
// (channel names and user ids come from clients), so the output is valid
// JSON and valid UTF-8 whenever the raw JSON they are given (payloads of
// kind PayloadData, results, member info) is. They allocate only to grow
// dst.

// Member is one member of a channel's presence: a connection, its user id
// ("" when it has none) and the info it was given (raw JSON, nil for
// none).
type Member struct {
	ConnectionID string
	User         string
	Info         []byte
}

// SubscribeResult is the result of a subscribe.
type SubscribeResult struct {
	// Position is the channel's stream position when the subscription
	// began; nil when the namespace keeps no history.
	Position *Position
	// Recovering: the subscribe asked to recover.
	Recovering bool
	// Recovered: every missed publication follows (only with Recovering).
	Recovered bool
	// Missed is how many recovered publications follow the reply (only
	// with Recovered).
	Missed int
	// Reason says why recovery failed (only with Recovering and not
	// Recovered): "epoch changed", "too old", "too many" or "no history".
	Reason string
}

// PublishResult is the result of a publish.
type PublishResult struct {
	// Position is the publication's position; nil when the namespace
	// keeps no history.
	Position *Position
	// Recipients counts the connections the publication was queued on.
	Recipients int
}

// AppendConnected appends the first message of a connection:
// {"type":"connected","version":1,"connectionId":"..","user":".."}, without
// "user" when user is "".
func AppendConnected(dst []byte, connectionID, user string) []byte {
	dst = append(dst, `{"type":"connected","version":1,"connectionId":`...)
	dst = jsonenc.AppendString(dst, connectionID)
	if user != "" {
		dst = append(dst, `,"user":`...)
		dst = jsonenc.AppendString(dst, user)
	}
	return append(dst, '}')
}

// AppendPub appends a publication on channel:
// {"type":"pub","channel":"..","epoch":"..","offset":N,<payload field>},
// without "epoch" and "offset" when pos is nil. kind is
// Classify(payload) (see AppendPayloadField).
func AppendPub(dst []byte, channel string, pos *Position, payload []byte, kind PayloadKind) []byte {
	return AppendPubEvent(dst, channel, "", pos, payload, kind)
}

// AppendPubEvent is AppendPub for a publication with an event name: it
// adds "event":".." after "channel" (nothing when event is "").
func AppendPubEvent(dst []byte, channel, event string, pos *Position, payload []byte, kind PayloadKind) []byte {
	n := len(`{"type":"pub","channel":"",}`) + len(channel) + payloadFieldLen(payload, kind)
	if pos != nil {
		n += len(`,"epoch":"","offset":18446744073709551615`) + len(pos.Epoch)
	}
	if event != "" {
		n += len(`,"event":""`) + len(event)
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, `{"type":"pub","channel":`...)
	dst = jsonenc.AppendString(dst, channel)
	if event != "" {
		dst = append(dst, `,"event":`...)
		dst = jsonenc.AppendString(dst, event)
	}
	dst = appendPosition(dst, pos)
	dst = append(dst, ',')
	dst = AppendPayloadField(dst, payload, kind)
	return append(dst, '}')
}

// AppendMessage appends data sent to one connection rather than on a
// channel (the management API's POST to a connection, a user or
// everyone): {"type":"message",<payload field>}. kind is
// Classify(payload) (see AppendPayloadField).
func AppendMessage(dst []byte, payload []byte, kind PayloadKind) []byte {
	dst = slices.Grow(dst, len(`{"type":"message",}`)+payloadFieldLen(payload, kind))
	dst = append(dst, `{"type":"message",`...)
	dst = AppendPayloadField(dst, payload, kind)
	return append(dst, '}')
}

// appendPosition appends `,"epoch":"..","offset":N`, or nothing when pos
// is nil.
func appendPosition(dst []byte, pos *Position) []byte {
	if pos == nil {
		return dst
	}
	dst = append(dst, `,"epoch":`...)
	dst = jsonenc.AppendString(dst, pos.Epoch)
	dst = append(dst, `,"offset":`...)
	return strconv.AppendUint(dst, pos.Offset, 10)
}

// AppendReply appends a successful reply to the message with id:
// {"type":"reply","id":N,"result":<result>}. result is a raw JSON object
// (see AppendSubscribeResult and the like); nil or empty stands for {}.
func AppendReply(dst []byte, id uint64, result []byte) []byte {
	dst = append(dst, `{"type":"reply","id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"result":`...)
	if len(result) == 0 {
		dst = append(dst, '{', '}')
	} else {
		dst = append(dst, result...)
	}
	return append(dst, '}')
}

// AppendReplyError appends a failed reply to the message with id:
// {"type":"reply","id":N,"error":{"code":C,"message":".."}}. A nil e is
// written as an internal error.
func AppendReplyError(dst []byte, id uint64, e *Error) []byte {
	dst = append(dst, `{"type":"reply","id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"error":`...)
	dst = appendError(dst, e)
	return append(dst, '}')
}

// AppendError appends an error for a message without id (or whose id
// could not be read): {"type":"error","error":{"code":C,"message":".."}}.
// A nil e is written as an internal error.
func AppendError(dst []byte, e *Error) []byte {
	dst = append(dst, `{"type":"error","error":`...)
	dst = appendError(dst, e)
	return append(dst, '}')
}

// appendError appends the error object {"code":C,"message":".."}.
func appendError(dst []byte, e *Error) []byte {
	if e == nil {
		e = &Error{Code: CodeInternal, Message: "internal error"}
	}
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = jsonenc.AppendString(dst, e.Message)
	return append(dst, '}')
}

// AppendMember appends a member object:
// {"connectionId":"..","user":"..","info":<info>}, without "user" when
// m.User is "" and without "info" when m.Info is empty.
func AppendMember(dst []byte, m Member) []byte {
	dst = append(dst, `{"connectionId":`...)
	dst = jsonenc.AppendString(dst, m.ConnectionID)
	if m.User != "" {
		dst = append(dst, `,"user":`...)
		dst = jsonenc.AppendString(dst, m.User)
	}
	if len(m.Info) > 0 {
		dst = append(dst, `,"info":`...)
		dst = append(dst, m.Info...)
	}
	return append(dst, '}')
}

// AppendJoin appends the notice that m subscribed to channel:
// {"type":"join","channel":"..","member":{...}}.
func AppendJoin(dst []byte, channel string, m Member) []byte {
	return appendMemberNotice(dst, `{"type":"join","channel":`, channel, m)
}

// AppendLeave appends the notice that m left channel:
// {"type":"leave","channel":"..","member":{...}}.
func AppendLeave(dst []byte, channel string, m Member) []byte {
	return appendMemberNotice(dst, `{"type":"leave","channel":`, channel, m)
}

func appendMemberNotice(dst []byte, head, channel string, m Member) []byte {
	dst = append(dst, head...)
	dst = jsonenc.AppendString(dst, channel)
	dst = append(dst, `,"member":`...)
	dst = AppendMember(dst, m)
	return append(dst, '}')
}

// AppendSubscribed appends the notice that the server subscribed the
// connection to channel: {"type":"subscribed","channel":"..","epoch":"..",
// "offset":N}, without "epoch" and "offset" when pos is nil (the namespace
// keeps no history).
func AppendSubscribed(dst []byte, channel string, pos *Position) []byte {
	dst = append(dst, `{"type":"subscribed","channel":`...)
	dst = jsonenc.AppendString(dst, channel)
	dst = appendPosition(dst, pos)
	return append(dst, '}')
}

// AppendUnsubscribed appends the notice that the server removed the
// connection from channel: {"type":"unsubscribed","channel":"..",
// "reason":".."}, without "reason" when reason is "".
func AppendUnsubscribed(dst []byte, channel, reason string) []byte {
	dst = append(dst, `{"type":"unsubscribed","channel":`...)
	dst = jsonenc.AppendString(dst, channel)
	if reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = jsonenc.AppendString(dst, reason)
	}
	return append(dst, '}')
}

// AppendSubscribeResult appends the result object of a subscribe:
// {"epoch":"..","offset":N,"recovered":B,"missed":N,"reason":".."}, with
// "epoch" and "offset" only when r.Position is set, "recovered" only when
// r.Recovering, "missed" only when r.Recovered and "reason" only when
// recovery failed; {} when none applies.
func AppendSubscribeResult(dst []byte, r SubscribeResult) []byte {
	dst = append(dst, '{')
	start := len(dst)
	dst = appendPosition(dst, r.Position)
	if r.Recovering {
		if r.Recovered {
			dst = append(dst, `,"recovered":true,"missed":`...)
			dst = strconv.AppendInt(dst, int64(r.Missed), 10)
		} else {
			dst = append(dst, `,"recovered":false,"reason":`...)
			dst = jsonenc.AppendString(dst, r.Reason)
		}
	}
	return closeObject(dst, start)
}

// AppendPublishResult appends the result object of a publish:
// {"epoch":"..","offset":N,"recipients":N}, without "epoch" and "offset"
// when r.Position is nil.
func AppendPublishResult(dst []byte, r PublishResult) []byte {
	dst = append(dst, '{')
	start := len(dst)
	dst = appendPosition(dst, r.Position)
	dst = append(dst, `,"recipients":`...)
	dst = strconv.AppendInt(dst, int64(r.Recipients), 10)
	return closeObject(dst, start)
}

// AppendPresenceResult appends the result object of a presence request:
// {"members":N,"presence":[{...},...],"truncated":B}. members is the total
// count, list the members listed (nil is written as []), truncated whether
// list was cut short.
func AppendPresenceResult(dst []byte, members int, list []Member, truncated bool) []byte {
	dst = append(dst, `{"members":`...)
	dst = strconv.AppendInt(dst, int64(members), 10)
	dst = append(dst, `,"presence":[`...)
	for i, m := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendMember(dst, m)
	}
	dst = append(dst, `],"truncated":`...)
	dst = strconv.AppendBool(dst, truncated)
	return append(dst, '}')
}

// closeObject ends an object whose members were each appended with a
// leading comma from dst[start:]: it drops the first comma and appends
// the closing brace.
func closeObject(dst []byte, start int) []byte {
	if len(dst) > start && dst[start] == ',' {
		dst = append(dst[:start], dst[start+1:]...)
	}
	return append(dst, '}')
}
