package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// targetConfig is a target's settings as one immutable value, swapped
// whole by Reload.
type targetConfig struct {
	Target      // defaults applied
	key, secret string
	filter      map[string]bool // nil: every event
	redacted    string          // the URL for logs, without a password
}

func newTargetConfig(a App, t Target) *targetConfig {
	c := &targetConfig{Target: t.withDefaults(), key: a.Key, secret: a.Secret, redacted: t.URL}
	if u, err := url.Parse(t.URL); err == nil {
		c.redacted = u.Redacted()
	}
	if len(t.Events) > 0 {
		c.filter = make(map[string]bool, len(t.Events))
		for _, n := range t.Events {
			c.filter[n] = true
		}
	}
	return c
}

// target is one endpoint of one app: a bounded queue and the goroutine
// that empties it, one request at a time (which is what keeps its events
// in order).
type target struct {
	// Immutable.
	s     *Sender
	app   string
	url   string
	queue chan *Event // closed (under Sender.mu) when the target is removed or the Sender closes

	cfg atomic.Pointer[targetConfig] // replaced by Reload

	// Owned by the target's goroutine.
	carry   *item // taken from the queue but did not fit the last batch
	drained bool  // the queue is closed and empty
}

func (s *Sender) newTarget(appID string, cfg *targetConfig) *target {
	t := &target{s: s, app: appID, url: cfg.URL, queue: make(chan *Event, cfg.QueueSize)}
	t.cfg.Store(cfg)
	s.wg.Add(1)
	go t.run()
	return t
}

// offer queues ev without blocking. Called with Sender.mu held (so the
// queue is not closed meanwhile).
func (t *target) offer(ev *Event) {
	cfg := t.cfg.Load()
	if cfg.filter != nil && !cfg.filter[ev.Name] {
		return
	}
	queued := t.s.m.Queued.WithLabelValues(t.app)
	queued.Inc()
	select {
	case t.queue <- ev:
	default:
		queued.Dec()
		t.s.m.Dropped.WithLabelValues(t.app, ReasonQueueFull).Inc()
		t.s.logDrop(t.app, cfg.redacted, ReasonQueueFull, 1, fmt.Sprintf("queue of %d events is full", cap(t.queue)))
	}
}

func (t *target) run() {
	defer t.s.wg.Done()
	for {
		batch, more := t.collect(t.s.ctx)
		if len(batch) > 0 {
			t.deliver(t.s.ctx, batch)
		}
		if !more {
			break
		}
	}
	// The Sender's ctx ended (Close gave up waiting): the queue is closed
	// by then, so this ends; count what was never tried.
	n := 0
	for range t.queue {
		n++
	}
	if n > 0 {
		t.dropped(ReasonShutdown, n, "the sender closed before they were sent")
	}
}

// collect takes the next request's events: one, or with batching what is
// queued within the window after the first, within the count and byte
// bounds. more is false when the queue is closed and empty, or ctx ended.
func (t *target) collect(ctx context.Context) (batch []item, more bool) {
	cfg := t.cfg.Load()
	size := bodyOverhead
	// add appends ev unless it would push the body past BatchMaxBytes
	// (a first event always fits): then it waits for the next request.
	add := func(ev *Event) bool {
		it := item{ev: ev, json: appendJSON(nil, ev)}
		if len(batch) > 0 && size+len(it.json)+1 > cfg.BatchMaxBytes {
			t.carry = &it
			return false
		}
		batch = append(batch, it)
		size += len(it.json) + 1
		return true
	}
	if t.carry != nil {
		it := *t.carry
		t.carry = nil
		batch = append(batch, it)
		size += len(it.json) + 1
	} else {
		if t.drained {
			return nil, false
		}
		select {
		case ev, ok := <-t.queue:
			if !ok {
				t.drained = true
				return nil, false
			}
			add(ev)
		case <-ctx.Done():
			return nil, false
		}
	}
	if !cfg.Batch {
		return batch, true
	}
	var window <-chan time.Time
	if !t.drained {
		window = t.s.clock.After(cfg.BatchWindow)
	}
	for len(batch) < cfg.BatchMaxEvents && !t.drained {
		select {
		case ev, ok := <-t.queue:
			if !ok {
				t.drained = true
				return batch, true
			}
			if !add(ev) {
				return batch, true
			}
		case <-window:
			// What is queued now was queued within the window: take it.
			for len(batch) < cfg.BatchMaxEvents {
				select {
				case ev, ok := <-t.queue:
					if !ok {
						t.drained = true
						return batch, true
					}
					if !add(ev) {
						return batch, true
					}
				default:
					return batch, true
				}
			}
			return batch, true
		case <-ctx.Done():
			return batch, true
		}
	}
	return batch, true
}

