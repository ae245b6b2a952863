package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/internal/jsonenc"
)

// docFrames are the client messages of docs/protocol.md, and a few more.
var docFrames = []string{
	`{"type": "subscribe", "id": 1, "channel": "chat:lobby"}`,
	`{"type": "subscribe", "id": 2, "channel": "chat:lobby", "recover": {"epoch": "kq3MTHfT", "offset": 41}}`,
	`{"type": "unsubscribe", "id": 3, "channel": "chat:lobby"}`,
	`{"type": "publish", "id": 4, "channel": "chat:lobby", "data": {"text": "hi"}}`,
	`{"type": "publish", "id": 5, "channel": "chat:lobby", "text": "plain words", "excludeSelf": true}`,
	`{"type": "presence", "id": 6, "channel": "chat:lobby"}`,
	`{"type": "ping", "id": 7}`,
	`{"type": "subscrbe", "id": 8}`,
	`{"type":"publish","channel":"c","b64":"AP8Q","excludeSelf":false}`,
	`{"type":"publish","channel":"\u0041\ud83d\ude00","text":"\ud800\n\"42\""}`,
	`{"type":"publish","channel":"c","data":[1,-2.5e3,true,null,{"a":""}],"x":{"y":[]}}`,
	`{"\u0074ype":"ping","id":9007199254740991}`,
	`{"type":"ping","id":1.0}`,
	`{"type":"ping","type":"ping"}`,
	` [1] `,
	`{"type":"ping",`,
}

// FuzzDecode: Decode never panics; it accepts exactly the JSON objects
// json.Valid accepts, reads what encoding/json reads, reports only ids
// the frame holds, and a decoded message encodes back to itself. The
// frames, mostly near-JSON, also check Classify against its reference.
func FuzzDecode(f *testing.F) {
	for _, s := range docFrames {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if got, want := Classify(frame), classifyReference(frame); got != want {
			t.Fatalf("Classify(%q) = %v, want %v", frame, got, want)
		}
		msg, id, err := Decode(frame)
		valid := json.Valid(frame)
		if err != nil {
			checkDecodeError(t, frame, msg, id, err, valid)
			return
		}
		if !valid {
			t.Fatalf("Decode accepted invalid JSON %q", frame)
		}
		if id != msg.ID {
			t.Fatalf("id %d, Message.ID %d", id, msg.ID)
		}
		compareEncodingJSON(t, frame, msg)

		// The message encodes back to itself, but that a payload that is
		// JSON travels as "data", without the whitespace around it.
		again, _, err := Decode(appendClientMessage(nil, msg))
		if err != nil {
			t.Fatalf("re-encoded %+v: %v", msg, err)
		}
		want := msg
		if msg.Type == TypePublish && Classify(msg.Payload) == PayloadData {
			want.Payload = trimSpace(msg.Payload)
		}
		if !equalMessages(want, again) {
			t.Fatalf("re-encoded\n got %+v\nwant %+v", again, want)
		}

		// A publication reaches subscribers with the same bytes.
		if msg.Type == TypePublish {
			pub := AppendPub(nil, msg.Channel, msg.Recover, msg.Payload, Classify(msg.Payload))
			checkPub(t, pub, msg.Channel, msg.Payload)
		}
	})
}

// classifyReference is Classify as docs/protocol.md says it.
func classifyReference(payload []byte) PayloadKind {
	switch {
	case !utf8.Valid(payload):
		return PayloadBase64
	case json.Valid(payload):
		return PayloadData
	}
	return PayloadText
}

// checkDecodeError checks a failed Decode.
func checkDecodeError(t *testing.T, frame []byte, msg Message, id uint64, err error, valid bool) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadRequest || e.Message == "" {
		t.Fatalf("Decode(%q) error %#v, want an *Error with code 400", frame, err)
	}
	if !reflect.DeepEqual(msg, Message{}) {
		t.Fatalf("Decode(%q) failed with a non-zero Message %+v", frame, msg)
	}
	syntax := strings.HasPrefix(e.Message, "invalid JSON") || strings.HasPrefix(e.Message, "empty message")
	if utf8.Valid(frame) && syntax == valid {
		t.Fatalf("Decode(%q): %q, but json.Valid says %v", frame, e.Message, valid)
	}
	if id == 0 {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(frame, &m) != nil || string(m["id"]) != strconv.FormatUint(id, 10) {
		t.Fatalf("Decode(%q) failed (%s) with id %d, which is not the frame's", frame, e.Message, id)
	}
}

