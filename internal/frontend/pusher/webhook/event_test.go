package webhook

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	pusher "github.com/pusher/pusher-http-go/v5"
)

// The worked vector of reference §10 (own computation, checked there).
func TestSignatureVector(t *testing.T) {
	const secret = "7ad3773142a6692b25b8"
	at := time.UnixMilli(1327078148132)
	b := buildBody([]item{{ev: &Event{Time: at}, json: appendJSON(nil, &Event{Name: ChannelOccupied, Channel: "my-channel"})}})
	const want = `{"time_ms":1327078148132,"events":[{"name":"channel_occupied","channel":"my-channel"}]}`
	if string(b) != want {
		t.Fatalf("body\n got %s\nwant %s", b, want)
	}
	if got := Sign(secret, b); got != "c19001ae3963ccb13bf618e5b16ba9848e7e74df0993aa0689168e341c6833cf" {
		t.Fatalf("signature %s", got)
	}
}

// Golden encodings: each event carries exactly the fields of its name.
func TestEventJSON(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{Event{Name: ChannelOccupied, Channel: "c", UserID: "ignored"}, `{"name":"channel_occupied","channel":"c"}`},
		{Event{Name: ChannelVacated, Channel: "c"}, `{"name":"channel_vacated","channel":"c"}`},
		{Event{Name: CacheMiss, Channel: "cache-c"}, `{"name":"cache_miss","channel":"cache-c"}`},
		{Event{Name: MemberAdded, Channel: "presence-c", UserID: "7"}, `{"name":"member_added","channel":"presence-c","user_id":"7"}`},
		{Event{Name: MemberRemoved, Channel: "presence-c", UserID: "7"}, `{"name":"member_removed","channel":"presence-c","user_id":"7"}`},
		{Event{Name: SubscriptionCount, Channel: "c", Count: 12}, `{"name":"subscription_count","channel":"c","subscription_count":12}`},
		{Event{Name: ClientEvent, Channel: "private-c", Event: "client-x", Data: json.RawMessage(`{"a":1}`), SocketID: "1.2"},
			`{"name":"client_event","channel":"private-c","event":"client-x","data":"{\"a\":1}","socket_id":"1.2"}`},
		{Event{Name: ClientEvent, Channel: "presence-c", Event: "client-x", Data: json.RawMessage(` "already a string" `), SocketID: "1.2", UserID: "u"},
			`{"name":"client_event","channel":"presence-c","event":"client-x","data":"already a string","socket_id":"1.2","user_id":"u"}`},
		{Event{Name: ClientEvent, Channel: "private-c", Event: "client-x", SocketID: "1.2"},
			`{"name":"client_event","channel":"private-c","event":"client-x","data":"","socket_id":"1.2"}`},
		{Event{Name: ClientEvent, Channel: "private-c", Event: "client-x", Data: json.RawMessage(`"broken`), SocketID: "1.2"},
			`{"name":"client_event","channel":"private-c","event":"client-x","data":"\"broken","socket_id":"1.2"}`},
		{Event{Name: ClientEvent, Channel: "private-c", Event: "client-x", Data: json.RawMessage("[1,\n2]"), SocketID: "1.2"},
			`{"name":"client_event","channel":"private-c","event":"client-x","data":"[1,\n2]","socket_id":"1.2"}`},
	}
	for _, tc := range tests {
		got := string(appendJSON(nil, &tc.ev))
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.ev.Name, got, tc.want)
		}
	}
}

// FuzzEventJSON: whatever the strings and data, the body is valid JSON
// that the Go SDK accepts (signature included) and reads back, with
// client_event data as a string: the data itself when it was a JSON
// string, its text otherwise.
func FuzzEventJSON(f *testing.F) {
	f.Add("private-c", "client-x", []byte(`{"a":1}`), "u")
	f.Add("presence-c", "client-y", []byte(`"s\u00e9"`), "")
	f.Add("c\"\\\n", "e\x00", []byte("\xff\xfe not json"), "\u2028")
	f.Add("", "", []byte(nil), "")
	f.Fuzz(func(t *testing.T, channel, event string, data []byte, user string) {
		e := &Event{Name: ClientEvent, Channel: channel, Event: event, Data: data, SocketID: "1.2", UserID: user, Time: time.UnixMilli(1)}
		b := buildBody([]item{{ev: e, json: appendJSON(nil, e)}})
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %q", b)
		}
		c := pusher.Client{AppID: "1", Key: "k", Secret: "s"}
		h := http.Header{"X-Pusher-Key": {"k"}, "X-Pusher-Signature": {Sign("s", b)}}
		wh, err := c.Webhook(h, b)
		if err != nil {
			if isEncrypted(channel) {
				return // the SDK needs a master key to read these; not ours to decrypt
			}
			t.Fatalf("SDK refused %q: %v", b, err)
		}
		if len(wh.Events) != 1 || wh.TimeMs != 1 {
			t.Fatalf("SDK read %+v", wh)
		}
		got := wh.Events[0]
		if utf8.ValidString(channel) && got.Channel != channel {
			t.Fatalf("channel %q read back as %q", channel, got.Channel)
		}
		var want string
		trimmed := trimSpace(data)
		if len(trimmed) == 0 || trimmed[0] != '"' || json.Unmarshal(trimmed, &want) != nil {
			want = string(trimmed)
		}
		if utf8.ValidString(want) && got.Data != want {
			t.Fatalf("data %q read back as %q, want %q", data, got.Data, want)
		}
	})
}

func isEncrypted(channel string) bool {
	return len(channel) >= len("private-encrypted-") && channel[:len("private-encrypted-")] == "private-encrypted-"
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
