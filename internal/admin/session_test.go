package admin

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
)

const testKey = "console-test-key-0123456789"

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log destination safe for the console's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// newTestConsole is a console with one key and no data behind it: enough
// for sign-in, sessions and CSRF, which never reach the data.
func newTestConsole(t testing.TB, edit func(*config.Config)) (*Console, *clock, *syncBuffer) {
	t.Helper()
	cfg := &config.Config{Listen: "127.0.0.1:0"}
	cfg.Management.APIKeys = []config.APIKey{{Name: "ops", Key: testKey}, {Name: "limited", Key: testKey + "-limited", Stages: []string{"b"}}}
	cfg.APIs = []config.API{{ID: "a", Stage: "a"}, {ID: "b", Stage: "b"}}
	cfg.Admin = config.Admin{Enabled: true}
	if edit != nil {
		edit(cfg)
	}
	cfg.ApplyDefaults()
	clk := &clock{t: time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	c := New(Options{Config: func() *config.Config { return cfg }, Now: clk.now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return c, clk, logs
}

// signIn posts a key as the console's page would (same origin).
func signIn(c *Console, key string, mod func(*http.Request)) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]string{"key": key})
	r := httptest.NewRequest(http.MethodPost, "http://console.test/admin/api/session", bytes.NewReader(body))
	r.Header.Set("Origin", "http://console.test")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.RemoteAddr = "192.0.2.7:5555"
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

func sessionCookieOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, ck := range w.Result().Cookies() {
		if ck.Name == cookieName {
			return ck
		}
	}
	t.Fatalf("no %s cookie in %v", cookieName, w.Result().Header)
	return nil
}

// TestCookieFlags: the session cookie is HttpOnly, SameSite=Strict,
// scoped to the console's path, Secure over TLS (or behind a proxy that
// says https) and not over plain HTTP (where a browser would drop it).
func TestCookieFlags(t *testing.T) {
	c, _, _ := newTestConsole(t, nil)
	for _, tc := range []struct {
		name   string
		mod    func(*http.Request)
		secure bool
	}{
		{"plain", nil, false},
		{"tls", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"proxy https", func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := signIn(c, testKey, tc.mod)
			if w.Code != http.StatusOK {
				t.Fatalf("sign-in: %d %s", w.Code, w.Body)
			}
			ck := sessionCookieOf(t, w)
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/admin" || ck.Secure != tc.secure || ck.MaxAge != 8*3600 {
				t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin, Secure=%v, Max-Age 8h", ck, tc.secure)
			}
			if len(ck.Value) < 40 {
				t.Fatalf("session id %q is too short to be 256 random bits", ck.Value)
			}
			var s sessionJSON
			if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || s.CSRF == "" || s.Key != "ops" || !strings.HasPrefix(s.Principal, "console:") {
				t.Fatalf("session body %s (%v)", w.Body, err)
			}
			if strings.Contains(s.Principal, ck.Value) || s.CSRF == ck.Value {
				t.Fatal("the principal or the CSRF token reveals the session id")
			}
		})
	}
}

