package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/client"
)

// The storm worker protocol is the fan-out worker's (JSON lines on stdin
// and stdout, one reply per command, exit when stdin closes, at the
// connect command's deadline or after workerIdleLimit without one), with
// these commands:
const (
	stormConnect = "connect" // dial the clients; reply "ready"
	stormArm     = "arm"     // start counting drops and handshakes; reply "armed"
	stormWait    = "wait"    // wait until every client is back; reply "back"
	stormStop    = "stop"    // close the clients; reply "stopped" and exit
)

// stormCommand is one line from the coordinator to a storm worker.
type stormCommand struct {
	Cmd string `json:"cmd"`

	// connect
	URL         string        `json:"url,omitempty"`
	Sources     []string      `json:"sources,omitempty"`     // local addresses, one per client in turn
	Connections int           `json:"connections,omitempty"` // clients this worker dials
	Concurrency int           `json:"concurrency,omitempty"` // first dials in flight
	Jitter      string        `json:"jitter,omitempty"`      // JitterFull or JitterNone
	MinDelay    time.Duration `json:"minDelay,omitempty"`
	MaxDelay    time.Duration `json:"maxDelay,omitempty"`
	V1          bool          `json:"v1,omitempty"`       // switchboard.v1 instead of raw
	Deadline    int64         `json:"deadline,omitempty"` // unix ns: the worker exits then, whatever happens

	// wait: a client is back when its connection was lost after "arm"
	// and it is connected again on a connection made at or after Since
	// (unix ns: when the new server was started, so not to the old one).
	// The reply comes when all are back, or at Until (unix ns) with those
	// that are.
	Since int64 `json:"since,omitempty"`
	Until int64 `json:"until,omitempty"`
}

// stormReply is one line from a storm worker to the coordinator.
type stormReply struct {
	Type  string `json:"type"` // "ready", "armed", "back", "stopped", "error"
	Error string `json:"error,omitempty"`

	// ready
	Connected int `json:"connected,omitempty"`
	Failed    int `json:"failed,omitempty"` // first dials that failed

	// back
	Dropped   int     `json:"dropped,omitempty"`   // clients whose connection was lost after arm
	Back      []int64 `json:"back,omitempty"`      // unix ns each client that is back came back, sorted
	FirstDrop int64   `json:"firstDrop,omitempty"` // unix ns
	LastDrop  int64   `json:"lastDrop,omitempty"`
	// Handshakes the clients attempted after arm, by outcome: upgraded
	// (101), refused (connection refused: no server listening), rejected
	// (an HTTP answer other than 101, such as 503 during a drain), and
	// other errors (resets, timeouts).
	Attempts  uint64 `json:"attempts,omitempty"`
	Upgraded  uint64 `json:"upgraded,omitempty"`
	Refused   uint64 `json:"refused,omitempty"`
	Rejected  uint64 `json:"rejected,omitempty"`
	Errors    uint64 `json:"errors,omitempty"`
	FirstFail string `json:"firstFail,omitempty"` // the first rejection or error
}

// Jitter modes of bench storm.
const (
	// JitterFull is the Go client's default: reconnect attempt n waits a
	// uniformly random time in [0, min(MaxDelay, MinDelay·2ⁿ)).
	JitterFull = "full"
	// JitterNone is plain exponential backoff: every client waits
	// min(MaxDelay, MinDelay·2ⁿ), less at most 1 ns (topSource).
	JitterNone = "none"
)

// topSource is a rand.Source that always draws its largest value, so that
// rand.Rand.Float64 returns (2⁵³−1)/2⁵³, the largest float64 below 1: the
// client's full-jitter delay f·d then truncates to d, or to d − 1 ns
// (TestTopSource), which turns its backoff into plain exponential backoff
// without a new option.
type topSource struct{}

func (topSource) Uint64() uint64 { return ^uint64(0) }

// RunStormWorker is a storm worker process (the hidden command
// `switchboard bench storm-worker`): it reads commands from in and answers
// on out, as the storm worker protocol above describes. Storm starts the
// workers; people do not.
func RunStormWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	w := &stormWorker{}
	defer w.close()
	return runWorker(ctx, in, out, "storm", func(l *workerLife, c stormCommand) (any, bool) {
		switch c.Cmd {
		case stormConnect:
			if w.clients != nil {
				return stormReply{Type: "error", Error: "already connected"}, false
			}
			l.connected(c.Deadline)
			r, err := w.connect(l.life, c)
			if err != nil {
				r = stormReply{Type: "error", Error: err.Error()}
			}
			return r, false
		case stormArm:
			w.arm()
			return stormReply{Type: "armed"}, false
		case stormWait:
			return w.wait(l.life, c.Since, c.Until), false
		case stormStop:
			w.close()
			return stormReply{Type: "stopped"}, true
		}
		return stormReply{Type: "error", Error: fmt.Sprintf("unknown command %q", c.Cmd)}, false
	})
}

