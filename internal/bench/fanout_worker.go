package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The worker protocol: the coordinator writes one JSON workerCommand per
// line on a worker's stdin; the worker answers each with one JSON
// workerReply per line on its stdout, in order. A worker exits when its
// stdin closes (so a coordinator that dies leaves no orphans), on "stop",
// at the deadline of its connect command, or after workerIdleLimit
// without a connect command.
const (
	cmdConnect = "connect" // open and subscribe connections; reply "ready"
	cmdCount   = "count"   // reply "count": deliveries so far, live connections
	cmdReport  = "report"  // reply "stats" and start counting afresh
	cmdStop    = "stop"    // close every connection; reply "stopped" and exit
)

// workerIdleLimit bounds how long a worker waits for its connect command.
const workerIdleLimit = time.Minute

var errWorkerDeadline = errors.New("bench worker: deadline passed")

// workerCommand is one line from the coordinator to a worker.
type workerCommand struct {
	Cmd string `json:"cmd"`

	// connect
	URL         string   `json:"url,omitempty"`
	URLs        []string `json:"urls,omitempty"`        // several nodes instead of URL: connection g goes to URLs[g%len]
	Sources     []string `json:"sources,omitempty"`     // local addresses, used in turn
	Connections int      `json:"connections,omitempty"` // how many this worker opens
	First       int      `json:"first,omitempty"`       // global index of its first connection
	Channels    []string `json:"channels,omitempty"`    // connection g = First+j subscribes to Channels[(g/nodes)%len]
	Concurrency int      `json:"concurrency,omitempty"` // handshakes in flight
	Loops       int      `json:"loops,omitempty"`       // epoll event loops
	Deadline    int64    `json:"deadline,omitempty"`    // unix ns: the worker exits then, whatever happens
	// Pusher: the connections speak Pusher protocol 7 (URL is then
	// ws://host:port/app/{key}?protocol=7): after connection_established
	// each sends pusher:subscribe and waits for
	// pusher_internal:subscription_succeeded, answers pusher:ping with
	// pusher:pong, and counts the channel events carrying a publication.
	Pusher bool `json:"pusher,omitempty"`

	// report: deliveries whose publication time is before Floor (unix
	// ns) belong to an earlier step and are counted as stale.
	Floor int64 `json:"floor,omitempty"`
}

// workerReply is one line from a worker to the coordinator.
type workerReply struct {
	Type  string `json:"type"` // "ready", "count", "stats", "stopped", "error"
	Error string `json:"error,omitempty"`

	// ready
	Connected        int   `json:"connected,omitempty"`
	Failed           int   `json:"failed,omitempty"`
	FirstDialAt      int64 `json:"firstDialAt,omitempty"`      // unix ns
	LastSubscribedAt int64 `json:"lastSubscribedAt,omitempty"` // unix ns

	// count, stats
	Received   uint64 `json:"received,omitempty"`   // pubs since the last report
	Lost       int    `json:"lost,omitempty"`       // connections lost since the last report
	PerChannel []int  `json:"perChannel,omitempty"` // live connections by channel index
	PerNode    []int  `json:"perNode,omitempty"`    // live connections by node index

	// stats
	Other      uint64     `json:"other,omitempty"`  // frames that are not pubs (pings excluded)
	Stale      uint64     `json:"stale,omitempty"`  // pubs of an earlier step
	Errors     uint64     `json:"errors,omitempty"` // protocol errors, failed pongs
	PerConnMin uint64     `json:"perConnMin,omitempty"`
	PerConnMax uint64     `json:"perConnMax,omitempty"`
	Histogram  *Histogram `json:"histogram,omitempty"`
	// With several nodes: pubs and latencies by node index.
	NodeReceived []uint64     `json:"nodeReceived,omitempty"`
	NodeHists    []*Histogram `json:"nodeHists,omitempty"`
	CPUUser      int64        `json:"cpuUser,omitempty"` // ns, since the worker started
	CPUSys       int64        `json:"cpuSys,omitempty"`
}

// RunFanoutWorker is a fan-out worker process (the hidden command
// `switchboard bench fanout-worker`): it reads commands from in and
// answers on out, as the worker protocol above describes. Fanout starts
// the workers; people do not.
func RunFanoutWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	w := &worker{}
	defer w.close()
	return runWorker(ctx, in, out, "fan-out", func(l *workerLife, c workerCommand) (any, bool) {
		var r workerReply
		switch c.Cmd {
		case cmdConnect:
			if w.loops != nil {
				r = workerReply{Type: "error", Error: "already connected"}
				break
			}
			l.connected(c.Deadline)
			var err error
			if r, err = w.connect(l.life, c); err != nil {
				r = workerReply{Type: "error", Error: err.Error()}
			}
		case cmdCount:
			r = w.count()
		case cmdReport:
			r = w.report(c.Floor)
		case cmdStop:
			w.close()
			return workerReply{Type: "stopped"}, true
		default:
			r = workerReply{Type: "error", Error: fmt.Sprintf("unknown command %q", c.Cmd)}
		}
		r.CPUUser, r.CPUSys = processCPU()
		return r, false
	})
}

