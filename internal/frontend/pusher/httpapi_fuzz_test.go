package pusher

import (
	"errors"
	"net/http"
	"testing"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
)

// The bodies of POST events and batch_events decode to checked events or
// to a 400/413 apiError, never a panic; what decodes is within the limits.
// Seeds: f.Add below and testdata/fuzz/FuzzDecodeEvents.
func FuzzDecodeEvents(f *testing.F) {
	for _, seed := range []string{
		`{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}`,
		`{"name":"e","channel":"presence-room","data":"d","socket_id":"123.456","info":"user_count,subscription_count"}`,
		`{"name":"e","channels":["a","private-encrypted-b"],"data":"d"}`,
		`{"name":"e","channel":"#server-to-user-u1","data":""}`,
		`{"batch":[{"name":"a","channel":"c","data":"1"},{"name":"b","channel":"d","data":"2","info":"subscription_count"}]}`,
		`{"batch":[{"name":"a","channels":["c"],"data":"1"}]}`,
		`{"batch":null}`,
		`{"name":"e","channel":"c","data":"d","socket_id":"99999999999.1"}`,
		`[]`, `null`, `{"data":1}`,
	} {
		f.Add([]byte(seed))
	}
	lim := eventLimits{eventBytes: 64, channelsPerEvent: 3, channelNameBytes: 20, batchEvents: 4}
	check := func(t *testing.T, ev apiEvent) {
		switch {
		case ev.name == "" || len(ev.name) > pusherproto.MaxEventNameLen:
			t.Fatalf("event name %q accepted", ev.name)
		case len(ev.data) > lim.eventBytes:
			t.Fatalf("data of %d bytes accepted", len(ev.data))
		case len(ev.channels) == 0 || len(ev.channels) > lim.channelsPerEvent:
			t.Fatalf("%d channels accepted", len(ev.channels))
		}
		for _, ch := range ev.channels {
			if _, err := pusherproto.ParseChannel(ch); err != nil || len(ch) > lim.channelNameBytes {
				t.Fatalf("channel %q accepted", ch)
			}
		}
	}
	isAPIError := func(t *testing.T, err error) {
		var ae *apiError
		if !errors.As(err, &ae) || (ae.status != http.StatusBadRequest && ae.status != http.StatusRequestEntityTooLarge) || ae.msg == "" {
			t.Fatalf("error %v is not a 400 or 413 apiError", err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if ev, err := decodeEvents(body, lim); err != nil {
			isAPIError(t, err)
		} else {
			check(t, ev)
		}
		batch, err := decodeBatch(body, lim)
		if err != nil {
			isAPIError(t, err)
			return
		}
		if len(batch) > lim.batchEvents {
			t.Fatalf("batch of %d accepted", len(batch))
		}
		for _, ev := range batch {
			check(t, ev)
			if len(ev.channels) != 1 {
				t.Fatalf("batch event with %d channels", len(ev.channels))
			}
		}
	})
}
