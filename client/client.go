package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// Mode says which protocol the client speaks.
type Mode int

const (
	// ModeV1 negotiates switchboard.v1: subscriptions, publish, presence,
	// recovery and token refresh.
	ModeV1 Mode = iota
	// ModeRaw is a plain connection, as on API Gateway: Send writes
	// frames, and every frame received goes to Options.OnMessage.
	ModeRaw
)

// Subprotocol is the WebSocket subprotocol of ModeV1.
const Subprotocol = "switchboard.v1"

// Options configure a Client. The zero value is usable.
type Options struct {
	Mode Mode
	// Header is sent with every handshake.
	Header http.Header
	// HTTPClient dials the handshakes (nil: http.DefaultClient).
	HTTPClient *http.Client
	// GetToken returns the JWT to connect with; it is called before every
	// handshake and, on switchboard.v1 connections whose token has an exp
	// claim, again RefreshMargin before it expires, and the new token is
	// sent as a "refresh". A failure is retried with backoff. The token
	// travels in the Authorization header ("Bearer ...").
	GetToken func(ctx context.Context) (string, error)
	// MinDelay and MaxDelay bound the reconnect backoff: attempt n waits a
	// uniformly random time in [0, min(MaxDelay, MinDelay·2ⁿ)) (full
	// jitter). Defaults 250ms and 30s.
	MinDelay, MaxDelay time.Duration
	// Rand draws the jitter (nil: a randomly seeded source). Tests pass a
	// seeded one.
	Rand *rand.Rand
	// PingInterval is how often a WebSocket ping is sent (default 10s).
	PingInterval time.Duration
	// LivenessTimeout: a ping not answered by a pong within it ends the
	// connection, which is then reconnected (default 10s).
	LivenessTimeout time.Duration
	// DialTimeout bounds one handshake, the token fetch and the
	// "connected" message included (default 15s).
	DialTimeout time.Duration
	// RefreshMargin is how long before its exp a token is refreshed
	// (default 30s; at most half of the token's remaining lifetime).
	RefreshMargin time.Duration
	// ReadLimit is the largest frame accepted (default 16 MiB).
	ReadLimit int64
	// OnMessage receives raw frames (ModeRaw) and switchboard.v1
	// "message" payloads (direct sends).
	OnMessage func(Message)
	// OnPublication receives publications on channels the server joined
	// the connection to, for which there is no Subscription.
	OnPublication func(Publication)
	// OnState is told of every change of the client's state.
	OnState func(StateEvent)
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
}

// State is the client's connection state.
type State int

const (
	StateConnecting State = iota // between connections, reconnecting
	StateConnected
	StateClosed // Close was called, or the server said stop (see Err)
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// StateEvent is a change of the client's state. Err is why the previous
// connection ended (nil for the first connection and for Close).
type StateEvent struct {
	State        State
	ConnectionID string // of the new connection, when State is StateConnected
	Err          error
}

// Message is a frame of a raw connection, or the payload of a
// switchboard.v1 "message".
type Message struct {
	Data   []byte
	Binary bool // a binary frame (raw mode)
}

// Publication is one publication on a channel. Epoch and Offset are set
// when the channel's namespace keeps history.
type Publication struct {
	Channel string
	Event   string
	Epoch   string
	Offset  uint64
	Data    []byte // the payload's bytes: JSON as is, text as UTF-8, b64 decoded
}

// Error is an error answered by the server to a request (docs/protocol.md,
// "Error codes").
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("switchboard: %d %s", e.Code, e.Message) }

var (
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("switchboard: client closed")
	// ErrDisconnected: the connection ended before the server answered; a
	// publish may or may not have been made.
	ErrDisconnected = errors.New("switchboard: disconnected before the reply")
	// ErrStopped wraps the reason the client stopped reconnecting.
	ErrStopped = errors.New("switchboard: stopped reconnecting")
	// ErrNotV1: the operation needs a switchboard.v1 connection.
	ErrNotV1 = errors.New("switchboard: not a switchboard.v1 client")
)

// CloseError is a connection ended by a close frame.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("switchboard: connection closed: %d %q", e.Code, e.Reason)
}

// HandshakeError is a handshake the server refused with an HTTP status.
type HandshakeError struct{ Status int }

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("switchboard: handshake refused: HTTP %d", e.Status)
}

