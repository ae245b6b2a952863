package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// dialStatus dials and returns the handshake's HTTP status (101 when it
// opened; the connection is then returned).
func dialStatus(t *testing.T, e *env, stage string) (int, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.wsURL(stage), nil)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode, nil
	}
	t.Cleanup(func() { c.CloseNow() })
	return http.StatusSwitchingProtocols, c
}

func TestConnectionLimits(t *testing.T) {
	e := startServer(t, `
apis:
  - id: lim
    stage: lim
    routeSelectionExpression: $request.body.action
    routes:
      $default: {action: {type: echo}}
    limits:
      maxConnectionsPerIP: 2
      messagesPerSecond: 5
      messageBurst: 5
  - id: rate
    stage: rate
    routeSelectionExpression: $request.body.action
    routes:
      $default: {action: {type: echo}}
    limits:
      connectionsPerSecond: 2
      connectionBurst: 2
`)
	// Two open connections per IP; the third is refused until one closes.
	_, a := dialStatus(t, e, "lim")
	_, b := dialStatus(t, e, "lim")
	if status, _ := dialStatus(t, e, "lim"); status != http.StatusTooManyRequests {
		t.Fatalf("third connection from one IP: %d, want 429", status)
	}
	a.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "a place freed by the close", func() bool {
		status, c := dialStatus(t, e, "lim")
		if c != nil {
			c.CloseNow()
		}
		return status == http.StatusSwitchingProtocols
	})

	// Five messages at once pass, the flood closes the connection with 1008.
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := b.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "m%d", i))
		cancel()
		if err != nil {
			break
		}
	}
	if code := closeStatus(t, b); code != websocket.StatusPolicyViolation {
		t.Fatalf("flooding connection closed with %d, want 1008", code)
	}

	// New connections per second.
	opened := 0
	for range 4 {
		if status, c := dialStatus(t, e, "rate"); status == http.StatusSwitchingProtocols {
			opened++
			c.CloseNow()
		} else if status != http.StatusTooManyRequests {
			t.Fatalf("status %d", status)
		}
	}
	if opened != 2 {
		t.Fatalf("%d of 4 quick connections opened, want the burst of 2", opened)
	}
	if len(e.logs.lines("handshake rejected")) == 0 {
		t.Fatal("rejections are not logged")
	}
}

// The per-user limit applies once $connect named the user; the refused
// connection still gets its $disconnect, since $connect accepted it.
func TestConnectionLimitPerUser(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(ev map[string]any) (int, string) {
		return 200, `{"statusCode":200,"headers":{"X-Switchboard-User":"alice"}}`
	})
	e := startServer(t, backendAPI(b.srv.URL, `    limits:
      maxConnectionsPerUser: 2
`))
	dialStatus(t, e, "test")
	dialStatus(t, e, "test")
	if status, _ := dialStatus(t, e, "test"); status != http.StatusTooManyRequests {
		t.Fatalf("third connection of alice: %d, want 429", status)
	}
	ev := b.waitEvents("$disconnect", 1)
	if ctxField(ev[0], "disconnectStatusCode") != "1008" {
		t.Fatalf("disconnect %v", ev[0]["requestContext"])
	}
}

// With an Origin allowlist, a browser handshake from another site is
// refused (cross-site WebSocket hijacking); clients without Origin pass.
func TestOriginAllowlist(t *testing.T) {
	e := startServer(t, `
apis:
  - id: o
    stage: o
    routeSelectionExpression: $request.body.action
    routes:
      $default: {action: {type: echo}}
    auth:
      origins: ["https://app.example.com", "https://*.example.org"]
`)
	for origin, want := range map[string]int{
		"":                            http.StatusSwitchingProtocols,
		"https://app.example.com":     http.StatusSwitchingProtocols,
		"https://a.b.example.org":     http.StatusSwitchingProtocols,
		"https://evil.example.net":    http.StatusForbidden,
		"http://app.example.com":      http.StatusForbidden,
		"https://app.example.com:444": http.StatusForbidden,
		"null":                        http.StatusForbidden,
	} {
		opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
		if origin != "" {
			opts.HTTPHeader.Set("Origin", origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, resp, err := websocket.Dial(ctx, e.wsURL("o"), opts)
		cancel()
		status := http.StatusSwitchingProtocols
		if err != nil {
			if resp == nil {
				t.Fatalf("%q: %v", origin, err)
			}
			status = resp.StatusCode
		} else {
			c.CloseNow()
		}
		if status != want {
			t.Errorf("Origin %q: %d, want %d", origin, status, want)
		}
	}
}

// A slow or oversized request head is cut off before it costs more
// (slowloris): http.readHeaderTimeout and http.maxHeaderBytes.
func TestHTTPHeadLimits(t *testing.T) {
	e := startServer(t, "http: {readHeaderTimeout: 300ms, maxHeaderBytes: 8KiB}\n")
	host := strings.TrimPrefix(e.base, "http://")

	// Slowloris: half a head, then silence; the server hangs up.
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "GET /production HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n", host)
	start := time.Now()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(nc); err != nil {
		t.Fatalf("the slow client was not disconnected: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("disconnected after %v, want about 300ms", d)
	}

	// A head past maxHeaderBytes: 431.
	req, _ := http.NewRequest("GET", e.base+"/production", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 9<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized head: %d, want 431", resp.StatusCode)
	}
}
