package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// TestSoak churns connections of every kind a real deployment sees —
// well-behaved clients, abrupt resets, malformed frames, slow readers —
// against one server, then checks that everything returns to where it
// started: no connection left in the registry, no channel membership, one
// $disconnect per accepted connection, and goroutines, file descriptors
// and heap back to their baseline.
//
// The short form (CI, under -race) runs for 2 s with at most 200 open
// connections. The long form:
//
//	SWITCHBOARD_SOAK=60s SWITCHBOARD_SOAK_CONNS=3000 go test -run TestSoak -count=1 ./internal/server/
func TestSoak(t *testing.T) {
	p := soakParamsFromEnv(t)
	be := newSoakBackend(t)
	e := startQuietServer(t, fmt.Sprintf(soakAPI, be.srv.URL))
	api := e.srv.Gateway().API("test")
	s := &soak{
		t: t, e: e, be: be, p: p,
		host:   strings.TrimPrefix(e.base, "http://"),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second},
		codes:  map[string]int{},
	}

	base := soakMeasure()
	t.Logf("baseline: %d goroutines, heap in use %s, %d fds, %d connections", base.goroutines, mib(base.heap), base.fds, api.Connections())

	start := time.Now()
	s.run()
	elapsed := time.Since(start)

	// Every connection the clients opened must be gone from the server,
	// with exactly one $disconnect each.
	soakWait(t, 30*time.Second, "no open connections", func() bool { return api.Connections() == 0 })
	soakWait(t, 30*time.Second, "one $disconnect per $connect", func() bool {
		c, d := be.counts()
		return d >= c
	})
	connects, disconnects := be.counts()
	accepted := s.accepted()
	if connects != accepted {
		t.Errorf("%d $connect events, %d handshakes answered 101 (%d dial errors)", connects, accepted, s.dialErrors.Load())
	}
	for _, ch := range []string{"room:0", "room:m0", "room:slow-0-0"} {
		if info, err := e.srv.Gateway().Channel(t.Context(), "test", ch, "", 1); err == nil && info.Members != 0 {
			t.Errorf("channel %s still has %d members", ch, info.Members)
		}
	}
	metrics := s.metrics()
	for _, name := range []string{`switchboard_connections{api="soak"}`, `switchboard_channels{api="soak"}`, `switchboard_subscriptions{api="soak"}`} {
		if v, ok := metrics[name]; !ok || v != 0 {
			t.Errorf("%s = %v after the soak (present %v), want 0", name, v, ok)
		}
	}

	// Let go of what the test itself holds: its idle HTTP connections, the
	// gateway's idle connections to the backend, and the backend's record
	// of connection ids (checked here, dropped before the heap is read).
	s.client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	be.srv.CloseClientConnections()
	missing, twice, unknown := be.verifyAndForget()
	if missing+twice+unknown > 0 {
		t.Errorf("$disconnect: %d connections without one, %d with more than one, %d for an unknown connection", missing, twice, unknown)
	}

	var after soakFigures
	soakWait(t, 30*time.Second, "goroutines back to baseline", func() bool {
		after = soakMeasure()
		return after.goroutines <= base.goroutines+10
	})
	if base.fds >= 0 {
		soakWait(t, 30*time.Second, "file descriptors back to baseline", func() bool {
			after = soakMeasure()
			return after.fds <= base.fds+10
		})
	}
	soakWait(t, 30*time.Second, "heap back to baseline", func() bool {
		after = soakMeasure()
		return after.heap <= base.heap+8<<20
	})
	// A $disconnect arriving late would be a second one.
	if c, d := be.counts(); c != connects || d != disconnects {
		t.Errorf("events kept coming: $connect %d → %d, $disconnect %d → %d", connects, c, disconnects, d)
	}

	t.Logf("ran %v with %d workers, at most %d connections open (peak seen %d)", elapsed.Round(time.Millisecond), p.workers, p.conns, s.peak.Load())
	t.Logf("accepted (101): %d — %s; %.0f/s", accepted, s.kinds(), float64(accepted)/elapsed.Seconds())
	t.Logf("dial errors %d, unexpected client errors %d%s", s.dialErrors.Load(), s.failures.Load(), s.firstErrors())
	t.Logf("slow readers: %d cut by the server, %d closed by the worker; malformed frames closed with %s", s.slowCut.Load(), s.slowTimeout.Load(), s.codeHistogram())
	t.Logf("broadcasts sent %d, joins by action %d, by management API %d", s.broadcasts.Load(), s.joinsAction.Load(), s.joinsManage.Load())
	t.Logf("backend: %d $connect, %d $disconnect, %d other events; disconnect codes %s", connects, disconnects, be.others.Load(), be.codeHistogram())
	t.Logf("server log lines at warn or above: %d", e.logs.count())
	t.Logf("goroutines %d → %d, heap in use %s → %s, fds %d → %d, connections %d",
		base.goroutines, after.goroutines, mib(base.heap), mib(after.heap), base.fds, after.fds, api.Connections())
}