// worker is the state of one worker process, owned by RunFanoutWorker's
// goroutine; the loops guard their own state.
type worker struct {
	loops    []*fanLoop
	channels int
	nodes    int
}

func (w *worker) connect(ctx context.Context, c workerCommand) (workerReply, error) {
	raw := c.URLs
	if len(raw) == 0 {
		raw = []string{c.URL}
	}
	us := make([]*url.URL, len(raw))
	for i, s := range raw {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "http") {
			return workerReply{}, fmt.Errorf("url %q: want ws://host:port/stage", s)
		}
		us[i] = u
	}
	if len(c.Channels) == 0 {
		return workerReply{}, errors.New("connect: no channels")
	}
	if len(c.Sources) == 0 {
		c.Sources = []string{""}
	}
	w.channels, w.nodes = len(c.Channels), len(us)
	for range max(c.Loops, 1) {
		l, err := newFanLoop(len(c.Channels), len(us))
		if err != nil {
			w.close()
			return workerReply{}, err
		}
		w.loops = append(w.loops, l)
	}
	for _, l := range w.loops {
		l.setPusher(c.Pusher)
	}
	frames := make([][]byte, len(c.Channels))
	for i, ch := range c.Channels {
		msg, _ := json.Marshal(map[string]any{"type": "subscribe", "id": 1, "channel": ch})
		if c.Pusher {
			msg = pusherSubscribe(ch)
		}
		frames[i] = msg
	}
	var (
		next, failed atomic.Int64
		lastSub      atomic.Int64
		errOnce      sync.Once
		firstErr     error
		wg           sync.WaitGroup
	)
	first := time.Now()
	for range max(c.Concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= c.Connections || ctx.Err() != nil {
					return
				}
				g := c.First + j
				node := g % len(us)
				ch := (g / len(us)) % len(c.Channels)
				err := w.loops[j%len(w.loops)].dialSubscribe(ctx, us[node], c.Sources[j%len(c.Sources)], ch, node, frames[ch])
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				now := time.Now().UnixNano()
				for {
					old := lastSub.Load()
					if now <= old || lastSub.CompareAndSwap(old, now) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return workerReply{}, err
	}
	r := workerReply{
		Type:             "ready",
		Failed:           int(failed.Load()),
		FirstDialAt:      first.UnixNano(),
		LastSubscribedAt: lastSub.Load(),
	}
	r.Connected = c.Connections - r.Failed
	if firstErr != nil {
		r.Error = firstErr.Error()
	}
	return r, nil
}

// count sums the loops' counters without resetting them.
func (w *worker) count() workerReply {
	r := workerReply{Type: "count", PerChannel: make([]int, w.channels), PerNode: make([]int, w.nodes)}
	for _, l := range w.loops {
		l.mu.Lock()
		r.Received += l.received
		r.Lost += l.lost
		for i, n := range l.perChannel {
			r.PerChannel[i] += n
		}
		for i, n := range l.perNode {
			r.PerNode[i] += n
		}
		l.mu.Unlock()
	}
	return r
}

// report collects and resets the loops' counters.
func (w *worker) report(floor int64) workerReply {
	r := workerReply{Type: "stats", PerChannel: make([]int, w.channels), PerNode: make([]int, w.nodes), Histogram: &Histogram{}}
	if w.nodes > 1 {
		r.NodeReceived = make([]uint64, w.nodes)
		r.NodeHists = make([]*Histogram, w.nodes)
		for i := range r.NodeHists {
			r.NodeHists[i] = &Histogram{}
		}
	}
	first := true
	var errs []string
	for _, l := range w.loops {
		l.mu.Lock()
		r.Received += l.received
		r.Lost += l.lost
		r.Other += l.other
		r.Stale += l.stale
		r.Errors += l.errors
		for i, n := range l.perChannel {
			r.PerChannel[i] += n
		}
		for i, n := range l.perNode {
			r.PerNode[i] += n
		}
		r.Histogram.Merge(&l.hist)
		for i := range l.nodeHist {
			r.NodeHists[i].Merge(&l.nodeHist[i])
			r.NodeReceived[i] += l.nodeReceived[i]
		}
		for _, c := range l.conns {
			if c == nil {
				continue
			}
			if first || uint64(c.count) < r.PerConnMin {
				r.PerConnMin = uint64(c.count)
			}
			r.PerConnMax = max(r.PerConnMax, uint64(c.count))
			first = false
			c.count = 0
		}
		if l.firstErr != "" {
			errs = append(errs, l.firstErr)
		}
		l.resetLocked(floor)
		l.mu.Unlock()
	}
	r.Error = strings.Join(errs, "; ")
	return r
}

