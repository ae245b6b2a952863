package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

// TestConnectionQueues: the console's connection view reports a
// connection's two queues from the live connection: messages held while
// their route's backend has not answered (the inbox, the one in flight
// not counted), and bytes accepted for a client that does not read and
// not yet written to its socket (the send queue).
func TestConnectionQueues(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	started := make(chan struct{}, 16)
	var mu sync.Mutex
	var id string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RequestContext struct {
				RouteKey     string `json:"routeKey"`
				ConnectionID string `json:"connectionId"`
			} `json:"requestContext"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &ev)
		switch ev.RequestContext.RouteKey {
		case "$connect":
			mu.Lock()
			id = ev.RequestContext.ConnectionID
			mu.Unlock()
		case "$default":
			started <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(be.Close)
	srv := servertest.Start(t, consoleConfig(be.URL), server.Options{})

	// A raw client that sends but never reads.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+srv.Addr+"/prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	mu.Lock()
	cid := id
	mu.Unlock()
	op := newOperator(t, "http://"+srv.Addr+"/admin/")
	op.signIn(consoleKey)
	queues := func() (sendQ, inbox int) {
		t.Helper()
		code, body := op.do(http.MethodGet, "api/connections?stage=prod&field=id&q="+cid, "", nil)
		var res struct {
			Connections []struct {
				ID             string `json:"connectionId"`
				SendQueueBytes *int   `json:"sendQueueBytes"`
				Inbox          *int   `json:"inbox"`
			}
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || len(res.Connections) != 1 ||
			res.Connections[0].SendQueueBytes == nil || res.Connections[0].Inbox == nil {
			t.Fatalf("the connection's entry: %d %s", code, body)
		}
		return *res.Connections[0].SendQueueBytes, *res.Connections[0].Inbox
	}
	if s, i := queues(); s != 0 || i != 0 {
		t.Fatalf("an idle connection reports send queue %d, inbox %d", s, i)
	}

	// Three messages: the backend holds the first, two wait.
	for range 3 {
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"action":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, i := queues(); i == 2 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the inbox is %d, want 2 (three messages, one at the backend)", i)
		}
		time.Sleep(20 * time.Millisecond)
	}
	unblock()

	// Posts to the client that does not read: once the kernel's buffers
	// are full, what follows waits in the send queue, which the view shows
	// (well before the 1 MiB limit closes the connection).
	payload := strings.Repeat("q", 16<<10)
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("1000 posts of 16 KiB to a client that does not read and the send queue is still empty")
		}
		code, body := op.do(http.MethodPost, "api/manage/prod/@connections/"+cid, payload, map[string]string{"X-CSRF-Token": op.csrf})
		if code != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, code, body)
		}
		if s, _ := queues(); s > 0 {
			if s > 1<<20 {
				t.Fatalf("send queue %d bytes, past its 1 MiB limit", s)
			}
			t.Logf("send queue %d bytes after %d posts", s, i+1)
			break
		}
	}
}
