package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

// logBuffer collects the server's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// operator is an HTTP client of the console that behaves as its page does
// (same-origin headers, the cookie jar, the CSRF token).
type operator struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func newOperator(t *testing.T, base string) *operator {
	jar, _ := cookiejar.New(nil)
	return &operator{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (o *operator) do(method, path, body string, hdr map[string]string) (int, string) {
	o.t.Helper()
	r, err := http.NewRequest(method, o.base+path, strings.NewReader(body))
	if err != nil {
		o.t.Fatal(err)
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	res, err := o.hc.Do(r)
	if err != nil {
		o.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (o *operator) signIn(key string) {
	o.t.Helper()
	code, body := o.do(http.MethodPost, "api/session", fmt.Sprintf(`{"key":%q}`, key), nil)
	if code != http.StatusOK {
		o.t.Fatalf("sign-in: %d %s", code, body)
	}
	var s struct{ CSRF string }
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		o.t.Fatal(err)
	}
	o.csrf = s.CSRF
}

// TestManagePassThrough: the console's actions are the management API's,
// served in-process for the session's principal: a send without the CSRF
// token does nothing, one with it reaches the client, and the management
// API's log names the console session.
func TestManagePassThrough(t *testing.T) {
	be := newBackend(t)
	logs := &logBuffer{}
	srv := servertest.Start(t, consoleConfig(be.URL), server.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	ws := dial(t, srv.Addr)
	ws.await(t, `"subscribed"`)
	id := be.lastConnected()
	op := newOperator(t, "http://"+srv.Addr+"/admin/")
	op.signIn(consoleKey)

	path := "api/manage/prod/@connections/" + id
	if code, body := op.do(http.MethodPost, path, "no token", nil); code != http.StatusForbidden {
		t.Fatalf("send without the CSRF token: %d %s", code, body)
	}
	if code, body := op.do(http.MethodPost, path, "with token", map[string]string{"X-CSRF-Token": op.csrf}); code != http.StatusOK {
		t.Fatalf("send: %d %s", code, body)
	}
	if f := ws.await(t, `"type":"message"`); !strings.Contains(f, "with token") {
		t.Fatalf("the client's first message is %s, want the one sent with the token", f)
	}
	// The management API's own answers come through: 410 for a gone id.
	if code, body := op.do(http.MethodGet, "api/manage/prod/@connections/AAAAAAAAAAAAAAA%3D", "", nil); code != http.StatusGone && code != http.StatusBadRequest {
		t.Fatalf("unknown connection: %d %s", code, body)
	}
	// The read API finds the client by channel and by source IP.
	for _, q := range []string{"field=channel&q=room:lob", "field=ip&q=127.", "field=user&q=ali", "field=id&q=" + id[:6]} {
		code, body := op.do(http.MethodGet, "api/connections?stage=prod&"+q, "", nil)
		if code != http.StatusOK || !strings.Contains(body, id) {
			t.Fatalf("search %s: %d %s", q, code, body)
		}
	}
	if code, body := op.do(http.MethodGet, "api/connections?stage=prod&field=user&q=bob", "", nil); code != http.StatusOK || strings.Contains(body, id) {
		t.Fatalf("search for another user: %d %s", code, body)
	}
	if code, body := op.do(http.MethodGet, "api/connections?stage=prod&field=colour&q=x", "", nil); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), `"principal":"console:`) {
		t.Fatalf("the management call is not logged with the console's principal:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), consoleKey) {
		t.Fatal("the log shows the key")
	}
}

// get answers a plain GET's status.
func get(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestAdminListener: with admin.listen, the console, /metrics and pprof are
// on the admin listener, and neither the console nor pprof is on the main
// one.
func TestAdminListener(t *testing.T) {
	be := newBackend(t)
	cfg := strings.Replace(consoleConfig(be.URL), "  enabled: true\n", "  enabled: true\n  listen: 127.0.0.1:0\n  metrics: true\n  pprof: true\n", 1)
	srv := servertest.Start(t, cfg, server.Options{})
	admin := srv.AdminAddr()
	if admin == nil {
		t.Fatal("no admin listener")
	}
	for url, want := range map[string]int{
		"http://" + admin.String() + "/admin/":       http.StatusOK,
		"http://" + admin.String() + "/metrics":      http.StatusOK,
		"http://" + admin.String() + "/debug/pprof/": http.StatusOK,
		"http://" + admin.String() + "/prod":         http.StatusNotFound,
		"http://" + srv.Addr + "/admin/":             http.StatusNotFound,
		"http://" + srv.Addr + "/debug/pprof/":       http.StatusNotFound,
	} {
		if got := get(t, url); got != want {
			t.Errorf("GET %s: %d, want %d", url, got, want)
		}
	}
}

// TestConsoleOffByDefault: without admin.enabled nothing is served at
// /admin, and no pprof anywhere.
func TestConsoleOffByDefault(t *testing.T) {
	be := newBackend(t)
	cfg := strings.Replace(consoleConfig(be.URL), "admin:\n  enabled: true\n", "", 1)
	srv := servertest.Start(t, cfg, server.Options{})
	for _, p := range []string{"/admin/", "/admin/api/session", "/debug/pprof/"} {
		if got := get(t, "http://"+srv.Addr+p); got != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, got)
		}
	}
	if srv.AdminAddr() != nil {
		t.Error("an admin listener without admin.enabled")
	}
}

// TestDevelopmentMode: admin.development opens the console without
// credentials on loopback, and the server says so loudly.
func TestDevelopmentMode(t *testing.T) {
	be := newBackend(t)
	logs := &logBuffer{}
	cfg := "listen: 127.0.0.1:0\n" + strings.Replace(consoleConfig(be.URL), "  enabled: true\n", "  enabled: true\n  development: true\n", 1)
	srv := servertest.Start(t, cfg, server.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	op := newOperator(t, "http://"+srv.Addr+"/admin/")
	code, body := op.do(http.MethodGet, "api/session", "", nil)
	if code != http.StatusOK || !strings.Contains(body, `"development":true`) {
		t.Fatalf("development session: %d %s", code, body)
	}
	if code, _ := op.do(http.MethodGet, "api/overview", "", nil); code != http.StatusOK {
		t.Fatalf("overview: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "ADMIN CONSOLE IS OPEN WITHOUT CREDENTIALS") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning in the log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
