package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IdleOptions configure an idle-connection measurement.
type IdleOptions struct {
	// URL is the WebSocket endpoint (ws://host:port/stage).
	URL string
	// Metrics is the server's Prometheus endpoint, read before and
	// after. Default: /metrics on the host of URL.
	Metrics string
	// URLs, instead of URL and Metrics, are several nodes' endpoints (a
	// cluster): connection i goes to URLs[i % len(URLs)], and each node's
	// memory is read from NodeMetrics[i] (default /metrics on its host).
	URLs        []string
	NodeMetrics []string
	// Redis, when set, are redis-server addresses whose used_memory (INFO
	// memory) is read before and after, summed: what a cluster keeps in
	// Redis per connection (its record in the registry).
	Redis []string
	// Connections is how many idle connections to open.
	Connections int
	// Sources are the local addresses to dial from, in turn (each gives
	// the client about 28,000 ephemeral ports).
	Sources []string
	// Concurrency bounds the handshakes in flight. Default 64.
	Concurrency int
	// Settle is how long to wait after the last connection before reading
	// the server's memory. Default 3s.
	Settle time.Duration
	// Timeout bounds the whole measurement. Default 5m.
	Timeout time.Duration
	// Message sends one 1 KiB text message on each connection after the
	// handshake, so that what a server keeps after a message shows.
	Message bool
	// Deflate offers permessage-deflate as browsers do and fails a
	// connection on which the server does not accept it; the message of
	// Message goes compressed, so that any compression state a server
	// kept per connection would show (idle_deflate.go).
	Deflate bool
	// PusherKey, when set, makes the connections Pusher connections of the
	// app with that key: each connects to ws://host:port/app/{key}?protocol=7
	// on the host of URL (its path is not used) and reads
	// pusher:connection_established. Not with Message or Deflate.
	PusherKey string
	// Channel, with PusherKey, subscribes each connection to that public
	// channel and waits for pusher_internal:subscription_succeeded.
	Channel string
}

// IdleResult is what an idle-connection measurement found. Memory figures
// are the server's own, from its /metrics.
type IdleResult struct {
	Connections      int
	Failed           int
	ConnectSeconds   float64
	ConnectsPerSec   float64
	RSSBefore        float64 // bytes
	RSSAfter         float64
	HeapMetric       string // what HeapBefore/After are: live heap after a GC, or heap in use (heap.go)
	HeapBefore       float64
	HeapAfter        float64
	StackBefore      float64 // go_memstats_stack_inuse_bytes
	StackAfter       float64
	GoroutinesBefore float64
	GoroutinesAfter  float64
	// Nodes, with URLs, are each node's figures; the memory figures above
	// are then their sums.
	Nodes []IdleNode
	// RedisBefore and RedisAfter are the Redis servers' used_memory, with
	// IdleOptions.Redis.
	RedisBefore, RedisAfter float64
}

// IdleNode is one node's connections and memory.
type IdleNode struct {
	URL                   string
	Connections           int
	RSSBefore, RSSAfter   float64
	HeapMetric            string
	HeapBefore, HeapAfter float64
}

// RSSPerConn is the server's resident memory per idle connection, in bytes.
func (r IdleResult) RSSPerConn() float64 {
	return (r.RSSAfter - r.RSSBefore) / float64(max(r.Connections, 1))
}

// String formats the result for people.
func (r IdleResult) String() string {
	str := r.summary()
	if r.RedisAfter > 0 {
		str += "\n" + memLine("redis memory", r.RedisBefore, r.RedisAfter, r.Connections, "")
	}
	for _, n := range r.Nodes {
		str += fmt.Sprintf("\nnode %s: %d connections\n  %s\n  %s", n.URL, n.Connections,
			memLine("server RSS", n.RSSBefore, n.RSSAfter, n.Connections, ""),
			heapLine(n.HeapMetric, n.HeapBefore, n.HeapAfter, n.Connections))
	}
	return str
}

