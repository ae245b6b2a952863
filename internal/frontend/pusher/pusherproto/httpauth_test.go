package pusherproto

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	pusher "github.com/pusher/pusher-http-go/v5"
)

// The worked example of reference §12.2.
var (
	docBody = []byte(`{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}`)
	docTime = time.Unix(1353088179, 0)
)

const docSignature = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"

func docRequest(query string) APIRequest {
	return APIRequest{Method: "POST", Path: "/apps/3/events", RawQuery: query, Body: docBody}
}

func TestVerifyAPIRequestDocsExample(t *testing.T) {
	query := "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f&auth_signature=" + docSignature
	params, err := VerifyAPIRequest(docRequest(query), docKey, docSecret, docTime, 0)
	if err != nil {
		t.Fatal(err)
	}
	if params.Get("body_md5") != "ec365a775a4cd0599faeb73354201b6f" {
		t.Errorf("params = %v", params)
	}
	want := "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f"
	if got := APIStringToSign("post", "/apps/3/events", params); got != want {
		t.Errorf("APIStringToSign = %q, want %q", got, want)
	}
	// The order of the parameters and the case of their names do not matter.
	shuffled := "auth_signature=" + docSignature + "&Body_MD5=ec365a775a4cd0599faeb73354201b6f&auth_version=1.0&AUTH_KEY=278d425bdf160c739803&auth_timestamp=1353088179"
	if _, err := VerifyAPIRequest(docRequest(shuffled), docKey, docSecret, docTime, 0); err != nil {
		t.Errorf("shuffled: %v", err)
	}
	// The edges of the default skew, 600 s, are included.
	for _, off := range []time.Duration{-600 * time.Second, 600 * time.Second} {
		if _, err := VerifyAPIRequest(docRequest(query), docKey, docSecret, docTime.Add(off), 0); err != nil {
			t.Errorf("now %v from the timestamp: %v", off, err)
		}
	}
}

// signQuery returns a query whose values are escaped by escape and whose
// auth_signature is over the decoded values.
func signQuery(t *testing.T, method, path string, params [][2]string, escape func(string) string) string {
	t.Helper()
	values := url.Values{}
	var parts []string
	for _, p := range params {
		values.Set(p[0], p[1])
		parts = append(parts, p[0]+"="+escape(p[1]))
	}
	sig := Sign(docSecret, APIStringToSign(method, path, values))
	return strings.Join(append(parts, "auth_signature="+sig), "&")
}

