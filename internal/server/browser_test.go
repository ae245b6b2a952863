package server

// The demo chat page (demo/index.html) in a real headless Chromium, driven
// with chromedp: the page's own client code against the server, next to a
// plain Go WebSocket client.

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/switchboardhq/switchboard/internal/browsertest"
	"github.com/switchboardhq/switchboard/internal/event"
)

// TestDemoPage: two tabs of the demo page connect; a message typed in the
// first reaches both tabs' lists with its sender id, and a plain Go client
// receives it as {"message","sender","timestamp"}: the page and a raw
// WebSocket client speak the same protocol. Every goroutine and browser
// process is gone at the end.
func TestDemoPage(t *testing.T) {
	// Registered first, so it runs last: after the browser, the clients and
	// the server are gone.
	browsertest.Path(t)
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })

	e := startServer(t, "")
	raw := e.dial("production", nil)
	rawID := sdkConnID(t, raw) // before the tabs connect, so nobody else sees it

	start := time.Now()
	step := func(what string) { t.Logf("%6.3fs %s", time.Since(start).Seconds(), what) } // where the 30 s went
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx)
	defer step("browser gone")
	defer br.Stop()
	tab1, cancel1 := chromedp.NewContext(br.Ctx, br.Options()...)
	defer cancel1() // the browser's first tab: closes the browser
	page := e.base + "/"
	if err := chromedp.Do(tab1, chromedp.Navigate(page)); err != nil {
		t.Fatalf("tab 1: navigate to %s: %v", page, err)
	}
	step("browser started, tab 1 loaded")
	tab2, cancel2 := chromedp.NewContext(tab1)
	defer cancel2() // closes the second tab
	if err := chromedp.Do(tab2, chromedp.Navigate(page)); err != nil {
		t.Fatalf("tab 2: navigate to %s: %v", page, err)
	}
	poll := []chromedp.PollOption{chromedp.WithPollingInterval(20 * time.Millisecond), chromedp.WithPollingTimeout(10 * time.Second)}
	for i, tab := range []context.Context{tab1, tab2} {
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.getElementById("status").textContent === "connected"`, poll...)); err != nil {
			status, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("status")))
			t.Fatalf("tab %d: status text is %q, want \"connected\": %v", i+1, status, err)
		}
	}
	step("both tabs connected")

	msg := "hello from tab 1, " + event.NewID()
	if err := chromedp.Do(tab1, chromedp.SendKeys(chromedp.ID("text"), msg+"\n")); err != nil {
		t.Fatalf("tab 1: type the message: %v", err)
	}

	// The Go client gets the broadcast as the seed route's JSON.
	var got map[string]any
	for got["message"] != msg {
		got = readJSON(t, raw)
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"message", "sender", "timestamp"}) {
		t.Errorf("Go client got keys %v, want message, sender, timestamp: %v", keys, got)
	}
	sender, _ := got["sender"].(string)
	if !event.ValidID(sender) || sender == rawID {
		t.Fatalf("sender %q is not another connection's id (the Go client is %s)", got["sender"], rawID)
	}
	if ts, ok := got["timestamp"].(float64); !ok || time.Since(time.UnixMilli(int64(ts))).Abs() > 10*time.Second {
		t.Errorf("timestamp %v is not the epoch milliseconds of about now", got["timestamp"])
	}

	// Both tabs list it, under the same sender.
	for i, tab := range []context.Context{tab1, tab2} {
		meta, err := chromedp.Run(tab, chromedp.PollFunction[string](`(msg) => {
			for (const li of document.querySelectorAll("#messages li")) {
				if (li.children.length === 2 && li.children[1].textContent === msg) return li.children[0].textContent;
			}
			return false;
		}`, append(poll, chromedp.WithPollingArgs(msg))...))
		if err != nil {
			list, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("messages")))
			t.Fatalf("tab %d: message %q not listed (%v); the list holds %q", i+1, msg, err, list)
		}
		if id, _, _ := strings.Cut(meta, " · "); id != sender {
			t.Errorf("tab %d lists the message under %q, want sender %s", i+1, meta, sender)
		}
	}
	if v, err := chromedp.Run(tab1, chromedp.Value(chromedp.ID("text"))); err != nil || v != "" {
		t.Errorf("tab 1: input holds %q after sending (%v), want it cleared by the submit handler", v, err)
	}

	step("message listed in both tabs")
	// The sender is one of the browser's connections.
	resp, err := sdkHTTPClient(t).Get(e.base + "/production/@connections/" + url.PathEscape(sender))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var info struct {
		Identity struct {
			UserAgent string `json:"userAgent"`
		} `json:"identity"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &info) != nil || !strings.Contains(info.Identity.UserAgent, "Chrome") {
		t.Errorf("GetConnection %s: %d %q, want a Chrome user agent", sender, resp.StatusCode, body)
	}

	// Close the tab, then the browser gracefully; the deferred cancels
	// are then no-ops.
	if err := chromedp.Cancel(tab2); err != nil {
		t.Errorf("close tab 2: %v", err)
	}
	if err := chromedp.Cancel(tab1); err != nil {
		t.Errorf("close the browser: %v", err)
	}
	step("browser closed")
}

