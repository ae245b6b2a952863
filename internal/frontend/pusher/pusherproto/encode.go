package pusherproto

import (
	"encoding/json"
	"strconv"

	"github.com/switchboardhq/switchboard/internal/jsonenc"
)

// Outbound event names (reference §4).
const (
	EventConnectionEstablished = "pusher:connection_established"
	EventError                 = "pusher:error"
	EventSubscriptionSucceeded = "pusher_internal:subscription_succeeded"
	EventSubscriptionError     = "pusher:subscription_error"
	EventMemberAdded           = "pusher_internal:member_added"
	EventMemberRemoved         = "pusher_internal:member_removed"
	EventSigninSuccess         = "pusher:signin_success"
	EventCacheMiss             = "pusher:cache_miss"
	EventSubscriptionCount     = "pusher_internal:subscription_count"
)

// Every Append function appends one complete server → client frame to dst
// and returns the extended slice. Strings are escaped exactly as
// encoding/json escapes them (internal/jsonenc), and "data" is a JSON
// string holding the payload (the double encoding of reference §2), except
// for pusher:error, whose data is an object as hosted Pusher sends it.

// AppendChannelEvent appends a channel event {"event","channel","data",
// "user_id"?} (reference §4.2). data is the contents of the "data" string:
// for a publication whose payload is JSON text the payload itself, so
// subscribers receive it once decoded. userID is omitted when "" (it is
// only set on client events in presence channels). With room in dst it
// does not allocate.
func AppendChannelEvent(dst []byte, event, channel string, data []byte, userID string) []byte {
	dst = append(dst, `{"event":`...)
	dst = jsonenc.AppendString(dst, event)
	dst = append(dst, `,"channel":`...)
	dst = jsonenc.AppendString(dst, channel)
	dst = append(dst, `,"data":`...)
	dst = jsonenc.AppendString(dst, data)
	if userID != "" {
		dst = append(dst, `,"user_id":`...)
		dst = jsonenc.AppendString(dst, userID)
	}
	return append(dst, '}')
}

// appendInternal appends {"event":event[,"channel":channel],"data":"<data
// escaped>"}.
func appendInternal(dst []byte, event, channel string, data []byte) []byte {
	dst = append(dst, `{"event":`...)
	dst = jsonenc.AppendString(dst, event)
	if channel != "" {
		dst = append(dst, `,"channel":`...)
		dst = jsonenc.AppendString(dst, channel)
	}
	dst = append(dst, `,"data":`...)
	dst = jsonenc.AppendString(dst, data)
	return append(dst, '}')
}

// AppendConnectionEstablished appends pusher:connection_established with
// data {"socket_id","activity_timeout"} (reference §1.2). activityTimeout
// is in seconds and must not be 0: pusher-js aborts the handshake on 0.
func AppendConnectionEstablished(dst []byte, socketID string, activityTimeout int) []byte {
	var b [96]byte
	data := append(b[:0], `{"socket_id":`...)
	data = jsonenc.AppendString(data, socketID)
	data = append(data, `,"activity_timeout":`...)
	data = strconv.AppendInt(data, int64(activityTimeout), 10)
	data = append(data, '}')
	return appendInternal(dst, EventConnectionEstablished, "", data)
}

// AppendError appends pusher:error with data {"message","code"} as an
// object (reference §2, §4); code 0 is sent as null (hosted Pusher's code
// for a bad subscription signature, reference §4.1). channel is added when
// not "" (soketi's form for errors about one channel).
func AppendError(dst []byte, channel string, code Code, message string) []byte {
	dst = append(dst, `{"event":"pusher:error"`...)
	if channel != "" {
		dst = append(dst, `,"channel":`...)
		dst = jsonenc.AppendString(dst, channel)
	}
	dst = append(dst, `,"data":{"message":`...)
	dst = jsonenc.AppendString(dst, message)
	dst = append(dst, `,"code":`...)
	if code == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, int64(code), 10)
	}
	return append(dst, "}}"...)
}

// AppendPong appends pusher:pong, the answer to pusher:ping (reference §3.3).
func AppendPong(dst []byte) []byte {
	return append(dst, `{"event":"pusher:pong","data":"{}"}`...)
}

// AppendPing appends pusher:ping, which the server may send after
// activity_timeout of silence; pusher-js answers with pusher:pong
// (reference §3.3).
func AppendPing(dst []byte) []byte {
	return append(dst, `{"event":"pusher:ping","data":"{}"}`...)
}

// AppendSubscriptionSucceeded appends pusher_internal:subscription_succeeded
// for a public, private or encrypted channel, with data "{}" as hosted
// Pusher sends it (reference §4).
func AppendSubscriptionSucceeded(dst []byte, channel string) []byte {
	return appendInternal(dst, EventSubscriptionSucceeded, channel, []byte("{}"))
}

// Member is one user of a presence channel (reference §7), as
// ParseChannelData reads it from channel_data (or, for a signed-in
// connection, from its user data).
type Member struct {
	// ID is user_id's string form: the string, or the integer as written.
	// Members are told apart by it (pusher-js keys members by it).
	ID string
	// Numeric is true when user_id was a JSON number: frames then carry
	// it unquoted, as it was given.
	Numeric bool
	// Info is user_info as JSON, nil when there was none. It must be
	// valid JSON.
	Info json.RawMessage
}

