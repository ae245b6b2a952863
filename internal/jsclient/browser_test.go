package jsclient

// The browser build (dist/browser/switchboard.min.js) in headless Chromium,
// driven with chromedp as internal/compat drives pusher-js's web build.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard/internal/browsertest"
)

const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>switchboard client</title>
<script src="/switchboard.min.js"></script></head>
<body><script>
const cfg = %s;
window.got = { pubs: [], recov: [], closes: [] };
window.c = new Switchboard.Client(cfg.url, { minDelay: 50, maxDelay: 300 });
const sub = c.subscribe(cfg.channel);
sub.on("publication", (p) => got.pubs.push({ seq: p.data.seq, offset: p.offset }));
sub.on("subscribed", (e) => e.recovered !== undefined && got.recov.push(e));
c.on("disconnected", (i) => got.closes.push(i.code + " " + i.reason));
c.connect();
</script></body></html>`

// TestBrowser: in Chromium, the client survives a kill -9 of the server
// while a publisher publishes (every publication once, in order), and
// drops its socket when the browser goes offline, reconnecting and
// recovering when it is online again.
func TestBrowser(t *testing.T) {
	browsertest.Path(t)
	script := buildBundle(t)
	srv := startServer(t)
	const ch = "browser"
	cfg, _ := json.Marshal(map[string]string{"url": "ws://" + srv.addr + "/" + stage, "channel": ch})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, browserPage, cfg)
	})
	mux.HandleFunc("GET /switchboard.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(script)
	})
	web := httptest.NewServer(mux)
	defer web.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br := browsertest.Start(t, ctx)
	allocCtx := br.Ctx
	defer br.Stop()
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()

	poll := []chromedp.PollOption{chromedp.WithPollingInterval(20 * time.Millisecond), chromedp.WithPollingTimeout(20 * time.Second)}
	wait := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](cond, poll...)); err != nil {
			got, _ := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify({got: window.got, state: window.c && c.state})`))
			t.Fatalf("waiting for %s: %v; the page has %s", what, err, got)
		}
	}
	if err := chromedp.Do(tab, chromedp.Navigate(web.URL+"/")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	wait("the subscription", `window.c && c.getSubscription("browser").state === "subscribed"`)

	// kill -9 between two publications (test/recovery.test.mjs kills
	// while publishing; here a publication cut by the kill would be
	// ambiguous, and offsets must equal seqs).
	for seq := 1; seq <= 30; seq++ {
		publishRetry(t, srv.addr, ch, seq)
		if seq == 10 {
			if err := srv.kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	wait("30 publications", `got.pubs.length >= 30`)
	checkPage(t, tab, 30)

	// Offline: the socket is dropped and the client waits for online.
	if _, err := chromedp.Call(tab, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
	wait("the offline drop", `got.closes.includes("4000 offline") && c.state === "disconnected"`)
	publishRetry(t, srv.addr, ch, 31)
	if _, err := chromedp.Call(tab, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: false, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
	wait("the publication made while offline", `got.pubs.length >= 31`)
	checkPage(t, tab, 31)
}

// checkPage checks that the page got seqs and offsets 1..n once each, in
// order, and that every resubscription recovered.
func checkPage(t *testing.T, tab context.Context, n int) {
	t.Helper()
	raw, err := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify(got)`))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Pubs  []struct{ Seq, Offset int }
		Recov []struct {
			Recovered bool
			Reason    string
		}
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Pubs) != n {
		t.Fatalf("%d publications, want %d: %s", len(got.Pubs), n, raw)
	}
	for i, p := range got.Pubs {
		if p.Seq != i+1 || p.Offset != i+1 {
			t.Fatalf("publication %d is seq %d offset %d: %s", i+1, p.Seq, p.Offset, raw)
		}
	}
	if len(got.Recov) == 0 {
		t.Fatalf("no resubscription: %s", raw)
	}
	for _, r := range got.Recov {
		if !r.Recovered {
			t.Fatalf("a resubscription did not recover (%s): %s", r.Reason, raw)
		}
	}
}

// publishRetry publishes {"seq": seq} through the management API, retrying
// while the server is down (a refused connection was not published), each
// time on a new connection. Errors after the request was sent fail the
// test, so each seq is published once and offsets equal seqs.
func publishRetry(t *testing.T, addr, ch string, seq int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := noKeepAlive.Post("http://"+addr+"/"+stage+"/@channels/"+ch, "application/json", strings.NewReader(fmt.Sprintf(`{"seq":%d}`, seq)))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("publish %d: %s %s", seq, resp.Status, b)
			}
			return
		}
		if !strings.Contains(err.Error(), "connection refused") || time.Now().After(deadline) {
			t.Fatalf("publish %d: %v", seq, err)
		}
		time.Sleep(10 * time.Millisecond) // the server is restarting: poll for it
	}
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