// StopCloseCodes are the close codes after which the client does not
// reconnect (1008 "token expired" excepted when Options.GetToken is set).
var StopCloseCodes = []int{1000, 1002, 1003, 1007, 1008, 1009}

// Client is a connection to one stage that keeps itself connected.
type Client struct {
	url  string
	opts Options
	log  *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the run loop and the dispatcher
	q      queue
	nextID atomic.Int64

	rndMu sync.Mutex
	rnd   *rand.Rand

	mu     sync.Mutex
	state  State
	cur    *conn         // nil between connections
	up     chan struct{} // closed when cur is set; replaced when it ends
	subs   map[string]*Subscription
	err    error         // why the client stopped
	done   chan struct{} // closed when the client stopped
	closed sync.Once
}

// Dial connects to url (ws://, wss://, or http(s):// which is taken as
// ws(s)://, with the stage in the path) and keeps the client connected
// until Close. It returns an error when the first connection fails; later
// failures are reconnected after (see the package doc).
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("switchboard: bad URL: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return nil, fmt.Errorf("switchboard: bad URL %q: scheme must be ws, wss, http or https", rawURL)
	}
	setDefaults(&opts)
	c := &Client{url: rawURL, opts: opts, log: opts.Logger, rnd: opts.Rand,
		up: make(chan struct{}), subs: map[string]*Subscription{}, done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.q.signal = make(chan struct{}, 1)
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	cn, err := c.connect(dctx)
	cancel()
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.adopt(cn)
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.dispatch() }()
	go func() { defer c.wg.Done(); c.run(cn) }()
	return c, nil
}

func setDefaults(o *Options) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.MinDelay, 250*time.Millisecond)
	def(&o.MaxDelay, 30*time.Second)
	if o.MaxDelay < o.MinDelay {
		o.MaxDelay = o.MinDelay
	}
	def(&o.PingInterval, 10*time.Second)
	def(&o.LivenessTimeout, 10*time.Second)
	def(&o.DialTimeout, 15*time.Second)
	def(&o.RefreshMargin, 30*time.Second)
	if o.ReadLimit <= 0 {
		o.ReadLimit = 16 << 20
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
}

// Close closes the connection with 1000 (waiting for the server's close
// frame, at most LivenessTimeout) and stops every goroutine of the client; callbacks
// not yet run are dropped. It is idempotent. Pending requests fail with
// ErrClosed.
func (c *Client) Close() error {
	c.stop(ErrClosed)
	c.wg.Wait()
	return nil
}

// Done is closed when the client stopped: closed, or told to stop by the
// server.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the client stopped (nil while it runs): ErrClosed, or an
// error wrapping ErrStopped and the CloseError or HandshakeError.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// State is the client's state now.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// ConnectionID is the server's id of the current connection ("" between
// connections and on raw connections).
func (c *Client) ConnectionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return ""
	}
	return c.cur.id
}

// stop records why the client stopped, once.
// The dispatcher tells OnState once it has exited.
func (c *Client) stop(err error) {
	c.closed.Do(func() {
		c.mu.Lock()
		c.err = err
		c.state = StateClosed
		cn := c.cur
		c.mu.Unlock()
		close(c.done)
		if cn != nil {
			// The reader gets the server's close frame and ends; a server
			// that does not answer gets LivenessTimeout, as a ping would.
			closed := make(chan struct{})
			go func() { cn.ws.Close(websocket.StatusNormalClosure, ""); close(closed) }()
			t := time.NewTimer(c.opts.LivenessTimeout)
			select {
			case <-closed:
			case <-t.C:
				cn.ws.CloseNow()
				<-closed
			}
			t.Stop()
		}
		c.cancel()
		if !errors.Is(err, ErrClosed) {
			c.log.Warn("switchboard client stopped", "url", c.url, "error", err.Error())
		}
	})
}

// stopped reports whether the client stopped.
func (c *Client) stopped() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// dispatch runs the callbacks until the client stops, then tells OnState.
func (c *Client) dispatch() {
	c.q.run(c.ctx)
	if f := c.opts.OnState; f != nil {
		err := c.Err()
		if errors.Is(err, ErrClosed) {
			err = nil
		}
		f(StateEvent{State: StateClosed, Err: err})
	}
}