func (w *worker) close() {
	for _, l := range w.loops {
		l.stop()
	}
	w.loops = nil
}

// dialSubscribe opens one connection from source (switchboard.v1, or
// Pusher when the loop's connections are), reads its connected message
// (connection_established), subscribes it to channel ch (sub is the
// subscribe message), and hands its socket to the loop. The setup is
// blocking, on the calling goroutine; afterwards the connection has no
// goroutine.
func (l *fanLoop) dialSubscribe(ctx context.Context, u *url.URL, source string, ch, node int, sub []byte) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	leftover, err := handshakeSubscribe(c, u, sub, l.isPusher())
	if err != nil {
		c.Close()
		return err
	}
	return l.add(c, ch, node, leftover)
}

// handshakeSubscribe runs the client side of the handshake and the
// subscription on a blocking connection: switchboard.v1 (sub is its
// subscribe message), or Pusher protocol 7 when pusher (sub is the
// pusher:subscribe event). It returns the bytes read past the
// subscription's reply (the start of later frames).
func handshakeSubscribe(c net.Conn, u *url.URL, sub []byte, pusher bool) ([]byte, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(key) + "\r\n"
	if !pusher {
		req += "Sec-WebSocket-Protocol: switchboard.v1\r\n"
	}
	req += "User-Agent: switchboard-bench\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	step := pusherSetup(sub)
	if !pusher {
		if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "switchboard.v1" {
			return nil, fmt.Errorf("handshake: the server selected subprotocol %q, not switchboard.v1", p)
		}
		step = v1Setup(sub)
	}
	rest, err := awaitSetup(c, br, step)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return rest, nil
}

// setupStep handles one text message of a connection's setup (the
// messages after the handshake until the subscription's reply): it
// returns a message to send in answer, if any, and done once the setup is
// complete.
type setupStep func(msg []byte) (send []byte, done bool, err error)

// awaitSetup reads the frames after the handshake from br, answering
// pings, and hands each text message to step until it is done. It returns
// the bytes read past the last message of the setup.
func awaitSetup(c net.Conn, br *bufio.Reader, step setupStep) ([]byte, error) {
	var (
		buf []byte
		tmp [1024]byte
	)
	for frames := 0; frames < 64; {
		f, size, _, err := nextFrame(buf)
		if err != nil {
			return nil, err
		}
		if size == 0 {
			n, err := br.Read(tmp[:])
			if err != nil {
				return nil, fmt.Errorf("subscribe: %w", err)
			}
			buf = append(buf, tmp[:n]...)
			continue
		}
		frames++
		p := f.payload
		buf = buf[size:]
		switch f.op {
		case opPing:
			if _, err := c.Write(appendClientFrame(nil, opPong, p)); err != nil {
				return nil, err
			}
		case opClose:
			return nil, fmt.Errorf("subscribe: the server closed the connection: %s", closeReason(p))
		case opText:
			send, done, err := step(p)
			if err != nil {
				return nil, err
			}
			if len(send) > 0 {
				if _, err := c.Write(appendClientFrame(nil, opText, send)); err != nil {
					return nil, err
				}
			}
			if done {
				rest := append([]byte(nil), buf...)
				if n := br.Buffered(); n > 0 {
					b, _ := br.Peek(n)
					rest = append(rest, b...)
				}
				return rest, nil
			}
		}
	}
	return nil, errors.New("subscribe: no reply within 64 frames")
}

// v1Setup is the setup of a switchboard.v1 connection: the connected
// message, then the reply to sub (id 1). The setup is not the hot path:
// it decodes the messages properly.
func v1Setup(sub []byte) setupStep {
	connected := false
	return func(p []byte) ([]byte, bool, error) {
		var m struct {
			Type  string `json:"type"`
			ID    int64  `json:"id"`
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(p, &m); err != nil {
			return nil, false, fmt.Errorf("subscribe: %w in %.200s", err, p)
		}
		switch {
		case !connected:
			if m.Type != "connected" {
				return nil, false, fmt.Errorf("subscribe: the first message is not \"connected\": %.200s", p)
			}
			connected = true
			return sub, false, nil
		case m.Type == "reply" && m.ID == 1:
			if m.Error != nil {
				return nil, false, fmt.Errorf("subscribe: %d %s", m.Error.Code, m.Error.Message)
			}
			return nil, true, nil
		}
		return nil, false, nil
	}
}

// closeReason formats a close frame's payload.
func closeReason(p []byte) string {
	if len(p) < 2 {
		return "no status"
	}
	return fmt.Sprintf("%d %q", int(p[0])<<8|int(p[1]), p[2:])
}
