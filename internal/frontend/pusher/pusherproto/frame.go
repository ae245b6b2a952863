package pusherproto

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// DefaultMaxFrameSize is the frame limit Decode applies when the caller
// gives none: room for a client event with the 10 KB of data Pusher allows
// (reference §8, §12.3) and its envelope.
const DefaultMaxFrameSize = 16 << 10

// MaxEventNameLen is the longest client event name DecodeClientEvent
// accepts, in bytes: the limit of the SDKs and of soketi (reference §12.3).
const MaxEventNameLen = 200

// Frame is one client → server message (reference §2): {"event": …,
// "channel"?: …, "data"?: …}. Other keys are ignored.
type Frame struct {
	Event string
	// Channel is "" when the frame has none (or null).
	Channel string
	// Data is the JSON value of "data" exactly as sent (an object from
	// pusher-js, a string from some other clients), nil when absent. It
	// aliases the message given to Decode.
	Data json.RawMessage
}

var frameKeys = []string{"event", "channel", "data"}

// Decode parses one text message from a client. A message longer than
// maxSize bytes (DefaultMaxFrameSize when maxSize ≤ 0), not valid UTF-8,
// not a JSON object, without a non-empty string "event", with a "channel"
// that is neither a string nor null, or repeating one of the three keys
// is refused with an *Error (ErrTooLarge or ErrMalformed). The channel
// name is not validated here: ParseChannel does that.
//
// Frame.Data aliases msg: copy it to keep it beyond msg's lifetime.
func Decode(msg []byte, maxSize int) (Frame, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	if len(msg) > maxSize {
		return Frame{}, errorf(ErrTooLarge, "message of %d bytes is over the limit of %d bytes", len(msg), maxSize)
	}
	if !utf8.Valid(msg) {
		return Frame{}, errorf(ErrMalformed, "message is not valid UTF-8")
	}
	if !json.Valid(msg) || !isObject(msg) {
		return Frame{}, errorf(ErrMalformed, "message is not a JSON object")
	}
	var f Frame
	hasEvent := false
	err := eachMember(msg, "message", frameKeys, func(key string, val []byte) error {
		var err error
		switch key {
		case "event":
			f.Event, err = stringField("message", key, val)
			hasEvent = true
		case "channel":
			if string(val) != "null" {
				f.Channel, err = stringField("message", key, val)
			}
		case "data":
			f.Data = val
		}
		return err
	})
	if err != nil {
		return Frame{}, err
	}
	if !hasEvent || f.Event == "" {
		return Frame{}, errorf(ErrMalformed, `message has no "event"`)
	}
	return f, nil
}

// Inbound event names (reference §4).
const (
	EventPing        = "pusher:ping"
	EventPong        = "pusher:pong"
	EventSubscribe   = "pusher:subscribe"
	EventUnsubscribe = "pusher:unsubscribe"
	EventSignin      = "pusher:signin"
	// ClientEventPrefix starts the name of every client event.
	ClientEventPrefix = "client-"
)

// dataObject returns the JSON object that data holds: data itself when it
// is an object, the string's contents when it is a JSON string holding an
// object (the double-encoded form, reference §2: "parse both forms").
func dataObject(event string, data []byte) ([]byte, error) {
	data = trimSpace(data)
	if len(data) == 0 {
		return nil, errorf(ErrMalformed, "%s: data is missing", event)
	}
	if !json.Valid(data) {
		return nil, errorf(ErrMalformed, "%s: data is not JSON", event)
	}
	if data[0] == '"' {
		s, err := unquote(data)
		if err != nil {
			return nil, err
		}
		inner := []byte(s)
		if json.Valid(inner) && isObject(inner) {
			return inner, nil
		}
	} else if data[0] == '{' {
		return data, nil
	}
	return nil, errorf(ErrMalformed, "%s: data must be a JSON object (or a string holding one)", event)
}

// Subscribe is the data of pusher:subscribe (reference §4.1).
type Subscribe struct {
	Channel string
	// Auth is "" for public channels (pusher-js sends "auth":"").
	Auth string
	// ChannelData is the presence member data exactly as sent (the string
	// the signature covers), "" when absent.
	ChannelData string
}

var subscribeKeys = []string{"channel", "auth", "channel_data"}

// DecodeSubscribe parses the data of a pusher:subscribe frame: "channel"
// (a non-empty string), "auth" and "channel_data" (strings, or null or
// absent). The channel name is not validated here: ParseChannel does that.
func DecodeSubscribe(data []byte) (Subscribe, error) {
	obj, err := dataObject(EventSubscribe, data)
	if err != nil {
		return Subscribe{}, err
	}
	var s Subscribe
	err = eachMember(obj, EventSubscribe, subscribeKeys, func(key string, val []byte) error {
		var err error
		if string(val) == "null" {
			return nil
		}
		switch key {
		case "channel":
			s.Channel, err = stringField(EventSubscribe, key, val)
		case "auth":
			s.Auth, err = stringField(EventSubscribe, key, val)
		case "channel_data":
			s.ChannelData, err = stringField(EventSubscribe, key, val)
		}
		return err
	})
	if err != nil {
		return Subscribe{}, err
	}
	if s.Channel == "" {
		return Subscribe{}, errorf(ErrMalformed, `%s: "channel" is missing`, EventSubscribe)
	}
	return s, nil
}

