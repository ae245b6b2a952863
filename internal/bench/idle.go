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
	// Metrics is the server's Prometheus endpoint, read before and after.
	Metrics string
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
}

// RSSPerConn is the server's resident memory per idle connection, in bytes.
func (r IdleResult) RSSPerConn() float64 {
	return (r.RSSAfter - r.RSSBefore) / float64(max(r.Connections, 1))
}

// String formats the result for people.
func (r IdleResult) String() string {
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
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "http") {
		return IdleResult{}, fmt.Errorf("url %q: want ws://host:port/stage", opts.URL)
	}
	var res IdleResult
	before, err := scrape(ctx, opts.Metrics)
	if err != nil {
		return res, err
	}
	res.RSSBefore = before["process_resident_memory_bytes"]
	res.StackBefore, res.GoroutinesBefore = before["go_memstats_stack_inuse_bytes"], before["go_goroutines"]

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
				c, err := dialWS(ctx, u, opts.Sources[i%len(opts.Sources)], opts.Deflate)
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
	open, err := scrape(ctx, opts.Metrics) // the GC count once every connection is open
	if err != nil {
		return res, err
	}
	select {
	case <-time.After(opts.Settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after, err := scrape(ctx, opts.Metrics)
	if err != nil {
		return res, err
	}
	res.RSSAfter = after["process_resident_memory_bytes"]
	res.HeapMetric, res.HeapBefore, res.HeapAfter = heapFigure(before, open, after)
	res.StackAfter, res.GoroutinesAfter = after["go_memstats_stack_inuse_bytes"], after["go_goroutines"]
	return res, nil
}

// dialWS opens a WebSocket connection by hand and leaves it idle: no
// goroutine reads it (a server ping would go unanswered, so measurements
// must finish within the server's ping interval plus pong timeout).
func dialWS(ctx context.Context, u *url.URL, source string, deflate bool) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(key) + "\r\nUser-Agent: switchboard-bench\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: " + deflateOffer + "\r\n"
	}
	req += "\r\n"
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("handshake: %s", resp.Status)
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