// TestDemoPageSurvivesRestart: the demo page runs on the TypeScript
// client's browser build, so when the server restarts (a drain: 1001) it
// shows the disconnect, connects again by itself to the new server on the
// same address, without a reload, and chats on: a message typed after the
// restart reaches a Go client of the new server and the page's own list.
func TestDemoPageSurvivesRestart(t *testing.T) {
	browsertest.Path(t)
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })

	e := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx)
	tab, cancelTab := chromedp.NewContext(br.Ctx, br.Options()...)
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatalf("navigate to %s/: %v", e.base, err)
	}
	poll := []chromedp.PollOption{chromedp.WithPollingInterval(20 * time.Millisecond), chromedp.WithPollingTimeout(20 * time.Second)}
	waitStatus := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](cond, poll...)); err != nil {
			status, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("status")))
			t.Fatalf("page status %q, waiting for %s: %v", status, what, err)
		}
	}
	const connected = `document.getElementById("status").textContent === "connected"`
	waitStatus("connected", connected)
	// A reload would lose these: a mark, and the close codes the page's
	// client reports (client is the page's own top-level const).
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.closeCodes = []; client.on("disconnected", (e) => window.closeCodes.push(e.code)); window.sameLoad = "yes"`)); err != nil {
		t.Fatal(err)
	}

	addr := strings.TrimPrefix(e.base, "http://")
	e.shutdown()
	// The drain's 1001 first; then, while nothing listens, failed
	// attempts (1006) with growing delays.
	waitStatus("the disconnect", `window.closeCodes.length > 0`)
	if first, err := chromedp.Run(tab, chromedp.Evaluate[int](`window.closeCodes[0]`)); err != nil || first != 1001 {
		t.Fatalf("the page's first close code is %d (%v), want 1001 (going away) from the drain", first, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	e2 := startServerOn(t, ln, "")
	raw := e2.dial("production", nil)
	waitStatus("connected again", connected)
	same, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.sameLoad`))
	if err != nil || same != "yes" {
		t.Fatalf("the page was reloaded (window.sameLoad = %q, %v)", same, err)
	}

	msg := "after the restart, " + event.NewID()
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("text"), msg+"\n")); err != nil {
		t.Fatalf("type the message: %v", err)
	}
	for got := readJSON(t, raw); got["message"] != msg; got = readJSON(t, raw) {
	}
	if _, err := chromedp.Run(tab, chromedp.PollFunction[bool](`(msg) => [...document.querySelectorAll("#messages li")].some((li) => li.children.length === 2 && li.children[1].textContent === msg)`,
		append(poll, chromedp.WithPollingArgs(msg))...)); err != nil {
		list, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("messages")))
		t.Fatalf("message %q not listed after the restart (%v); the list holds %q", msg, err, list)
	}
	if err := chromedp.Cancel(tab); err != nil {
		t.Errorf("close the browser: %v", err)
	}
}
