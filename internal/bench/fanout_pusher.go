package bench

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
)

// The Pusher side of the tools: connections at /app/{key} (protocol 7,
// reference pusher-channels.md §3–4) and publications through the Pusher
// HTTP API (§12).

var (
	pusherPingEvent = []byte(`"event":"pusher:ping"`)
	pusherPong      = pusherproto.AppendPong(nil)
)

// pusherURL is the Pusher endpoint of app key on u's host:
// ws://host:port/app/{key}?protocol=7 (u's path, which names a stage, is
// not used).
func pusherURL(u *url.URL, key string) *url.URL {
	return &url.URL{Scheme: "ws", Host: u.Host, Path: "/app/" + key, RawQuery: "protocol=7&client=switchboard-bench&version=1"}
}

// pusherSubscribe is the pusher:subscribe event for a public channel.
func pusherSubscribe(channel string) []byte {
	msg, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{"channel": channel}})
	return msg
}

// isPusherPing reports whether a text message is the server's
// pusher:ping event.
func isPusherPing(msg []byte) bool { return bytes.Contains(msg, pusherPingEvent) }

// pusherSetup is the setup of a Pusher connection: connection_established,
// then (when sub is not nil) pusher_internal:subscription_succeeded for
// sub's channel. pusher:error and pusher:subscription_error end it with
// their data; a pusher:ping is answered.
func pusherSetup(sub []byte) setupStep {
	connected := false
	return func(p []byte) ([]byte, bool, error) {
		var m struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(p, &m); err != nil {
			return nil, false, fmt.Errorf("pusher setup: %w in %.200s", err, p)
		}
		switch m.Event {
		case "pusher:error", "pusher:subscription_error":
			return nil, false, fmt.Errorf("pusher setup: %s %.200s", m.Event, m.Data)
		case "pusher:ping":
			return pusherPong, false, nil
		}
		if !connected {
			if m.Event != "pusher:connection_established" {
				return nil, false, fmt.Errorf("pusher setup: the first event is not pusher:connection_established: %.200s", p)
			}
			connected = true
			return sub, sub == nil, nil
		}
		return nil, m.Event == "pusher_internal:subscription_succeeded", nil
	}
}

// pusherEventsRequest is a signed Pusher HTTP API request that triggers
// event name on channel with data (reference §12.1–12.2): the path and
// query of POST /apps/{appID}/events and its JSON body. The signature is
// HMAC-SHA256, keyed with secret, of pusherproto.APIStringToSign.
func pusherEventsRequest(appID, key, secret, name, channel, data string, now time.Time) (pathQuery string, body []byte) {
	body, _ = json.Marshal(struct {
		Name    string `json:"name"`
		Channel string `json:"channel"`
		Data    string `json:"data"`
	}{name, channel, data})
	sum := md5.Sum(body)
	path := "/apps/" + url.PathEscape(appID) + "/events"
	params := url.Values{
		"auth_key":       {key},
		"auth_timestamp": {strconv.FormatInt(now.Unix(), 10)},
		"auth_version":   {"1.0"},
		"body_md5":       {hex.EncodeToString(sum[:])},
	}
	params.Set("auth_signature", pusherproto.Sign(secret, pusherproto.APIStringToSign("POST", path, params)))
	return path + "?" + params.Encode(), body
}
