package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/switchboardhq/switchboard/internal/jsonenc"
)

// The webhook event names of the Pusher documentation (reference §10).
const (
	ChannelOccupied   = "channel_occupied"
	ChannelVacated    = "channel_vacated"
	MemberAdded       = "member_added"
	MemberRemoved     = "member_removed"
	ClientEvent       = "client_event"
	CacheMiss         = "cache_miss"
	SubscriptionCount = "subscription_count"
)

// Names lists every event name a Target's Events filter may hold.
var Names = []string{ChannelOccupied, ChannelVacated, MemberAdded, MemberRemoved, ClientEvent, CacheMiss, SubscriptionCount}

func knownName(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// Event is one webhook event. Which fields are sent depends on Name:
//
//	channel_occupied, channel_vacated, cache_miss: channel
//	member_added, member_removed:                  channel, user_id
//	client_event:                                  channel, event, data, socket_id, user_id (when not empty: presence channels)
//	subscription_count:                            channel, subscription_count
//
// The Sender owns an Event once it is passed to Emit: the caller must not
// change Data afterwards (it is shared by every target of the app).
type Event struct {
	Name    string
	Channel string
	// UserID is the member of member_added/member_removed and the sender
	// of a client_event on a presence channel.
	UserID string
	// Event, Data and SocketID are those of a client_event. Data is the
	// event's data as the client sent it: a JSON string is sent as that
	// string, any other JSON value (pusher-js sends objects) is sent as a
	// string holding its JSON text, because the SDKs read data as a
	// string. Bytes that are not JSON are sent as a string too.
	Event    string
	Data     json.RawMessage
	SocketID string
	// Count is the subscription_count of a subscription_count event.
	Count int
	// Time is when the event happened; zero means when Emit was called
	// (the Sender's clock). The retry window is measured from it.
	Time time.Time
}

// appendJSON appends ev as one element of the "events" array.
func appendJSON(dst []byte, ev *Event) []byte {
	dst = append(dst, `{"name":`...)
	dst = jsonenc.AppendString(dst, ev.Name)
	dst = append(dst, `,"channel":`...)
	dst = jsonenc.AppendString(dst, ev.Channel)
	switch ev.Name {
	case MemberAdded, MemberRemoved:
		dst = append(dst, `,"user_id":`...)
		dst = jsonenc.AppendString(dst, ev.UserID)
	case ClientEvent:
		dst = append(dst, `,"event":`...)
		dst = jsonenc.AppendString(dst, ev.Event)
		dst = append(dst, `,"data":`...)
		dst = appendData(dst, ev.Data)
		dst = append(dst, `,"socket_id":`...)
		dst = jsonenc.AppendString(dst, ev.SocketID)
		if ev.UserID != "" {
			dst = append(dst, `,"user_id":`...)
			dst = jsonenc.AppendString(dst, ev.UserID)
		}
	case SubscriptionCount:
		dst = append(dst, `,"subscription_count":`...)
		dst = strconv.AppendInt(dst, int64(ev.Count), 10)
	}
	return append(dst, '}')
}

// appendData appends a client_event's data as a JSON string: an already
// valid JSON string as it is, anything else as a string holding its text.
func appendData(dst []byte, raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' && json.Valid(raw) {
		return append(dst, raw...)
	}
	return jsonenc.AppendString(dst, []byte(raw))
}

// body builds the request body {"time_ms":…,"events":[…]} from encoded
// events. time_ms is the creation time of the oldest event in the request.
func buildBody(items []item) []byte {
	oldest := items[0].ev.Time
	n := 40
	for _, it := range items {
		if it.ev.Time.Before(oldest) {
			oldest = it.ev.Time
		}
		n += len(it.json) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"time_ms":`...)
	b = strconv.AppendInt(b, oldest.UnixMilli(), 10)
	b = append(b, `,"events":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it.json...)
	}
	return append(b, "]}"...)
}

// bodyOverhead is the size of a body around its events for any time_ms
// until the year 2286 (13 digits).
const bodyOverhead = len(`{"time_ms":1234567890123,"events":[]}`)

// item is an event queued for one target, with its encoding (made once,
// by the target's goroutine, and reused by every attempt).
type item struct {
	ev   *Event
	json []byte
}

func validateEvent(ev *Event) error {
	if !knownName(ev.Name) {
		return fmt.Errorf("unknown webhook event %q", ev.Name)
	}
	return nil
}
