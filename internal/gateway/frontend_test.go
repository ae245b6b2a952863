package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/gateway"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// lineSession is a minimal protocol front-end for the seam's tests: a
// text message "sub <channel>" subscribes the connection to the channel;
// anything else is answered "<n>:<message>" (n counts from 1, so order
// shows). It records its end.
type lineSession struct {
	c      *gateway.Conn
	n      int
	closed chan [2]any // code, reason: written once
}

func (s *lineSession) Message(op ws.Opcode, payload []byte, at time.Time) {
	if ch, ok := strings.CutPrefix(string(payload), "sub "); ok {
		if _, err := s.c.Hub().Subscribe(context.Background(), s.c.Member(), ch, hub.SubscribeOptions{}); err != nil {
			_ = s.c.Send(ws.TextFrame([]byte("error " + err.Error())))
			return
		}
		_ = s.c.Send(ws.TextFrame([]byte("subscribed " + ch)))
		return
	}
	s.n++
	_ = s.c.Send(ws.TextFrame(fmt.Appendf(nil, "%d:%s", s.n, payload)))
}

func (s *lineSession) Closed(code ws.CloseCode, reason string) {
	s.closed <- [2]any{code, reason}
}

// serveLines serves the line front-end of g on an httptest server and
// returns its ws:// URL and the channel that receives each session.
func serveLines(t *testing.T, g *gateway.Gateway) (string, chan *lineSession) {
	t.Helper()
	sessions := make(chan *lineSession, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s *lineSession
		_, err := g.Accept(w, r, gateway.AcceptOptions{
			Stage:       "s",
			Protocol:    "lines",
			User:        r.URL.Query().Get("user"),
			DrainCode:   4200,
			DrainReason: "reconnect now",
			NewSession: func(c *gateway.Conn) (gateway.Session, error) {
				s = &lineSession{c: c, closed: make(chan [2]any, 1)}
				return s, nil
			},
			Greeting: ws.TextFrame([]byte("hello")),
		})
		if err == nil {
			sessions <- s
		} else if !errors.Is(err, gateway.ErrRefused) {
			t.Errorf("accept: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), sessions
}

// A front-end connection through the seam: its greeting goes out with the
// 101, its messages reach the session in order, it is a connection of the
// API for the management API (POST, GET, DELETE) and its channels get
// publications made on another node, and its end reaches the session
// once, after it left its channels.
func TestFrontendSession(t *testing.T) {
	nodes := startGateways(t, 2, clusterAPI)
	url, sessions := serveLines(t, nodes[0].g)
	c := dial(t, url+"?user=ada", false)
	if got := string(readMsg(t, c)); got != "hello" {
		t.Fatalf("first frame %q, want the greeting", got)
	}
	s := <-sessions
	id := s.c.ID()

	for i := range 50 {
		send(t, c, fmt.Sprint("m", i))
	}
	for i := range 50 {
		if got, want := string(readMsg(t, c)), fmt.Sprintf("%d:m%d", i+1, i); got != want {
			t.Fatalf("reply %d = %q, want %q", i, got, want)
		}
	}

	// The management API reaches it (forwarding between nodes is the
	// Forwarder's, tested on its own).
	status, body := manageCall(t, http.MethodPost, nodes[0].manageBase+"/s/@connections/"+id, "direct")
	if status != http.StatusOK {
		t.Fatalf("POST: %d %v", status, body)
	}
	if got := string(readMsg(t, c)); got != "direct" {
		t.Fatalf("got %q, want the posted data", got)
	}
	status, body = manageCall(t, http.MethodGet, nodes[0].manageBase+"/s/@connections/"+id, "")
	if status != http.StatusOK || body["connectedAt"] == nil {
		t.Fatalf("GET: %d %v", status, body)
	}

	// Its user is the one the front-end gave.
	status, body = manageCall(t, http.MethodGet, nodes[0].manageBase+"/s/@users/ada", "")
	if status != http.StatusOK || !strings.Contains(fmt.Sprint(body), id) {
		t.Fatalf("GET @users/ada: %d %v, want %s listed", status, body, id)
	}

	// A publication on another node reaches the channel it subscribed.
	send(t, c, "sub room:1")
	if got := string(readMsg(t, c)); got != "subscribed room:1" {
		t.Fatalf("got %q", got)
	}
	status, body = manageCall(t, http.MethodPost, nodes[1].manageBase+"/s/@channels/room:1", `{"n":1}`)
	if status != http.StatusOK {
		t.Fatalf("publish through node 1: %d %v", status, body)
	}
	if got := string(readMsg(t, c)); got != `{"n":1}` {
		t.Fatalf("got %q, want the publication", got)
	}

	// DELETE ends it: the session hears it once, after the channels.
	status, body = manageCall(t, http.MethodDelete, nodes[0].manageBase+"/s/@connections/"+id, "")
	if status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", status, body)
	}
	select {
	case end := <-s.closed:
		if end[0] != ws.CloseNormal {
			t.Fatalf("Closed(%v, %v), want 1000", end[0], end[1])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session was not told of the close")
	}
	if s.c.Member().In("room:1") {
		t.Fatal("still in room:1 when Closed ran")
	}
}

// On shutdown a front-end connection gets its own drain code (Pusher's
// 4200 "reconnect now"), not 1001.
func TestFrontendDrainCode(t *testing.T) {
	nodes := startGateways(t, 1, clusterAPI)
	url, sessions := serveLines(t, nodes[0].g)
	c := dial(t, url, false)
	readMsg(t, c)
	s := <-sessions
	done := make(chan error, 1)
	var once sync.Once
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- nodes[0].g.Shutdown(ctx)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	if code := websocket.CloseStatus(err); code != 4200 {
		t.Fatalf("read after shutdown: %v (close code %d), want 4200", err, code)
	}
	once.Do(func() {
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case end := <-s.closed:
		if end[0] != ws.CloseCode(4200) {
			t.Fatalf("Closed(%v, %v), want 4200", end[0], end[1])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session was not told of the close")
	}
}