// compareEncodingJSON checks msg against encoding/json's reading of the
// frame's members (a map has case-sensitive keys).
func compareEncodingJSON(t *testing.T, frame []byte, msg Message) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(frame, &m); err != nil {
		t.Fatalf("encoding/json cannot read %q: %v", frame, err)
	}
	str := func(key string) string {
		var s string
		if err := json.Unmarshal(m[key], &s); err != nil {
			t.Fatalf("%q: %q is not a string for encoding/json: %v", frame, key, err)
		}
		return s
	}
	if typ := str("type"); typ != msg.Type.String() {
		t.Fatalf("%q: type %q, decoded %v", frame, typ, msg.Type)
	}
	if raw, ok := m["id"]; ok != (msg.ID != 0) || ok && string(raw) != strconv.FormatUint(msg.ID, 10) {
		t.Fatalf("%q: id %s, decoded %d", frame, raw, msg.ID)
	}
	if msg.Type == TypePing {
		return
	}
	if ch := str("channel"); ch != msg.Channel {
		t.Fatalf("%q: channel %q, decoded %q", frame, ch, msg.Channel)
	}
	if msg.Recover != nil {
		var r struct {
			Epoch  *string
			Offset *uint64
		}
		if err := json.Unmarshal(m["recover"], &r); err != nil || r.Epoch == nil || r.Offset == nil ||
			*r.Epoch != msg.Recover.Epoch || *r.Offset != msg.Recover.Offset {
			t.Fatalf("%q: recover %s, decoded %+v", frame, m["recover"], msg.Recover)
		}
	}
	if msg.Type != TypePublish {
		return
	}
	switch {
	case m["data"] != nil:
		if !bytes.Equal(trimSpace(m["data"]), msg.Payload) {
			t.Fatalf("%q: data %s, decoded %q", frame, m["data"], msg.Payload)
		}
	case m["text"] != nil:
		if s := str("text"); s != string(msg.Payload) {
			t.Fatalf("%q: text %q, decoded %q", frame, s, msg.Payload)
		}
	default:
		b, err := base64.StdEncoding.DecodeString(str("b64"))
		if err != nil || !bytes.Equal(b, msg.Payload) {
			t.Fatalf("%q: b64 %s, decoded %q", frame, m["b64"], msg.Payload)
		}
	}
	if raw := m["excludeSelf"]; (string(raw) == "true") != msg.ExcludeSelf {
		t.Fatalf("%q: excludeSelf %s, decoded %v", frame, raw, msg.ExcludeSelf)
	}
}

// appendClientMessage encodes msg as a client would.
func appendClientMessage(dst []byte, msg Message) []byte {
	dst = append(dst, `{"type":`...)
	dst = jsonenc.AppendString(dst, msg.Type.String())
	if msg.ID != 0 {
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendUint(dst, msg.ID, 10)
	}
	if msg.Type != TypePing {
		dst = append(dst, `,"channel":`...)
		dst = jsonenc.AppendString(dst, msg.Channel)
	}
	if msg.Recover != nil {
		dst = append(dst, `,"recover":{"epoch":`...)
		dst = jsonenc.AppendString(dst, msg.Recover.Epoch)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendUint(dst, msg.Recover.Offset, 10)
		dst = append(dst, '}')
	}
	if msg.Type == TypePublish {
		dst = append(dst, ',')
		dst = AppendPayloadField(dst, msg.Payload, Classify(msg.Payload))
		if msg.ExcludeSelf {
			dst = append(dst, `,"excludeSelf":true`...)
		}
	}
	return append(dst, '}')
}

func equalMessages(a, b Message) bool {
	if !bytes.Equal(a.Payload, b.Payload) || (a.Payload == nil) != (b.Payload == nil) {
		return false
	}
	a.Payload, b.Payload = nil, nil
	return reflect.DeepEqual(a, b)
}