// stormWorker holds one worker's clients. RunStormWorker's goroutine owns
// clients; the clients' OnState callbacks (each client's dispatcher
// goroutine) and the handshake counters share the rest under mu.
type stormWorker struct {
	clients []*client.Client
	counts  handshakeCounts
	lastUp  []atomic.Int64 // by client: its last upgraded handshake (unix ns)

	mu       sync.Mutex
	armed    bool
	n        int // clients that connected at first
	state    []stormClient
	dropped  int
	first    int64 // unix ns of the first and last drop
	last     int64
	since    int64         // of the wait in progress; 0 when none
	back     int           // clients back since since
	allBack  chan struct{} // closed when back reaches len(state)
	waitDone bool
}

// stormClient is one client's state as its OnState events tell it.
type stormClient struct {
	state       client.State
	dropped     bool  // its connection was lost after arm
	connectedAt int64 // unix ns of its current connection's handshake
	counted     bool  // counted in back
}

// handshakeCounts counts the clients' handshakes after arm (countingRT).
type handshakeCounts struct {
	armed                                         atomic.Bool
	attempts, upgraded, refused, rejected, errors atomic.Uint64
	mu                                            sync.Mutex
	firstFail                                     string
}

func (h *handshakeCounts) fail(msg string) {
	h.mu.Lock()
	if h.firstFail == "" {
		h.firstFail = msg
	}
	h.mu.Unlock()
}

// countingRT is a client's HTTP transport: it counts every handshake by
// outcome once armed, and notes when the client's last one was upgraded
// (the client's OnState event comes later, from its dispatcher, by as
// much as the worker's CPU is behind).
type countingRT struct {
	rt     http.RoundTripper
	h      *handshakeCounts
	lastUp *atomic.Int64 // unix ns
}

func (t countingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	up := err == nil && resp.StatusCode == http.StatusSwitchingProtocols
	if up {
		t.lastUp.Store(time.Now().UnixNano())
	}
	if !t.h.armed.Load() {
		return resp, err
	}
	t.h.attempts.Add(1)
	switch {
	case up:
		t.h.upgraded.Add(1)
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		t.h.refused.Add(1)
	case err != nil:
		t.h.errors.Add(1)
		t.h.fail(err.Error())
	default:
		t.h.rejected.Add(1)
		t.h.fail("handshake answered " + resp.Status)
	}
	return resp, err
}

// transport dials from source (a local IP address; "" for any).
func transport(source string) (http.RoundTripper, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			return nil, fmt.Errorf("source %q is not an IP address", source)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	// No proxy from the environment, no keep-alive: each handshake is a
	// connection of its own, as each client's would be.
	return &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, DisableCompression: true}, nil
}

func (w *stormWorker) connect(ctx context.Context, c stormCommand) (stormReply, error) {
	if c.Connections < 1 {
		return stormReply{}, errors.New("connect: no connections")
	}
	if len(c.Sources) == 0 {
		c.Sources = []string{""}
	}
	trs := make([]http.RoundTripper, len(c.Sources))
	for i, s := range c.Sources {
		var err error
		if trs[i], err = transport(s); err != nil {
			return stormReply{}, err
		}
	}
	base := client.Options{
		Mode: client.ModeRaw, MinDelay: c.MinDelay, MaxDelay: c.MaxDelay,
		Logger: slog.New(slog.DiscardHandler), // 10,000 clients' reconnect lines say nothing the counts do not
	}
	if c.V1 {
		base.Mode = client.ModeV1
	}
	switch c.Jitter {
	case JitterFull:
	case JitterNone:
	default:
		return stormReply{}, fmt.Errorf("jitter %q: want %s or %s", c.Jitter, JitterFull, JitterNone)
	}
	w.state = make([]stormClient, c.Connections)
	w.lastUp = make([]atomic.Int64, c.Connections)
	clients := make([]*client.Client, c.Connections)
	var (
		mu       sync.Mutex
		failed   int
		firstErr string
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, max(c.Concurrency, 1))
	for i := range c.Connections {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		o := base
		o.HTTPClient = &http.Client{Transport: countingRT{rt: trs[i%len(trs)], h: &w.counts, lastUp: &w.lastUp[i]}}
		if c.Jitter == JitterNone {
			o.Rand = rand.New(topSource{}) // one per client, as a Rand is not documented safe for concurrent use
		}
		o.OnState = func(e client.StateEvent) { w.event(i, e) }
		wg.Go(func() {
			defer func() { <-sem }()
			cl, err := dialAdmitted(ctx, c.URL, o)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if firstErr == "" {
					firstErr = err.Error()
				}
				return
			}
			clients[i] = cl
		})
	}
	wg.Wait()
	w.clients = slices.DeleteFunc(clients, func(c *client.Client) bool { return c == nil })
	if ctx.Err() != nil {
		return stormReply{}, fmt.Errorf("connect: %w", ctx.Err())
	}
	w.mu.Lock()
	w.n = len(w.clients) // the clients that failed to dial have no events
	w.mu.Unlock()
	return stormReply{Type: "ready", Connected: len(w.clients), Failed: failed, Error: firstErr}, nil
}

