package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// publisher posts publications to the management API on an open-loop
// schedule: publication i is due at t0 + i/rate whatever happened to the
// earlier ones, and carries its due time, so the latency the subscribers
// measure includes any lag of the publisher (no coordinated omission).
type publisher struct {
	client   *http.Client
	urls     [][]string // POST targets, by channel index, then by node: publication i goes to node (i/channels) % nodes
	apiKey   string
	size     int // body bytes
	inFlight int // POSTs in flight at most
	// pusher, when set, sends through the Pusher HTTP API instead of urls.
	pusher *pusherPublisher
}

// pusherPublisher is where and how publications go through the Pusher
// HTTP API.
type pusherPublisher struct {
	appID, key, secret string
	channels           []string // by channel index
	bases              []string // base URLs, by node
}

// target is publication i's URL and body: {"name":"bench","channel",
// "data": body}, signed now.
func (pp *pusherPublisher) target(i, ch int, body string, now time.Time) (string, []byte) {
	pathQuery, b := pusherEventsRequest(pp.appID, pp.key, pp.secret, "bench", pp.channels[ch], body, now)
	return pp.bases[(i/len(pp.channels))%len(pp.bases)] + pathQuery, b
}

// pubStats is what one publishing step did.
type pubStats struct {
	scheduled    int
	sent         int // answered 2xx
	failed       int // answered otherwise, or no answer
	overloaded   int // found every slot busy and waited for one (still timed from the due time)
	skipped      int // found too many already waiting: not sent
	okPerChannel []int
	lag          Histogram // from the due time to the start of the POST
	firstErr     string
}

// run publishes for d at rate per second, then waits for the POSTs still
// in flight.
func (p *publisher) run(ctx context.Context, rate float64, d time.Duration) pubStats {
	st := pubStats{okPerChannel: make([]int, len(p.urls))}
	n := max(int(math.Round(rate*d.Seconds())), 1)
	var (
		mu      sync.Mutex // guards st from the POST goroutines
		wg      sync.WaitGroup
		waiting atomic.Int64
	)
	sem := make(chan struct{}, p.inFlight)
	maxWaiting := int64(4 * p.inFlight)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	t0 := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := t0.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
		mu.Lock()
		st.scheduled++
		mu.Unlock()
		ch := i % len(p.urls)
		select {
		case sem <- struct{}{}:
		default:
			mu.Lock()
			st.overloaded++
			if waiting.Load() >= maxWaiting {
				st.skipped++
				mu.Unlock()
				continue
			}
			mu.Unlock()
			waiting.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					waiting.Add(-1)
					mu.Lock()
					st.failed++
					mu.Unlock()
					return
				}
				waiting.Add(-1)
				p.post(ctx, i, due, ch, &mu, &st)
				<-sem
			}()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.post(ctx, i, due, ch, &mu, &st)
			<-sem
		}()
	}
	wg.Wait()
	return st
}

// post sends publication i, due at due, to channel ch.
func (p *publisher) post(ctx context.Context, i int, due time.Time, ch int, mu *sync.Mutex, st *pubStats) {
	body := pubBody(due.UnixNano(), i, p.size)
	target := p.urls[ch][(i/len(p.urls))%len(p.urls[ch])]
	reqBody := []byte(body)
	if p.pusher != nil {
		target, reqBody = p.pusher.target(i, ch, body, time.Now())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(reqBody))
	if err != nil {
		mu.Lock()
		st.failed++
		st.firstErr = cmp.Or(st.firstErr, err.Error())
		mu.Unlock()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if p.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.apiKey)
	}
	lag := time.Since(due)
	resp, err := p.client.Do(req)
	var why string
	if err != nil {
		why = err.Error()
	} else {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			why = fmt.Sprintf("POST %s: %s %.200s", target, resp.Status, msg)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	st.lag.Record(int64(lag))
	if why != "" {
		st.failed++
		st.firstErr = cmp.Or(st.firstErr, why)
		return
	}
	st.sent++
	st.okPerChannel[ch]++
}

// pubBody is a publication of size bytes (at least its fields):
// {"t":<due unix ns>,"seq":i,"pad":"xxx…"}. The subscribers read t.
func pubBody(t int64, i, size int) string {
	var b strings.Builder
	b.Grow(max(size, 64))
	b.WriteString(`{"t":`)
	b.WriteString(strconv.FormatInt(t, 10))
	b.WriteString(`,"seq":`)
	b.WriteString(strconv.Itoa(i))
	b.WriteString(`,"pad":"`)
	for pad := size - b.Len() - 2; pad > 0; pad-- {
		b.WriteByte('x')
	}
	b.WriteString(`"}`)
	return b.String()
}
