package pusherproto

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		msg                  string
		event, channel, data string
	}{
		// What pusher-js 8.6.0 sends (reference §2, §4.1).
		{`{"event":"pusher:subscribe","data":{"auth":"","channel":"x"}}`, "pusher:subscribe", "", `{"auth":"","channel":"x"}`},
		{`{"event":"pusher:ping","data":{}}`, "pusher:ping", "", `{}`},
		{`{"event":"client-typing","data":{"a":1},"channel":"private-chat"}`, "client-typing", "private-chat", `{"a":1}`},
		// Double-encoded data, whitespace, unknown keys, null channel, escapes.
		{` { "event" : "pusher:unsubscribe" , "data" : "{\"channel\":\"x\"}" , "extra" : [1,{"b":"}"}] } `, "pusher:unsubscribe", "", `"{\"channel\":\"x\"}"`},
		{`{"channel":null,"event":"pusher:ping"}`, "pusher:ping", "", ``},
		{`{"event":"client-\u00e9","channel":"a\"b","data":[1, 2]}`, "client-é", `a"b`, `[1, 2]`},
		{`{"event":"e","data":12.5e3,"channel":"c"}`, "e", "c", `12.5e3`},
		{`{"event":"e","data":true}`, "e", "", `true`},
	} {
		f, err := Decode([]byte(tc.msg), 0)
		if err != nil {
			t.Errorf("Decode(%s): %v", tc.msg, err)
			continue
		}
		if f.Event != tc.event || f.Channel != tc.channel || string(f.Data) != tc.data {
			t.Errorf("Decode(%s) = {%q %q %s}, want {%q %q %s}", tc.msg, f.Event, f.Channel, f.Data, tc.event, tc.channel, tc.data)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		kind error
		text string // part of the message
	}{
		{``, ErrMalformed, "not a JSON object"},
		{`[]`, ErrMalformed, "not a JSON object"},
		{`"x"`, ErrMalformed, "not a JSON object"},
		{`{"event":"x"`, ErrMalformed, "not a JSON object"},
		{`{"event":"x"} {}`, ErrMalformed, "not a JSON object"},
		{"{\"event\":\"\xff\"}", ErrMalformed, "UTF-8"},
		{`{}`, ErrMalformed, `no "event"`},
		{`{"event":""}`, ErrMalformed, `no "event"`},
		{`{"EVENT":"pusher:ping"}`, ErrMalformed, `no "event"`},
		{`{"event":1}`, ErrMalformed, `"event" must be a string`},
		{`{"event":null}`, ErrMalformed, `"event" must be a string`},
		{`{"event":"a","channel":5}`, ErrMalformed, `"channel" must be a string`},
		{`{"event":"a","event":"b"}`, ErrMalformed, `repeats the key "event"`},
		{`{"event":"a","data":1,"d\u0061ta":2}`, ErrMalformed, `repeats the key "data"`},
		{`{"event":"` + strings.Repeat("a", 100) + `"}`, ErrTooLarge, "over the limit of 64 bytes"},
	} {
		_, err := Decode([]byte(tc.msg), 64)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, tc.kind) || !strings.Contains(e.Msg, tc.text) {
			t.Errorf("Decode(%s) = %v, want %v containing %q", tc.msg, err, tc.kind, tc.text)
		}
	}
	// The default limit applies when none is given.
	big := `{"event":"client-x","data":"` + strings.Repeat("a", DefaultMaxFrameSize) + `"}`
	if _, err := Decode([]byte(big), 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode of %d bytes with the default limit = %v, want ErrTooLarge", len(big), err)
	}
}

