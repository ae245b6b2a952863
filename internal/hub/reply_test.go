package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// SubscribeOptions.Reply is the first frame a member gets on the channel,
// even while publications go out concurrently: it is queued under the
// channel's lock with the member's addition (a Pusher subscription_succeeded
// must precede the channel's events). It fails when the reply is sent after
// Subscribe returns.
func TestSubscribeReplyFirst(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := h.Publish(ctx, "room", fmt.Appendf(nil, "pub %d", i), ""); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := range 200 {
		m, r := member(fmt.Sprint("m", i), "", false)
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{Reply: ws.TextFrame([]byte("subscribed"))}); err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		first := ""
		if len(r.frames) > 0 {
			first = string(r.frames[0])
		}
		r.mu.Unlock()
		if first != "subscribed" {
			t.Fatalf("member %d: first frame %q, want the reply", i, first)
		}
	}
	close(stop)
	wg.Wait()
}

// SubscribeOptions.As is the member's identity in that channel only: its
// presence lists it, and another channel keeps the connection's.
func TestSubscribeAs(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	m, _ := member("c1", "conn-user", false)
	as := &cluster.Member{User: "ada", Info: []byte(`{"name":"Ada"}`)}
	if _, err := h.Subscribe(ctx, m, "presence-a", SubscribeOptions{As: as}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(ctx, m, "other", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	for ch, want := range map[string]string{"presence-a": "ada", "other": "conn-user"} {
		page, err := h.Presence(ctx, ch, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.List) != 1 || page.List[0].User != want || page.List[0].ConnectionID != "c1" {
			t.Fatalf("%s presence %+v, want c1 as %s", ch, page.List, want)
		}
	}
	if _, err := h.Unsubscribe(m, "presence-a", false, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(ctx, m, "presence-a", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if page, _ := h.Presence(ctx, "presence-a", "", 10); page.List[0].User != "conn-user" {
		t.Fatalf("after leaving and joining without As: %+v, want the connection's user", page.List)
	}
}
