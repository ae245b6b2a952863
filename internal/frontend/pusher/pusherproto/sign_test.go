package pusherproto

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	pusher "github.com/pusher/pusher-http-go/v5"
)

const (
	docKey    = "278d425bdf160c739803" // the docs' app (reference §6.3, §12.2)
	docSecret = "7ad3773142a6692b25b8"
)

// The five vectors of reference §6.3.
func TestSignVectors(t *testing.T) {
	for _, tc := range []struct {
		name, secret, signed, want string
	}{
		{"private", docSecret, ChannelString("1234.1234", "private-foobar", ""), "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"},
		{"user sign-in", docSecret, UserString("1234.1234", `{"id":"12345"}`), "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"},
		{"presence, corrected", docSecret, ChannelString("1234.1234", "presence-foobar", `{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`), "afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c"},
		{"presence, as printed", docSecret, ChannelString("1234.1234", "presence-foobar", `{"user_id":10,"user_info":{"name":"Mr. Channels"}}`), "31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"},
		{"node SDK sign-in", "tofu", UserString("123.456", `{"id":"45678"}`), "f4b1fdeea7c93e32648c7230e32b172057c5623cace6cfce791c6e7035e0babd"},
	} {
		if got := Sign(tc.secret, tc.signed); got != tc.want {
			t.Errorf("%s: Sign(%q) = %s, want %s", tc.name, tc.signed, got, tc.want)
		}
	}
}

func TestVerifyChannel(t *testing.T) {
	const sig = "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
	if err := VerifyChannel(docKey, docSecret, "1234.1234", "private-foobar", "", docKey+":"+sig); err != nil {
		t.Fatalf("the docs' private auth: %v", err)
	}
	presence := `{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`
	if err := VerifyChannel(docKey, docSecret, "1234.1234", "presence-foobar", presence, docKey+":afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c"); err != nil {
		t.Fatalf("the docs' presence auth: %v", err)
	}
	if err := VerifyUser("1234", "tofu", "123.456", `{"id":"45678"}`, "1234:f4b1fdeea7c93e32648c7230e32b172057c5623cace6cfce791c6e7035e0babd"); err != nil {
		t.Fatalf("the Node SDK's sign-in: %v", err)
	}

	wantMsg := `invalid signature: expected HMAC-SHA256 hex digest of "1234.1234:private-foobar" signed with the secret of app key "278d425bdf160c739803"`
	for _, tc := range []struct{ name, socket, channel, data, auth, msg string }{
		{"other socket", "1234.1235", "private-foobar", "", docKey + ":" + sig, `"1234.1235:private-foobar"`},
		{"other channel", "1234.1234", "private-foobaz", "", docKey + ":" + sig, `"1234.1234:private-foobaz"`},
		{"bad hex", "1234.1234", "private-foobar", "", docKey + ":" + strings.Repeat("0", 64), wantMsg},
		{"upper-case hex", "1234.1234", "private-foobar", "", docKey + ":" + strings.ToUpper(sig), wantMsg},
		{"signature alone", "1234.1234", "private-foobar", "", sig, `must be "<app key>:<signature>"`},
		{"other key", "1234.1234", "private-foobar", "", "0000425bdf160c739803:" + sig, `must be "<app key>:<signature>" with app key "278d425bdf160c739803"`},
		{"empty", "1234.1234", "private-foobar", "", "", `must be "<app key>:<signature>"`},
		{"key only", "1234.1234", "private-foobar", "", docKey, `must be "<app key>:<signature>"`},
		{"trailing", "1234.1234", "private-foobar", "", docKey + ":" + sig + " ", wantMsg},
		{"presence re-encoded", "1234.1234", "presence-foobar", `{"user_id": 10,"user_info":{"name":"Mr. Pusher"}}`, docKey + ":afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c",
			`"1234.1234:presence-foobar:{"user_id": 10,"user_info":{"name":"Mr. Pusher"}}"`},
	} {
		err := VerifyChannel(docKey, docSecret, tc.socket, tc.channel, tc.data, tc.auth)
		if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrSignature containing %s", tc.name, err, tc.msg)
			continue
		}
		if strings.Contains(err.Error(), docSecret) || strings.Contains(err.Error(), sig) && !strings.Contains(tc.auth, sig) {
			t.Errorf("%s: the error gives away the secret or the signature: %v", tc.name, err)
		}
	}
	// The expected signature is never in the message, whatever was sent.
	err := VerifyChannel(docKey, docSecret, "1234.1234", "private-foobar", "", "x")
	if strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), docSecret) {
		t.Errorf("the error gives away the secret or the signature: %v", err)
	}
	if err := VerifyUser(docKey, docSecret, "1234.1234", `{"id":"12346"}`, docKey+":4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"); !errors.Is(err, ErrSignature) ||
		!strings.Contains(err.Error(), `"1234.1234::user::{"id":"12346"}"`) {
		t.Errorf("VerifyUser with other user data = %v", err)
	}
}

