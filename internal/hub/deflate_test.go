package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboardhq/switchboard/internal/ws"
)

// messageRecorder keeps the ws.Message values it was sent.
type messageRecorder struct {
	mu   sync.Mutex
	msgs []*ws.Message
}

func (r *messageRecorder) Send(ws.Frame) error { return nil }

func (r *messageRecorder) SendMessage(m *ws.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

// TestPublishSharesOneMessage: a publication hands every member of a
// protocol the same ws.Message, so the compressed frame that connections
// with permessage-deflate get is made once per publication (ws tests
// TestMessageCompressedOnce), not once per member. A direct send is a
// Message too.
func TestPublishSharesOneMessage(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	recs := map[bool][]*messageRecorder{}
	for i := range 6 {
		v1 := i%2 == 0
		r := &messageRecorder{}
		recs[v1] = append(recs[v1], r)
		if _, err := h.Subscribe(ctx, NewMember(fmt.Sprint(i), "", nil, codecOf(v1), r), "room", SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Publish(ctx, "room", []byte(`{"text":"hello"}`), ""); err != nil {
		t.Fatal(err)
	}
	for v1, rs := range recs {
		var first *ws.Message
		for _, r := range rs {
			if len(r.msgs) != 1 {
				t.Fatalf("v1=%v: member got %d messages, want 1", v1, len(r.msgs))
			}
			if first == nil {
				first = r.msgs[0]
			} else if r.msgs[0] != first {
				t.Fatalf("v1=%v: members got different Messages for one publication", v1)
			}
		}
	}
	if recs[true][0].msgs[0] == recs[false][0].msgs[0] {
		t.Fatal("raw and switchboard.v1 members share one Message")
	}
	r := &messageRecorder{}
	if err := h.Send(NewMember("direct", "", nil, Raw, r), []byte("hi")); err != nil || len(r.msgs) != 1 {
		t.Fatalf("direct send: %v, %d messages", err, len(r.msgs))
	}
}
