package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func dropped(m *Metrics, reason string) int {
	return int(testutil.ToFloat64(m.Dropped.WithLabelValues(testApp, reason)))
}

func requests(m *Metrics, result string) int {
	return int(testutil.ToFloat64(m.Requests.WithLabelValues(testApp, result)))
}

func deliveredEvents(m *Metrics) int {
	return int(testutil.ToFloat64(m.Events.WithLabelValues(testApp)))
}

func queued(m *Metrics) int { return int(testutil.ToFloat64(m.Queued.WithLabelValues(testApp))) }

// Every event kind reaches a good endpoint, one per request, in order,
// signed so that pusher-http-go accepts it, with the fields of §10.
func TestDeliverEveryEventKind(t *testing.T) {
	ep := newEndpoint(t, nil)
	f := newSender(t, Options{Debounce: -1}, testAppCfg(Target{URL: ep.URL(), Headers: map[string]string{"X-Extra": "yes"}}))
	events := []Event{
		occupied("presence-room"),
		{Name: MemberAdded, Channel: "presence-room", UserID: "u1"},
		{Name: ClientEvent, Channel: "presence-room", Event: "client-typing", Data: json.RawMessage(`{"typing":true}`), SocketID: "123.456", UserID: "u1"},
		{Name: ClientEvent, Channel: "private-x", Event: "client-s", Data: json.RawMessage(`"plain"`), SocketID: "1.2"},
		{Name: CacheMiss, Channel: "cache-x"},
		{Name: SubscriptionCount, Channel: "private-x", Count: 3},
		{Name: MemberRemoved, Channel: "presence-room", UserID: "u1"},
		{Name: ChannelVacated, Channel: "presence-room"},
	}
	for _, e := range events {
		f.s.Emit(testApp, e)
	}
	waitFor(t, "8 events delivered", func() bool { return deliveredEvents(f.m) == len(events) })

	var got []pusherEvent
	for _, r := range ep.requests() {
		if r.header.Get("X-Pusher-Key") != testKey || r.header.Get("X-Extra") != "yes" {
			t.Fatalf("headers %v", r.header)
		}
		wh := parse(t, r, testKey, testSecret)
		if len(wh.Events) != 1 {
			t.Fatalf("%d events in one request without batching: %s", len(wh.Events), r.body)
		}
		if int64(wh.TimeMs) != f.clock.Now().UnixMilli() {
			t.Fatalf("time_ms %d, want %d", wh.TimeMs, f.clock.Now().UnixMilli())
		}
		e := wh.Events[0]
		got = append(got, pusherEvent{e.Name, e.Channel, e.Event, e.Data, e.SocketID, e.UserID})
	}
	want := []pusherEvent{
		{"channel_occupied", "presence-room", "", "", "", ""},
		{"member_added", "presence-room", "", "", "", "u1"},
		{"client_event", "presence-room", "client-typing", `{"typing":true}`, "123.456", "u1"},
		{"client_event", "private-x", "client-s", "plain", "1.2", ""},
		{"cache_miss", "cache-x", "", "", "", ""},
		{"subscription_count", "private-x", "", "", "", ""},
		{"member_removed", "presence-room", "", "", "", "u1"},
		{"channel_vacated", "presence-room", "", "", "", ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// The SDK has no subscription_count field: read it from the body.
	var raw struct {
		Events []struct {
			Count *int `json:"subscription_count"`
		}
	}
	if err := json.Unmarshal(ep.requests()[5].body, &raw); err != nil || raw.Events[0].Count == nil || *raw.Events[0].Count != 3 {
		t.Fatalf("subscription_count body %s", ep.requests()[5].body)
	}
	if deliveredEvents(f.m) != len(events) || requests(f.m, ResultOK) != len(events) || queued(f.m) != 0 {
		t.Fatalf("metrics: delivered %d, ok requests %d, queued %d", deliveredEvents(f.m), requests(f.m, ResultOK), queued(f.m))
	}
}

type pusherEvent struct{ name, channel, event, data, socket, user string }

// An endpoint failing N times gets the first event N+1 times, then the
// others once each, in order.
func TestRetryUntilAccepted(t *testing.T) {
	const fails = 3
	ep := newEndpoint(t, func(n int, _ *http.Request) int {
		if n < fails {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	var attempts []int
	var mu atomicSlice
	f := newSender(t, Options{Debounce: -1, Backoff: func(a int) time.Duration { mu.add(a); return 0 }},
		testAppCfg(Target{URL: ep.URL()}))
	for _, ch := range []string{"a", "b", "c"} {
		f.s.Emit(testApp, occupied(ch))
	}
	waitFor(t, "3 events delivered", func() bool { return deliveredEvents(f.m) == 3 })
	want := []string{"channel_occupied:a", "channel_occupied:a", "channel_occupied:a", "channel_occupied:a", "channel_occupied:b", "channel_occupied:c"}
	if got := ep.delivered(testKey, testSecret); !slices.Equal(got, want) {
		t.Fatalf("endpoint got %v, want %v", got, want)
	}
	attempts = mu.get()
	if !slices.Equal(attempts, []int{1, 2, 3}) {
		t.Fatalf("backoff asked for attempts %v, want [1 2 3]", attempts)
	}
	if requests(f.m, ResultRejected) != fails || requests(f.m, ResultOK) != 3 || int(testutil.ToFloat64(f.m.Retries.WithLabelValues(testApp))) != fails {
		t.Fatalf("metrics: rejected %d ok %d", requests(f.m, ResultRejected), requests(f.m, ResultOK))
	}
	// A retried request is the same body, byte for byte.
	r := ep.requests()
	if string(r[0].body) != string(r[3].body) {
		t.Fatalf("retry changed the body: %s vs %s", r[0].body, r[3].body)
	}
}

type atomicSlice struct {
	v atomic.Pointer[[]int]
}

func (a *atomicSlice) add(x int) {
	for {
		old := a.v.Load()
		var n []int
		if old != nil {
			n = append(n, *old...)
		}
		n = append(n, x)
		if a.v.CompareAndSwap(old, &n) {
			return
		}
	}
}

func (a *atomicSlice) get() []int {
	if p := a.v.Load(); p != nil {
		return *p
	}
	return nil
}

// A hanging endpoint is cut by the attempt timeout, and meanwhile the
// other target of the app gets every event.
func TestHangingTargetDoesNotBlockOthers(t *testing.T) {
	var accept atomic.Bool
	var cut atomic.Int32
	hang := newEndpoint(t, func(n int, r *http.Request) int {
		if accept.Load() {
			return http.StatusOK
		}
		<-r.Context().Done() // hangs until the sender gives up on the attempt
		cut.Add(1)
		return http.StatusOK
	})
	good := newEndpoint(t, nil)
	f := newSender(t, Options{Debounce: -1},
		testAppCfg(Target{URL: hang.URL(), AttemptTimeout: 100 * time.Millisecond}, Target{URL: good.URL()}))
	for _, ch := range []string{"a", "b", "c"} {
		f.s.Emit(testApp, occupied(ch))
	}
	waitFor(t, "the good target to get all three", func() bool { return deliveredEvents(f.m) == 3 })
	if got := good.delivered(testKey, testSecret); !slices.Equal(got, []string{"channel_occupied:a", "channel_occupied:b", "channel_occupied:c"}) {
		t.Fatalf("good target got %v", got)
	}
	waitFor(t, "an attempt cut by the timeout", func() bool { return cut.Load() >= 1 && requests(f.m, ResultTimeout) >= 1 })
	if deliveredEvents(f.m) != 3 {
		t.Fatalf("delivered %d, want the good target's 3 only", deliveredEvents(f.m))
	}
	accept.Store(true)
	waitFor(t, "the hanging target to catch up", func() bool { return deliveredEvents(f.m) == 6 })
	got := hang.delivered(testKey, testSecret)
	// Every attempt before accept carried "a"; then a, b, c in order.
	if n := len(got); n < 3 || !slices.Equal(got[n-3:], []string{"channel_occupied:a", "channel_occupied:b", "channel_occupied:c"}) {
		t.Fatalf("hanging target got %v", got)
	}
	for _, g := range got[:len(got)-3] {
		if g != "channel_occupied:a" {
			t.Fatalf("hanging target got %v: order broken", got)
		}
	}
}

// A dead endpoint is retried until the window ends; then the events are
// dropped, counted and logged once.
func TestDeadTargetExpires(t *testing.T) {
	f := newSender(t, Options{Debounce: -1, Backoff: func(int) time.Duration { return 10 * time.Second }},
		testAppCfg(Target{URL: deadURL(t), RetryWindow: time.Minute}))
	f.s.Emit(testApp, occupied("a"))
	f.s.Emit(testApp, occupied("b"))
	waitFor(t, "a failed attempt", func() bool { return requests(f.m, ResultError) >= 1 })
	waitFor(t, "both events expired", func() bool {
		f.clock.Advance(10 * time.Second)
		return dropped(f.m, ReasonExpired) == 2
	})
	if deliveredEvents(f.m) != 0 || queued(f.m) != 0 {
		t.Fatalf("delivered %d, queued %d", deliveredEvents(f.m), queued(f.m))
	}
	// Both attempts of "b" count as errors too; at most 7 attempts of "a"
	// fit in a minute of 10 s waits.
	if n := requests(f.m, ResultError); n < 2 || n > 8 {
		t.Fatalf("%d failed attempts", n)
	}
	if lines := f.logs.lines("dropped"); len(lines) != 1 || lines[0]["reason"] != ReasonExpired {
		t.Fatalf("drop log lines %v", lines)
	}
}

// A full queue drops at Emit, counted, with one log line for the flood.
func TestQueueFull(t *testing.T) {
	release := make(chan struct{})
	ep := newEndpoint(t, func(n int, r *http.Request) int {
		if n == 0 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return http.StatusOK
	})
	f := newSender(t, Options{Debounce: -1}, testAppCfg(Target{URL: ep.URL(), QueueSize: 2}))
	f.s.Emit(testApp, occupied("0"))
	waitFor(t, "the first request in flight", func() bool { return ep.count() == 1 })
	for i := 1; i <= 100; i++ {
		f.s.Emit(testApp, occupied(fmt.Sprint(i))) // never blocks: the endpoint is stuck
	}
	if d := dropped(f.m, ReasonQueueFull); d != 98 {
		t.Fatalf("dropped %d, want 98", d)
	}
	if q := queued(f.m); q != 3 {
		t.Fatalf("queued gauge %d, want 3 (1 in flight + 2)", q)
	}
	if lines := f.logs.lines("dropped"); len(lines) != 1 {
		t.Fatalf("%d drop log lines for one flood, want 1", len(lines))
	}
	close(release)
	waitFor(t, "the queued events", func() bool { return deliveredEvents(f.m) == 3 })
	if got := ep.delivered(testKey, testSecret); !slices.Equal(got, []string{"channel_occupied:0", "channel_occupied:1", "channel_occupied:2"}) {
		t.Fatalf("endpoint got %v", got)
	}
	// After the rate limit's interval the next drop is logged, with the
	// count of suppressed lines.
	f.clock.Advance(logEvery)
	ep.setAnswer(func(_ int, r *http.Request) int { <-r.Context().Done(); return http.StatusOK })
	for i := 0; i < 10; i++ {
		f.s.Emit(testApp, occupied("x"))
	}
	lines := f.logs.lines("dropped")
	if len(lines) != 2 || lines[1]["suppressed_lines"] != float64(97) {
		t.Fatalf("drop log lines %v", lines)
	}
}

// Batching: what is queued within the window goes in one request, bounded
// by count and bytes.
func TestBatching(t *testing.T) {
	ep := newEndpoint(t, nil)
	f := newSender(t, Options{Debounce: -1}, testAppCfg(Target{URL: ep.URL(), Batch: true, BatchWindow: time.Second, BatchMaxEvents: 3}))
	for _, ch := range []string{"a", "b", "c", "d", "e"} {
		f.s.Emit(testApp, occupied(ch))
	}
	// The first three fill a request at once; d and e wait for the window.
	waitFor(t, "the full batch", func() bool { return ep.count() == 1 })
	waitFor(t, "the window's batch", func() bool {
		f.clock.Advance(100 * time.Millisecond)
		return deliveredEvents(f.m) == 5
	})
	r := ep.requests()
	var sizes []int
	for _, x := range r {
		sizes = append(sizes, len(parse(t, x, testKey, testSecret).Events))
	}
	if !slices.Equal(sizes, []int{3, 2}) {
		t.Fatalf("batch sizes %v, want [3 2]", sizes)
	}
	if got := ep.delivered(testKey, testSecret); !slices.Equal(got, []string{"channel_occupied:a", "channel_occupied:b", "channel_occupied:c", "channel_occupied:d", "channel_occupied:e"}) {
		t.Fatalf("order %v", got)
	}
	if deliveredEvents(f.m) != 5 || requests(f.m, ResultOK) != 2 {
		t.Fatalf("metrics: %d events, %d requests", deliveredEvents(f.m), requests(f.m, ResultOK))
	}
}

func TestBatchMaxBytes(t *testing.T) {
	ep := newEndpoint(t, nil)
	big := json.RawMessage(`"` + strings.Repeat("x", 600) + `"`)
	ce := func(i int) Event {
		return Event{Name: ClientEvent, Channel: "private-c", Event: fmt.Sprint("client-", i), Data: big, SocketID: "1.1"}
	}
	// Room for two of these events per request, not three.
	f := newSender(t, Options{Debounce: -1}, testAppCfg(Target{URL: ep.URL(), Batch: true, BatchMaxBytes: 1500}))
	for i := range 5 {
		f.s.Emit(testApp, ce(i))
	}
	waitFor(t, "five events", func() bool {
		f.clock.Advance(100 * time.Millisecond)
		return deliveredEvents(f.m) == 5
	})
	var sizes []int
	for _, x := range ep.requests() {
		if len(x.body) > 1500 {
			t.Fatalf("body of %d bytes over BatchMaxBytes", len(x.body))
		}
		for _, e := range parse(t, x, testKey, testSecret).Events {
			if len(e.Data) != 600 {
				t.Fatalf("data of %d bytes", len(e.Data))
			}
		}
		sizes = append(sizes, len(parse(t, x, testKey, testSecret).Events))
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Fatalf("batch sizes %v, want [2 2 1]", sizes)
	}
}

// Close with an ended ctx counts what is queued and in flight as dropped
// for shutdown, and leaves no goroutine (goleak in TestMain).
func TestCloseCountsRestAsShutdown(t *testing.T) {
	f := newSender(t, Options{Debounce: -1, Backoff: func(int) time.Duration { return time.Hour }},
		testAppCfg(Target{URL: deadURL(t)}))
	for _, ch := range []string{"a", "b", "c"} {
		f.s.Emit(testApp, occupied(ch))
	}
	waitFor(t, "a failed attempt", func() bool { return requests(f.m, ResultError) >= 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if d := dropped(f.m, ReasonShutdown); d != 3 {
		t.Fatalf("dropped for shutdown %d, want 3", d)
	}
	if q := queued(f.m); q != 0 {
		t.Fatalf("queued %d after Close", q)
	}
	f.s.Emit(testApp, occupied("late")) // ignored, no panic
	if err := f.s.Reload(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reload after Close = %v", err)
	}
}

// Close with time to spare delivers the queue and the held debounced
// events first.
func TestCloseFlushes(t *testing.T) {
	ep := newEndpoint(t, nil)
	f := newSender(t, Options{}, testAppCfg(Target{URL: ep.URL()}))
	f.s.Emit(testApp, occupied("a"))
	f.s.Emit(testApp, Event{Name: ChannelVacated, Channel: "a"}) // held 3 s
	f.s.Emit(testApp, occupied("b"))
	if err := f.s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ep.delivered(testKey, testSecret); !slices.Equal(got, []string{"channel_occupied:a", "channel_occupied:b", "channel_vacated:a"}) {
		t.Fatalf("endpoint got %v", got)
	}
}

// The debounce through the Sender: a quick vacated/occupied pair is not
// sent; a vacated that stays is sent after the delay.
func TestSenderDebounce(t *testing.T) {
	ep := newEndpoint(t, nil)
	f := newSender(t, Options{}, testAppCfg(Target{URL: ep.URL()}))
	f.s.Emit(testApp, occupied("a"))
	f.s.Emit(testApp, Event{Name: MemberAdded, Channel: "presence-a", UserID: "u"})
	f.s.Emit(testApp, Event{Name: ChannelVacated, Channel: "a"})
	f.s.Emit(testApp, Event{Name: MemberRemoved, Channel: "presence-a", UserID: "u"})
	f.clock.Advance(2 * time.Second)
	f.s.Emit(testApp, occupied("a"))                                                  // cancels the vacated
	f.s.Emit(testApp, Event{Name: MemberAdded, Channel: "presence-a", UserID: "u"})   // cancels the removal
	f.s.Emit(testApp, Event{Name: MemberRemoved, Channel: "presence-a", UserID: "u"}) // held again
	waitFor(t, "the removal after the delay", func() bool {
		f.clock.Advance(500 * time.Millisecond)
		return ep.count() == 3
	})
	want := []string{"channel_occupied:a", "member_added:presence-a", "member_removed:presence-a"}
	if got := ep.delivered(testKey, testSecret); !slices.Equal(got, want) {
		t.Fatalf("endpoint got %v, want %v", got, want)
	}
	// The removal's time_ms is when it happened, not when it was released.
	wh := parse(t, ep.requests()[2], testKey, testSecret)
	if start := int(time.UnixMilli(1700000000000).Add(2 * time.Second).UnixMilli()); wh.TimeMs != start {
		t.Fatalf("time_ms %d, want %d", wh.TimeMs, start)
	}
}

// The event filter of a target.
func TestEventFilter(t *testing.T) {
	all := newEndpoint(t, nil)
	some := newEndpoint(t, nil)
	f := newSender(t, Options{Debounce: -1}, testAppCfg(Target{URL: all.URL()}, Target{URL: some.URL(), Events: []string{ClientEvent}}))
	f.s.Emit(testApp, occupied("private-a"))
	f.s.Emit(testApp, Event{Name: ClientEvent, Channel: "private-a", Event: "client-x", Data: json.RawMessage(`{}`), SocketID: "1.1"})
	f.s.Emit("other-app", occupied("x")) // no such app: ignored
	waitFor(t, "three requests", func() bool { return all.count() == 2 && some.count() == 1 })
	if got := some.delivered(testKey, testSecret); !slices.Equal(got, []string{"client_event:private-a"}) {
		t.Fatalf("filtered target got %v", got)
	}
}

// A reload keeps the queue of a target whose URL stays (new secret from
// the next attempt) and lets a removed target deliver what it had.
func TestReloadKeepsQueues(t *testing.T) {
	var accept atomic.Bool
	stay := newEndpoint(t, func(int, *http.Request) int {
		if accept.Load() {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
	releaseGone := make(chan struct{})
	gone := newEndpoint(t, func(n int, r *http.Request) int {
		if n == 0 {
			select {
			case <-releaseGone:
			case <-r.Context().Done():
			}
		}
		return http.StatusOK
	})
	f := newSender(t, Options{Debounce: -1, Backoff: func(int) time.Duration { return time.Second }},
		testAppCfg(Target{URL: stay.URL()}, Target{URL: gone.URL()}))
	f.s.Emit(testApp, occupied("a"))
	f.s.Emit(testApp, occupied("b"))
	waitFor(t, "both targets busy", func() bool { return stay.count() >= 1 && gone.count() == 1 })

	next := App{ID: testApp, Key: "newkey", Secret: "newsecret", Targets: []Target{{URL: stay.URL()}}}
	if err := f.s.Reload([]App{next}); err != nil {
		t.Fatal(err)
	}
	f.s.Emit(testApp, occupied("c")) // after the reload: not for the removed target
	accept.Store(true)
	close(releaseGone)
	waitFor(t, "all delivered", func() bool {
		f.clock.Advance(time.Second)
		return deliveredEvents(f.m) == 5
	})
	if got := gone.delivered(testKey, testSecret); !slices.Equal(got, []string{"channel_occupied:a", "channel_occupied:b"}) {
		t.Fatalf("removed target got %v", got)
	}
	// The kept target: failed attempts under the old key, then a, b, c
	// under the new one.
	var last []string
	for _, r := range stay.requests() {
		if r.header.Get("X-Pusher-Key") == "newkey" {
			for _, e := range parse(t, r, "newkey", "newsecret").Events {
				last = append(last, e.Name+":"+e.Channel)
			}
		}
	}
	if n := len(last); n < 3 || !slices.Equal(last[n-3:], []string{"channel_occupied:a", "channel_occupied:b", "channel_occupied:c"}) {
		t.Fatalf("kept target got %v under the new key", last)
	}
	if err := f.s.Reload([]App{{ID: testApp, Targets: []Target{{URL: "ftp://x"}}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("invalid reload = %v", err)
	}
}

func TestInvalidEventCounted(t *testing.T) {
	ep := newEndpoint(t, nil)
	f := newSender(t, Options{Debounce: -1}, testAppCfg(Target{URL: ep.URL()}))
	f.s.Emit(testApp, Event{Name: "channel_exploded", Channel: "a"})
	if dropped(f.m, ReasonInvalid) != 1 || ep.count() != 0 {
		t.Fatalf("invalid event: dropped %d, requests %d", dropped(f.m, ReasonInvalid), ep.count())
	}
}

func TestConfigErrors(t *testing.T) {
	good := Target{URL: "http://127.0.0.1:1/hook"}
	tests := []struct {
		name string
		apps []App
		want string
	}{
		{"empty id", []App{{Key: "k", Secret: "s"}}, "id is empty"},
		{"duplicate app", []App{{ID: "1"}, {ID: "1"}}, "listed twice"},
		{"no secret", []App{{ID: "1", Key: "k", Targets: []Target{good}}}, "key and secret"},
		{"bad scheme", []App{{ID: "1", Key: "k", Secret: "s", Targets: []Target{{URL: "ftp://h/x"}}}}, "http:// or https://"},
		{"no host", []App{{ID: "1", Key: "k", Secret: "s", Targets: []Target{{URL: "http:///x"}}}}, "http:// or https://"},
		{"duplicate url", []App{{ID: "1", Key: "k", Secret: "s", Targets: []Target{good, good}}}, "listed twice"},
		{"unknown event", []App{{ID: "1", Key: "k", Secret: "s", Targets: []Target{{URL: good.URL, Events: []string{"member_joined"}}}}}, `unknown event "member_joined"`},
		{"negative", []App{{ID: "1", Key: "k", Secret: "s", Targets: []Target{{URL: good.URL, RetryWindow: -1}}}}, "negative"},
		{"reserved header", []App{{ID: "1", Key: "k", Secret: "s", Targets: []Target{{URL: good.URL, Headers: map[string]string{"x-pusher-signature": "x"}}}}}, "set by the sender"},
		{"bad header", []App{{ID: "1", Key: "k", Secret: "s", Targets: []Target{{URL: good.URL, Headers: map[string]string{"X-A": "a\r\nb"}}}}}, "not a valid header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{}, tc.apps)
			if err == nil {
				s.Close(context.Background())
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, max := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: time.Minute, 50: time.Minute} {
		for range 100 {
			d := DefaultBackoff(attempt)
			if d < max/2 || d > max {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, max/2, max)
			}
		}
	}
}

func TestMetricsRegister(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	m.Dropped.WithLabelValues("1", ReasonExpired).Inc()
	n, err := testutil.GatherAndCount(reg, "switchboard_pusher_webhook_events_dropped_total")
	if err != nil || n != 1 {
		t.Fatalf("gathered %d, %v", n, err)
	}
}
