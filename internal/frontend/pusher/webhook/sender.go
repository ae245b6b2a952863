package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// ErrClosed is returned by Reload after Close.
var ErrClosed = errors.New("webhook sender closed")

// Sender delivers the webhooks of every Pusher app of the process. Create
// it with New, feed it with Emit, change its apps with Reload, stop it
// with Close.
type Sender struct {
	// Immutable after New.
	client      *http.Client
	ownClient   bool
	m           *Metrics
	clock       Clock
	backoff     func(int) time.Duration
	log         *slog.Logger
	limiter     *logLimiter
	debounceOn  bool
	ctx         context.Context // ends when Close's ctx ends: aborts requests and waits
	cancel      context.CancelFunc
	wake        chan struct{} // cap 1: the debouncer went from empty to holding
	stop        chan struct{} // closed by Close: ends the debounce loop
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeResult error

	// Guarded by mu (lock order: Sender.mu, then nothing; targets are
	// read through atomics and channels).
	mu     sync.Mutex
	apps   map[string]*app
	deb    *Debouncer
	closed bool
}

type app struct {
	targets []*target
}

// New returns a Sender for apps, its goroutines started (one per target,
// one for the debounce delay). The configuration is validated first: an
// error wraps ErrConfig and names the field.
func New(opts Options, apps []App) (*Sender, error) {
	if err := validate(apps); err != nil {
		return nil, err
	}
	s := &Sender{
		client:  opts.Client,
		m:       opts.Metrics,
		clock:   opts.Clock,
		backoff: opts.Backoff,
		log:     opts.Logger,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		apps:    make(map[string]*app),
	}
	if s.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		s.client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		s.ownClient = true
	}
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	if s.backoff == nil {
		s.backoff = DefaultBackoff
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.limiter = newLogLimiter(logEvery)
	delay := opts.Debounce
	if delay == 0 {
		delay = DefaultDebounce
	}
	s.deb = NewDebouncer(delay)
	s.debounceOn = delay > 0
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.mu.Lock()
	s.apply(apps)
	s.mu.Unlock()
	if s.debounceOn {
		s.wg.Add(1)
		go s.debounceLoop()
	}
	return s, nil
}