func TestDecodeSubscribe(t *testing.T) {
	for _, tc := range []struct {
		data string
		want Subscribe
	}{
		{`{"auth":"","channel":"x"}`, Subscribe{Channel: "x"}},
		{`{"auth":"278d:abc","channel":"private-x"}`, Subscribe{Channel: "private-x", Auth: "278d:abc"}},
		{`{"auth":"k:s","channel":"presence-x","channel_data":"{\"user_id\":10}"}`, Subscribe{Channel: "presence-x", Auth: "k:s", ChannelData: `{"user_id":10}`}},
		// Both forms (reference §2), nulls, unknown keys.
		{`"{\"channel\":\"x\",\"auth\":null}"`, Subscribe{Channel: "x"}},
		{` "{ \"channel\" : \"x\" }" `, Subscribe{Channel: "x"}},
		{`{"channel":"x","channel_data":null,"other":{"channel":"y"}}`, Subscribe{Channel: "x"}},
	} {
		got, err := DecodeSubscribe([]byte(tc.data))
		if err != nil || got != tc.want {
			t.Errorf("DecodeSubscribe(%s) = %+v, %v; want %+v", tc.data, got, err, tc.want)
		}
	}
	for _, data := range []string{
		``, `null`, `1`, `[]`, `"x"`, `"[1]"`, `{`, `{}`, `{"channel":""}`, `{"channel":1}`, `{"channel":"x","auth":1}`,
		`{"channel":"x","channel_data":{"user_id":1}}`, `{"channel":"x","channel":"y"}`, `"{\"channel\":\"x\""`,
	} {
		if _, err := DecodeSubscribe([]byte(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeSubscribe(%s) = %v, want ErrMalformed", data, err)
		}
	}
}

func TestDecodeUnsubscribeSigninPing(t *testing.T) {
	if ch, err := DecodeUnsubscribe([]byte(`{"channel":"presence-a"}`)); err != nil || ch != "presence-a" {
		t.Errorf("DecodeUnsubscribe = %q, %v", ch, err)
	}
	if ch, err := DecodeUnsubscribe([]byte(`"{\"channel\":\"a\"}"`)); err != nil || ch != "a" {
		t.Errorf("DecodeUnsubscribe(string) = %q, %v", ch, err)
	}
	for _, data := range []string{``, `{}`, `{"channel":2}`, `[]`} {
		if _, err := DecodeUnsubscribe([]byte(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeUnsubscribe(%s) = %v, want ErrMalformed", data, err)
		}
	}

	want := Signin{Auth: "k:s", UserData: `{"id":"12345"}`}
	for _, data := range []string{`{"auth":"k:s","user_data":"{\"id\":\"12345\"}"}`, `"{\"auth\":\"k:s\",\"user_data\":\"{\\\"id\\\":\\\"12345\\\"}\"}"`} {
		if got, err := DecodeSignin([]byte(data)); err != nil || got != want {
			t.Errorf("DecodeSignin(%s) = %+v, %v; want %+v", data, got, err, want)
		}
	}
	for _, data := range []string{`{}`, `{"auth":"k:s"}`, `{"user_data":"{}"}`, `{"auth":"","user_data":"{}"}`, `{"auth":1,"user_data":"{}"}`, `{"auth":"a","user_data":{"id":"1"}}`} {
		if _, err := DecodeSignin([]byte(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeSignin(%s) = %v, want ErrMalformed", data, err)
		}
	}

	for _, data := range []string{``, `{}`, `null`, `""`, `"{}"`, `{"x":1}`} {
		if err := DecodePing([]byte(data)); err != nil {
			t.Errorf("DecodePing(%s) = %v", data, err)
		}
	}
	for _, data := range []string{`1`, `[]`, `true`, `{`} {
		if err := DecodePing([]byte(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodePing(%s) = %v, want ErrMalformed", data, err)
		}
	}
}

func TestDecodeClientEvent(t *testing.T) {
	f, err := Decode([]byte(`{"event":"client-typing","channel":"presence-room","data":{"text":"hi \"there\""}}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := DecodeClientEvent(f)
	if err != nil || ev.Event != "client-typing" || ev.Channel != "presence-room" || string(ev.Data) != `{"text":"hi \"there\""}` {
		t.Fatalf("DecodeClientEvent = %+v, %v", ev, err)
	}
	for _, tc := range []struct {
		f    Frame
		kind error
	}{
		{Frame{Event: "typing", Channel: "private-a", Data: json.RawMessage(`{}`)}, ErrMalformed},
		{Frame{Event: "pusher:ping", Channel: "private-a", Data: json.RawMessage(`{}`)}, ErrMalformed},
		{Frame{Event: "client-x", Data: json.RawMessage(`{}`)}, ErrMalformed},
		{Frame{Event: "client-x", Channel: "private-a"}, ErrMalformed},
		{Frame{Event: "client-" + strings.Repeat("x", MaxEventNameLen), Channel: "private-a", Data: json.RawMessage(`{}`)}, ErrTooLarge},
	} {
		if _, err := DecodeClientEvent(tc.f); !errors.Is(err, tc.kind) {
			t.Errorf("DecodeClientEvent(%+v) = %v, want %v", tc.f, err, tc.kind)
		}
	}
}

func TestEventData(t *testing.T) {
	for raw, want := range map[string]string{
		`{"a":1}`:             `{"a":1}`,
		` [1,2] `:             `[1,2]`,
		`"{\"a\":1}"`:         `{"a":1}`,
		`"plain \u00e9 text"`: `plain é text`,
		`12`:                  `12`,
		`null`:                `null`,
	} {
		got, err := EventData(json.RawMessage(raw))
		if err != nil || string(got) != want {
			t.Errorf("EventData(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{``, `{`, `"x`} {
		if _, err := EventData(json.RawMessage(raw)); !errors.Is(err, ErrMalformed) {
			t.Errorf("EventData(%s) = %v, want ErrMalformed", raw, err)
		}
	}
}

// FuzzDecode: Decode and the decoders of each frame's data never panic;
// every refusal is an *Error; what Decode accepts agrees with
// encoding/json on the event, the channel and the data.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event":"pusher:subscribe","data":{"auth":"","channel":"x"}}`,
		`{"event":"pusher:subscribe","data":{"auth":"k:s","channel":"presence-a","channel_data":"{\"user_id\":1,\"user_info\":{}}"}}`,
		`{"event":"pusher:subscribe","data":"{\"channel\":\"x\"}"}`,
		`{"event":"pusher:unsubscribe","data":{"channel":"x"}}`,
		`{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}`,
		`{"event":"pusher:ping","data":{}}`,
		`{"event":"client-x","channel":"private-a","data":{"k":[1,"}",null]}}`,
		`{"event":"a","event":"b"}`,
		`{"event":"\ud800","channel":null,"data":"\"\\u0000\""}`,
		`{"event":"x","data":-1e-7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := Decode(msg, 4096)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Msg == "" {
				t.Fatalf("error %v is not an *Error with a message", err)
			}
			return
		}
		var ref map[string]json.RawMessage // exact keys, values as sent
		if err := json.Unmarshal(msg, &ref); err != nil {
			t.Fatalf("Decode accepted %q, which encoding/json refuses: %v", msg, err)
		}
		var event, channel string
		if json.Unmarshal(ref["event"], &event) != nil || event != fr.Event {
			t.Fatalf("event %q, encoding/json %q", fr.Event, event)
		}
		if c, ok := ref["channel"]; ok && string(c) != "null" && (json.Unmarshal(c, &channel) != nil || channel != fr.Channel) {
			t.Fatalf("channel %q, encoding/json %q", fr.Channel, channel)
		}
		if string(ref["data"]) != string(fr.Data) {
			t.Fatalf("data %q, encoding/json %q", fr.Data, ref["data"])
		}
		if fr.Event == "" {
			t.Fatal("accepted an empty event")
		}
		if len(fr.Data) > 0 && !json.Valid(fr.Data) {
			t.Fatalf("data %q is not JSON", fr.Data)
		}
		checkErr := func(err error) {
			var e *Error
			if err != nil && (!errors.As(err, &e) || e.Msg == "") {
				t.Fatalf("error %v is not an *Error with a message", err)
			}
		}
		s, err := DecodeSubscribe(fr.Data)
		checkErr(err)
		if err == nil && s.Channel == "" {
			t.Fatal("subscribe accepted without a channel")
		}
		_, err = DecodeUnsubscribe(fr.Data)
		checkErr(err)
		_, err = DecodeSignin(fr.Data)
		checkErr(err)
		checkErr(DecodePing(fr.Data))
		_, err = DecodeClientEvent(fr)
		checkErr(err)
		if len(fr.Data) > 0 {
			_, err = EventData(fr.Data)
			checkErr(err)
		}
		_, err = ParseChannel(fr.Channel)
		checkErr(err)
		_, err = ParseChannelData(s.ChannelData, 0)
		checkErr(err)
	})
}

func BenchmarkDecodeSubscribe(b *testing.B) {
	msg := []byte(`{"event":"pusher:subscribe","data":{"auth":"278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4","channel":"private-foobar"}}`)
	b.ReportAllocs()
	for b.Loop() {
		f, err := Decode(msg, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeSubscribe(f.Data); err != nil {
			b.Fatal(err)
		}
	}
}