// The auth values pusher-http-go v5.1.1 returns from its auth endpoints
// (what apps hand to pusher-js) verify.
func TestVerifyPusherHTTPGoAuth(t *testing.T) {
	client := pusher.Client{AppID: "3", Key: docKey, Secret: docSecret}
	auth := func(resp []byte, err error) (m map[string]string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(resp, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := auth(client.AuthorizePrivateChannel([]byte("channel_name=private-foo&socket_id=3735928559.1")))
	if err := VerifyChannel(docKey, docSecret, "3735928559.1", "private-foo", "", m["auth"]); err != nil {
		t.Errorf("private: %v", err)
	}
	if err := VerifyChannel(docKey, docSecret, "3735928559.2", "private-foo", "", m["auth"]); !errors.Is(err, ErrSignature) {
		t.Errorf("private, other socket: %v", err)
	}

	m = auth(client.AuthorizePresenceChannel([]byte("channel_name=presence-foo&socket_id=1.2"),
		pusher.MemberData{UserID: "u1", UserInfo: map[string]string{"name": "Ann \"A\" <a@b>"}}))
	if err := VerifyChannel(docKey, docSecret, "1.2", "presence-foo", m["channel_data"], m["auth"]); err != nil {
		t.Errorf("presence: %v", err)
	}
	member, err := ParseChannelData(m["channel_data"], 0)
	if err != nil || member.ID != "u1" || member.Numeric || string(member.Info) != `{"name":"Ann \"A\" \u003ca@b\u003e"}` {
		t.Errorf("ParseChannelData(%s) = %+v, %v", m["channel_data"], member, err)
	}

	m = auth(client.AuthenticateUser([]byte("socket_id=1.2"), map[string]any{"id": "u1", "user_info": map[string]any{"n": 1}, "watchlist": []string{"u2", "u3"}}))
	if err := VerifyUser(docKey, docSecret, "1.2", m["user_data"], m["auth"]); err != nil {
		t.Errorf("user: %v", err)
	}
	user, err := ParseUserData(m["user_data"], 0)
	if err != nil || user.ID != "u1" || string(user.Info) != `{"n":1}` || strings.Join(user.Watchlist, ",") != "u2,u3" {
		t.Errorf("ParseUserData(%s) = %+v, %v", m["user_data"], user, err)
	}
}

func TestParseChannelData(t *testing.T) {
	for _, tc := range []struct {
		data string
		want Member
	}{
		{`{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`, Member{ID: "10", Numeric: true, Info: json.RawMessage(`{"name":"Mr. Pusher"}`)}},
		{`{"user_id":"10"}`, Member{ID: "10"}},
		{`{"user_id":-9007199254740991,"user_info":null}`, Member{ID: "-9007199254740991", Numeric: true}},
		{`{"user_info":[1, 2],"user_id":"a\u00e9","x":{}}`, Member{ID: "aé", Info: json.RawMessage(`[1, 2]`)}},
		{`{"user_id":"` + strings.Repeat("a", MaxUserIDLen) + `"}`, Member{ID: strings.Repeat("a", MaxUserIDLen)}},
		{`{"user_id":"any chars # / +"}`, Member{ID: "any chars # / +"}},
	} {
		got, err := ParseChannelData(tc.data, 0)
		if err != nil || got.ID != tc.want.ID || got.Numeric != tc.want.Numeric || string(got.Info) != string(tc.want.Info) {
			t.Errorf("ParseChannelData(%s) = %+v, %v; want %+v", tc.data, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		data string
		kind error
	}{
		{``, ErrMalformed}, {`null`, ErrMalformed}, {`"x"`, ErrMalformed}, {`{`, ErrMalformed}, {`{}`, ErrMalformed},
		{`{"user_id":""}`, ErrMalformed}, {`{"user_id":null}`, ErrMalformed}, {`{"user_id":1.5}`, ErrMalformed},
		{`{"user_id":1e3}`, ErrMalformed}, {`{"user_id":-0}`, ErrMalformed}, {`{"user_id":9007199254740992}`, ErrMalformed},
		{`{"user_id":true}`, ErrMalformed}, {`{"user_id":["1"]}`, ErrMalformed}, {`{"user_id":"1","user_id":"2"}`, ErrMalformed},
		{`{"user_id":"` + strings.Repeat("a", MaxUserIDLen+1) + `"}`, ErrTooLarge},
		{`{"user_id":"1","user_info":"` + strings.Repeat("a", DefaultMaxMemberData) + `"}`, ErrTooLarge},
	} {
		if got, err := ParseChannelData(tc.data, 0); !errors.Is(err, tc.kind) {
			t.Errorf("ParseChannelData(%.60s) = %+v, %v; want %v", tc.data, got, err, tc.kind)
		}
	}
	if _, err := ParseChannelData(`{"user_id":"1","user_info":{"a":"bcd"}}`, 20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParseChannelData over a limit of 20 bytes = %v", err)
	}
}

func TestParseUserData(t *testing.T) {
	u, err := ParseUserData(`{"id":"12345"}`, 0)
	if err != nil || u.ID != "12345" || u.Info != nil || u.Watchlist != nil {
		t.Errorf("ParseUserData = %+v, %v", u, err)
	}
	u, err = ParseUserData(`{"watchlist":null,"user_info":{"a":[]},"id":"a@b.c","other":1}`, 0)
	if err != nil || u.ID != "a@b.c" || string(u.Info) != `{"a":[]}` || u.Watchlist != nil {
		t.Errorf("ParseUserData = %+v, %v", u, err)
	}
	for _, tc := range []struct {
		data string
		kind error
	}{
		{`{}`, ErrMalformed}, {`{"id":""}`, ErrMalformed}, {`{"id":12345}`, ErrMalformed}, {`{"id":null}`, ErrMalformed},
		{`{"id":"a b"}`, ErrMalformed}, {`{"id":"#x"}`, ErrMalformed}, {`{"id":"1","id":"2"}`, ErrMalformed},
		{`{"id":"1","watchlist":"2"}`, ErrMalformed}, {`{"id":"1","watchlist":[2]}`, ErrMalformed}, {`[]`, ErrMalformed},
		{`{"id":"` + strings.Repeat("a", MaxUserIDLen+1) + `"}`, ErrTooLarge},
	} {
		if got, err := ParseUserData(tc.data, 0); !errors.Is(err, tc.kind) {
			t.Errorf("ParseUserData(%.60s) = %+v, %v; want %v", tc.data, got, err, tc.kind)
		}
	}
}

// FuzzParseMemberData: channel_data and user_data parsing never panics, and
// what it accepts agrees with encoding/json.
func FuzzParseMemberData(f *testing.F) {
	for _, s := range []string{`{"user_id":10,"user_info":{"name":"x"}}`, `{"user_id":"a"}`, `{"id":"1","watchlist":["2"],"user_info":null}`, `{"user_id":-0}`, `{"id":1e2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := ParseChannelData(s, 0); err == nil {
			var ref struct {
				UserID   json.RawMessage `json:"user_id"`
				UserInfo json.RawMessage `json:"user_info"`
			}
			if err := json.Unmarshal([]byte(s), &ref); err != nil || m.ID == "" || len(m.ID) > MaxUserIDLen {
				t.Fatalf("ParseChannelData(%q) = %+v; encoding/json: %v", s, m, err)
			}
			if m.Info != nil && !json.Valid(m.Info) {
				t.Fatalf("user_info %q is not JSON", m.Info)
			}
			// The member's frames are JSON.
			if frame := AppendPresenceSubscriptionSucceeded(nil, "presence-a", []Member{m}); !json.Valid(frame) {
				t.Fatalf("frame %s is not JSON", frame)
			}
			if frame := AppendMemberAdded(nil, "presence-a", m); !json.Valid(frame) {
				t.Fatalf("frame %s is not JSON", frame)
			}
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("ParseChannelData(%q): %v", s, err)
		}
		if u, err := ParseUserData(s, 0); err == nil {
			if _, err := ParseChannel(ServerToUserChannel(u.ID)); err != nil {
				t.Fatalf("user %q has no valid channel: %v", u.ID, err)
			}
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("ParseUserData(%q): %v", s, err)
		}
	})
}

// The worked vector of reference §10, checked by pusher-http-go's own
// webhook validation too.
func TestWebhookSignature(t *testing.T) {
	body := []byte(`{"time_ms":1327078148132,"events":[{"name":"channel_occupied","channel":"my-channel"}]}`)
	sig := WebhookSignature(docSecret, body)
	if want := "c19001ae3963ccb13bf618e5b16ba9848e7e74df0993aa0689168e341c6833cf"; sig != want {
		t.Fatalf("WebhookSignature = %s, want %s", sig, want)
	}
	client := pusher.Client{AppID: "3", Key: docKey, Secret: docSecret}
	header := http.Header{"X-Pusher-Key": {docKey}, "X-Pusher-Signature": {sig}}
	hook, err := client.Webhook(header, body)
	if err != nil || len(hook.Events) != 1 || hook.Events[0].Channel != "my-channel" {
		t.Fatalf("pusher-http-go Webhook = %+v, %v", hook, err)
	}
	header.Set("X-Pusher-Signature", WebhookSignature("other", body))
	if _, err := client.Webhook(header, body); err == nil {
		t.Fatal("pusher-http-go accepted a webhook signed with another secret")
	}
}
