package bench

import (
	"bufio"
	"cmp"
	"context"
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

// ForwardOptions configure a forwarding measurement: what a management
// POST to a connection costs when the node called does not hold it (it
// forwards the call to the owner over the internal endpoint) against the
// same POST to the node that holds it.
type ForwardOptions struct {
	// Owner is the WebSocket endpoint (ws://host:port/stage) of the node
	// that holds the connection; Other is the endpoint of another node of
	// the same cluster. The management API of each is http:// and its
	// host.
	Owner, Other string
	// APIKey, when set, is sent as "Authorization: Bearer <APIKey>".
	APIKey string
	// Posts is how many POSTs to each node, after Warmup more to each.
	// Default 2000 (Warmup 200).
	Posts, Warmup int
	// Size is the size of each POST's body. Default 100.
	Size int
	// Timeout bounds the whole measurement. Default 2m.
	Timeout time.Duration
}

// ForwardResult is what a forwarding measurement found. The POSTs
// alternate between the two nodes, one at a time (each waits for the
// previous answer), on one kept-alive HTTP connection per node.
type ForwardResult struct {
	Posts     int       `json:"posts"`     // timed POSTs to each node
	Local     Latencies `json:"local"`     // POST to the owner: no forwarding
	Forwarded Latencies `json:"forwarded"` // POST to the other node, forwarded to the owner
	Received  int64     `json:"received"`  // messages the connection got (warmup included)
	Seconds   float64   `json:"seconds"`
}

// String formats the result for people.
func (r ForwardResult) String() string {
	return fmt.Sprintf(`posts            %d to each node, alternating, one at a time, in %.1fs; the connection received %d
to the owner     %s
forwarded        %s
added            p50 %s  p99 %s  (mean %s)`,
		r.Posts, r.Seconds, r.Received, r.Local, r.Forwarded,
		fmtMillis(r.Forwarded.P50-r.Local.P50), fmtMillis(r.Forwarded.P99-r.Local.P99), fmtMillis(r.Forwarded.Mean-r.Local.Mean))
}

// Forward measures forwarding: it opens one switchboard.v1 connection to
// opts.Owner, then POSTs to @connections/{id} through opts.Owner and
// through opts.Other in turn, and compares their latencies.
func Forward(ctx context.Context, opts ForwardOptions) (ForwardResult, error) {
	opts.Posts = cmp.Or(opts.Posts, 2000)
	opts.Warmup = cmp.Or(opts.Warmup, 200)
	opts.Size = cmp.Or(opts.Size, 100)
	opts.Timeout = cmp.Or(opts.Timeout, 2*time.Minute)
	if opts.Posts < 1 || opts.Warmup < 0 || opts.Size < 1 {
		return ForwardResult{}, errors.New("posts and size must be positive, warmup not negative")
	}
	owner, err := parseEndpoint(opts.Owner)
	if err != nil {
		return ForwardResult{}, err
	}
	other, err := parseEndpoint(opts.Other)
	if err != nil {
		return ForwardResult{}, err
	}
	stage := strings.SplitN(strings.TrimPrefix(owner.Path, "/"), "/", 2)[0]
	if st := strings.SplitN(strings.TrimPrefix(other.Path, "/"), "/", 2)[0]; st != stage {
		return ForwardResult{}, fmt.Errorf("the two URLs name stages %q and %q: both nodes must serve the same stage", stage, st)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	conn, err := dialV1(ctx, owner)
	if err != nil {
		return ForwardResult{}, err
	}
	defer conn.close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	path := "/" + url.PathEscape(stage) + "/@connections/" + url.PathEscape(conn.id)
	targets := []string{"http://" + owner.Host + path, "http://" + other.Host + path}
	body := `{"pad":"` + strings.Repeat("x", max(opts.Size-10, 1)) + `"}`
	var hists [2]Histogram
	start := time.Now()
	for i := range 2 * (opts.Warmup + opts.Posts) {
		node := i % 2
		t0 := time.Now()
		if err := postOnce(ctx, client, targets[node], body, opts.APIKey); err != nil {
			return ForwardResult{}, err
		}
		if i >= 2*opts.Warmup {
			hists[node].Record(int64(time.Since(t0)))
		}
	}
	res := ForwardResult{
		Posts: opts.Posts, Local: latencies(&hists[0]), Forwarded: latencies(&hists[1]),
		Seconds: time.Since(start).Seconds(),
	}
	// Every POST answered 200 was queued on the connection: wait for the
	// last ones to arrive.
	want := int64(2 * (opts.Warmup + opts.Posts))
	for conn.received.Load() < want && ctx.Err() == nil && conn.err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	res.Received = conn.received.Load()
	if res.Received < want {
		return res, fmt.Errorf("the connection received %d of %d messages: %v", res.Received, want, cmp.Or(conn.err(), ctx.Err()))
	}
	return res, nil
}

func parseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("url %q: want ws://host:port/stage", raw)
	}
	return u, nil
}