// run serves cn, then reconnects until the client is closed or told to
// stop.
func (c *Client) run(cn *conn) {
	for {
		err := c.serve(cn)
		if c.stopped() {
			return
		}
		if c.isStop(err) {
			c.stop(fmt.Errorf("%w: %w", ErrStopped, err))
			return
		}
		c.log.Info("switchboard connection lost, reconnecting", "url", c.url, "error", err.Error())
		for attempt := 0; ; attempt++ {
			t := time.NewTimer(c.backoff(attempt))
			select {
			case <-c.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			dctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
			cn, err = c.connect(dctx)
			cancel()
			if err == nil {
				if !c.adopt(cn) {
					cn.ws.CloseNow() // Close came first
					return
				}
				break
			}
			if c.stopped() {
				return
			}
			if c.isStop(err) {
				c.stop(fmt.Errorf("%w: %w", ErrStopped, err))
				return
			}
			c.log.Info("switchboard reconnect failed", "url", c.url, "attempt", attempt+1, "error", err.Error())
		}
	}
}

// backoff is the full-jitter delay before reconnect attempt n (0-based).
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.MinDelay
	for i := 0; i < n && d < c.opts.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxDelay)
	c.rndMu.Lock()
	f := c.rnd.Float64()
	c.rndMu.Unlock()
	return time.Duration(f * float64(d))
}

// isStop reports whether err means the client must not reconnect.
func (c *Client) isStop(err error) bool {
	var he *HandshakeError
	if errors.As(err, &he) {
		return he.Status >= 400 && he.Status < 500 && he.Status != http.StatusRequestTimeout && he.Status != http.StatusTooManyRequests
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		if ce.Code == 1008 && ce.Reason == "token expired" && c.opts.GetToken != nil {
			return false
		}
		for _, s := range StopCloseCodes {
			if ce.Code == s {
				return true
			}
		}
	}
	return errors.Is(err, errNoSubprotocol)
}

var errNoSubprotocol = errors.New("switchboard: the server did not select " + Subprotocol)

// connect opens one connection and, in v1, reads its "connected" message.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	h := c.opts.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	var exp time.Time
	if c.opts.GetToken != nil {
		tok, err := c.opts.GetToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("switchboard: GetToken: %w", err)
		}
		h.Set("Authorization", "Bearer "+tok)
		exp, _ = tokenExpiry(tok)
	}
	do := &websocket.DialOptions{HTTPClient: c.opts.HTTPClient, HTTPHeader: h}
	if c.opts.Mode == ModeV1 {
		do.Subprotocols = []string{Subprotocol}
	}
	ws, resp, err := websocket.Dial(ctx, c.url, do)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &HandshakeError{Status: resp.StatusCode}
		}
		return nil, err
	}
	ws.SetReadLimit(c.opts.ReadLimit)
	cn := &conn{ws: ws, tokenExp: exp, pending: map[int64]func(inMsg){}}
	if c.opts.Mode == ModeV1 {
		if ws.Subprotocol() != Subprotocol {
			ws.Close(websocket.StatusNormalClosure, "")
			return nil, errNoSubprotocol
		}
		_, data, err := ws.Read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, readError(err)
		}
		m, err := decodeFrame(data)
		if err != nil || m.Type != "connected" {
			ws.CloseNow()
			return nil, fmt.Errorf("switchboard: first message is not \"connected\": %.100q", data)
		}
		cn.id, cn.user = m.ConnectionID, m.User
	}
	return cn, nil
}

// readError turns a close into a *CloseError.
func readError(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return err
}

// conn is one WebSocket connection of the client.
type conn struct {
	ws       *websocket.Conn
	id, user string
	tokenExp time.Time // of the token it was opened or refreshed with

	mu      sync.Mutex
	pending map[int64]func(inMsg) // called by the reader with the reply
	ended   bool
}

// adopt makes cn the current connection and renews the subscriptions on
// it; it reports false when the client stopped meanwhile.
func (c *Client) adopt(cn *conn) bool {
	c.mu.Lock()
	if c.state == StateClosed {
		c.mu.Unlock()
		return false
	}
	c.cur = cn
	c.state = StateConnected
	close(c.up)
	subs := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	c.emitState(StateEvent{State: StateConnected, ConnectionID: cn.id})
	for _, s := range subs {
		s.send(cn)
	}
	return true
}

