package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// parse decodes b with encoding/json, failing the test unless it is valid.
func parse(t *testing.T, b []byte) any {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

type obj = map[string]any

func TestAppend(t *testing.T) {
	pos := &Position{Epoch: "kq3MTHfT", Offset: 45}
	alice := Member{ConnectionID: "Kf3aQ9xZb1Tn2w", User: "alice", Info: []byte(`{"name": "Alice"}`)}
	bob := Member{ConnectionID: "Zq81Lm0aPx7cRe", User: "bob"}
	for _, tc := range []struct {
		name string
		got  []byte
		want string // compact, as written
	}{
		// The examples of docs/protocol.md.
		{"connected", AppendConnected(nil, "Kf3aQ9xZb1Tn2w", "alice"),
			`{"type":"connected","version":1,"connectionId":"Kf3aQ9xZb1Tn2w","user":"alice"}`},
		{"connected no user", AppendConnected(nil, "Kf3aQ9xZb1Tn2w", ""),
			`{"type":"connected","version":1,"connectionId":"Kf3aQ9xZb1Tn2w"}`},
		{"reply", AppendReply(nil, 1, []byte(`{"epoch":"kq3MTHfT","offset":44}`)),
			`{"type":"reply","id":1,"result":{"epoch":"kq3MTHfT","offset":44}}`},
		{"reply nil result", AppendReply(nil, 9007199254740991, nil),
			`{"type":"reply","id":9007199254740991,"result":{}}`},
		{"reply empty result", AppendReply(nil, 3, []byte{}),
			`{"type":"reply","id":3,"result":{}}`},
		{"reply error", AppendReplyError(nil, 1, &Error{Code: CodeForbidden, Message: `not allowed to subscribe to "user:bob"`}),
			`{"type":"reply","id":1,"error":{"code":403,"message":"not allowed to subscribe to \"user:bob\""}}`},
		{"reply nil error", AppendReplyError(nil, 2, nil),
			`{"type":"reply","id":2,"error":{"code":500,"message":"internal error"}}`},
		{"error", AppendError(nil, &Error{Code: CodeBadRequest, Message: `unknown type "subscrbe"`}),
			`{"type":"error","error":{"code":400,"message":"unknown type \"subscrbe\""}}`},
		{"pub data", AppendPub(nil, "chat:lobby", pos, []byte(`{"text": "hi"}`), PayloadData),
			`{"type":"pub","channel":"chat:lobby","epoch":"kq3MTHfT","offset":45,"data":{"text": "hi"}}`},
		{"pub text", AppendPub(nil, "news", nil, []byte("plain words"), PayloadText),
			`{"type":"pub","channel":"news","text":"plain words"}`},
		{"pub b64", AppendPub(nil, "news", nil, []byte{0, 0xff, 0x10}, PayloadBase64),
			`{"type":"pub","channel":"news","b64":"AP8Q"}`},
		{"pub data trimmed", AppendPub(nil, "c", &Position{"", 0}, []byte(" \n[1]\r\n"), PayloadData),
			`{"type":"pub","channel":"c","epoch":"","offset":0,"data":[1]}`},
		{"pub unknown kind", AppendPub(nil, "c", nil, []byte("hi"), 0),
			`{"type":"pub","channel":"c","b64":"aGk="}`},
		{"pub event", AppendPubEvent(nil, "chat:lobby", "client-typing", pos, []byte(`{"text": "hi"}`), PayloadData),
			`{"type":"pub","channel":"chat:lobby","event":"client-typing","epoch":"kq3MTHfT","offset":45,"data":{"text": "hi"}}`},
		{"pub event escaped", AppendPubEvent(nil, "news", "a\"b", nil, []byte("x"), PayloadText),
			`{"type":"pub","channel":"news","event":"a\"b","text":"x"}`},
		{"pub no event", AppendPubEvent(nil, "news", "", nil, []byte("x"), PayloadText),
			`{"type":"pub","channel":"news","text":"x"}`},
		{"message", AppendMessage(nil, []byte(`{"alert": "maintenance at 10:00"}`), PayloadData),
			`{"type":"message","data":{"alert": "maintenance at 10:00"}}`},
		{"message text", AppendMessage(nil, []byte("hi\n"), PayloadText),
			`{"type":"message","text":"hi\n"}`},
		{"message b64", AppendMessage([]byte{}, []byte{0xff}, PayloadBase64),
			`{"type":"message","b64":"/w=="}`},
		{"join", AppendJoin(nil, "chat:lobby", bob),
			`{"type":"join","channel":"chat:lobby","member":{"connectionId":"Zq81Lm0aPx7cRe","user":"bob"}}`},
		{"leave", AppendLeave(nil, "chat:lobby", bob),
			`{"type":"leave","channel":"chat:lobby","member":{"connectionId":"Zq81Lm0aPx7cRe","user":"bob"}}`},
		{"member", AppendMember(nil, alice),
			`{"connectionId":"Kf3aQ9xZb1Tn2w","user":"alice","info":{"name": "Alice"}}`},
		{"member bare", AppendMember(nil, Member{ConnectionID: "x", Info: []byte{}}),
			`{"connectionId":"x"}`},
		{"member info no user", AppendMember(nil, Member{ConnectionID: "x", Info: []byte(`1`)}),
			`{"connectionId":"x","info":1}`},
		{"subscribed", AppendSubscribed(nil, "user:alice", &Position{"Qm2xT0aa", 0}),
			`{"type":"subscribed","channel":"user:alice","epoch":"Qm2xT0aa","offset":0}`},
		{"subscribed no history", AppendSubscribed(nil, "user:alice", nil),
			`{"type":"subscribed","channel":"user:alice"}`},
		{"unsubscribed", AppendUnsubscribed(nil, "chat:lobby", "removed by the server"),
			`{"type":"unsubscribed","channel":"chat:lobby","reason":"removed by the server"}`},
		{"unsubscribed no reason", AppendUnsubscribed(nil, "chat:lobby", ""),
			`{"type":"unsubscribed","channel":"chat:lobby"}`},

		// Results.
		{"subscribe recovered", AppendSubscribeResult(nil, SubscribeResult{Position: &Position{"kq3MTHfT", 44}, Recovering: true, Recovered: true, Missed: 3}),
			`{"epoch":"kq3MTHfT","offset":44,"recovered":true,"missed":3}`},
		{"subscribe recovered none missed", AppendSubscribeResult(nil, SubscribeResult{Position: &Position{"e", 1}, Recovering: true, Recovered: true}),
			`{"epoch":"e","offset":1,"recovered":true,"missed":0}`},
		{"subscribe not recovered", AppendSubscribeResult(nil, SubscribeResult{Position: &Position{"e", 1}, Recovering: true, Reason: "too old", Missed: 9}),
			`{"epoch":"e","offset":1,"recovered":false,"reason":"too old"}`},
		{"subscribe no history", AppendSubscribeResult(nil, SubscribeResult{Recovering: true, Reason: "no history"}),
			`{"recovered":false,"reason":"no history"}`},
		{"subscribe plain", AppendSubscribeResult(nil, SubscribeResult{Position: &Position{"e", 7}}),
			`{"epoch":"e","offset":7}`},
		{"subscribe empty", AppendSubscribeResult(nil, SubscribeResult{Recovered: true, Missed: 2, Reason: "x"}),
			`{}`},
		{"publish", AppendPublishResult(nil, PublishResult{Position: &Position{"kq3MTHfT", 45}, Recipients: 118}),
			`{"epoch":"kq3MTHfT","offset":45,"recipients":118}`},
		{"publish no history", AppendPublishResult(nil, PublishResult{Recipients: 0}),
			`{"recipients":0}`},
		{"presence", AppendPresenceResult(nil, 2, []Member{alice, bob}, false),
			`{"members":2,"presence":[{"connectionId":"Kf3aQ9xZb1Tn2w","user":"alice","info":{"name": "Alice"}},{"connectionId":"Zq81Lm0aPx7cRe","user":"bob"}],"truncated":false}`},
		{"presence empty", AppendPresenceResult(nil, 0, nil, false),
			`{"members":0,"presence":[],"truncated":false}`},
		{"presence truncated", AppendPresenceResult(nil, 1001, []Member{bob}, true),
			`{"members":1001,"presence":[{"connectionId":"Zq81Lm0aPx7cRe","user":"bob"}],"truncated":true}`},

		// Escaping of strings from clients.
		{"escaped", AppendJoin(nil, "a\"b\\c\n\u2028\xff", Member{ConnectionID: "<id>", User: "é\x00"}),
			`{"type":"join","channel":"a\"b\\c\n\u2028\ufffd","member":{"connectionId":"<id>","user":"é\u0000"}}`},
		{"escaped pub", AppendPub(nil, "\t", &Position{"\"", 1}, []byte("\"quoted\"\n"), PayloadText),
			`{"type":"pub","channel":"\t","epoch":"\"","offset":1,"text":"\"quoted\"\n"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Errorf("got  %s\nwant %s", tc.got, tc.want)
			}
			parse(t, tc.got)
		})
	}
}

// TestAppendRoundTrip: encoding/json reads back what was written.
func TestAppendRoundTrip(t *testing.T) {
	channel, user := "chat:\"lobby\" ☃ \u2028 \\", "bob\n"
	pos := &Position{Epoch: "ep\"och", Offset: 18446744073709551615}
	bin := []byte{0, 1, 2, 0xfe, 0xff}

	check := func(name string, b []byte, want any) {
		t.Helper()
		if got := parse(t, b); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s\n got %#v\nwant %#v", name, b, got, want)
		}
	}
	n := func(s string) json.Number { return json.Number(s) }

	check("pub data", AppendPub([]byte("prefix:")[7:], channel, pos, []byte(`{"a": [1, "x", null]}`), PayloadData),
		obj{"type": "pub", "channel": channel, "epoch": pos.Epoch, "offset": n("18446744073709551615"),
			"data": obj{"a": []any{n("1"), "x", nil}}})
	check("pub text", AppendPub(nil, channel, nil, []byte("a \"b\"\n"), PayloadText),
		obj{"type": "pub", "channel": channel, "text": "a \"b\"\n"})
	check("pub b64", AppendPub(nil, channel, nil, bin, PayloadBase64),
		obj{"type": "pub", "channel": channel, "b64": "AAEC/v8="})
	check("connected", AppendConnected(nil, "id\x01", user),
		obj{"type": "connected", "version": n("1"), "connectionId": "id\x01", "user": user})
	check("join", AppendJoin(nil, channel, Member{ConnectionID: "c", User: user, Info: []byte(`{"k":true}`)}),
		obj{"type": "join", "channel": channel, "member": obj{"connectionId": "c", "user": user, "info": obj{"k": true}}})
	check("leave", AppendLeave(nil, channel, Member{ConnectionID: "c"}),
		obj{"type": "leave", "channel": channel, "member": obj{"connectionId": "c"}})
	check("subscribed", AppendSubscribed(nil, channel, pos),
		obj{"type": "subscribed", "channel": channel, "epoch": pos.Epoch, "offset": n("18446744073709551615")})
	check("unsubscribed", AppendUnsubscribed(nil, channel, "bye \"now\""),
		obj{"type": "unsubscribed", "channel": channel, "reason": "bye \"now\""})
	check("error", AppendError(nil, &Error{Code: CodeTooManyChannels, Message: "too many channels: \"x\""}),
		obj{"type": "error", "error": obj{"code": n("429"), "message": "too many channels: \"x\""}})
	check("reply error", AppendReplyError(nil, 77, &Error{Code: CodeTimeout, Message: "timeout\n"}),
		obj{"type": "reply", "id": n("77"), "error": obj{"code": n("504"), "message": "timeout\n"}})

	result := AppendSubscribeResult(nil, SubscribeResult{Position: pos, Recovering: true, Reason: "epoch changed"})
	check("reply subscribe", AppendReply(nil, 5, result),
		obj{"type": "reply", "id": n("5"), "result": obj{"epoch": pos.Epoch, "offset": n("18446744073709551615"), "recovered": false, "reason": "epoch changed"}})
	result = AppendPublishResult(nil, PublishResult{Position: pos, Recipients: 3})
	check("reply publish", AppendReply(nil, 6, result),
		obj{"type": "reply", "id": n("6"), "result": obj{"epoch": pos.Epoch, "offset": n("18446744073709551615"), "recipients": n("3")}})
	result = AppendPresenceResult(nil, 3, []Member{{ConnectionID: "a", User: user}, {ConnectionID: "b", Info: []byte(`[1]`)}}, true)
	check("reply presence", AppendReply(nil, 7, result),
		obj{"type": "reply", "id": n("7"), "result": obj{"members": n("3"), "truncated": true, "presence": []any{
			obj{"connectionId": "a", "user": user}, obj{"connectionId": "b", "info": []any{n("1")}}}}})
}

// TestAppendKeepsDst: the Append functions append and leave dst's
// contents alone.
func TestAppendKeepsDst(t *testing.T) {
	dst := []byte("head")
	got := AppendPub(dst, "c", nil, []byte("1"), PayloadData)
	if string(got) != `head{"type":"pub","channel":"c","data":1}` {
		t.Errorf("got %s", got)
	}
	got = AppendSubscribeResult([]byte(`x`), SubscribeResult{Recovering: true, Recovered: true, Missed: 1})
	if string(got) != `x{"recovered":true,"missed":1}` {
		t.Errorf("got %s", got)
	}
	got = AppendPublishResult([]byte(`,`), PublishResult{Recipients: 1})
	if string(got) != `,{"recipients":1}` {
		t.Errorf("got %s", got)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    PayloadKind
	}{
		{`{"a":1}`, PayloadData},
		{` [1, 2] `, PayloadData},
		{`"quoted"`, PayloadData},
		{`42`, PayloadData},
		{`null`, PayloadData},
		{"{\"a\":\"\u2028\"}", PayloadData},
		{``, PayloadText},
		{`   `, PayloadText},
		{`hello`, PayloadText},
		{`{"a":1} x`, PayloadText},
		{`{"a":1}{}`, PayloadText},
		{"é日本", PayloadText},
		{"\x00\x01", PayloadText},
		{"\xff", PayloadBase64},
		{"{\"a\":\"\xff\"}", PayloadBase64}, // JSON, but not UTF-8
		{"\xed\xa0\x80", PayloadBase64},     // an encoded surrogate
	} {
		if got := Classify([]byte(tc.payload)); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.payload, got, tc.want)
		}
	}
	for depth, want := range map[int]PayloadKind{maxDepth: PayloadData, maxDepth + 1: PayloadText} {
		nested := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		if got := Classify([]byte(nested)); got != want {
			t.Errorf("Classify(arrays nested %d deep) = %v, want %v (json.Valid: %v)", depth, got, want, json.Valid([]byte(nested)))
		}
	}
	for k, want := range map[PayloadKind]string{PayloadData: "data", PayloadText: "text", PayloadBase64: "b64", 0: "b64"} {
		if got := k.String(); got != want {
			t.Errorf("PayloadKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

// TestPublishToPub: what a client publishes reaches subscribers as the
// docs/protocol.md "Payloads" section says.
func TestPublishToPub(t *testing.T) {
	for _, tc := range []struct{ publish, pub string }{
		{`{"type":"publish","channel":"c","data": {"a": 1} }`, `{"type":"pub","channel":"c","data":{"a": 1}}`},
		{`{"type":"publish","channel":"c","text":"hi"}`, `{"type":"pub","channel":"c","text":"hi"}`},
		{`{"type":"publish","channel":"c","text":"\"hi\""}`, `{"type":"pub","channel":"c","data":"hi"}`},
		{`{"type":"publish","channel":"c","text":"42"}`, `{"type":"pub","channel":"c","data":42}`},
		{`{"type":"publish","channel":"c","b64":"AP8="}`, `{"type":"pub","channel":"c","b64":"AP8="}`},
		{`{"type":"publish","channel":"c","b64":"aGk="}`, `{"type":"pub","channel":"c","text":"hi"}`},
		{`{"type":"publish","channel":"c","data":"\u00e9\ud800"}`, `{"type":"pub","channel":"c","data":"\u00e9\ud800"}`},
	} {
		msg, _, err := Decode([]byte(tc.publish))
		if err != nil {
			t.Fatalf("Decode(%s): %v", tc.publish, err)
		}
		if got := AppendPub(nil, msg.Channel, nil, msg.Payload, Classify(msg.Payload)); string(got) != tc.pub {
			t.Errorf("%s\n got %s\nwant %s", tc.publish, got, tc.pub)
		}
	}
}
