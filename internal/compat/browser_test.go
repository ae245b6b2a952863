package compat

// pusher-js's web build (dist/web/pusher.min.js, as a page loads it from a
// CDN) in headless Chromium, driven with chromedp as
// internal/server/browser_test.go drives the demo page: chromedp is
// already a test dependency, so the browser needs no npm package
// (playwright-core would download its own browser build or need pointing
// at Debian's).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	pushersdk "github.com/pusher/pusher-http-go/v5"

	"github.com/switchboardhq/switchboard/internal/browsertest"
	"github.com/switchboardhq/switchboard/internal/testproc"
)

// page connects two pusher-js clients (A and B), subscribes A to a public
// channel and both to a private one (authorized by /pusher/auth, the
// default endpoint shape), and records what they receive in window.got.
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>pusher-js on Switchboard</title>
<script src="/pusher.min.js"></script></head>
<body><script>
const cfg = %s;
window.got = { ready: 0, message: null, client: null, self: null, errors: [] };
const opts = {
  cluster: 'mt1', wsHost: cfg.host, wsPort: cfg.port, forceTLS: false, enabledTransports: ['ws'],
  channelAuthorization: { endpoint: '/pusher/auth' },
};
window.a = new Pusher(cfg.key, opts);
window.b = new Pusher(cfg.key, opts);
for (const p of [a, b]) p.connection.bind('error', (e) => got.errors.push(JSON.stringify(e)));
const ready = () => got.ready++;
const pub = a.subscribe(cfg.public);
pub.bind('pusher:subscription_succeeded', ready);
pub.bind('message', (d) => { got.message = d; });
window.privA = a.subscribe(cfg.private);
privA.bind('pusher:subscription_succeeded', ready);
privA.bind('client-hello', (d) => { got.self = d; });
const privB = b.subscribe(cfg.private);
privB.bind('pusher:subscription_succeeded', ready);
privB.bind('client-hello', (d, meta) => { got.client = d; });
for (const ch of [pub, privA, privB]) ch.bind('pusher:subscription_error', (e) => got.errors.push(JSON.stringify(e)));
</script></body></html>`

// TestPusherJSWeb: the web build connects from a page, subscribes to a
// public channel and (through an auth endpoint signed by pusher-http-go)
// a private one, receives a publication, and a client event of one
// client reaches the other.
func TestPusherJSWeb(t *testing.T) {
	browsertest.Path(t)
	_, npm := testproc.Node(t, "the Pusher compatibility tests") // for the web build in node_modules
	dir := compatDir(t)
	testproc.NpmCI(t, npm, dir)
	script, err := os.ReadFile(filepath.Join(dir, "node_modules/pusher-js/dist/web/pusher.min.js"))
	if err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, "http://"+freeAddr(t)+"/unused") // nobody listens: webhooks are the Node tests' part
	host, port, _ := net.SplitHostPort(srv.addr)
	public, private := "web-public", "private-web"
	cfg, _ := json.Marshal(map[string]any{"host": host, "port": port, "key": appKey, "public": public, "private": private})

	sdk := &pushersdk.Client{AppID: appID, Key: appKey, Secret: appSecret}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, page, cfg)
	})
	mux.HandleFunc("GET /pusher.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(script)
	})
	mux.HandleFunc("POST /pusher/auth", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := sdk.AuthorizePrivateChannel(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(res)
	})
	web := httptest.NewServer(mux)
	defer web.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx)
	allocCtx := br.Ctx
	defer br.Stop() // waits for the browser process
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()

	poll := []chromedp.PollOption{chromedp.WithPollingInterval(20 * time.Millisecond), chromedp.WithPollingTimeout(10 * time.Second)}
	wait := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](cond, poll...)); err != nil {
			got, _ := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify(window.got)`))
			t.Fatalf("waiting for %s: %v; the page got %s", what, err, got)
		}
	}
	if err := chromedp.Do(tab, chromedp.Navigate(web.URL+"/")); err != nil {
		t.Fatalf("navigate to %s: %v", web.URL, err)
	}
	wait("both clients connected and three subscriptions", `window.got && got.ready === 3 && a.connection.state === "connected" && b.connection.state === "connected"`)
	if socketID, err := chromedp.Run(tab, chromedp.Evaluate[string](`a.connection.socket_id`)); err != nil || strings.Count(socketID, ".") != 1 {
		t.Fatalf("socket id %q (%v)", socketID, err)
	}

	// A publication through the management API reaches the page.
	publish(t, srv.addr, public, `{"text":"hello, browser"}`)
	wait("the publication", `got.message !== null`)
	if text, err := chromedp.Run(tab, chromedp.Evaluate[string](`got.message.text`)); err != nil || text != "hello, browser" {
		t.Fatalf("got.message.text = %q (%v), want \"hello, browser\"", text, err)
	}

	// A's client event reaches B.
	if sent, err := chromedp.Run(tab, chromedp.Evaluate[bool](`privA.trigger("client-hello", {from: "a"})`)); err != nil || !sent {
		t.Fatalf("trigger: %v (sent %v)", err, sent)
	}
	wait("B to get A's client event", `got.client !== null && got.client.from === "a"`)
	// A frame of A's own event would have been queued on A before B got
	// it, so before this publication.
	publish(t, srv.addr, public, `{"text":"after"}`)
	wait("the second publication", `got.message.text === "after"`)

	if got, err := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify({self: got.self, errors: got.errors})`)); err != nil || got != `{"self":null,"errors":[]}` {
		t.Errorf("the page also got %s; want no event of its own and no error", got)
	}
}

// publish posts body to channel through the management API (loopback is
// admitted by the test's configuration).
func publish(t *testing.T, addr, channel, body string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/"+appStage+"/@channels/"+channel, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("publish to %s: %s %s", channel, resp.Status, b)
	}
}