// serve reads cn, the current connection, until it ends, and returns why
// it ended.
func (c *Client) serve(cn *conn) error {
	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		cn.ws.CloseNow()
		wg.Wait()
	}()
	wg.Add(1)
	go func() { defer wg.Done(); c.pinger(ctx, cn) }()
	if c.opts.GetToken != nil && c.opts.Mode == ModeV1 {
		wg.Add(1)
		go func() { defer wg.Done(); c.refresher(ctx, cn) }()
	}
	err := c.read(ctx, cn)
	cn.mu.Lock()
	cn.ended = true
	pending := cn.pending
	cn.pending = nil
	cn.mu.Unlock()
	for _, f := range pending {
		f(inMsg{Type: "reply", gone: true})
	}
	c.mu.Lock()
	c.cur = nil
	c.up = make(chan struct{})
	live := c.state != StateClosed
	if live {
		c.state = StateConnecting
	}
	subs := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	if live {
		c.emitState(StateEvent{State: StateConnecting, Err: err})
		for _, s := range subs {
			s.lost(cn)
		}
	}
	return err
}

func (c *Client) emitState(e StateEvent) {
	if f := c.opts.OnState; f != nil {
		c.q.push(func() { f(e) })
	}
}

// pinger sends a ping every PingInterval and ends the connection when its
// pong does not come within LivenessTimeout.
func (c *Client) pinger(ctx context.Context, cn *conn) {
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.opts.LivenessTimeout)
		err := cn.ws.Ping(pctx)
		timedOut := pctx.Err() == context.DeadlineExceeded
		cancel()
		if err != nil {
			if timedOut && ctx.Err() == nil {
				c.log.Info("switchboard server did not answer a ping, reconnecting", "url", c.url, "timeout", c.opts.LivenessTimeout)
				cn.ws.CloseNow()
			}
			return
		}
	}
}

// read reads frames until the connection ends.
func (c *Client) read(ctx context.Context, cn *conn) error {
	for {
		typ, data, err := cn.ws.Read(ctx)
		if err != nil {
			if ctx.Err() == nil && websocket.CloseStatus(err) == -1 {
				// Not a close frame: the socket died, or the pinger cut it.
				return fmt.Errorf("switchboard: connection lost: %w", err)
			}
			return readError(err)
		}
		if c.opts.Mode == ModeRaw {
			if f := c.opts.OnMessage; f != nil {
				m := Message{Data: data, Binary: typ == websocket.MessageBinary}
				c.q.push(func() { f(m) })
			}
			continue
		}
		m, err := decodeFrame(data)
		if err != nil {
			c.log.Warn("switchboard: bad frame from the server", "error", err.Error())
			continue
		}
		c.handle(cn, m)
	}
}

// handle acts on one switchboard.v1 server message, in the reader.
func (c *Client) handle(cn *conn, m inMsg) {
	switch m.Type {
	case "reply":
		cn.mu.Lock()
		f := cn.pending[m.ID]
		delete(cn.pending, m.ID)
		cn.mu.Unlock()
		if f != nil {
			f(m)
		}
	case "error":
		c.log.Warn("switchboard: server error", "code", m.Error.Code, "message", m.Error.Message)
	case "pub":
		p := Publication{Channel: m.Channel, Event: m.Event, Epoch: m.Epoch, Data: m.payload}
		if m.Offset != nil {
			p.Offset = *m.Offset
		}
		c.mu.Lock()
		s := c.subs[m.Channel]
		c.mu.Unlock()
		if s != nil {
			s.publication(p)
		} else if f := c.opts.OnPublication; f != nil {
			c.q.push(func() { f(p) })
		}
	case "message":
		if f := c.opts.OnMessage; f != nil {
			msg := Message{Data: m.payload}
			c.q.push(func() { f(msg) })
		}
	case "join", "leave":
		c.mu.Lock()
		s := c.subs[m.Channel]
		c.mu.Unlock()
		if s != nil && m.Member != nil {
			s.presence(m.Type == "join", *m.Member)
		}
	case "unsubscribed":
		c.mu.Lock()
		s := c.subs[m.Channel]
		c.mu.Unlock()
		if s != nil {
			s.removed(m.Reason)
		}
	}
}

