package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
)

func cached(ttl time.Duration, sources ...string) config.Authorizer {
	if len(sources) == 0 {
		sources = []string{"route.request.header.Authorization"}
	}
	return config.Authorizer{Integration: "auth", IdentitySources: sources, CacheTTL: config.Duration(ttl)}
}

// byToken answers Allow for every Authorization value that starts with
// "good", Deny otherwise, with the token as principalId.
func byToken(ctx context.Context, req *event.Request) (*event.Response, error) {
	var tok string
	for _, h := range headersOf(req) {
		if strings.EqualFold(h[0], "Authorization") {
			tok = h[1]
		}
	}
	eff := "Deny"
	if strings.HasPrefix(tok, "good") {
		eff = "Allow"
	}
	return reply(output(tok, eff, "arn:aws:execute-api:*:*:abcdef123/*/$connect", ""))(ctx, req)
}

// headersOf reads the "headers" map of an event.
func headersOf(req *event.Request) [][2]string {
	var ev struct{ Headers map[string]string }
	if err := json.Unmarshal(req.AppendJSON(nil), &ev); err != nil {
		panic(err)
	}
	var out [][2]string
	for k, v := range ev.Headers {
		out = append(out, [2]string{k, v})
	}
	return out
}

func TestCacheTTL(t *testing.T) {
	clk := newClock()
	inv, calls := counting(byToken)
	a := newTest(t, cached(5*time.Minute), inv, func(o *Options) { o.Now = clk.Now })
	authorize := func(tok string) (Decision, error) {
		return a.Authorize(context.Background(), testConn(), testHeaders(tok), nil, testARN)
	}

	d, err := authorize("good-1")
	if err != nil || d.Cached || calls.Load() != 1 {
		t.Fatalf("first: %+v %v, %d calls", d, err, calls.Load())
	}
	clk.Advance(5*time.Minute - time.Millisecond)
	d, err = authorize("good-1")
	if err != nil || !d.Cached || calls.Load() != 1 || d.PrincipalID != "good-1" {
		t.Fatalf("within TTL: %+v %v, %d calls; want a cached decision", d, err, calls.Load())
	}
	if d.Context["integrationLatency"] != float64(0) || d.Context["principalId"] != "good-1" {
		t.Errorf("cached context %v", d.Context)
	}
	d.Context["mutated"] = true // the caller owns the map
	if d, _ := authorize("good-1"); d.Context["mutated"] != nil {
		t.Error("a caller's change to Decision.Context leaked into the cache")
	}

	clk.Advance(time.Millisecond)
	if d, err := authorize("good-1"); err != nil || d.Cached || calls.Load() != 2 {
		t.Fatalf("after TTL: %+v %v, %d calls; want a new call", d, err, calls.Load())
	}

	// A different identity is a different entry.
	if d, err := authorize("good-2"); err != nil || d.Cached || calls.Load() != 3 {
		t.Fatalf("other identity: %+v %v, %d calls", d, err, calls.Load())
	}

	// A Deny is cached too.
	for i := range 3 {
		d, err := authorize("bad")
		if !errors.Is(err, ErrForbidden) || d.Cached != (i > 0) {
			t.Fatalf("deny #%d: %+v %v", i, d, err)
		}
	}
	if calls.Load() != 4 {
		t.Errorf("%d calls, want 4 (the Deny cached)", calls.Load())
	}
}