// checkPub checks that pub is a valid pub message on channel (valid
// UTF-8) that carries payload exactly.
func checkPub(t *testing.T, pub []byte, channel string, payload []byte) {
	t.Helper()
	if !json.Valid(pub) || !utf8.Valid(pub) {
		t.Fatalf("AppendPub wrote invalid JSON or UTF-8: %q", pub)
	}
	var p struct{ Type, Channel string }
	if err := json.Unmarshal(pub, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "pub" || utf8.ValidString(channel) && p.Channel != channel {
		t.Fatalf("%q: type %q, channel %q; want pub, %q", pub, p.Type, p.Channel, channel)
	}
	checkCarries(t, pub, payload)
}

// checkCarries checks that the server message frame (valid JSON) carries
// payload exactly, in one payload field.
func checkCarries(t *testing.T, frame []byte, payload []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(frame, &m); err != nil {
		t.Fatal(err)
	}
	var p struct{ Text, B64 *string }
	if err := json.Unmarshal(frame, &p); err != nil {
		t.Fatal(err)
	}
	var got []byte
	n := 0
	if raw, ok := m["data"]; ok {
		got, n = raw, n+1
	}
	if p.Text != nil {
		got, n = []byte(*p.Text), n+1
	}
	if p.B64 != nil {
		b, err := base64.StdEncoding.DecodeString(*p.B64)
		if err != nil {
			t.Fatalf("%q: %v", frame, err)
		}
		got, n = b, n+1
	}
	if n != 1 {
		t.Fatalf("%q: %d payload fields, want 1", frame, n)
	}
	want := payload
	if m["data"] != nil {
		want = trimSpace(payload)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%q carries %q, want %q", frame, got, want)
	}
}

// FuzzAppendPub: Classify agrees with json.Valid and utf8.Valid; pub and
// message frames are always valid JSON and UTF-8 and carry their payload
// back exactly (a "data" value without surrounding whitespace), in the
// field Classify chose, in "b64", or in "text" for valid UTF-8.
func FuzzAppendPub(f *testing.F) {
	f.Add("chat:lobby", "kq3MTHfT", uint64(45), true, []byte(`{"text": "hi"}`))
	f.Add("news", "", uint64(0), false, []byte(`plain words`))
	f.Add("bin", "e", uint64(1<<64-1), true, []byte{0, 0xff, 0x10})
	f.Add("c\"\\\n\u2028", "\xff", uint64(7), true, []byte(" \n[1, \"\u2028\"]\t"))
	f.Add("", "", uint64(0), false, []byte(""))
	f.Add("x", "y", uint64(3), true, []byte("\"unterminated"))
	f.Add("x", "y", uint64(3), false, []byte("{\"a\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, channel, epoch string, offset uint64, hasPos bool, payload []byte) {
		var pos *Position
		if hasPos {
			pos = &Position{Epoch: epoch, Offset: offset}
		}
		kind := Classify(payload)
		if want := classifyReference(payload); kind != want {
			t.Fatalf("Classify(%q) = %v, want %v", payload, kind, want)
		}
		pub := AppendPub(nil, channel, pos, payload, kind)
		checkPub(t, pub, channel, payload)
		if got := string(AppendPub([]byte("x"), channel, pos, payload, kind)); got != "x"+string(pub) {
			t.Fatalf("AppendPub to a non-empty dst: %q, want x%q", got, pub)
		}
		var p struct {
			Epoch  *string
			Offset *uint64
		}
		if err := json.Unmarshal(pub, &p); err != nil {
			t.Fatal(err)
		}
		if (p.Epoch != nil) != hasPos || (p.Offset != nil) != hasPos ||
			hasPos && (*p.Offset != offset || utf8.ValidString(epoch) && *p.Epoch != epoch) {
			t.Fatalf("%q: epoch/offset %v/%v, want %v", pub, p.Epoch, p.Offset, pos)
		}
		// With an event name (the epoch's bytes serve as one).
		named := AppendPubEvent(nil, channel, epoch, pos, payload, kind)
		checkPub(t, named, channel, payload)
		var e struct{ Event *string }
		if err := json.Unmarshal(named, &e); err != nil {
			t.Fatal(err)
		}
		if (e.Event != nil) != (epoch != "") || epoch != "" && utf8.ValidString(epoch) && *e.Event != epoch {
			t.Fatalf("%q: event %v, want %q", named, e.Event, epoch)
		}
		msg := AppendMessage(nil, payload, kind)
		if !json.Valid(msg) || !utf8.Valid(msg) {
			t.Fatalf("AppendMessage wrote invalid JSON or UTF-8: %q", msg)
		}
		checkCarries(t, msg, payload)
		checkPub(t, AppendPub(nil, channel, pos, payload, PayloadBase64), channel, payload)
		if kind != PayloadBase64 {
			checkPub(t, AppendPub(nil, channel, pos, payload, PayloadText), channel, payload)
		}
	})
}
