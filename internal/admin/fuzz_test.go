package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// fuzzData answers every listing with one connection in one channel.
type fuzzData struct{}

func (fuzzData) ListConnections(_ context.Context, _, cursor string, _ int) (gateway.ConnectionPage, error) {
	if cursor != "" {
		return gateway.ConnectionPage{}, gateway.ErrInvalidCursor
	}
	return gateway.ConnectionPage{Connections: []gateway.ConnectionInfo{{ID: "abc", User: "u", SourceIP: "127.0.0.1",
		ConnectedAt: time.Unix(0, 0), Channels: []string{"room"}}}}, nil
}

func (fuzzData) Channels(context.Context, string, string) ([]gateway.ChannelCount, error) {
	return []gateway.ChannelCount{{Channel: "room", Members: 1}}, nil
}

// fuzzManager answers every management request with 204.
type fuzzManager struct{}

func (fuzzManager) ServeAdmitted(w http.ResponseWriter, _ *http.Request, _, _ string) {
	w.WriteHeader(http.StatusNoContent)
}

// FuzzConsole sends any method, path, body and origin headers, signed in
// or not: the console answers every request (never panics), and only a
// signed-in, same-origin request with the CSRF token reaches the
// management API.
func FuzzConsole(f *testing.F) {
	for _, s := range [][5]string{
		{"GET", "/admin/", "", "", ""},
		{"POST", "/admin/api/session", `{"key":"` + testKey + `"}`, "same-origin", ""},
		{"POST", "/admin/api/session", `{"key":`, "", "http://console.test"},
		{"POST", "/admin/api/manage/a/@connections/abc", "hi", "same-origin", "csrf"},
		{"DELETE", "/admin/api/session", "", "cross-site", "csrf"},
		{"GET", "/admin/api/connections?stage=a&field=ip&q=127", "", "", ""},
		{"GET", "/admin/%2e%2e/api/config", "", "", ""},
		{"PUT", "/admin/api/users?stage=%ff", "", "same-origin", "csrf"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], true)
	}
	c, _, _ := newTestConsole(f, nil)
	c.o.Data, c.o.Manage = fuzzData{}, fuzzManager{}
	w := signIn(c, testKey, nil)
	var ck *http.Cookie
	for _, k := range w.Result().Cookies() {
		ck = k
	}
	csrf := c.sessionBody(c.sessions.get(c.o.Now(), ck.Value)).CSRF
	f.Fuzz(func(t *testing.T, method, path, body, site, token string, signedIn bool) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r, err := http.NewRequest(method, "http://console.test"+path, strings.NewReader(body))
		if err != nil || r.URL.Host != "console.test" {
			return // not a request a server could receive
		}
		r.Host = "console.test"
		r.RemoteAddr = "192.0.2.9:1"
		r.Header.Set("Sec-Fetch-Site", site)
		if token == "csrf" {
			token = csrf
		}
		r.Header.Set(csrfHeader, token)
		if signedIn {
			r.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, r)
		if rec.Code != http.StatusNoContent || method == http.MethodDelete && strings.HasSuffix(r.URL.EscapedPath(), "/api/session") {
			return // only fuzzManager answers 204, besides a sign-out
		}
		safe := method == http.MethodGet || method == http.MethodHead
		if !signedIn || !safe && (site != "same-origin" || token != csrf) {
			t.Fatalf("%s %s reached the management API (signed in %v, Sec-Fetch-Site %q, token right %v)", method, path, signedIn, site, token == csrf)
		}
	})
}