// DecodeUnsubscribe parses the data of a pusher:unsubscribe frame and
// returns its "channel" (a non-empty string).
func DecodeUnsubscribe(data []byte) (channel string, err error) {
	obj, err := dataObject(EventUnsubscribe, data)
	if err != nil {
		return "", err
	}
	err = eachMember(obj, EventUnsubscribe, subscribeKeys[:1], func(key string, val []byte) error {
		var err error
		if key == "channel" {
			channel, err = stringField(EventUnsubscribe, key, val)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if channel == "" {
		return "", errorf(ErrMalformed, `%s: "channel" is missing`, EventUnsubscribe)
	}
	return channel, nil
}

// Signin is the data of pusher:signin (reference §11).
type Signin struct {
	Auth string
	// UserData is the user data exactly as sent (the string the
	// signature covers); ParseUserData reads it.
	UserData string
}

var signinKeys = []string{"auth", "user_data"}

// DecodeSignin parses the data of a pusher:signin frame: "auth" and
// "user_data", both non-empty strings.
func DecodeSignin(data []byte) (Signin, error) {
	obj, err := dataObject(EventSignin, data)
	if err != nil {
		return Signin{}, err
	}
	var s Signin
	err = eachMember(obj, EventSignin, signinKeys, func(key string, val []byte) error {
		var err error
		switch key {
		case "auth":
			s.Auth, err = stringField(EventSignin, key, val)
		case "user_data":
			s.UserData, err = stringField(EventSignin, key, val)
		}
		return err
	})
	if err != nil {
		return Signin{}, err
	}
	if s.Auth == "" || s.UserData == "" {
		return Signin{}, errorf(ErrMalformed, `%s: "auth" and "user_data" are required`, EventSignin)
	}
	return s, nil
}

// DecodePing checks the data of a pusher:ping (or pusher:pong) frame,
// which carries nothing (reference §3.3): absent, null, an object or a
// string are accepted whatever they hold; a number, a boolean or an array
// is refused.
func DecodePing(data []byte) error {
	data = trimSpace(data)
	if len(data) == 0 {
		return nil
	}
	if json.Valid(data) {
		switch data[0] {
		case '{', '"', 'n':
			return nil
		}
	}
	return errorf(ErrMalformed, "%s: data must be empty", EventPing)
}

// ClientEvent is a client event (reference §8): a frame whose event name
// starts with "client-".
type ClientEvent struct {
	Event   string
	Channel string
	// Data is the frame's data as sent (aliasing the message).
	// EventData gives the string to forward.
	Data json.RawMessage
}

// IsClientEvent reports whether event names a client event.
func IsClientEvent(event string) bool { return strings.HasPrefix(event, ClientEventPrefix) }

// DecodeClientEvent checks a client event frame: its name starts with
// "client-" and is at most MaxEventNameLen bytes, it names a channel, and
// it has data. The channel's type, the sender's subscription, the size of
// the data and the rate are the caller's rules (reference §8).
func DecodeClientEvent(f Frame) (ClientEvent, error) {
	if !IsClientEvent(f.Event) {
		return ClientEvent{}, errorf(ErrMalformed, "client event names must start with %q: %q", ClientEventPrefix, f.Event)
	}
	if len(f.Event) > MaxEventNameLen {
		return ClientEvent{}, errorf(ErrTooLarge, "client event name of %d bytes is over the limit of %d bytes", len(f.Event), MaxEventNameLen)
	}
	if f.Channel == "" {
		return ClientEvent{}, errorf(ErrMalformed, "client event %q has no channel", f.Event)
	}
	if len(trimSpace(f.Data)) == 0 {
		return ClientEvent{}, errorf(ErrMalformed, "client event %q has no data", f.Event)
	}
	return ClientEvent(f), nil
}

// EventData returns the text to send as the "data" string of a channel
// event made from raw, a JSON value as a client sent it: the contents of
// a JSON string, or the JSON text itself for any other value (pusher-js
// sends objects). AppendChannelEvent and the client_event webhook take it
// (reference §8, §10: both carry data as a string).
func EventData(raw json.RawMessage) ([]byte, error) {
	raw = trimSpace(raw)
	if len(raw) == 0 || !json.Valid(raw) {
		return nil, errorf(ErrMalformed, "event data is not JSON")
	}
	if raw[0] == '"' {
		s, err := unquote(raw)
		return []byte(s), err
	}
	return raw, nil
}