// event records a client's state change.
func (w *stormWorker) event(i int, e client.StateEvent) {
	now := time.Now().UnixNano()
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.state[i]
	s.state = e.State
	if !w.armed {
		return
	}
	switch e.State {
	case client.StateConnecting:
		if !s.dropped {
			s.dropped = true
			w.dropped++
			if w.first == 0 {
				w.first = now
			}
			w.last = now
		}
		if s.counted { // lost again
			s.counted = false
			w.back--
		}
	case client.StateConnected:
		// The time of its handshake's 101, rather than of this event,
		// which can be late (countingRT).
		s.connectedAt = cmp.Or(w.lastUp[i].Load(), now)
		w.count(s)
	}
}

// count counts s as back if it is. Called with mu held.
func (w *stormWorker) count(s *stormClient) {
	if w.since == 0 || s.counted || !s.dropped || s.state != client.StateConnected || s.connectedAt < w.since {
		return
	}
	s.counted = true
	w.back++
	if w.back == w.n && !w.waitDone {
		w.waitDone = true
		close(w.allBack)
	}
}

func (w *stormWorker) arm() {
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
	w.counts.armed.Store(true)
}

// wait answers when every client is back since since, or at until.
func (w *stormWorker) wait(ctx context.Context, since, until int64) stormReply {
	w.mu.Lock()
	if !w.armed || w.since != 0 {
		w.mu.Unlock()
		return stormReply{Type: "error", Error: "wait: not armed, or waited already"}
	}
	w.since = max(since, 1)
	w.allBack = make(chan struct{})
	for i := range w.state {
		w.count(&w.state[i])
	}
	if w.n == 0 && !w.waitDone {
		w.waitDone = true
		close(w.allBack)
	}
	w.mu.Unlock()
	t := time.NewTimer(time.Until(time.Unix(0, until)))
	select {
	case <-w.allBack:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := stormReply{Type: "back", Dropped: w.dropped, FirstDrop: w.first, LastDrop: w.last}
	for _, s := range w.state {
		if s.counted {
			r.Back = append(r.Back, s.connectedAt)
		}
	}
	slices.Sort(r.Back)
	r.Attempts, r.Upgraded = w.counts.attempts.Load(), w.counts.upgraded.Load()
	r.Refused, r.Rejected, r.Errors = w.counts.refused.Load(), w.counts.rejected.Load(), w.counts.errors.Load()
	w.counts.mu.Lock()
	r.FirstFail = w.counts.firstFail
	w.counts.mu.Unlock()
	return r
}

// close closes every client, at most workerStopWait/2 in all: a client's
// Close waits for the server's close frame, and the coordinator kills a
// worker that takes longer than workerStopWait.
func (w *stormWorker) close() {
	w.counts.armed.Store(false)
	clients := w.clients
	w.clients = nil
	if len(clients) == 0 {
		return
	}
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() { _ = c.Close() })
		}
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(workerStopWait / 2)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// dialAdmitted dials until a handshake is not refused by a limit (429 or
// 503): a server with connectionsPerSecond admits the first 10,000 clients
// over several seconds, and the storm starts once they are all in. It
// waits 100 ms to 2 s between attempts, with full jitter.
func dialAdmitted(ctx context.Context, url string, o client.Options) (*client.Client, error) {
	wait := 100 * time.Millisecond
	for {
		cl, err := client.Dial(ctx, url, o)
		var he *client.HandshakeError
		if err == nil || !errors.As(err, &he) || (he.Status != http.StatusTooManyRequests && he.Status != http.StatusServiceUnavailable) {
			return cl, err
		}
		select {
		case <-time.After(rand.N(wait)):
		case <-ctx.Done():
			return nil, err
		}
		wait = min(2*wait, 2*time.Second)
	}
}