// waitConn returns the current connection, waiting for one.
func (c *Client) waitConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		cn, up, state := c.cur, c.up, c.state
		c.mu.Unlock()
		if state == StateClosed {
			return nil, c.closedErr()
		}
		if cn != nil {
			return cn, nil
		}
		select {
		case <-up:
		case <-c.done:
			return nil, c.closedErr()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *Client) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// send writes msg (with a fresh id) on cn; onReply is called by the
// reader with the reply, or with a gone reply when cn ends first.
func (c *Client) send(ctx context.Context, cn *conn, msg map[string]any, onReply func(inMsg)) error {
	id := c.nextID.Add(1)
	msg["id"] = id
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	cn.mu.Lock()
	if cn.ended {
		cn.mu.Unlock()
		return ErrDisconnected
	}
	cn.pending[id] = onReply
	cn.mu.Unlock()
	if err := cn.ws.Write(ctx, websocket.MessageText, b); err != nil {
		cn.mu.Lock()
		_, still := cn.pending[id]
		delete(cn.pending, id)
		cn.mu.Unlock()
		if !still {
			return nil // the reply, or the end of cn, already came
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrDisconnected
	}
	return nil
}

// call sends msg on the current connection and waits for its result.
func (c *Client) call(ctx context.Context, msg map[string]any) (json.RawMessage, error) {
	if c.opts.Mode != ModeV1 {
		return nil, ErrNotV1
	}
	cn, err := c.waitConn(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan inMsg, 1)
	if err := c.send(ctx, cn, msg, func(m inMsg) { ch <- m }); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.gone {
			if c.stopped() {
				return nil, c.closedErr()
			}
			return nil, ErrDisconnected
		}
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send writes data as one frame on the current connection (waiting for
// one): a text frame when it is valid UTF-8, else a binary frame. On a
// raw connection it goes through the API's route selection; on a
// switchboard.v1 connection it must be a protocol message.
func (c *Client) Send(ctx context.Context, data []byte) error {
	cn, err := c.waitConn(ctx)
	if err != nil {
		return err
	}
	typ := websocket.MessageText
	if !utf8.Valid(data) {
		typ = websocket.MessageBinary
	}
	if err := cn.ws.Write(ctx, typ, data); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrDisconnected
	}
	return nil
}

// PublishOptions change a publication.
type PublishOptions struct {
	ExcludeSelf bool // leave this connection out of the delivery
}

// PublishResult is the server's answer to a publication.
type PublishResult struct {
	Epoch      string `json:"epoch"`
	Offset     uint64 `json:"offset"`
	Recipients int    `json:"recipients"`
}

// Publish publishes data on channel: as "data" when it is valid JSON, as
// "text" when it is other UTF-8, else as "b64" — the field the server
// would deliver it in. A publish cut by a disconnect returns
// ErrDisconnected: it may or may not have been made; it is not retried.
func (c *Client) Publish(ctx context.Context, channel string, data []byte, opts PublishOptions) (PublishResult, error) {
	msg := map[string]any{"type": "publish", "channel": channel}
	encodePayload(msg, data)
	if opts.ExcludeSelf {
		msg["excludeSelf"] = true
	}
	var r PublishResult
	res, err := c.call(ctx, msg)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(res, &r)
}

// Member is a connection in a channel's presence.
type Member struct {
	ConnectionID string          `json:"connectionId"`
	User         string          `json:"user,omitempty"`
	Info         json.RawMessage `json:"info,omitempty"`
}

// PresenceResult lists a channel's members.
type PresenceResult struct {
	Members   int      `json:"members"`
	Presence  []Member `json:"presence"`
	Truncated bool     `json:"truncated"`
}

// Presence lists channel's members (the connection must be subscribed,
// and the namespace keep presence).
func (c *Client) Presence(ctx context.Context, channel string) (PresenceResult, error) {
	var r PresenceResult
	res, err := c.call(ctx, map[string]any{"type": "presence", "channel": channel})
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(res, &r)
}

// Ping sends a switchboard.v1 "ping" and waits for its reply: a round trip
// through the server's queues.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.call(ctx, map[string]any{"type": "ping"})
	return err
}