func TestCacheKeysAllSourcesInOrder(t *testing.T) {
	inv, calls := counting(reply(output("u", "Allow", "*", "")))
	a := newTest(t, cached(time.Minute, "route.request.header.A", "route.request.querystring.b"), inv)
	try := func(h []event.HeaderField, q []event.QueryParam) bool {
		before := calls.Load()
		if _, err := a.Authorize(context.Background(), testConn(), h, q, testARN); err != nil {
			t.Fatal(err)
		}
		return calls.Load() == before // served without a call
	}
	q := func(v ...string) []event.QueryParam {
		var out []event.QueryParam
		for _, s := range v {
			out = append(out, event.QueryParam{Name: "b", Value: s})
		}
		return out
	}
	if try([]event.HeaderField{hf("A", "1")}, q("2")) {
		t.Fatal("first call cached")
	}
	if !try([]event.HeaderField{hf("a", "1"), hf("Other", "x")}, q("2")) {
		t.Error("same identity values (header name case and other headers differ) not cached")
	}
	for _, tc := range []struct {
		h []event.HeaderField
		q []event.QueryParam
	}{
		{[]event.HeaderField{hf("A", "12")}, q("")}, // missing b: refused below, never cached
		{[]event.HeaderField{hf("A", "2")}, q("1")},
		{[]event.HeaderField{hf("A", "1"), hf("A", "1")}, q("2")}, // repeated header: another key
		{[]event.HeaderField{hf("A", "1")}, q("x", "2")},          // same last value, other values
	} {
		if tc.q[len(tc.q)-1].Value == "" {
			if _, err := a.Authorize(context.Background(), testConn(), tc.h, tc.q, testARN); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("%v %v: %v, want ErrUnauthorized", tc.h, tc.q, err)
			}
			continue
		}
		if try(tc.h, tc.q) {
			t.Errorf("%v %v shared the decision of A=1 b=2", tc.h, tc.q)
		}
	}
}

func TestCacheBounded(t *testing.T) {
	clk := newClock()
	inv, calls := counting(byToken)
	a := newTest(t, cached(time.Hour), inv, func(o *Options) { o.Now = clk.Now; o.MaxCacheEntries = 2 })
	authorize := func(tok string) bool {
		d, err := a.Authorize(context.Background(), testConn(), testHeaders(tok), nil, testARN)
		if err != nil {
			t.Fatal(err)
		}
		return d.Cached
	}
	authorize("good-1")
	clk.Advance(time.Second)
	authorize("good-2")
	clk.Advance(time.Second)
	authorize("good-3") // evicts good-1, the oldest
	if n := a.cache.len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
	if !authorize("good-3") || !authorize("good-2") {
		t.Error("recent entries were evicted")
	}
	if authorize("good-1") {
		t.Error("the oldest entry was not evicted")
	}
	if calls.Load() != 4 {
		t.Errorf("%d calls, want 4", calls.Load())
	}
}

func TestCachePutDropsExpired(t *testing.T) {
	c := newCache(time.Minute, 100)
	t0 := time.Unix(0, 0)
	for i := range 10 {
		c.put(fmt.Sprint(i), &result{}, t0.Add(time.Duration(i)*time.Second))
	}
	c.put("late", &result{}, t0.Add(time.Minute+5*time.Second)) // entries 0-5 have expired
	if c.len() != 5 {
		t.Errorf("len %d after expiry, want 5", c.len())
	}
	at := t0.Add(2*time.Minute + 10*time.Second)
	c.put("9", &result{}, at) // renews 9; everything else has expired
	if _, ok := c.get("9", at); !ok || c.len() != 1 {
		t.Errorf("len %d, want only the renewed entry", c.len())
	}
}

func TestCacheErrorsNotCached(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	inv, calls := counting(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		if fail.Load() {
			return nil, &thrownError{"Unauthorized"}
		}
		return byToken(ctx, req)
	})
	a := newTest(t, cached(time.Hour), inv)
	for range 2 {
		if _, err := a.Authorize(context.Background(), testConn(), testHeaders("good"), nil, testARN); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
	}
	fail.Store(false)
	if _, err := a.Authorize(context.Background(), testConn(), testHeaders("good"), nil, testARN); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3: failures must not be cached", calls.Load())
	}
}