func (r IdleResult) summary() string {
	n := float64(max(r.Connections, 1))
	return fmt.Sprintf(`connections      %d open, %d failed, in %.2fs (%.0f/s)
%s
%s
server stacks    %.1f MiB -> %.1f MiB: %.2f KiB per connection
goroutines       %.0f -> %.0f: %.3f per connection`,
		r.Connections, r.Failed, r.ConnectSeconds, r.ConnectsPerSec,
		memLine("server RSS", r.RSSBefore, r.RSSAfter, r.Connections, ""),
		heapLine(r.HeapMetric, r.HeapBefore, r.HeapAfter, r.Connections),
		r.StackBefore/(1<<20), r.StackAfter/(1<<20), (r.StackAfter-r.StackBefore)/n/1024,
		r.GoroutinesBefore, r.GoroutinesAfter, (r.GoroutinesAfter-r.GoroutinesBefore)/n)
}

// Idle opens opts.Connections idle WebSocket connections, measures the
// server's memory before and after, and closes them.
func Idle(ctx context.Context, opts IdleOptions) (IdleResult, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	if opts.Settle <= 0 {
		opts.Settle = 3 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if len(opts.Sources) == 0 {
		opts.Sources = []string{""}
	}
	if opts.PusherKey != "" && (opts.Message || opts.Deflate) {
		return IdleResult{}, errors.New("the Message and Deflate options are not for Pusher connections (PusherKey)")
	}
	if opts.Channel != "" && opts.PusherKey == "" {
		return IdleResult{}, errors.New("a channel needs the Pusher key (PusherKey)")
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	raw, metrics := []string{opts.URL}, []string(nil)
	if opts.Metrics != "" {
		metrics = []string{opts.Metrics}
	}
	if len(opts.URLs) > 0 {
		if opts.URL != "" || opts.Metrics != "" {
			return IdleResult{}, errors.New("give URL and Metrics, or URLs (and NodeMetrics), not both")
		}
		raw, metrics = opts.URLs, opts.NodeMetrics
	}
	us := make([]*url.URL, len(raw))
	for i, s := range raw {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "http") || u.Host == "" {
			return IdleResult{}, fmt.Errorf("url %q: want ws://host:port/stage", s)
		}
		us[i] = u
	}
	if len(metrics) == 0 {
		for _, u := range us {
			metrics = append(metrics, "http://"+u.Host+"/metrics")
		}
	}
	if len(metrics) != len(us) {
		return IdleResult{}, fmt.Errorf("%d metrics endpoints for %d URLs: give one per URL", len(metrics), len(us))
	}
	var res IdleResult
	before, err := scrapeAll(ctx, metrics)
	if err != nil {
		return res, err
	}
	if res.RedisBefore, err = redisMemory(ctx, opts.Redis); err != nil {
		return res, err
	}
	for _, m := range before {
		res.RSSBefore += m["process_resident_memory_bytes"]
		res.StackBefore += m["go_memstats_stack_inuse_bytes"]
		res.GoroutinesBefore += m["go_goroutines"]
	}

	conns := make([]net.Conn, opts.Connections)
	var failed atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= opts.Connections || ctx.Err() != nil {
					return
				}
				var c net.Conn
				var err error
				if opts.PusherKey != "" {
					c, err = dialPusher(ctx, pusherURL(us[i%len(us)], opts.PusherKey), opts.Sources[i%len(opts.Sources)], opts.Channel)
				} else {
					c, err = dialWS(ctx, us[i%len(us)], opts.Sources[i%len(opts.Sources)], opts.Deflate)
				}
				if err == nil && opts.Message {
					err = sendIdleMessage(c, opts.Deflate)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	res.ConnectSeconds = time.Since(start).Seconds()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	res.Failed = int(failed.Load())
	res.Connections = opts.Connections - res.Failed
	res.ConnectsPerSec = float64(res.Connections) / res.ConnectSeconds
	if res.Failed > 0 {
		err, _ := firstErr.Load().(error)
		return res, fmt.Errorf("%d connections failed, the first with: %w", res.Failed, err)
	}
	open, err := scrapeAll(ctx, metrics) // the GC count once every connection is open
	if err != nil {
		return res, err
	}
	select {
	case <-time.After(opts.Settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after, err := scrapeAll(ctx, metrics)
	if err != nil {
		return res, err
	}
	if res.RedisAfter, err = redisMemory(ctx, opts.Redis); err != nil {
		return res, err
	}
	if len(us) == 1 {
		res.HeapMetric, res.HeapBefore, res.HeapAfter = heapFigure(before[0], open[0], after[0])
	}
	for i, m := range after {
		res.RSSAfter += m["process_resident_memory_bytes"]
		res.StackAfter += m["go_memstats_stack_inuse_bytes"]
		res.GoroutinesAfter += m["go_goroutines"]
		if len(us) == 1 {
			break
		}
		n := IdleNode{URL: raw[i], RSSBefore: before[i]["process_resident_memory_bytes"], RSSAfter: m["process_resident_memory_bytes"]}
		for j := i; j < len(conns); j += len(us) {
			if conns[j] != nil {
				n.Connections++
			}
		}
		n.HeapMetric, n.HeapBefore, n.HeapAfter = heapFigure(before[i], open[i], m)
		res.HeapMetric = n.HeapMetric + " (summed over the nodes)"
		res.HeapBefore += n.HeapBefore
		res.HeapAfter += n.HeapAfter
		res.Nodes = append(res.Nodes, n)
	}
	return res, nil
}

// upgrade dials u (from source, when set) and performs the WebSocket
// handshake by hand, with extra request header lines (each ending in
// CRLF). It returns the connection, the reader holding whatever followed
// the 101 response, and the response. The deadline it set is left for the
// caller to clear.
func upgrade(ctx context.Context, u *url.URL, source, extra string) (net.Conn, *bufio.Reader, *http.Response, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(key) + "\r\nUser-Agent: switchboard-bench\r\n" + extra + "\r\n"
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, nil, nil, fmt.Errorf("handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, nil, nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	return c, br, resp, nil
}

// dialWS opens a WebSocket connection by hand and leaves it idle: no
// goroutine reads it (a server ping would go unanswered, so measurements
// must finish within the server's ping interval plus pong timeout).
func dialWS(ctx context.Context, u *url.URL, source string, deflate bool) (net.Conn, error) {
	extra := ""
	if deflate {
		extra = "Sec-WebSocket-Extensions: " + deflateOffer + "\r\n"
	}
	c, br, resp, err := upgrade(ctx, u, source, extra)
	if err != nil {
		return nil, err
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); deflate && !strings.HasPrefix(ext, "permessage-deflate") {
		c.Close()
		return nil, fmt.Errorf("handshake: the server did not accept permessage-deflate (Sec-WebSocket-Extensions %q): enable compression for the API", ext)
	}
	if br.Buffered() > 0 {
		c.Close()
		return nil, errors.New("handshake: unexpected bytes after the 101 response")
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// dialPusher opens a Pusher connection by hand, reads
// connection_established and, when channel is set, subscribes to it and
// waits for the subscription's success; then leaves it idle as dialWS
// does (a pusher:ping would go unanswered: the server sends one after the
// app's activity timeout, 120 s by default).
func dialPusher(ctx context.Context, u *url.URL, source, channel string) (net.Conn, error) {
	c, br, _, err := upgrade(ctx, u, source, "")
	if err != nil {
		return nil, err
	}
	var sub []byte
	if channel != "" {
		sub = pusherSubscribe(channel)
	}
	rest, err := awaitSetup(c, br, pusherSetup(sub))
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("pusher setup: unexpected bytes after the last setup message: %.200q", rest)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// scrape reads the unlabelled samples of a Prometheus text endpoint.
func scrape(ctx context.Context, metricsURL string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read server metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}