// request sends method path as a page of the console would, with the
// session cookie, then lets mod change it.
func request(c *Console, method, path string, ck *http.Cookie, mod func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://console.test"+path, strings.NewReader("hello"))
	r.Header.Set("Origin", "http://console.test")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.RemoteAddr = "192.0.2.7:5555"
	if ck != nil {
		r.AddCookie(ck)
	}
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

// TestCSRF: a mutating request needs the session's token and a
// same-origin proof; the checks come before anything is done (the test
// console has no management handler: reaching it would panic).
func TestCSRF(t *testing.T) {
	c, _, _ := newTestConsole(t, nil)
	w := signIn(c, testKey, nil)
	ck := sessionCookieOf(t, w)
	var s sessionJSON
	_ = json.Unmarshal(w.Body.Bytes(), &s)
	for _, tc := range []struct {
		name string
		mod  func(*http.Request)
	}{
		{"no token", nil},
		{"wrong token", func(r *http.Request) { r.Header.Set(csrfHeader, s.CSRF+"x") }},
		{"cross-site fetch", func(r *http.Request) {
			r.Header.Set(csrfHeader, s.CSRF)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}},
		{"same-site fetch", func(r *http.Request) {
			r.Header.Set(csrfHeader, s.CSRF)
			r.Header.Set("Sec-Fetch-Site", "same-site")
		}},
		{"foreign origin", func(r *http.Request) {
			r.Header.Set(csrfHeader, s.CSRF)
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "http://evil.test")
		}},
		{"null origin", func(r *http.Request) {
			r.Header.Set(csrfHeader, s.CSRF)
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "null")
		}},
		{"no origin proof", func(r *http.Request) {
			r.Header.Set(csrfHeader, s.CSRF)
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Del("Origin")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/admin/api/manage/a/@connections/abc", "/admin/api/session"} {
				method := http.MethodPost
				if strings.HasSuffix(path, "session") {
					method = http.MethodDelete
				}
				w := request(c, method, path, ck, tc.mod)
				if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "cross-site request refused") {
					t.Fatalf("%s %s: %d %s, want 403", method, path, w.Code, w.Body)
				}
			}
		})
	}
	// A cross-site sign-in (login CSRF) is refused too.
	if w := signIn(c, testKey, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }); w.Code != http.StatusForbidden {
		t.Fatalf("cross-site sign-in: %d", w.Code)
	}
	// With the token and the same origin, sign-out works and ends the session.
	ok := func(r *http.Request) { r.Header.Set(csrfHeader, s.CSRF) }
	if w := request(c, http.MethodDelete, "/admin/api/session", ck, ok); w.Code != http.StatusNoContent {
		t.Fatalf("sign-out: %d %s", w.Code, w.Body)
	}
	if w := request(c, http.MethodGet, "/admin/api/session", ck, nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("session after sign-out: %d", w.Code)
	}
}

// TestStageLimitedKey: a session of a key limited to stages reaches only
// those, in the console's API and in the management pass-through.
func TestStageLimitedKey(t *testing.T) {
	c, _, _ := newTestConsole(t, nil)
	w := signIn(c, testKey+"-limited", nil)
	ck := sessionCookieOf(t, w)
	var s sessionJSON
	_ = json.Unmarshal(w.Body.Bytes(), &s)
	if w := request(c, http.MethodGet, "/admin/api/stages", ck, nil); !strings.Contains(w.Body.String(), `"stages":["b"]`) {
		t.Fatalf("stages: %s", w.Body)
	}
	w = request(c, http.MethodPost, "/admin/api/manage/a/@connections/abc", ck, func(r *http.Request) { r.Header.Set(csrfHeader, s.CSRF) })
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `not allowed on stage \"a\"`) {
		t.Fatalf("manage on another stage: %d %s", w.Code, w.Body)
	}
	if w := request(c, http.MethodGet, "/admin/api/connections?stage=a", ck, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("connections of another stage: %d %s", w.Code, w.Body)
	}
}