// Emit queues ev for every target of app whose filter takes it. It never
// blocks on the network and never fails visibly: an event for an app
// without targets, or after Close, is ignored; an event that finds a
// target's queue full is dropped for that target, counted (reason
// "queue_full") and logged (rate-limited); an unknown event name is
// dropped likewise (reason "invalid"). channel_vacated and member_removed
// are held for the debounce delay first (see Debouncer). The Sender owns
// ev afterwards. Safe for concurrent use.
func (s *Sender) Emit(appID string, ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if s.closed || a == nil || len(a.targets) == 0 {
		return
	}
	if err := validateEvent(&ev); err != nil {
		s.m.Dropped.WithLabelValues(appID, ReasonInvalid).Inc()
		s.logDrop(appID, "", ReasonInvalid, 1, err.Error())
		return
	}
	now := s.clock.Now()
	if ev.Time.IsZero() {
		ev.Time = now
	}
	held := s.deb.Len()
	for _, ae := range s.deb.Add(now, AppEvent{App: appID, Event: &ev}) {
		s.route(ae)
	}
	if held == 0 && s.deb.Len() > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// route offers ae to the targets of its app. Called with mu held.
func (s *Sender) route(ae AppEvent) {
	a := s.apps[ae.App]
	if a == nil {
		return
	}
	for _, t := range a.targets {
		t.offer(ae.Event)
	}
}

// Reload replaces the apps and their targets. A target whose app id and
// URL are unchanged keeps its queue and goroutine and takes the new key,
// secret, filter, headers, batching and timeouts from its next request (a
// request in flight or waiting to be retried keeps its body); a removed
// target stops getting events and delivers what it had queued (within its
// retry window) before its goroutine ends. Held debounced events of an app
// that has no targets left are released to its old targets first.
// Nothing changes when the configuration is invalid (the error wraps
// ErrConfig).
func (s *Sender) Reload(apps []App) error {
	if err := validate(apps); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.apply(apps)
	return nil
}

// apply installs apps. Called with mu held.
func (s *Sender) apply(apps []App) {
	old := s.apps
	next := make(map[string]*app, len(apps))
	kept := make(map[*target]bool)
	for _, ac := range apps {
		na := &app{}
		for _, tc := range ac.Targets {
			cfg := newTargetConfig(ac, tc)
			var t *target
			if oa := old[ac.ID]; oa != nil {
				for _, ot := range oa.targets {
					if ot.url == tc.URL {
						t = ot
					}
				}
			}
			if t != nil {
				t.cfg.Store(cfg)
				kept[t] = true
			} else {
				t = s.newTarget(ac.ID, cfg)
			}
			na.targets = append(na.targets, t)
		}
		next[ac.ID] = na
	}
	for id := range old {
		if na := next[id]; na == nil || len(na.targets) == 0 {
			for _, ae := range s.deb.Flush(id) {
				s.route(ae) // still to the old targets
			}
		}
	}
	s.apps = next
	for _, oa := range old {
		for _, t := range oa.targets {
			if !kept[t] {
				close(t.queue) // its goroutine drains it, then ends
			}
		}
	}
}

// Close stops accepting events, releases the held debounced events and
// delivers what is queued until ctx ends; then it aborts the requests and
// waits, counts what was left as dropped (reason "shutdown") and returns
// ctx's error. Every goroutine of the Sender has ended when Close
// returns. Later calls return the first call's result.
func (s *Sender) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for _, ae := range s.deb.Flush("") {
			s.route(ae)
		}
		for _, a := range s.apps {
			for _, t := range a.targets {
				close(t.queue)
			}
		}
		s.mu.Unlock()
		close(s.stop)

		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.closeResult = ctx.Err()
			s.cancel()
			<-done
		}
		s.cancel()
		if s.ownClient {
			s.client.CloseIdleConnections()
		}
	})
	return s.closeResult
}

// debounceLoop releases held events when their delay has passed.
func (s *Sender) debounceLoop() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		next, ok := s.deb.Next()
		s.mu.Unlock()
		var due <-chan time.Time
		if ok {
			due = s.clock.After(next.Sub(s.clock.Now()))
		}
		select {
		case <-due:
			s.mu.Lock()
			if !s.closed {
				for _, ae := range s.deb.Due(s.clock.Now()) {
					s.route(ae)
				}
			}
			s.mu.Unlock()
		case <-s.wake:
		case <-s.stop:
			return
		}
	}
}

// Sign returns the X-Pusher-Signature of body: the hex HMAC-SHA256 of the
// exact body bytes with the app secret.
func Sign(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// logEvery is the least time between two log lines about the same app,
// target and reason; the lines in between are counted in the next one.
const logEvery = 10 * time.Second

type logLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	quiet map[string]int
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, last: make(map[string]time.Time), quiet: make(map[string]int)}
}

// allow reports whether a line for key may be logged at now, and how many
// were suppressed since the last one.
func (l *logLimiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.last[key]; ok && now.Sub(last) < l.every {
		l.quiet[key]++
		return false, 0
	}
	n := l.quiet[key]
	l.last[key] = now
	delete(l.quiet, key)
	return true, n
}

func (s *Sender) logDrop(appID, url, reason string, n int, why string) {
	ok, quiet := s.limiter.allow("drop\x00"+appID+"\x00"+url+"\x00"+reason, s.clock.Now())
	if !ok {
		return
	}
	s.log.Warn("pusher webhook events dropped", "app", appID, "target", url, "reason", reason,
		"events", n, "detail", why, "suppressed_lines", quiet)
}

func (s *Sender) logFailure(appID, url, result string, err error, attempt int) {
	ok, quiet := s.limiter.allow("fail\x00"+appID+"\x00"+url, s.clock.Now())
	if !ok {
		return
	}
	s.log.Info("pusher webhook attempt failed, will retry", "app", appID, "target", url, "result", result,
		"err", err, "attempt", attempt, "suppressed_lines", quiet)
}