// soakAPI: every event goes to the backend, "broadcast" reaches every
// connection, "join" and "say" use the room channels (with presence), and
// the limits cut slow readers quickly.
const soakAPI = `
apis:
  - id: soak
    stage: test
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: backend}
      $disconnect: {integration: backend}
      $default: {integration: backend}
      twoway: {integration: backend, routeResponseSelectionExpression: $default}
      broadcast: {action: {type: broadcast}}
      join: {action: {type: join, channel: $request.body.room}}
      say: {action: {type: broadcast, channel: $request.body.room, excludeSender: true}}
    integrations:
      backend:
        type: http
        url: %s
        timeout: 10s
    disconnect:
      attempts: 3
      backoff: 20ms
    limits:
      maxMessageBytes: 16KiB
      outboundQueueBytes: 64KiB
      writeTimeout: 1s
    channels:
      namespaces:
        - pattern: "room:*"
          presence: true
`

type soakParams struct {
	dur     time.Duration
	conns   int // most connections open at once
	workers int
	maxOps  int // connections each worker opens at most
}

func soakParamsFromEnv(t *testing.T) soakParams {
	p := soakParams{dur: 2 * time.Second, conns: 200, workers: 16, maxOps: 1 << 20}
	if v := os.Getenv("SWITCHBOARD_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SWITCHBOARD_SOAK=%q: want a duration such as 60s", v)
		}
		p.dur = d
	}
	if v := os.Getenv("SWITCHBOARD_SOAK_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2*p.workers || n > 4000 {
			t.Fatalf("SWITCHBOARD_SOAK_CONNS=%q: want %d to 4000", v, 2*p.workers)
		}
		p.conns = n
	}
	return p
}

// startQuietServer is startServer with a logger that keeps warnings only
// and counts them: a soak's debug log would dominate its heap.
func startQuietServer(t *testing.T, yaml string) *soakEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("soak.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	cfg.Shutdown.DrainWindow = config.Duration(100 * time.Millisecond)
	cfg.Shutdown.Timeout = config.Duration(10 * time.Second)
	if err := cfg.Validate(); err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	logs := &countingLog{t: t}
	srv, err := New(cfg, Options{
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Engine:   ws.Options{Tick: 20 * time.Millisecond, CloseTimeout: time.Second},
		Listener: ln,
	})
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, srv: srv, base: "http://" + ln.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { e.done <- srv.Run(ctx) }()
	t.Cleanup(func() { e.shutdown() })
	return &soakEnv{env: e, logs: logs}
}

type soakEnv struct {
	*env
	logs *countingLog
}

// countingLog counts log lines and echoes the first few to the test log.
type countingLog struct {
	t *testing.T
	n atomic.Int64
}