func appendMemberID(dst []byte, m Member) []byte {
	if m.Numeric {
		return append(dst, m.ID...)
	}
	return jsonenc.AppendString(dst, m.ID)
}

func appendInfo(dst []byte, info json.RawMessage) []byte {
	if len(info) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, info...)
}

// AppendPresenceSubscriptionSucceeded appends
// pusher_internal:subscription_succeeded for a presence channel, with data
// {"presence":{"ids":[…],"hash":{id:user_info},"count":n}} (reference §4,
// §7). members must include the subscriber itself (pusher-js finds
// members.me in it); a member whose ID repeats an earlier one is left out,
// so count is the number of distinct users.
func AppendPresenceSubscriptionSucceeded(dst []byte, channel string, members []Member) []byte {
	seen := make(map[string]struct{}, len(members))
	unique := make([]Member, 0, len(members))
	for _, m := range members {
		if _, dup := seen[m.ID]; !dup {
			seen[m.ID] = struct{}{}
			unique = append(unique, m)
		}
	}
	data := append(make([]byte, 0, 64+32*len(unique)), `{"presence":{"ids":[`...)
	for i, m := range unique {
		if i > 0 {
			data = append(data, ',')
		}
		data = appendMemberID(data, m)
	}
	data = append(data, `],"hash":{`...)
	for i, m := range unique {
		if i > 0 {
			data = append(data, ',')
		}
		data = jsonenc.AppendString(data, m.ID)
		data = append(data, ':')
		data = appendInfo(data, m.Info)
	}
	data = append(data, `},"count":`...)
	data = strconv.AppendInt(data, int64(len(unique)), 10)
	data = append(data, "}}"...)
	return appendInternal(dst, EventSubscriptionSucceeded, channel, data)
}

// AppendMemberAdded appends pusher_internal:member_added with data
// {"user_id","user_info"} (user_info left out when m.Info is nil). Send it
// to the channel's other subscribers when a user's first connection joins
// (reference §7).
func AppendMemberAdded(dst []byte, channel string, m Member) []byte {
	data := append(make([]byte, 0, 32+len(m.ID)+len(m.Info)), `{"user_id":`...)
	data = appendMemberID(data, m)
	if len(m.Info) > 0 {
		data = append(data, `,"user_info":`...)
		data = append(data, m.Info...)
	}
	data = append(data, '}')
	return appendInternal(dst, EventMemberAdded, channel, data)
}

// AppendMemberRemoved appends pusher_internal:member_removed with data
// {"user_id"}. Send it when a user's last connection leaves (reference §7).
func AppendMemberRemoved(dst []byte, channel string, m Member) []byte {
	data := append(make([]byte, 0, 16+len(m.ID)), `{"user_id":`...)
	data = appendMemberID(data, m)
	data = append(data, '}')
	return appendInternal(dst, EventMemberRemoved, channel, data)
}

// AppendSigninSuccess appends pusher:signin_success with data
// {"user_data": userData}, userData being the string the client signed in
// with (reference §11).
func AppendSigninSuccess(dst []byte, userData string) []byte {
	data := append(make([]byte, 0, 16+len(userData)), `{"user_data":`...)
	data = jsonenc.AppendString(data, userData)
	data = append(data, '}')
	return appendInternal(dst, EventSigninSuccess, "", data)
}

// AppendCacheMiss appends pusher:cache_miss for channel, without data
// (reference §9).
func AppendCacheMiss(dst []byte, channel string) []byte {
	dst = append(dst, `{"event":"pusher:cache_miss","channel":`...)
	dst = jsonenc.AppendString(dst, channel)
	return append(dst, '}')
}

// AppendSubscriptionCount appends pusher_internal:subscription_count with
// data {"subscription_count": count} (reference §4).
func AppendSubscriptionCount(dst []byte, channel string, count int) []byte {
	var b [48]byte
	data := append(b[:0], `{"subscription_count":`...)
	data = strconv.AppendInt(data, int64(count), 10)
	data = append(data, '}')
	return appendInternal(dst, EventSubscriptionCount, channel, data)
}

// AppendSubscriptionError appends a channel-scoped pusher:subscription_error
// with data {"type","error","status"} (soketi's form, reference §4.1:
// pusher-js hands it to channel.bind('pusher:subscription_error')), e.g.
// type "AuthError", status 401.
func AppendSubscriptionError(dst []byte, channel, typ, message string, status int) []byte {
	data := append(make([]byte, 0, 48+len(typ)+len(message)), `{"type":`...)
	data = jsonenc.AppendString(data, typ)
	data = append(data, `,"error":`...)
	data = jsonenc.AppendString(data, message)
	data = append(data, `,"status":`...)
	data = strconv.AppendInt(data, int64(status), 10)
	data = append(data, '}')
	return appendInternal(dst, EventSubscriptionError, channel, data)
}