// TestSignInFailures: a wrong key is refused and logged without the key;
// after maxFailures from one address it is limited (429, even with the
// right key) until the window ends; another address is not.
func TestSignInFailures(t *testing.T) {
	c, clk, logs := newTestConsole(t, nil)
	const wrong = "not-the-key-but-long-enough-0000"
	for i := range maxFailures {
		if w := signIn(c, wrong, nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := signIn(c, testKey, nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("after %d failures: %d (Retry-After %q)", maxFailures, w.Code, w.Header().Get("Retry-After"))
	}
	if w := signIn(c, testKey, func(r *http.Request) { r.RemoteAddr = "192.0.2.8:1" }); w.Code != http.StatusOK {
		t.Fatalf("another address: %d", w.Code)
	}
	clk.add(failureWindow)
	if w := signIn(c, testKey, nil); w.Code != http.StatusOK {
		t.Fatalf("after the window: %d %s", w.Code, w.Body)
	}
	out := logs.String()
	if strings.Contains(out, wrong) || strings.Contains(out, testKey) {
		t.Fatalf("the log shows a key:\n%s", out)
	}
	if !strings.Contains(out, "sign-in failed") || !strings.Contains(out, "192.0.2.7") {
		t.Fatalf("the failures are not logged with the address:\n%s", out)
	}
	for _, bad := range []string{"", "{", `{"key":1}`, strings.Repeat("x", maxSignInBytes+1)} {
		r := httptest.NewRequest(http.MethodPost, "http://console.test/admin/api/session", strings.NewReader(bad))
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("body %.20q: %d %s", bad, w.Code, w.Body)
		}
	}
}

// TestSessionExpiryAndBound: a session ends after sessionTimeout, and the
// store keeps at most maxSessions (the oldest goes).
func TestSessionExpiryAndBound(t *testing.T) {
	c, clk, _ := newTestConsole(t, func(cfg *config.Config) {
		cfg.Admin.MaxSessions = 3
		cfg.Admin.SessionTimeout = config.Duration(time.Hour)
	})
	var cookies []*http.Cookie
	for range 4 {
		cookies = append(cookies, sessionCookieOf(t, signIn(c, testKey, nil)))
		clk.add(time.Second)
	}
	if n := c.sessions.len(); n != 3 {
		t.Fatalf("%d sessions kept, want 3", n)
	}
	if w := request(c, http.MethodGet, "/admin/api/session", cookies[0], nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("oldest session: %d, want it signed out", w.Code)
	}
	if w := request(c, http.MethodGet, "/admin/api/session", cookies[3], nil); w.Code != http.StatusOK {
		t.Fatalf("newest session: %d", w.Code)
	}
	clk.add(time.Hour)
	if w := request(c, http.MethodGet, "/admin/api/session", cookies[3], nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("expired session: %d", w.Code)
	}
	if w := request(c, http.MethodGet, "/admin/api/overview", nil, nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("no session: %d", w.Code)
	}
}

// TestDevelopmentSession: in development mode GET api/session opens a
// session without credentials; mutations still need the CSRF token.
func TestDevelopmentSession(t *testing.T) {
	c, _, logs := newTestConsole(t, func(cfg *config.Config) { cfg.Admin.Development = true })
	w := request(c, http.MethodGet, "/admin/api/session", nil, nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"development":true`) {
		t.Fatalf("development session: %d %s", w.Code, w.Body)
	}
	ck := sessionCookieOf(t, w)
	if w := request(c, http.MethodPost, "/admin/api/manage/a/@connections/abc", ck, nil); w.Code != http.StatusForbidden {
		t.Fatalf("mutation without token: %d", w.Code)
	}
	if !strings.Contains(logs.String(), "without credentials") {
		t.Fatal("no warning logged")
	}
}

// TestAssets: the page and its two files are served with a CSP; nothing
// else is.
func TestAssets(t *testing.T) {
	c, _, _ := newTestConsole(t, nil)
	for path, want := range map[string]int{
		"/admin": http.StatusFound, "/admin/": http.StatusOK, "/admin/app.js": http.StatusOK,
		"/admin/app.css": http.StatusOK, "/admin/index.html": http.StatusOK,
		"/admin/ui/app.js": http.StatusNotFound, "/admin/../admin.go": http.StatusNotFound, "/admin/x": http.StatusNotFound,
	} {
		w := request(c, http.MethodGet, path, nil, nil)
		if w.Code != want {
			t.Errorf("GET %s: %d, want %d", path, w.Code, want)
		}
		if want == http.StatusOK && !strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: no CSP", path)
		}
	}
}

// TestKeyRemovedEndsSession: a session lasts only while the key it signed
// in with is configured (a reload that removes or rotates the key signs
// its sessions out).
func TestKeyRemovedEndsSession(t *testing.T) {
	var cfg *config.Config
	c, _, _ := newTestConsole(t, func(c *config.Config) { cfg = c })
	ck := sessionCookieOf(t, signIn(c, testKey, nil))
	if w := request(c, http.MethodGet, "/admin/api/stages", ck, nil); w.Code != http.StatusOK {
		t.Fatalf("stages: %d", w.Code)
	}
	cfg.Management.APIKeys = []config.APIKey{{Name: "ops", Key: testKey + "-rotated"}}
	if w := request(c, http.MethodGet, "/admin/api/stages", ck, nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("stages after the key was rotated: %d, want 401", w.Code)
	}
	if n := c.sessions.len(); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}