func postOnce(ctx context.Context, client *http.Client, target, body, apiKey string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s %.200s", target, resp.Status, msg)
	}
	return nil
}

// v1Conn is a switchboard.v1 connection whose goroutine reads and counts
// the text messages the server sends and answers pings.
type v1Conn struct {
	c        net.Conn
	id       string
	received atomic.Int64
	done     chan struct{}
	mu       sync.Mutex
	readErr  error
}

func (v *v1Conn) err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.readErr
}

func (v *v1Conn) close() {
	v.c.Close()
	<-v.done
}

// dialV1 opens a switchboard.v1 connection and reads its connection id
// from the "connected" message.
func dialV1(ctx context.Context, u *url.URL) (*v1Conn, error) {
	c, br, _, err := upgrade(ctx, u, "", "Sec-WebSocket-Protocol: switchboard.v1\r\n")
	if err != nil {
		return nil, err
	}
	v := &v1Conn{c: c, done: make(chan struct{})}
	idc := make(chan string, 1)
	go v.read(br, idc)
	select {
	case id := <-idc:
		if id == "" {
			v.close()
			return nil, fmt.Errorf("no connection id: %v", v.err())
		}
		v.id = id
		_ = c.SetDeadline(time.Time{})
		return v, nil
	case <-ctx.Done():
		v.close()
		return nil, ctx.Err()
	}
}

// read reads frames until the connection ends. The first text message
// must be "connected"; its connectionId goes to idc ("" on failure).
func (v *v1Conn) read(br *bufio.Reader, idc chan<- string) {
	defer close(v.done)
	var buf []byte
	tmp := make([]byte, 64<<10)
	gotID := false
	fail := func(err error) {
		v.mu.Lock()
		v.readErr = err
		v.mu.Unlock()
		if !gotID {
			idc <- ""
		}
	}
	for {
		f, size, _, err := nextFrame(buf)
		if err != nil {
			fail(err)
			return
		}
		if size == 0 {
			n, err := br.Read(tmp)
			if err != nil {
				fail(err)
				return
			}
			buf = append(buf, tmp[:n]...)
			continue
		}
		switch f.op {
		case opPing:
			if _, err := v.c.Write(appendClientFrame(nil, opPong, f.payload)); err != nil {
				fail(err)
				return
			}
		case opClose:
			fail(fmt.Errorf("the server closed the connection: %s", closeReason(f.payload)))
			return
		case opText:
			if !gotID {
				var m struct {
					Type         string `json:"type"`
					ConnectionID string `json:"connectionId"`
				}
				if err := json.Unmarshal(f.payload, &m); err != nil || m.Type != "connected" || m.ConnectionID == "" {
					fail(fmt.Errorf("the first message is not \"connected\": %.200s", f.payload))
					return
				}
				gotID = true
				idc <- m.ConnectionID
			} else {
				v.received.Add(1)
			}
		}
		buf = buf[size:]
	}
}