func (l *countingLog) Write(p []byte) (int, error) {
	if l.n.Add(1) <= 5 {
		l.t.Logf("server: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *countingLog) count() int64 { return l.n.Load() }

// soakBackend is a light fake integration: it keeps, per connection id,
// how many $connect and $disconnect events arrived, and the histogram of
// disconnect codes, not the events. "twoway" is answered with "id:" and
// the connection's id, so clients learn it.
type soakBackend struct {
	srv    *httptest.Server
	others atomic.Int64

	mu          sync.Mutex
	connects    map[string]int
	disconnects map[string]int
	nConnect    int
	nDisconnect int
	codes       map[string]int
}

func newSoakBackend(t *testing.T) *soakBackend {
	b := &soakBackend{connects: map[string]int{}, disconnects: map[string]int{}, codes: map[string]int{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RequestContext struct {
				RouteKey             string
				ConnectionID         string `json:"connectionId"`
				DisconnectStatusCode json.RawMessage
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("backend got a non-JSON event: %v", err)
		}
		rc := ev.RequestContext
		switch rc.RouteKey {
		case "$connect":
			b.mu.Lock()
			b.connects[rc.ConnectionID]++
			b.nConnect++
			b.mu.Unlock()
		case "$disconnect":
			b.mu.Lock()
			b.disconnects[rc.ConnectionID]++
			b.nDisconnect++
			b.codes[string(rc.DisconnectStatusCode)]++
			b.mu.Unlock()
		case "twoway":
			b.others.Add(1)
			_, _ = io.WriteString(w, "id:"+rc.ConnectionID)
		default:
			b.others.Add(1)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *soakBackend) counts() (connects, disconnects int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nConnect, b.nDisconnect
}

// verifyAndForget compares the $connect and $disconnect ids, then drops
// them (they are test state, not the server's).
func (b *soakBackend) verifyAndForget() (missing, twice, unknown int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, n := range b.connects {
		d := b.disconnects[id]
		if n > 1 {
			twice++ // a connection id given out twice
		}
		switch {
		case d == 0:
			missing++
		case d > 1:
			twice++
		}
	}
	for id := range b.disconnects {
		if b.connects[id] == 0 {
			unknown++
		}
	}
	b.connects, b.disconnects = nil, nil
	return missing, twice, unknown
}

func (b *soakBackend) codeHistogram() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return histogram(b.codes)
}

func histogram(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s: %d", k, m[k])
	}
	return "{" + sb.String() + "}"
}

// The kinds of client, with their share of the connections opened.
const (
	kindWS        = iota // coder/websocket, a few messages, normal close (60%)
	kindReset            // raw, one message, then RST (20%)
	kindMalformed        // raw, one invalid frame, the server closes (10%)
	kindSlow             // raw, joins a room, never reads (10%)
	kindTrigger          // coder/websocket, floods a slow reader's room
	kinds
)

var kindNames = [kinds]string{"websocket", "reset", "malformed", "slow reader", "trigger"}

type soak struct {
	t      *testing.T
	e      *soakEnv
	be     *soakBackend
	p      soakParams
	host   string
	client *http.Client

	opened                               [kinds]atomic.Int64
	dialErrors, failures                 atomic.Int64
	slowCut, slowTimeout                 atomic.Int64
	broadcasts, joinsAction, joinsManage atomic.Int64
	lastBroadcast                        atomic.Int64  // unix nanoseconds
	peak                                 atomic.Int64  // open connections seen by the server, sampled
	slots                                chan struct{} // slow readers in flight
	slow                                 sync.WaitGroup

	mu       sync.Mutex
	codes    map[string]int // close codes the server sent malformed clients
	errTexts []string
}

func (s *soak) accepted() int {
	n := 0
	for i := range s.opened {
		n += int(s.opened[i].Load())
	}
	return n
}

func (s *soak) kinds() string {
	var parts []string
	for i, name := range kindNames {
		parts = append(parts, fmt.Sprintf("%s %d", name, s.opened[i].Load()))
	}
	return strings.Join(parts, ", ")
}

func (s *soak) codeHistogram() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return histogram(s.codes)
}

func (s *soak) fail(format string, args ...any) {
	s.failures.Add(1)
	s.mu.Lock()
	if len(s.errTexts) < 10 {
		s.errTexts = append(s.errTexts, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

func (s *soak) firstErrors() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errTexts) == 0 {
		return ""
	}
	return "; first: " + strings.Join(s.errTexts, "; ")
}

// run starts the workers and returns when they closed every connection.
func (s *soak) run() {
	end := time.Now().Add(s.p.dur)
	// Each slow reader in flight holds two connections (itself and its
	// trigger) for about two seconds, so they run beside the workers.
	slots := min(64, s.p.conns/8)
	s.slots = make(chan struct{}, slots)
	perWorker := max(1, (s.p.conns-2*slots)/s.p.workers)
	var wg sync.WaitGroup
	for w := range s.p.workers {
		wg.Go(func() { s.worker(w, end, perWorker) })
	}
	wg.Wait()
	s.slow.Wait()
}

// worker opens connections until the end or maxOps, keeping at most
// perWorker of them open: the oldest is closed to make room.
func (s *soak) worker(w int, end time.Time, perWorker int) {
	rng := rand.New(rand.NewPCG(uint64(w), 42))
	var open []*soakWS
	defer func() {
		for _, c := range open {
			c.close()
		}
	}()
	api := s.e.srv.Gateway().API("test")
	for i := 0; i < s.p.maxOps && time.Now().Before(end); i++ {
		if n := int64(api.Connections()); n > s.peak.Load() {
			s.peak.Store(n) // racy maximum: a sample, not an exact peak
		}
		for len(open) >= perWorker {
			open[0].close()
			open = open[1:]
		}
		switch r := rng.IntN(10); {
		case r < 6:
			if c := s.wsClient(rng); c != nil {
				open = append(open, c)
			}
		case r < 8:
			s.resetClient(rng)
		case r < 9:
			s.malformedClient(rng)
		default:
			// Slow readers take a second or more to be cut: they run
			// beside the workers, a bounded number at a time.
			s.slots <- struct{}{}
			room := fmt.Sprintf("room:slow-%d-%d", w, i)
			s.slow.Go(func() {
				defer func() { <-s.slots }()
				s.slowClient(room)
			})
		}
	}
}

// soakWS is an open coder/websocket client whose reader discards what
// arrives.
type soakWS struct {
	c    *websocket.Conn
	done chan struct{}
}

func (c *soakWS) close() {
	_ = c.c.Close(websocket.StatusNormalClosure, "")
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.c.CloseNow()
	}
}

func (s *soak) dialWS(kind int) *websocket.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.host+"/test", &websocket.DialOptions{HTTPClient: s.client})
	if err != nil {
		s.dialErrors.Add(1)
		s.fail("dial %s: %v", kindNames[kind], err)
		return nil
	}
	s.opened[kind].Add(1)
	c.SetReadLimit(1 << 20)
	return c
}

func (s *soak) send(c *websocket.Conn, msg []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, msg) == nil
}

