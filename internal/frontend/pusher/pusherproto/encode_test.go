package pusherproto

import (
	"encoding/json"
	"strings"
	"testing"
)

// The exact frames of the reference (§1.2, §3.3, §4) and of hosted Pusher.
func TestAppendGolden(t *testing.T) {
	alice := Member{ID: "alice", Info: json.RawMessage(`{"name":"Alice"}`)}
	ten := Member{ID: "10", Numeric: true, Info: json.RawMessage(`{"name":"Mr. Pusher"}`)}
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"connection_established", AppendConnectionEstablished(nil, "123.456", 120),
			`{"event":"pusher:connection_established","data":"{\"socket_id\":\"123.456\",\"activity_timeout\":120}"}`},
		{"error", AppendError(nil, "", CodeAppUnknown, "App key x not in this cluster"),
			`{"event":"pusher:error","data":{"message":"App key x not in this cluster","code":4001}}`},
		{"error null code, channel", AppendError(nil, "private-a", 0, `Invalid signature: "1.2:private-a"`),
			`{"event":"pusher:error","channel":"private-a","data":{"message":"Invalid signature: \"1.2:private-a\"","code":null}}`},
		{"pong", AppendPong(nil), `{"event":"pusher:pong","data":"{}"}`},
		{"ping", AppendPing(nil), `{"event":"pusher:ping","data":"{}"}`},
		{"subscription_succeeded", AppendSubscriptionSucceeded(nil, "private-a"),
			`{"event":"pusher_internal:subscription_succeeded","channel":"private-a","data":"{}"}`},
		{"presence subscription_succeeded", AppendPresenceSubscriptionSucceeded(nil, "presence-a", []Member{ten, alice, {ID: "10", Numeric: true}, {ID: "bob"}}),
			`{"event":"pusher_internal:subscription_succeeded","channel":"presence-a","data":"{\"presence\":{\"ids\":[10,\"alice\",\"bob\"],\"hash\":{\"10\":{\"name\":\"Mr. Pusher\"},\"alice\":{\"name\":\"Alice\"},\"bob\":null},\"count\":3}}"}`},
		{"presence empty", AppendPresenceSubscriptionSucceeded(nil, "presence-a", nil),
			`{"event":"pusher_internal:subscription_succeeded","channel":"presence-a","data":"{\"presence\":{\"ids\":[],\"hash\":{},\"count\":0}}"}`},
		{"member_added", AppendMemberAdded(nil, "presence-a", alice),
			`{"event":"pusher_internal:member_added","channel":"presence-a","data":"{\"user_id\":\"alice\",\"user_info\":{\"name\":\"Alice\"}}"}`},
		{"member_added numeric, no info", AppendMemberAdded(nil, "presence-a", Member{ID: "10", Numeric: true}),
			`{"event":"pusher_internal:member_added","channel":"presence-a","data":"{\"user_id\":10}"}`},
		{"member_removed", AppendMemberRemoved(nil, "presence-a", ten),
			`{"event":"pusher_internal:member_removed","channel":"presence-a","data":"{\"user_id\":10}"}`},
		{"signin_success", AppendSigninSuccess(nil, `{"id":"12345"}`),
			`{"event":"pusher:signin_success","data":"{\"user_data\":\"{\\\"id\\\":\\\"12345\\\"}\"}"}`},
		{"cache_miss", AppendCacheMiss(nil, "cache-a"), `{"event":"pusher:cache_miss","channel":"cache-a"}`},
		{"subscription_count", AppendSubscriptionCount(nil, "a", 3),
			`{"event":"pusher_internal:subscription_count","channel":"a","data":"{\"subscription_count\":3}"}`},
		{"subscription_error", AppendSubscriptionError(nil, "private-a", "AuthError", "invalid signature", 401),
			`{"event":"pusher:subscription_error","channel":"private-a","data":"{\"type\":\"AuthError\",\"error\":\"invalid signature\",\"status\":401}"}`},
		{"channel event", AppendChannelEvent(nil, "my-event", "my-channel", []byte(`{"message":"hello"}`), ""),
			`{"event":"my-event","channel":"my-channel","data":"{\"message\":\"hello\"}"}`},
		{"client event with user_id", AppendChannelEvent(nil, "client-x", "presence-a", []byte(`plain`), "alice"),
			`{"event":"client-x","channel":"presence-a","data":"plain","user_id":"alice"}`},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
		if !json.Valid(tc.got) {
			t.Errorf("%s: not JSON: %s", tc.name, tc.got)
		}
	}
}

// The data string of each frame is what pusher-js's decodeMessage would
// JSON.parse: the payload, escaped exactly as encoding/json does.
func TestAppendEscapesLikeEncodingJSON(t *testing.T) {
	payload := "{\"k\":\"<&> \\u2028 \u2029 \x01 é 😀 \\\" \\\\\"}"
	event, channel := "ev \"quoted\"\n\u2028", "c"
	out := AppendChannelEvent([]byte("prefix:"), event, channel, []byte(payload), "u\x00")
	frame, ok := strings.CutPrefix(string(out), "prefix:")
	if !ok {
		t.Fatalf("the prefix in dst was lost: %s", frame)
	}
	want, err := json.Marshal(struct {
		Event   string `json:"event"`
		Channel string `json:"channel"`
		Data    string `json:"data"`
		UserID  string `json:"user_id"`
	}{event, channel, payload, "u\x00"})
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json escapes <, > and & by default; jsonenc (SetEscapeHTML(false)) does not.
	want = []byte(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(want)))
	if frame != string(want) {
		t.Errorf("got  %s\nwant %s", frame, want)
	}

	// A presence frame's data string decodes to the presence object.
	m, err := ParseChannelData(`{"user_id":"a\"b","user_info":{"x":["\u2028"]}}`, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outer struct{ Data string }
	if err := json.Unmarshal(AppendPresenceSubscriptionSucceeded(nil, "presence-a", []Member{m}), &outer); err != nil {
		t.Fatal(err)
	}
	var inner struct {
		Presence struct {
			IDs   []string
			Hash  map[string]map[string][]string
			Count int
		}
	}
	if err := json.Unmarshal([]byte(outer.Data), &inner); err != nil {
		t.Fatalf("data %q: %v", outer.Data, err)
	}
	if p := inner.Presence; len(p.IDs) != 1 || p.IDs[0] != `a"b` || p.Count != 1 || p.Hash[`a"b`]["x"][0] != "\u2028" {
		t.Errorf("presence data decodes to %+v", p)
	}
}

func TestAppendChannelEventDoesNotAllocate(t *testing.T) {
	data := []byte(`{"message":"hello"}`)
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		dst = AppendChannelEvent(dst[:0], "my-event", "presence-room", data, "alice")
	}); n != 0 {
		t.Errorf("AppendChannelEvent allocates %v times", n)
	}
}

func BenchmarkAppendChannelEvent(b *testing.B) {
	// A 100-byte JSON payload.
	data := []byte(`{"id":12345,"user":"alice","text":"hello, world — the quick brown fox","tags":["a","b"],"ok":true}`)
	if len(data) != 100 {
		b.Fatalf("payload is %d bytes", len(data))
	}
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dst = AppendChannelEvent(dst[:0], "my-event", "private-my-channel", data, "")
	}
}
