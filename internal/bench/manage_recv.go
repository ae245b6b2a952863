package bench

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// receivers are the WebSocket connections the posts go to. Each has a
// goroutine that reads every frame, counts the messages, and answers
// pings, so that the connection never backs up.
type receivers struct {
	ids       []string
	conns     []net.Conn
	delivered atomic.Uint64
	wg        sync.WaitGroup
}

// openReceivers dials o.Receivers connections and learns their ids from
// GET /{stage}/@connections: the ids listed after the dials and not
// before.
func openReceivers(ctx context.Context, o ManageOptions) (*receivers, error) {
	before, err := listConnectionIDs(ctx, o)
	if err != nil {
		return nil, err
	}
	r := &receivers{}
	u := &url.URL{Scheme: "ws", Host: o.host, Path: "/" + o.stage}
	for range o.Receivers {
		c, err := dialWS(ctx, u, "", false)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("open a receiver: %w", err)
		}
		r.conns = append(r.conns, c)
		r.wg.Go(func() { r.read(c) })
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		after, err := listConnectionIDs(ctx, o)
		if err != nil {
			r.close()
			return nil, err
		}
		r.ids = r.ids[:0]
		for _, id := range after {
			if !slices.Contains(before, id) {
				r.ids = append(r.ids, id)
			}
		}
		if len(r.ids) == o.Receivers {
			return r, nil
		}
		if time.Now().After(deadline) || len(r.ids) > o.Receivers {
			r.close()
			return nil, fmt.Errorf("expected %d new connections in the listing, found %d (is another client connecting?)", o.Receivers, len(r.ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openFloorReceivers dials o.Receivers connections to the frame floor at
// addr (which needs no ids: it binds each post's path to one of them).
func openFloorReceivers(ctx context.Context, o ManageOptions, addr string) (*receivers, error) {
	r := &receivers{}
	u := &url.URL{Scheme: "ws", Host: addr, Path: "/" + o.stage}
	for range o.Receivers {
		c, err := dialWS(ctx, u, "", false)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("open a receiver on the frame floor: %w", err)
		}
		r.conns = append(r.conns, c)
		r.wg.Go(func() { r.read(c) })
	}
	return r, nil
}

func (r *receivers) close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}

// read reads server frames (never masked) until the connection fails,
// counting final data frames and answering pings with a masked pong.
func (r *receivers) read(c net.Conn) {
	br := bufio.NewReaderSize(c, 64<<10)
	var hdr [8]byte
	for {
		b0, err := br.ReadByte()
		if err != nil {
			return
		}
		b1, err := br.ReadByte()
		if err != nil {
			return
		}
		n := uint64(b1 & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[:2]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(br, hdr[:8]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(hdr[:8])
		}
		op := b0 & 0x0f
		if op == 0x9 && n <= 125 { // ping: answer with a pong
			p := make([]byte, n)
			if _, err := io.ReadFull(br, p); err != nil {
				return
			}
			f := []byte{0x8a, 0x80 | byte(n), 0, 0, 0, 0} // zero mask: payload as is
			_, _ = c.Write(append(f, p...))
			continue
		}
		if _, err := br.Discard(int(n)); err != nil {
			return
		}
		if op == 0x8 {
			return
		}
		if b0&0x80 != 0 && op != 0xa {
			r.delivered.Add(1)
		}
	}
}

// listConnectionIDs reads every page of GET /{stage}/@connections.
func listConnectionIDs(ctx context.Context, o ManageOptions) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		u := "http://" + o.host + "/" + o.stage + "/@connections?limit=1000"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if err := authorize(req, o, nil); err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		var page struct {
			Connections []struct {
				ConnectionID string `json:"connectionId"`
			} `json:"connections"`
			NextCursor string `json:"nextCursor"`
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("list connections: %s: %s", resp.Status, body)
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		for _, c := range page.Connections {
			ids = append(ids, c.ConnectionID)
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}

// authorize adds the options' credentials to req (whose body is body).
func authorize(req *http.Request, o ManageOptions, body []byte) error {
	switch {
	case o.APIKey != "":
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	case o.AccessKeyID != "":
		sum := sha256Hex(body)
		return v4.NewSigner().SignHTTP(req.Context(), aws.Credentials{AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey},
			req, sum, "execute-api", o.Region, time.Now())
	}
	return nil
}

// noopRequestID is the no-op server's x-amzn-RequestId: as long as
// Switchboard's, so that both responses have the same size.
const noopRequestID = "00000000-0000-4000-8000-000000000000"

// NoopDeliverEnv set to 1 makes RunNoopServer's caller (the noop-server
// command, the tests' TestMain) serve the frame floor.
const NoopDeliverEnv = "SWITCHBOARD_BENCH_NOOP_DELIVER"

// RunNoopServer serves a floor of bench manage until ctx ends or an
// interrupt arrives: a net/http server on a loopback port that reads each
// request's body and answers 200 with an empty body and an
// x-amzn-RequestId header, as Switchboard answers a successful POST to a
// connection. Its http.Server has Switchboard's timeouts (read header
// 10s, read 60s, idle 120s: net/http sets a socket deadline for each), so
// that the floor differs from Switchboard only by what the handler and the
// delivery cost. Its first line on out is {"addr":"host:port"}.
//
// With deliver (the frame floor), it also accepts WebSocket upgrades (any
// GET with "Upgrade: websocket"; it never reads what they send beyond
// discarding it) and writes each POST's body, as one unmasked text frame,
// to one of them from the handler before answering: the least any
// gateway has to do per post. A POST's path is bound to an upgraded
// connection the first time it is seen (in turn), so that the bench can
// send the floors the very requests it sends Switchboard. With no
// connection to write to it answers 410.
func RunNoopServer(ctx context.Context, out io.Writer, deliver bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Amzn-Requestid", noopRequestID)
		w.WriteHeader(http.StatusOK)
	})
	var ff *frameFloor
	if deliver {
		ff = &frameFloor{bound: make(map[string]*floorConn)}
		h = ff
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	hello, _ := json.Marshal(map[string]string{"addr": ln.Addr().String()})
	if _, err := fmt.Fprintf(out, "%s\n", hello); err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	_ = srv.Close() // hijacked connections are not closed by it
	if ff != nil {
		ff.close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// frameFloor is the frame floor's handler (see RunNoopServer).
type frameFloor struct {
	mu    sync.Mutex
	conns []*floorConn
	bound map[string]*floorConn // a POST's path to the connection it writes to
	wg    sync.WaitGroup
}

type floorConn struct {
	mu sync.Mutex // one write at a time, so frames never interleave
	nc net.Conn
}

func (f *frameFloor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		f.upgrade(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	c := f.bound[r.URL.Path]
	if c == nil && len(f.conns) > 0 {
		c = f.conns[len(f.bound)%len(f.conns)]
		f.bound[r.URL.Path] = c
	}
	f.mu.Unlock()
	if c == nil {
		w.WriteHeader(http.StatusGone)
		return
	}
	frame := appendFrameHeader(make([]byte, 0, 10+len(body)), len(body))
	frame = append(frame, body...)
	c.mu.Lock()
	_, err := c.nc.Write(frame)
	c.mu.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusGone)
		return
	}
	w.Header().Set("X-Amzn-Requestid", noopRequestID)
	w.WriteHeader(http.StatusOK)
}

// appendFrameHeader appends the header of an unmasked final text frame
// of n payload bytes.
func appendFrameHeader(b []byte, n int) []byte {
	switch {
	case n <= 125:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x81, 126, byte(n>>8), byte(n))
	}
	b = append(b, 0x81, 127)
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

func (f *frameFloor) upgrade(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		http.Error(w, "missing Sec-WebSocket-Key", http.StatusBadRequest)
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		nc.Close()
		return
	}
	c := &floorConn{nc: nc}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	// Discard what the client sends (the bench answers no pings here:
	// the floor sends none) until it closes.
	f.wg.Go(func() { _, _ = io.Copy(io.Discard, nc) })
}

func (f *frameFloor) close() {
	f.mu.Lock()
	for _, c := range f.conns {
		c.nc.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