// TestConcurrentIdenticalShareOneCall: handshakes with the same identity
// that arrive while its call runs wait for it.
func TestConcurrentIdenticalShareOneCall(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	inv, calls := counting(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		started <- struct{}{}
		<-release
		return byToken(ctx, req)
	})
	a := newTest(t, cached(time.Minute), inv)

	const n = 8
	var wg sync.WaitGroup
	results := make([]Decision, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = a.Authorize(context.Background(), testConn(), testHeaders("good"), nil, testARN)
		})
	}
	<-started
	waitFor(t, func() bool { return waiting(a) })
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("%d calls for %d identical handshakes, want 1", calls.Load(), n)
	}
	own := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("#%d: %v", i, errs[i])
		}
		if !results[i].Cached {
			own++
		}
	}
	if own != 1 {
		t.Errorf("%d decisions not marked Cached, want 1", own)
	}
}

// TestLeaderCancelledWaiterCalls: when the handshake whose call others
// wait for gives up, a waiter calls itself instead of failing.
func TestLeaderCancelledWaiterCalls(t *testing.T) {
	var n atomic.Int64
	first := make(chan struct{})
	inv := invokerFunc(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		if n.Add(1) == 1 {
			close(first)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return byToken(ctx, req)
	})
	a := newTest(t, cached(time.Minute), inv)
	ctx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := a.Authorize(ctx, testConn(), testHeaders("good"), nil, testARN)
		leaderErr <- err
	}()
	<-first
	waiterDone := make(chan error, 1)
	go func() {
		_, err := a.Authorize(context.Background(), testConn(), testHeaders("good"), nil, testARN)
		waiterDone <- err
	}()
	waitFor(t, func() bool { return waiting(a) })
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrFailed) {
		t.Errorf("leader: %v, want ErrFailed wrapping context.Canceled", err)
	}
	if err := <-waiterDone; err != nil {
		t.Errorf("waiter: %v, want it to call itself and be allowed", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d calls, want 2", n.Load())
	}
}

// TestWaiterCancelled: a waiter's own cancellation ends its wait.
func TestWaiterCancelled(t *testing.T) {
	release := make(chan struct{})
	inv := invokerFunc(func(ctx context.Context, req *event.Request) (*event.Response, error) {
		<-release
		return byToken(ctx, req)
	})
	a := newTest(t, cached(time.Minute), inv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := a.Authorize(context.Background(), testConn(), testHeaders("good"), nil, testARN); err != nil {
			t.Errorf("leader: %v", err)
		}
	}()
	waitFor(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.inflight) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.Authorize(ctx, testConn(), testHeaders("good"), nil, testARN); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: %v, want its deadline", err)
	}
	close(release)
	<-done
}

// TestConcurrentMixed hammers the cache from many goroutines (for -race).
func TestConcurrentMixed(t *testing.T) {
	clk := newClock()
	a := newTest(t, cached(time.Second), invokerFunc(byToken), func(o *Options) { o.Now = clk.Now; o.MaxCacheEntries = 8 })
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				tok := fmt.Sprintf("good-%d", (g+i)%20)
				if i%7 == 0 {
					tok = "bad"
				}
				_, err := a.Authorize(context.Background(), testConn(), testHeaders(tok), nil, testARN)
				if (tok == "bad") != errors.Is(err, ErrForbidden) {
					t.Errorf("%s: %v", tok, err)
					return
				}
				if i%50 == 0 {
					clk.Advance(300 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if n := a.cache.len(); n > 8 {
		t.Errorf("cache holds %d entries, more than its bound 8", n)
	}
}

// waiting reports whether some handshake waits for a running call.
// Whether a goroutine is already blocked on the flight cannot be observed
// directly; a short pause after seeing the flight makes it very likely,
// and the assertions hold either way (a late goroutine finds the cache).
func waiting(a *Authorizer) bool {
	a.mu.Lock()
	n := len(a.inflight)
	a.mu.Unlock()
	if n == 0 {
		return false
	}
	time.Sleep(10 * time.Millisecond)
	return true
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