// A query escaped differently (%20, '+', unescaped) is accepted: the
// values are compared decoded.
func TestVerifyAPIRequestDecodesValues(t *testing.T) {
	params := [][2]string{{"auth_key", docKey}, {"auth_timestamp", "1353088179"}, {"auth_version", "1.0"},
		{"filter_by_prefix", "presence-a b;c,d=e@f"}, {"info", "user_count,subscription_count"}}
	for name, escape := range map[string]func(string) string{
		"%20": func(s string) string { return strings.ReplaceAll(url.PathEscape(s), ";", "%3B") },
		"+":   url.QueryEscape,
		// pusher-http-go sends the query unescaped; a raw space cannot
		// be in a request line, the rest stays as it is.
		"unescaped": func(s string) string { return strings.ReplaceAll(s, " ", "%20") },
	} {
		query := signQuery(t, "GET", "/apps/3/channels", params, escape)
		got, err := VerifyAPIRequest(APIRequest{Method: "GET", Path: "/apps/3/channels", RawQuery: query}, docKey, docSecret, docTime, 0)
		if err != nil {
			t.Errorf("%s (%s): %v", name, query, err)
			continue
		}
		if got.Get("filter_by_prefix") != "presence-a b;c,d=e@f" {
			t.Errorf("%s: filter_by_prefix = %q", name, got.Get("filter_by_prefix"))
		}
	}
	// The same query with %20 and with + verify alike.
	a := signQuery(t, "GET", "/apps/3/channels", params, func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") })
	b := strings.ReplaceAll(a, "%20", "+")
	if a == b {
		t.Fatal("the query has no escaped space")
	}
	for _, q := range []string{a, b} {
		if _, err := VerifyAPIRequest(APIRequest{Method: "GET", Path: "/apps/3/channels", RawQuery: q}, docKey, docSecret, docTime, 0); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestVerifyAPIRequestRefuses(t *testing.T) {
	good := "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f&auth_signature=" + docSignature
	without := func(name string) string {
		var kept []string
		for p := range strings.SplitSeq(good, "&") {
			if !strings.HasPrefix(p, name+"=") {
				kept = append(kept, p)
			}
		}
		return strings.Join(kept, "&")
	}
	replace := func(old, new string) string { return strings.Replace(good, old, new, 1) }
	for _, tc := range []struct {
		name string
		req  APIRequest
		now  time.Time
		skew time.Duration
		kind error
		text string
	}{
		{"no auth_key", docRequest(without("auth_key")), docTime, 0, ErrMissingParam, "auth_key"},
		{"no auth_timestamp", docRequest(without("auth_timestamp")), docTime, 0, ErrMissingParam, "auth_timestamp"},
		{"no auth_version", docRequest(without("auth_version")), docTime, 0, ErrMissingParam, "auth_version"},
		{"no auth_signature", docRequest(without("auth_signature")), docTime, 0, ErrMissingParam, "auth_signature"},
		{"no body_md5", docRequest(without("body_md5")), docTime, 0, ErrMissingParam, "body_md5"},
		{"repeated", docRequest(good + "&auth_key=" + docKey), docTime, 0, ErrRepeatedParam, "auth_key"},
		{"repeated in another case", docRequest(good + "&Info=a&INFO=b"), docTime, 0, ErrRepeatedParam, "info"},
		{"bad escape", docRequest(good + "&a=%zz"), docTime, 0, ErrMalformed, "%zz"},
		{"other key", docRequest(replace("auth_key=278d", "auth_key=378d")), docTime, 0, ErrAuthKey, `"378d425bdf160c739803"`},
		{"version", docRequest(replace("auth_version=1.0", "auth_version=2.0")), docTime, 0, ErrAuthVersion, `"2.0"`},
		{"late", docRequest(good), docTime.Add(601 * time.Second), 0, ErrTimestamp, "601 s from the server's time 1353088780: it must be within 600 s"},
		{"early", docRequest(good), docTime.Add(-11 * time.Second), 10 * time.Second, ErrTimestamp, "11 s from the server's time 1353088168: it must be within 10 s"},
		{"timestamp sign", docRequest(replace("auth_timestamp=", "auth_timestamp=%2B")), docTime, 0, ErrTimestamp, `"+1353088179"`},
		{"timestamp ms", docRequest(replace("auth_timestamp=1353088179", "auth_timestamp=1353088179000")), docTime, 0, ErrTimestamp, "within 600 s"},
		{"timestamp text", docRequest(replace("auth_timestamp=1353088179", "auth_timestamp=now")), docTime, 0, ErrTimestamp, `"now"`},
		{"timestamp huge", docRequest(replace("auth_timestamp=1353088179", "auth_timestamp=99999999999999999999999")), docTime, 0, ErrTimestamp, "seconds"},
		{"body changed", APIRequest{Method: "POST", Path: "/apps/3/events", RawQuery: good, Body: append([]byte(" "), docBody...)}, docTime, 0, ErrBodyMD5, "is not the MD5"},
		{"md5 upper-case", docRequest(replace("ec365a", "EC365A")), docTime, 0, ErrBodyMD5, "is not the MD5"},
		{"empty body, wrong md5", APIRequest{Method: "POST", Path: "/apps/3/events", RawQuery: good}, docTime, 0, ErrBodyMD5, "0-byte"},
		{"signature", docRequest(replace("auth_signature=da", "auth_signature=db")), docTime, 0, ErrSignature,
			`expected HMAC-SHA256 hex digest of "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f" signed with the secret of app key "278d425bdf160c739803"`},
		{"other path", APIRequest{Method: "POST", Path: "/apps/4/events", RawQuery: good, Body: docBody}, docTime, 0, ErrSignature, `"POST\n/apps/4/events\n`},
		{"other method", APIRequest{Method: "PUT", Path: "/apps/3/events", RawQuery: good, Body: docBody}, docTime, 0, ErrSignature, `"PUT\n`},
		{"extra param", docRequest(good + "&socket_id=1.2"), docTime, 0, ErrSignature, "&socket_id=1.2"},
	} {
		_, err := VerifyAPIRequest(tc.req, docKey, docSecret, tc.now, tc.skew)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v; want %v containing %q", tc.name, err, tc.kind, tc.text)
			continue
		}
		if strings.Contains(err.Error(), docSecret) || strings.Contains(err.Error(), docSignature) && !strings.Contains(tc.req.RawQuery, docSignature) {
			t.Errorf("%s: the error gives away the secret or the signature: %v", tc.name, err)
		}
	}
	// An empty body needs no body_md5, and may carry the right one.
	base := [][2]string{{"auth_key", docKey}, {"auth_timestamp", "1353088179"}, {"auth_version", "1.0"}}
	for _, params := range [][][2]string{base, append(base, [2]string{"body_md5", "d41d8cd98f00b204e9800998ecf8427e"})} {
		q := signQuery(t, "GET", "/apps/3/channels", params, url.QueryEscape)
		if _, err := VerifyAPIRequest(APIRequest{Method: "GET", Path: "/apps/3/channels", RawQuery: q}, docKey, docSecret, docTime, 0); err != nil {
			t.Errorf("empty body, %s: %v", q, err)
		}
	}
}

// Requests signed by pusher-http-go v5.1.1 itself, sent over real HTTP to
// a handler that verifies them.
func TestVerifyAPIRequestPusherHTTPGo(t *testing.T) {
	const appID, key, secret = "3", "app-key", "app-secret"
	var verdicts []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		req := APIRequest{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Body: body}
		params, err := VerifyAPIRequest(req, key, secret, time.Now(), 0)
		verdicts = append(verdicts, err)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/channels"):
			if params.Get("filter_by_prefix") != "presence-" || params.Get("info") != "user_count" {
				t.Errorf("channels params = %v", params)
			}
			fmt.Fprint(w, `{"channels":{}}`)
		case strings.Contains(r.URL.Path, "/channels/"):
			fmt.Fprint(w, `{"occupied":false}`)
		default:
			fmt.Fprint(w, `{}`)
		}
	}))
	defer srv.Close()

	client := pusher.Client{AppID: appID, Key: key, Secret: secret, Host: strings.TrimPrefix(srv.URL, "http://"), HTTPClient: srv.Client()}
	if err := client.Trigger("my-channel", "my-event", map[string]string{"message": "hello world"}); err != nil {
		t.Errorf("Trigger: %v", err)
	}
	socket := "1.2"
	if _, err := client.TriggerWithParams("private-a;b", "ev", "text", pusher.TriggerParams{SocketID: &socket}); err != nil {
		t.Errorf("TriggerWithParams: %v", err)
	}
	if _, err := client.TriggerBatch([]pusher.Event{{Channel: "a", Name: "e", Data: "1"}, {Channel: "b", Name: "e", Data: "2"}}); err != nil {
		t.Errorf("TriggerBatch: %v", err)
	}
	if _, err := client.Channels(pusher.ChannelsParams{FilterByPrefix: ptr("presence-"), Info: ptr("user_count")}); err != nil {
		t.Errorf("Channels: %v", err)
	}
	if _, err := client.Channel("presence-a@b,c", pusher.ChannelParams{Info: ptr("user_count,subscription_count")}); err != nil {
		t.Errorf("Channel: %v", err)
	}
	if err := client.SendToUser("u1", "ev", "hi"); err != nil {
		t.Errorf("SendToUser: %v", err)
	}
	for i, err := range verdicts {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if len(verdicts) != 6 {
		t.Errorf("%d requests verified, want 6", len(verdicts))
	}

	// Signed with another secret: refused, and the SDK sees the 401.
	verdicts = nil
	bad := client
	bad.Secret = "other"
	if err := bad.Trigger("my-channel", "my-event", "x"); err == nil {
		t.Error("Trigger signed with another secret succeeded")
	}
	if len(verdicts) != 1 || !errors.Is(verdicts[0], ErrSignature) {
		t.Errorf("verdicts = %v, want one ErrSignature", verdicts)
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzVerifyAPIRequest: any query and body get a verdict, never a panic;
// every refusal is an *Error; the docs' request is accepted only as signed.
func FuzzVerifyAPIRequest(f *testing.F) {
	f.Add("POST", "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f&auth_signature="+docSignature, docBody)
	f.Add("GET", "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&auth_signature=x&info=a%2", []byte{})
	f.Add("GET", "a=1&&=&a&%41=b;c+d", []byte("x"))
	f.Fuzz(func(t *testing.T, method, query string, body []byte) {
		params, err := VerifyAPIRequest(APIRequest{Method: method, Path: "/apps/3/events", RawQuery: query, Body: body}, docKey, docSecret, docTime, 0)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Msg == "" || strings.Contains(e.Msg, docSecret) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if params.Get("auth_signature") != Sign(docSecret, APIStringToSign(method, "/apps/3/events", params)) {
			t.Fatalf("accepted %q with a signature that does not match", query)
		}
	})
}