// deliver sends batch until a 2xx answer, retrying with backoff; events
// older than the retry window are dropped before each attempt.
func (t *target) deliver(ctx context.Context, batch []item) {
	var body []byte
	for attempt := 0; ; attempt++ {
		cfg := t.cfg.Load()
		now := t.s.clock.Now()
		kept := batch[:0]
		for _, it := range batch {
			if now.Sub(it.ev.Time) < cfg.RetryWindow {
				kept = append(kept, it)
			}
		}
		if n := len(batch) - len(kept); n > 0 {
			t.dropped(ReasonExpired, n, fmt.Sprintf("not delivered within the retry window of %s", cfg.RetryWindow))
			batch, body = kept, nil
		}
		if len(batch) == 0 {
			return
		}
		if ctx.Err() != nil {
			t.dropped(ReasonShutdown, len(batch), "the sender closed before they were delivered")
			return
		}
		if body == nil {
			body = buildBody(batch)
		}
		if attempt > 0 {
			t.s.m.Retries.WithLabelValues(t.app).Inc()
		}
		result, err := t.post(ctx, cfg, body)
		t.s.m.Requests.WithLabelValues(t.app, result).Inc()
		if result == ResultOK {
			t.s.m.Events.WithLabelValues(t.app).Add(float64(len(batch)))
			t.s.m.Queued.WithLabelValues(t.app).Sub(float64(len(batch)))
			return
		}
		if ctx.Err() != nil {
			t.dropped(ReasonShutdown, len(batch), "the sender closed before they were delivered")
			return
		}
		t.s.logFailure(t.app, cfg.redacted, result, err, attempt+1)
		wait := t.s.backoff(attempt + 1)
		oldest := batch[0].ev.Time
		for _, it := range batch[1:] {
			if it.ev.Time.Before(oldest) {
				oldest = it.ev.Time
			}
		}
		// Wake up when the oldest event expires rather than after it.
		if left := oldest.Add(cfg.RetryWindow).Sub(t.s.clock.Now()); left < wait {
			wait = left
		}
		if wait > 0 {
			select {
			case <-t.s.clock.After(wait):
			case <-ctx.Done():
			}
		}
	}
}

// post makes one attempt and classifies it.
func (t *target) post(ctx context.Context, cfg *targetConfig, body []byte) (string, error) {
	actx, cancel := context.WithTimeout(ctx, cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return ResultError, err
	}
	for k, v := range cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Pusher-Key", cfg.key)
	req.Header.Set("X-Pusher-Signature", Sign(cfg.secret, body))
	resp, err := t.s.client.Do(req)
	if err != nil {
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return ResultTimeout, err
		}
		return ResultError, err
	}
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return ResultOK, nil
	}
	return ResultRejected, fmt.Errorf("status %s", resp.Status)
}

func (t *target) dropped(reason string, n int, why string) {
	t.s.m.Dropped.WithLabelValues(t.app, reason).Add(float64(n))
	t.s.m.Queued.WithLabelValues(t.app).Sub(float64(n))
	t.s.logDrop(t.app, t.cfg.Load().redacted, reason, n, why)
}
