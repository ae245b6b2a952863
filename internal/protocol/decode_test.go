package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		want        Message
	}{
		// The examples of docs/protocol.md.
		{"subscribe", `{"type": "subscribe", "id": 1, "channel": "chat:lobby"}`,
			Message{Type: TypeSubscribe, ID: 1, Channel: "chat:lobby"}},
		{"subscribe recover", `{"type": "subscribe", "id": 2, "channel": "chat:lobby", "recover": {"epoch": "kq3MTHfT", "offset": 41}}`,
			Message{Type: TypeSubscribe, ID: 2, Channel: "chat:lobby", Recover: &Position{"kq3MTHfT", 41}}},
		{"unsubscribe", `{"type": "unsubscribe", "id": 3, "channel": "chat:lobby"}`,
			Message{Type: TypeUnsubscribe, ID: 3, Channel: "chat:lobby"}},
		{"publish data", `{"type": "publish", "id": 4, "channel": "chat:lobby", "data": {"text": "hi"}}`,
			Message{Type: TypePublish, ID: 4, Channel: "chat:lobby", Payload: []byte(`{"text": "hi"}`)}},
		{"publish text", `{"type": "publish", "id": 5, "channel": "chat:lobby", "text": "plain words", "excludeSelf": true}`,
			Message{Type: TypePublish, ID: 5, Channel: "chat:lobby", Payload: []byte("plain words"), ExcludeSelf: true}},
		{"presence", `{"type": "presence", "id": 6, "channel": "chat:lobby"}`,
			Message{Type: TypePresence, ID: 6, Channel: "chat:lobby"}},
		{"ping", `{"type": "ping", "id": 7}`, Message{Type: TypePing, ID: 7}},

		// ids
		{"no id", `{"type":"subscribe","channel":"c"}`, Message{Type: TypeSubscribe, Channel: "c"}},
		{"max id", `{"type":"ping","id":9007199254740991}`, Message{Type: TypePing, ID: 9007199254740991}},
		{"id first", `{"id":12,"channel":"c","type":"unsubscribe"}`, Message{Type: TypeUnsubscribe, ID: 12, Channel: "c"}},

		// whitespace and escapes
		{"whitespace", " \t\r\n{ \"type\" :\n\"ping\" , \"id\"\t:\r8 }\n\n", Message{Type: TypePing, ID: 8}},
		{"empty channel", `{"type":"subscribe","channel":""}`, Message{Type: TypeSubscribe, Channel: ""}},
		{"unicode escape", `{"type":"subscribe","channel":"chan\u0041"}`, Message{Type: TypeSubscribe, Channel: "chanA"}},
		{"escaped key and type", `{"\u0074ype":"\u0070ing"}`, Message{Type: TypePing}},
		{"escapes", `{"type":"subscribe","channel":"a\"b\\c\/d\b\f\n\r\t"}`, Message{Type: TypeSubscribe, Channel: "a\"b\\c/d\b\f\n\r\t"}},
		{"surrogate pair", `{"type":"subscribe","channel":"\ud83d\ude00"}`, Message{Type: TypeSubscribe, Channel: "😀"}},
		{"lone surrogates", `{"type":"subscribe","channel":"\ud800x\udc00\ud800\ud800"}`, Message{Type: TypeSubscribe, Channel: "\ufffdx\ufffd\ufffd\ufffd"}},
		{"utf-8", `{"type":"subscribe","channel":"日本 é"}`, Message{Type: TypeSubscribe, Channel: "日本 é"}},

		// unknown and irrelevant members
		{"unknown members", `{"type":"ping","extra":{"a":[1,2,{"b":null}],"c":"\u00e9"},"n":-1.5e-3,"t":true,"f":false,"z":null,"arr":[]}`,
			Message{Type: TypePing}},
		{"case-sensitive names", `{"type":"ping","ID":"x","Channel":5,"Type":1}`, Message{Type: TypePing}},
		{"irrelevant members ignored", `{"type":"ping","channel":5,"recover":"x","data":1,"text":2,"b64":"!","excludeSelf":"no"}`,
			Message{Type: TypePing}},
		{"recover ignored by unsubscribe", `{"type":"unsubscribe","channel":"c","recover":7}`,
			Message{Type: TypeUnsubscribe, Channel: "c"}},
		{"payload ignored by subscribe", `{"type":"subscribe","channel":"c","data":1,"text":"x","excludeSelf":1}`,
			Message{Type: TypeSubscribe, Channel: "c"}},

		// recover
		{"recover offset 0", `{"type":"subscribe","channel":"c","recover":{"offset":0,"epoch":""}}`,
			Message{Type: TypeSubscribe, Channel: "c", Recover: &Position{"", 0}}},
		{"recover max offset", `{"type":"subscribe","channel":"c","recover":{"epoch":"e","offset":18446744073709551615,"x":[]}}`,
			Message{Type: TypeSubscribe, Channel: "c", Recover: &Position{"e", 18446744073709551615}}},

		// publish payloads
		{"data string", `{"type":"publish","channel":"c","data":"hi"}`, Message{Type: TypePublish, Channel: "c", Payload: []byte(`"hi"`)}},
		{"data null", `{"type":"publish","channel":"c","data":null}`, Message{Type: TypePublish, Channel: "c", Payload: []byte(`null`)}},
		{"data trimmed", "{\"type\":\"publish\",\"channel\":\"c\",\"data\": \n [1, 2] \t}", Message{Type: TypePublish, Channel: "c", Payload: []byte(`[1, 2]`)}},
		{"data number", `{"type":"publish","channel":"c","data":-0.5E+10}`, Message{Type: TypePublish, Channel: "c", Payload: []byte(`-0.5E+10`)}},
		{"text escapes", `{"type":"publish","channel":"c","text":"line\nnext \u00e9"}`, Message{Type: TypePublish, Channel: "c", Payload: []byte("line\nnext é")}},
		{"text empty", `{"type":"publish","channel":"c","text":""}`, Message{Type: TypePublish, Channel: "c", Payload: []byte{}}},
		{"b64", `{"type":"publish","channel":"c","b64":"AP8Q"}`, Message{Type: TypePublish, Channel: "c", Payload: []byte{0, 0xff, 0x10}}},
		{"b64 padded", `{"type":"publish","channel":"c","b64":"aGk="}`, Message{Type: TypePublish, Channel: "c", Payload: []byte("hi")}},
		{"b64 escaped slash", `{"type":"publish","channel":"c","b64":"\/w=="}`, Message{Type: TypePublish, Channel: "c", Payload: []byte{0xff}}},
		{"b64 empty", `{"type":"publish","channel":"c","b64":""}`, Message{Type: TypePublish, Channel: "c", Payload: []byte{}}},
		{"excludeSelf false", `{"type":"publish","channel":"c","text":"x","excludeSelf":false}`, Message{Type: TypePublish, Channel: "c", Payload: []byte("x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, id, err := Decode([]byte(tc.frame))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tc.frame, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode(%s)\n got %+v\nwant %+v", tc.frame, got, tc.want)
			}
			if got.Payload != nil && tc.want.Payload != nil && !bytes.Equal(got.Payload, tc.want.Payload) {
				t.Errorf("Payload = %q, want %q", got.Payload, tc.want.Payload)
			}
			if id != tc.want.ID {
				t.Errorf("id = %d, want %d", id, tc.want.ID)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const badID = `"id" must be an integer from 1 to 9007199254740991`
	for _, tc := range []struct {
		name, frame string
		id          uint64 // the id Decode must return
		msg         string // the error message; "*" stands for any text
	}{
		// not an object
		{"empty", ``, 0, "empty message, want a JSON object"},
		{"blank", " \n", 0, "empty message, want a JSON object"},
		{"array", `[{"type":"ping"}]`, 0, "message must be a JSON object, not an array"},
		{"string", `"ping"`, 0, "message must be a JSON object, not a string"},
		{"number", ` 12 `, 0, "message must be a JSON object, not a number"},
		{"null", `null`, 0, "message must be a JSON object, not null"},
		{"bool", `true`, 0, "message must be a JSON object, not a boolean"},

		// not JSON
		{"garbage", `hello`, 0, `invalid JSON at offset 0: unexpected 'h', want a value`},
		{"truncated", `{"type":"ping","id":3`, 0, `invalid JSON at offset 21: unexpected end of input, want ',' or '}'`},
		{"truncated string", `{"type":"pi`, 0, `invalid JSON at offset 11: unterminated string`},
		{"two objects", `{"type":"ping"}{}`, 0, `invalid JSON at offset 15: unexpected '{', want the end after the object`},
		{"trailing comma", `{"type":"ping",}`, 0, `invalid JSON at offset 15: unexpected '}', want a string key`},
		{"single quotes", `{'type':'ping'}`, 0, `invalid JSON at offset 1: unexpected '\'', want a string key`},
		{"missing colon", `{"type" "ping"}`, 0, `invalid JSON at offset 8: unexpected '"', want ':' after the key`},
		{"bad unknown value", `{"type":"ping","x":[1,]}`, 0, `invalid JSON at offset 22: unexpected ']', want a value`},
		{"bad literal", `{"type":"ping","x":tru}`, 0, `invalid JSON at offset 22: unexpected '}', want the literal true`},
		{"leading zero", `{"type":"ping","x":01}`, 0, `invalid JSON at offset 20: unexpected '1', want ',' or '}'`},
		{"bad fraction", `{"type":"ping","x":1.}`, 0, `invalid JSON at offset 21: unexpected '}', want a digit after '.'`},
		{"bad exponent", `{"type":"ping","x":1e}`, 0, `invalid JSON at offset 21: unexpected '}', want a digit in the exponent`},
		{"control char", "{\"type\":\"pi\nng\"}", 0, `invalid JSON at offset 11: control character in string (escape it)`},
		{"bad escape", `{"type":"p\ing"}`, 0, `invalid JSON at offset 10: invalid escape in string`},
		{"bad unicode escape", `{"type":"p\u00zz"}`, 0, `invalid JSON at offset 10: invalid \u escape, want 4 hex digits`},
		{"invalid utf-8", "{\"type\":\"ping\",\"x\":\"\xff\"}", 0, `invalid UTF-8 at offset 20`},
		{"invalid utf-8 outside strings", "{\"type\":\"ping\"\xc3\xa9}", 0, `invalid JSON at offset 14: unexpected byte 0xc3, want ',' or '}'`},
		{"syntax error after id", `{"id":5,"type":"ping",}`, 0, `invalid JSON*`},
		{"too deep", `{"type":"ping","x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`, 0, `invalid JSON at offset *: arrays and objects nested more than 10000 deep`},

		// id
		{"id zero", `{"type":"ping","id":0}`, 0, badID},
		{"id negative", `{"type":"ping","id":-1}`, 0, badID},
		{"id fraction", `{"type":"ping","id":1.5}`, 0, badID},
		{"id integral fraction", `{"type":"ping","id":1.0}`, 0, badID},
		{"id exponent", `{"type":"ping","id":1e3}`, 0, badID},
		{"id too big", `{"type":"ping","id":9007199254740992}`, 0, badID},
		{"id huge", `{"type":"ping","id":123456789012345678901234567890}`, 0, badID},
		{"id string", `{"type":"ping","id":"1"}`, 0, badID},
		{"id null", `{"type":"ping","id":null}`, 0, badID},
		{"id duplicate", `{"type":"ping","id":1,"id":2}`, 0, `duplicate "id"`},

		// type
		{"no type", `{"id":3,"channel":"c"}`, 3, `message needs "type"`},
		{"type not string", `{"id":3,"type":1}`, 3, `"type" must be a string`},
		{"type null", `{"id":3,"type":null}`, 3, `"type" must be a string`},
		{"unknown type", `{"type": "subscrbe", "id": 3}`, 3, `unknown type "subscrbe"`},
		{"type case", `{"type":"Subscribe","id":3}`, 3, `unknown type "Subscribe"`},
		{"server type", `{"type":"pub","id":3}`, 3, `unknown type "pub"`},
		{"long unknown type", `{"type":"` + strings.Repeat("x", 1000) + `","id":3}`, 3, `unknown type "` + strings.Repeat("x", 64) + `"…`},
		{"uppercase key only", `{"Type":"ping","id":3}`, 3, `message needs "type"`},
		{"type duplicate", `{"type":"ping","type":"ping","id":3}`, 3, `duplicate "type"`},
		{"channel duplicate", `{"type":"subscribe","channel":"a","id":3,"channel":"b"}`, 3, `duplicate "channel"`},
		{"escaped duplicate", `{"type":"ping","\u0074ype":"ping"}`, 0, `duplicate "type"`},

		// channel
		{"subscribe no channel", `{"type":"subscribe","id":3}`, 3, `subscribe needs "channel"`},
		{"unsubscribe no channel", `{"type":"unsubscribe","id":3}`, 3, `unsubscribe needs "channel"`},
		{"publish no channel", `{"type":"publish","id":3,"data":1}`, 3, `publish needs "channel"`},
		{"presence no channel", `{"type":"presence","id":3}`, 3, `presence needs "channel"`},
		{"channel number", `{"type":"subscribe","id":3,"channel":5}`, 3, `"channel" must be a string`},
		{"channel null", `{"type":"subscribe","id":3,"channel":null}`, 3, `"channel" must be a string`},
		{"channel array", `{"type":"subscribe","id":3,"channel":["a"]}`, 3, `"channel" must be a string`},

		// recover
		{"recover string", `{"type":"subscribe","id":3,"channel":"c","recover":"x"}`, 3, `"recover" must be an object with "epoch" and "offset"`},
		{"recover null", `{"type":"subscribe","id":3,"channel":"c","recover":null}`, 3, `"recover" must be an object with "epoch" and "offset"`},
		{"recover empty", `{"type":"subscribe","id":3,"channel":"c","recover":{}}`, 3, `"recover" needs "epoch"`},
		{"recover no offset", `{"type":"subscribe","id":3,"channel":"c","recover":{"epoch":"e"}}`, 3, `"recover" needs "offset"`},
		{"recover epoch number", `{"type":"subscribe","id":3,"channel":"c","recover":{"epoch":1,"offset":1}}`, 3, `"epoch" in "recover" must be a string`},
		{"recover offset negative", `{"type":"subscribe","id":3,"channel":"c","recover":{"epoch":"e","offset":-1}}`, 3, `"offset" in "recover" must be an integer from 0 to 18446744073709551615`},
		{"recover offset fraction", `{"type":"subscribe","id":3,"channel":"c","recover":{"epoch":"e","offset":4.5}}`, 3, `"offset" in "recover" must be an integer*`},
		{"recover offset string", `{"type":"subscribe","id":3,"channel":"c","recover":{"epoch":"e","offset":"4"}}`, 3, `"offset" in "recover" must be an integer*`},
		{"recover offset overflow", `{"type":"subscribe","id":3,"channel":"c","recover":{"epoch":"e","offset":18446744073709551616}}`, 3, `"offset" in "recover" must be an integer*`},
		{"recover duplicate", `{"type":"subscribe","id":3,"channel":"c","recover":{"epoch":"e","offset":1,"epoch":"f"}}`, 3, `duplicate "epoch" in "recover"`},

		// publish
		{"publish no payload", `{"type":"publish","id":3,"channel":"c"}`, 3, `publish needs exactly one of "data", "text", "b64"`},
		{"publish two payloads", `{"type":"publish","id":3,"channel":"c","data":1,"text":"x"}`, 3, `publish needs exactly one of "data", "text", "b64"`},
		{"publish three payloads", `{"type":"publish","id":3,"channel":"c","data":1,"text":"x","b64":""}`, 3, `publish needs exactly one of "data", "text", "b64"`},
		{"text number", `{"type":"publish","id":3,"channel":"c","text":5}`, 3, `"text" must be a string`},
		{"text null", `{"type":"publish","id":3,"channel":"c","text":null}`, 3, `"text" must be a string`},
		{"b64 number", `{"type":"publish","id":3,"channel":"c","b64":5}`, 3, `"b64" must be a string`},
		{"b64 invalid char", `{"type":"publish","id":3,"channel":"c","b64":"a*=="}`, 3, `"b64" must be standard base64 with padding`},
		{"b64 no padding", `{"type":"publish","id":3,"channel":"c","b64":"aGk"}`, 3, `"b64" must be standard base64 with padding`},
		{"b64 url alphabet", `{"type":"publish","id":3,"channel":"c","b64":"_w=="}`, 3, `"b64" must be standard base64 with padding`},
		{"b64 nonzero bits", `{"type":"publish","id":3,"channel":"c","b64":"aGl="}`, 3, `"b64" must be standard base64 with padding`},
		{"b64 line break", `{"type":"publish","id":3,"channel":"c","b64":"aG\nk="}`, 3, `"b64" must be standard base64 with padding, without line breaks`},
		{"excludeSelf string", `{"type":"publish","id":3,"channel":"c","data":1,"excludeSelf":"true"}`, 3, `"excludeSelf" must be true or false`},
		{"excludeSelf null", `{"type":"publish","id":3,"channel":"c","data":1,"excludeSelf":null}`, 3, `"excludeSelf" must be true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, id, err := Decode([]byte(tc.frame))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%s) = %+v, %v; want an *Error", tc.frame, msg, err)
			}
			if e.Code != CodeBadRequest {
				t.Errorf("Code = %d, want 400", e.Code)
			}
			if !matches(tc.msg, e.Message) {
				t.Errorf("Message = %q, want %q", e.Message, tc.msg)
			}
			if id != tc.id {
				t.Errorf("id = %d, want %d", id, tc.id)
			}
			if !reflect.DeepEqual(msg, Message{}) {
				t.Errorf("Message = %+v, want the zero Message", msg)
			}
		})
	}
}

// matches reports whether s matches pattern, in which one "*" stands for
// any text.
func matches(pattern, s string) bool {
	before, after, ok := strings.Cut(pattern, "*")
	if !ok {
		return s == pattern
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// TestDecodeDepth: the nesting limit is encoding/json's, counted from the
// message object.
func TestDecodeDepth(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth} {
		inner := depth - 1 // inside the message object
		frame := `{"type":"publish","channel":"c","data":` + strings.Repeat("[", inner) + strings.Repeat("]", inner) + `}`
		_, _, err := Decode([]byte(frame))
		if valid := json.Valid([]byte(frame)); (err == nil) != valid {
			t.Errorf("depth %d: Decode error %v, json.Valid %v", depth, err, valid)
		}
		if err != nil {
			t.Errorf("depth %d: %v", depth, err)
		}
	}
	frame := `{"type":"ping","x":` + strings.Repeat(`{"a":`, maxDepth) + `1` + strings.Repeat("}", maxDepth) + `}`
	if _, _, err := Decode([]byte(frame)); err == nil || json.Valid([]byte(frame)) {
		t.Errorf("depth %d: Decode error %v, json.Valid %v; want an error and false", maxDepth+1, err, json.Valid([]byte(frame)))
	}
}

// TestDecodePayloadIsolated: a data payload aliases the frame but cannot
// be appended to over it.
func TestDecodePayloadIsolated(t *testing.T) {
	frame := []byte(`{"type":"publish","channel":"c","data":[1],"x":2}`)
	msg, _, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(msg.Payload, "zzzz"...)
	if string(frame) != `{"type":"publish","channel":"c","data":[1],"x":2}` {
		t.Errorf("appending to Payload changed the frame: %s", frame)
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[Type]string{
		0: "Type(0)", TypeSubscribe: "subscribe", TypeUnsubscribe: "unsubscribe", TypePublish: "publish",
		TypePresence: "presence", TypePing: "ping", TypeRefresh: "refresh", 7: "Type(7)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", typ, got, want)
		}
	}
	e := &Error{Code: CodeForbidden, Message: "no"}
	if got := e.Error(); got != "switchboard.v1 error 403: no" {
		t.Errorf("Error() = %q", got)
	}
}

func TestDecodeRefresh(t *testing.T) {
	msg, id, err := Decode([]byte(`{"type":"refresh","id":3,"token":"a.b.c"}`))
	if err != nil || id != 3 || msg.Type != TypeRefresh || msg.Token != "a.b.c" {
		t.Fatalf("got %+v %d %v", msg, id, err)
	}
	for _, bad := range []string{`{"type":"refresh","id":1}`, `{"type":"refresh","token":5}`} {
		if _, _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