// wsClient sends one to four messages — a broadcast to everyone (at most
// 20 a second overall), a join, bogus JSON, an unknown route for the
// backend, or a two-way call that tells it its id, then a join through
// the management API — and stays open, reading, until the worker closes it.
func (s *soak) wsClient(rng *rand.Rand) *soakWS {
	c := s.dialWS(kindWS)
	if c == nil {
		return nil
	}
	for range 1 + rng.IntN(4) {
		var msg string
		switch rng.IntN(5) {
		case 0:
			now := time.Now().UnixNano()
			last := s.lastBroadcast.Load()
			if now-last < int64(50*time.Millisecond) || !s.lastBroadcast.CompareAndSwap(last, now) {
				continue
			}
			s.broadcasts.Add(1)
			msg = `{"action":"broadcast","text":"hello everyone"}`
		case 1:
			s.joinsAction.Add(1)
			msg = fmt.Sprintf(`{"action":"join","room":"room:%d"}`, rng.IntN(8))
		case 2:
			msg = `{"action": "join", "room": ` // bogus JSON: $default
		case 3:
			msg = `{"action":"nosuch","n":1}`
		case 4:
			if !s.send(c, []byte(`{"action":"twoway"}`)) || !s.manageJoin(c, fmt.Sprintf("room:m%d", rng.IntN(8))) {
				c.CloseNow()
				return nil
			}
			continue
		}
		if !s.send(c, []byte(msg)) {
			s.fail("websocket write failed")
			c.CloseNow()
			return nil
		}
	}
	h := &soakWS{c: c, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return h
}

// manageJoin reads the two-way reply carrying the connection's id and
// puts the connection in channel through the management API.
func (s *soak) manageJoin(c *websocket.Conn, channel string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			s.fail("reading the two-way reply: %v", err)
			return false
		}
		if id, ok := bytes.CutPrefix(b, []byte("id:")); ok {
			req, _ := http.NewRequest("PUT", "http://"+s.host+"/test/@channels/"+channel+"/connections/"+string(id), nil)
			resp, err := s.client.Do(req)
			if err != nil {
				s.fail("management join: %v", err)
				return false
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				s.fail("management join: %d", resp.StatusCode)
				return false
			}
			s.joinsManage.Add(1)
			return true
		}
	}
}

