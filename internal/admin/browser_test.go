package admin_test

// The admin console in a real headless Chromium (Debian's chromium,
// driven with chromedp) against an in-process server: sign-in, a real
// WebSocket client seen in the connections view, publish and send from
// the console, disconnect with the $disconnect backend called, a wrong
// key refused, and axe-core on every view.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/browsertest"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
	"github.com/switchboardhq/switchboard/internal/testproc"
)

const (
	consoleKey = "console-browser-key-0123456789abcdef"
	otherKey   = "console-other-key-0123456789abcdef"
)

// backend is the API's HTTP integration: it grants every connection the
// user alice and the channel room:lobby, and reports each $disconnect.
type backend struct {
	*httptest.Server
	mu          sync.Mutex
	connected   []string
	disconnects chan string
}

func newBackend(t *testing.T) *backend {
	b := &backend{disconnects: make(chan string, 16)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Query          map[string]string `json:"queryStringParameters"`
			RequestContext struct {
				RouteKey     string `json:"routeKey"`
				ConnectionID string `json:"connectionId"`
			} `json:"requestContext"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch ev.RequestContext.RouteKey {
		case "$connect":
			if ev.Query["reject"] != "" {
				http.Error(w, "rejected by the test", http.StatusForbidden)
				return
			}
			b.mu.Lock()
			b.connected = append(b.connected, ev.RequestContext.ConnectionID)
			b.mu.Unlock()
			w.Header().Set("X-Switchboard-User", "alice")
			w.Header().Set("X-Switchboard-Channels", "room:lobby")
		case "$disconnect":
			b.disconnects <- ev.RequestContext.ConnectionID
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) lastConnected() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected[len(b.connected)-1]
}

func consoleConfig(backendURL string) string {
	return fmt.Sprintf(`
management:
  apiKeys:
    - {name: operator, key: %s}
    - {name: other, key: %s}
shutdown: {readinessDelay: 0s, drainWindow: 100ms, timeout: 2s}
admin:
  enabled: true
apis:
  - id: chat
    stage: prod
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      $default: {integration: backend}
      $disconnect: {integration: backend}
    integrations:
      backend: {type: http, url: %s, timeout: 5s}
    channels:
      namespaces:
        - pattern: "room:*"
          subscribe: allow
          publish: allow
          presence: true
          history: {size: 100, ttl: 10m}
`, consoleKey, otherKey, backendURL)
}

// client is a switchboard.v1 WebSocket client reading frames in the
// background.
type client struct {
	conn   *websocket.Conn
	frames chan []byte
	closed chan error
}

func dial(t *testing.T, addr string) *client {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/prod", &websocket.DialOptions{Subprotocols: []string{"switchboard.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{conn: conn, frames: make(chan []byte, 64), closed: make(chan error, 1)}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.closed <- err
				return
			}
			c.frames <- data
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

// await returns the first frame that contains every one of want.
func (c *client) await(t *testing.T, want ...string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f := <-c.frames:
			ok := true
			for _, w := range want {
				ok = ok && bytes.Contains(f, []byte(w))
			}
			if ok {
				return string(f)
			}
		case err := <-c.closed:
			t.Fatalf("the client was closed (%v) before a frame with %q", err, want)
		case <-timeout:
			t.Fatalf("no frame with %q within 10s", want)
		}
	}
}

// browser starts Chromium and returns a tab's context.
func browser(t *testing.T) context.Context {
	br := browsertest.Start(t, context.Background())
	tab, cancelTab := chromedp.NewContext(br.Ctx)
	t.Cleanup(cancelTab)
	return tab
}

// poll options: the console polls every 2 s, so 15 s covers several
// refreshes on a loaded machine.
var poll = []chromedp.PollOption{chromedp.WithPollingInterval(50 * time.Millisecond), chromedp.WithPollingTimeout(15 * time.Second)}

// waitJS polls a JavaScript expression until it is truthy.
func waitJS(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](expr, poll...)); err != nil {
		main, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, main)
	}
}

func do(t *testing.T, tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// axeSource is axe-core's browser build, from the console's locked npm
// packages.
func axeSource(t *testing.T) string {
	_, npm := testproc.Node(t, "the admin console's build and tests")
	testproc.NpmCI(t, npm, consoleDir)
	src, err := os.ReadFile(filepath.Join(consoleDir, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// checkAxe runs axe-core on the page and fails on serious or critical
// violations, listing them.
func checkAxe(t *testing.T, tab context.Context, axe, view string) {
	t.Helper()
	if out := runAxe(t, tab, axe, view); out != "[]" {
		t.Errorf("%s: axe-core found serious or critical violations: %s", view, out)
	}
}

// runAxe returns the serious and critical violations axe-core finds, as
// JSON.
func runAxe(t *testing.T, tab context.Context, axe, view string) string {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](axe+";true")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", view, err)
	}
	out, err := chromedp.Run(tab, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v =>
			({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", view, err)
	}
	return out
}

// TestConsoleInBrowser is the console as an operator uses it.
func TestConsoleInBrowser(t *testing.T) {
	tab := browser(t)
	axe := axeSource(t)
	be := newBackend(t)
	srv := servertest.Start(t, consoleConfig(be.URL), server.Options{})
	ws := dial(t, srv.Addr)
	ws.await(t, `"subscribed"`, `room:lobby`)
	id := be.lastConnected()
	base := "http://" + srv.Addr + "/admin/"

	do(t, tab, "open the console", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("key")))
	checkAxe(t, tab, axe, "sign-in")

	// A wrong key is refused, and no session is made.
	do(t, tab, "sign in with a wrong key", chromedp.SendKeys(chromedp.ID("key"), "wrong-key-0123456789abcdef"), chromedp.Click(chromedp.ID("signin")))
	waitJS(t, tab, "the refusal", `document.getElementById("signin-error").textContent.includes("Sign-in failed")`)
	if hidden, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("nav").hidden`)); !hidden {
		t.Fatal("the views are shown after a wrong key")
	}

	do(t, tab, "sign in", chromedp.Evaluate[chromedp.Void](`document.getElementById("key").value = ""`), chromedp.SendKeys(chromedp.ID("key"), consoleKey), chromedp.Click(chromedp.ID("signin")))
	waitJS(t, tab, "the overview", `!!document.getElementById("card-connections")`)
	waitJS(t, tab, "a connection in the overview", `document.querySelector("#card-connections .value").textContent === "1"`)
	// A handshake the backend refuses shows up among the errors by reason.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if c, _, err := websocket.Dial(ctx, "ws://"+srv.Addr+"/prod?reject=1", nil); err == nil {
		c.CloseNow()
		t.Fatal("the backend's refusal did not refuse the handshake")
	}
	cancel()
	waitJS(t, tab, "the refusal among the errors", `!!document.getElementById("errors-table") && document.getElementById("errors-table").textContent.includes("connect rejected")`)
	checkAxe(t, tab, axe, "overview")

	// The client appears in the connections view, found by user.
	do(t, tab, "open connections", chromedp.Navigate(base+"#connections"))
	waitJS(t, tab, "the client in the list", fmt.Sprintf(`!!document.querySelector('[data-inspect=%q]')`, id))
	do(t, tab, "search by user", chromedp.SetValue(chromedp.ID("conn-field"), "user"), chromedp.SendKeys(chromedp.ID("conn-q"), "alice"), chromedp.Click(chromedp.ID("conn-search")))
	waitJS(t, tab, "the client found by user", fmt.Sprintf(`!!document.querySelector('[data-inspect=%q]') && document.getElementById("conn-table").textContent.includes("room:lobby")`, id))
	// The list refreshes itself; a keyboard user's focus stays on their row.
	do(t, tab, "focus a row", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.oldTable = document.getElementById("conn-table");
		document.querySelector('[data-inspect=%q]').focus()`, id)))
	waitJS(t, tab, "the list refreshed", `document.getElementById("conn-table") !== window.oldTable && !!document.getElementById("conn-table")`)
	waitJS(t, tab, "the focus kept", fmt.Sprintf(`document.activeElement.getAttribute("data-inspect") === %q`, id))
	do(t, tab, "inspect", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-inspect=%q]`, id))))
	waitJS(t, tab, "the connection's panel", `!!document.getElementById("conn-panel")`)
	waitJS(t, tab, "its queues", `document.getElementById("conn-sendq").textContent === "0 B" && document.getElementById("conn-inbox").textContent.startsWith("0 messages")`)
	checkAxe(t, tab, axe, "connections")

	// Send to the connection.
	do(t, tab, "send", chromedp.SendKeys(chromedp.ID("send-data"), "direct from console"), chromedp.Click(chromedp.ID("send")))
	ws.await(t, `"type":"message"`, `direct from console`)

	// Publish to its channel; the history shows it with its offset.
	do(t, tab, "open channels", chromedp.Navigate(base+"#channels"))
	waitJS(t, tab, "the channel in the list", `!!document.getElementById("chan-table") && document.getElementById("chan-table").textContent.includes("room:lobby")`)
	do(t, tab, "open the channel", chromedp.Click(chromedp.CSS(`button[aria-label="Open room:lobby"]`)))
	waitJS(t, tab, "the channel's panel", `!!document.getElementById("presence-table") && document.getElementById("presence-table").textContent.includes("alice")`)
	do(t, tab, "publish", chromedp.SendKeys(chromedp.ID("publish-data"), "published from console"), chromedp.Click(chromedp.ID("publish")))
	ws.await(t, `"type":"pub"`, `"channel":"room:lobby"`, `published from console`)
	waitJS(t, tab, "the publication in the history", `!!document.getElementById("history-table") && document.getElementById("history-table").textContent.includes("published from console")`)
	// The open channel's panel follows the channel: a publication by the
	// client appears without a click.
	if err := ws.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"publish","id":7,"channel":"room:lobby","text":"published by the client"}`)); err != nil {
		t.Fatal(err)
	}
	ws.await(t, `"type":"reply"`, `"id":7`)
	waitJS(t, tab, "the client's publication in the history", `document.getElementById("history-table").textContent.includes("published by the client")`)
	checkAxe(t, tab, axe, "channels")

	do(t, tab, "open users", chromedp.Navigate(base+"#users"))
	waitJS(t, tab, "alice listed", `!!document.getElementById("user-table") && document.getElementById("user-table").textContent.includes("alice")`)
	checkAxe(t, tab, axe, "users")

	do(t, tab, "open nodes", chromedp.Navigate(base+"#nodes"))
	waitJS(t, tab, "this node listed", `!!document.getElementById("nodes-table") && document.getElementById("nodes-table").textContent.includes("this node")`)
	checkAxe(t, tab, axe, "nodes")

	do(t, tab, "open configuration", chromedp.Navigate(base+"#config"))
	waitJS(t, tab, "the configuration", `!!document.getElementById("config-yaml") && document.getElementById("config-yaml").textContent.includes("[redacted]")`)
	page, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	for _, secret := range []string{consoleKey, otherKey} {
		if strings.Contains(page, secret) {
			t.Errorf("the configuration view shows a management API key")
		}
	}
	checkAxe(t, tab, axe, "configuration")
	// The check can fail: an unlabelled field is a critical violation.
	do(t, tab, "add an unlabelled field", chromedp.Evaluate[chromedp.Void](`document.getElementById("main").append(document.createElement("input"))`))
	if out := runAxe(t, tab, axe, "control"); !strings.Contains(out, `"id":"label"`) {
		t.Fatalf("axe-core did not report an unlabelled input: %s", out)
	}

	// Disconnect from the console: the client is closed with 1000 and the
	// backend gets its $disconnect.
	do(t, tab, "open connections", chromedp.Navigate(base+"#connections"))
	waitJS(t, tab, "the client in the list", fmt.Sprintf(`!!document.querySelector('[data-inspect=%q]')`, id))
	do(t, tab, "inspect", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-inspect=%q]`, id))), chromedp.Click(chromedp.ID("disconnect")))
	select {
	case got := <-be.disconnects:
		if got != id {
			t.Fatalf("$disconnect for %s, want %s", got, id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no $disconnect within 15s of the console's disconnect")
	}
	select {
	case err := <-ws.closed:
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Fatalf("the client was closed with %v, want 1000", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not closed")
	}
	waitJS(t, tab, "the client gone from the list", `!!document.getElementById("conn-none")`)

	// An open connection's panel says when the connection closes by itself.
	ws2 := dial(t, srv.Addr)
	ws2.await(t, `"subscribed"`)
	id2 := be.lastConnected()
	waitJS(t, tab, "the second client in the list", fmt.Sprintf(`!!document.querySelector('[data-inspect=%q]')`, id2))
	do(t, tab, "inspect the second client", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-inspect=%q]`, id2))))
	waitJS(t, tab, "its panel", `!!document.getElementById("conn-panel")`)
	if err := ws2.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "the panel saying it closed", `!!document.getElementById("conn-closed")`)

	// Sign out: the session is over.
	do(t, tab, "sign out", chromedp.Click(chromedp.ID("signout")))
	waitJS(t, tab, "the sign-in form", `!!document.getElementById("key")`)
	status, _ := chromedp.Run(tab, chromedp.Evaluate[float64](`fetch("api/overview").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != 401 {
		t.Fatalf("api/overview after sign-out: %v, want 401", status)
	}
}