// rawDial opens a WebSocket by hand and returns it after a 101; rcvbuf,
// when not 0, is the socket's receive buffer.
func (s *soak) rawDial(kind int, rcvbuf int) net.Conn {
	d := net.Dialer{Timeout: 10 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	nc, err := d.Dial("tcp", s.host)
	if err != nil {
		s.dialErrors.Add(1)
		s.fail("dial %s: %v", kindNames[kind], err)
		return nil
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "GET /test HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", s.host)
	// Read the response byte by byte, so no frame is consumed with it.
	var head []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) && len(head) < 4096 {
		if _, err := nc.Read(one); err != nil {
			break
		}
		head = append(head, one[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		s.dialErrors.Add(1)
		s.fail("%s handshake answered %q", kindNames[kind], head)
		nc.Close()
		return nil
	}
	s.opened[kind].Add(1)
	_ = nc.SetDeadline(time.Time{})
	return nc
}

// maskedFrame is one masked client frame with the given first byte.
func maskedFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{7, 1, 9, 3}
	f := []byte{b0, 0x80 | byte(len(payload)), key[0], key[1], key[2], key[3]}
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

// resetClient sends one message and resets the connection.
func (s *soak) resetClient(rng *rand.Rand) {
	nc := s.rawDial(kindReset, 0)
	if nc == nil {
		return
	}
	msg := `{"action":"nosuch"}`
	if rng.IntN(2) == 0 {
		msg = fmt.Sprintf(`{"action":"join","room":"room:%d"}`, rng.IntN(8))
	}
	_, _ = nc.Write(maskedFrame(0x81, []byte(msg)))
	_ = nc.(*net.TCPConn).SetLinger(0)
	nc.Close()
}

// malformedClient sends a frame with a reserved bit set, an unmasked
// frame, or a text frame that is not UTF-8, and expects the server to
// send a close frame and end the connection.
func (s *soak) malformedClient(rng *rand.Rand) {
	nc := s.rawDial(kindMalformed, 0)
	if nc == nil {
		return
	}
	defer nc.Close()
	var f []byte
	switch rng.IntN(3) {
	case 0:
		f = maskedFrame(0xC1, []byte("hi")) // FIN, RSV1, text
	case 1:
		f = []byte{0x81, 2, 'h', 'i'} // not masked
	case 2:
		f = maskedFrame(0x81, []byte{'a', 0xff, 0xfe, 'b'})
	}
	if _, err := nc.Write(f); err != nil {
		s.fail("malformed write: %v", err)
		return
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	code := "none"
	r := bufio.NewReader(nc)
	for {
		h := make([]byte, 2)
		if _, err := io.ReadFull(r, h); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				code = "timeout"
			}
			break
		}
		n := int(h[1] & 0x7f)
		if n >= 126 { // the server sends no large frames to this client
			s.fail("malformed: unexpected frame length %d", n)
			break
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			break
		}
		if h[0]&0x0f == 0x8 { // close: answer it, then wait for EOF
			code = "no code"
			if n >= 2 {
				code = strconv.Itoa(int(p[0])<<8 | int(p[1]))
			}
			_, _ = nc.Write(maskedFrame(0x88, p[:min(n, 2)]))
		}
	}
	s.mu.Lock()
	s.codes[code]++
	s.mu.Unlock()
}

// slowClient joins a room of its own and never reads; a trigger client
// joins too and floods the room until the server drops the reader (1013)
// or 10 s pass.
func (s *soak) slowClient(room string) {
	nc := s.rawDial(kindSlow, 4096)
	if nc == nil {
		return
	}
	defer nc.Close()
	if _, err := nc.Write(maskedFrame(0x81, []byte(`{"action":"join","room":"`+room+`"}`))); err != nil {
		s.fail("slow reader join: %v", err)
		return
	}
	gw := s.e.srv.Gateway()
	members := func() int {
		info, err := gw.Channel(context.Background(), "test", room, "", 1)
		if err != nil {
			return 0
		}
		return info.Members
	}
	deadline := time.Now().Add(10 * time.Second)
	for members() == 0 {
		if time.Now().After(deadline) {
			s.fail("slow reader did not join %s", room)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	trigger := s.dialWS(kindTrigger)
	if trigger == nil {
		return
	}
	defer trigger.Close(websocket.StatusNormalClosure, "")
	go func() { // the trigger receives broadcasts to everyone: discard them
		for {
			if _, _, err := trigger.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	// A broadcast to a room comes from one of its members.
	if !s.send(trigger, []byte(`{"action":"join","room":"`+room+`"}`)) {
		s.fail("trigger join failed")
		return
	}
	for members() < 2 {
		if time.Now().After(deadline) {
			s.fail("trigger did not join %s", room)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	msg := []byte(`{"action":"say","room":"` + room + `","pad":"` + strings.Repeat("x", 8<<10) + `"}`)
	// 256 × 8 KiB is far more than the socket buffers and the 64 KiB queue
	// hold; the server then closes the reader, which leaves the room once
	// its close handshake timed out.
	for i := 0; i < 256 && time.Now().Before(deadline) && members() == 2; i++ {
		if !s.send(trigger, msg) {
			s.fail("trigger write failed")
			return
		}
	}
	for members() == 2 {
		if time.Now().After(deadline) {
			s.slowTimeout.Add(1)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.slowCut.Add(1)
}

// metrics reads the server's gauges and counters (name with labels → value).
func (s *soak) metrics() map[string]float64 {
	out := map[string]float64{}
	resp, err := s.client.Get("http://" + s.host + "/metrics")
	if err != nil {
		s.t.Errorf("metrics: %v", err)
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

type soakFigures struct {
	goroutines int
	heap       uint64
	fds        int // -1 without /proc
}

func soakMeasure() soakFigures {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f := soakFigures{goroutines: runtime.NumGoroutine(), heap: ms.HeapInuse, fds: -1}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		f.fds = len(ents)
	}
	return f
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// soakWait polls cond until it holds or timeout passes; it reports a
// failure and returns (so the figures are still logged) when it does not.
func soakWait(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("timed out after %v waiting for %s", timeout, what)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
