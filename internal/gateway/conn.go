package gateway

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/limit"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Conn is one client connection of an API. It is the ws.Handler of its
// socket.
type Conn struct {
	// Immutable once registered.
	g    *Gateway
	api  *API
	info event.Connection
	seq  uint64 // connection order within the API (set by registry.add)
	ws   *ws.Conn
	// member is the connection in the API's hub; v1 is true when it speaks
	// switchboard.v1 (its messages are protocol commands, not routes);
	// codec encodes what it is sent (hub.V1 or hub.Raw).
	member *hub.Member
	v1     bool
	codec  hub.CodecID
	// session, for a connection of a protocol front-end (frontend.go),
	// gets its messages and its end instead of the API's routes;
	// protocol names the front-end, drainCode/drainReason its close on
	// shutdown (0: 1001).
	session     Session
	protocol    string
	drainCode   ws.CloseCode
	drainReason string
	// release frees the connection's places in the open-connection limits.
	release func()
	// left, in a cluster, is closed once the closed connection has left
	// its channels (set by connectionClosed before the close is queued;
	// the worker waits for it before the $disconnect).
	left chan struct{}
	// limits are the socket limits the connection opened with.
	limits *ws.Limits
	// Guarded by mu: expiry closes the connection when its JWT expires (nil
	// without one); ended is set when the connection ended.
	expiry *time.Timer
	ended  bool
	// deleted is set by DeleteConnection: the management API answers 410
	// at once, even while replies to accepted messages still go out.
	deleted atomic.Bool

	// Owned by the reader (OnMessage).
	bucket     limit.Bucket // messages per second
	bucketRate *limit.Rate  // the rate bucket was made for
	rateClosed bool         // closed for exceeding it: drop what follows

	// Owned by the inbox task (run): the API state held while an item is
	// handled (nil between items).
	cur *apiState

	// Guarded by mu.
	mu      sync.Mutex
	inbox   []inItem
	head    int  // inbox[head:] waits
	running bool // the connection is queued on or running in the pool
	paused  bool // reading is paused because the inbox is full
}

// inItem is a received message, or (closed) the end of the connection.
type inItem struct {
	op      ws.Opcode
	payload []byte
	at      time.Time
	closed  bool
	code    ws.CloseCode
	reason  string
}

// gone reports whether the management API treats c as gone (410): it
// was deleted, or its close frame is queued. A connection whose close
// waits for replies to accepted messages still takes posts: a backend
// answering such a message through @connections is heard.
func (c *Conn) gone() bool { return c.deleted.Load() || c.ws.Closing() }

// ID is the connection id.
func (c *Conn) ID() string { return c.info.ID }

// OnMessage implements ws.Handler.
func (c *Conn) OnMessage(op ws.Opcode, payload []byte) {
	c.api.m.messagesIn.Inc()
	at := c.g.now()
	if rate := c.api.state.Load().admit.messages; rate != nil {
		if c.rateClosed {
			return
		}
		if rate != c.bucketRate { // the first message, or a reload changed the rate
			c.bucket, c.bucketRate = limit.NewBucket(rate), rate
		}
		if !c.bucket.Allow(at.UnixNano()) {
			c.rateClosed = true
			c.g.metrics.RateLimitCloses.WithLabelValues(c.api.id).Inc()
			c.g.log.Warn("message rate exceeded; closing", "api", c.api.id, "connectionId", c.info.ID,
				"sourceIp", c.info.Identity.SourceIP)
			c.ws.Close(ws.ClosePolicyViolation, "message rate exceeded")
			return
		}
	}
	// The reply to an accepted message goes out before any close the
	// server decides meanwhile (a rate limit, a protocol error, a
	// DeleteConnection, shutdown): hold the connection until it is handled.
	c.ws.Hold()
	c.push(inItem{op: op, payload: payload, at: at})
}

// OnClose implements ws.Handler.
func (c *Conn) OnClose(code ws.CloseCode, reason string) {
	c.g.connectionClosed(c, code, reason)
}

// push appends to the inbox and makes sure a worker will drain it.
func (c *Conn) push(it inItem) {
	inboundMax := c.api.state.Load().inboundMax
	c.mu.Lock()
	c.inbox = append(c.inbox, it)
	pause := !it.closed && !c.paused && len(c.inbox)-c.head >= inboundMax
	if pause {
		c.paused = true
	}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if pause {
		c.ws.SetReadPaused(true)
	}
	if start && !c.api.pool.submit(c) {
		c.g.log.Error("work after the worker pool stopped was dropped", "api", c.api.id, "connectionId", c.info.ID)
	}
}

// run drains the inbox in order; it is the connection's pool task.
func (c *Conn) run() {
	for {
		inboundMax := c.api.state.Load().inboundMax
		c.mu.Lock()
		if c.head == len(c.inbox) {
			c.inbox, c.head = nil, 0
			c.running = false
			c.mu.Unlock()
			return
		}
		it := c.inbox[c.head]
		c.inbox[c.head] = inItem{}
		c.head++
		if c.head >= 32 && c.head*2 >= len(c.inbox) {
			n := copy(c.inbox, c.inbox[c.head:])
			clear(c.inbox[n:])
			c.inbox, c.head = c.inbox[:n], 0
		}
		resume := c.paused && len(c.inbox)-c.head <= inboundMax/2
		if resume {
			c.paused = false
		}
		c.mu.Unlock()
		if resume {
			c.ws.SetReadPaused(false)
		}
		c.handle(it)
		if !it.closed {
			c.ws.Release() // taken by OnMessage
		}
	}
}

// handle runs one inbox item under the API's current state, which it
// holds until the item is done. A panic (a bug) is logged with its stack
// and closes only this connection (1011); the worker and the server go on.
func (c *Conn) handle(it inItem) {
	st := c.api.acquire()
	c.cur = st
	defer func() {
		c.cur = nil
		st.release()
		if r := recover(); r != nil {
			c.g.log.Error("panic while handling a connection's event; closing it",
				"api", c.api.id, "connectionId", c.info.ID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.ws.Close(ws.CloseInternalError, "internal error")
		}
	}()
	switch {
	case it.closed && c.session != nil:
		c.g.sessionClosed(c, it)
	case it.closed:
		c.g.fireDisconnect(c, it)
	case c.session != nil:
		c.session.Message(it.op, it.payload, it.at)
	case c.v1:
		c.g.handleProtocol(c, it)
	default:
		c.g.handleMessage(c, it)
	}
}

// connectionInfo returns what the management API reports about c.
func (c *Conn) connectionInfo() ConnectionInfo {
	last := c.ws.LastActive()
	if last.Before(c.info.ConnectedAt) {
		last = c.info.ConnectedAt
	}
	return ConnectionInfo{
		ID:             c.info.ID,
		ConnectedAt:    c.info.ConnectedAt,
		LastActiveAt:   last,
		SourceIP:       c.info.Identity.SourceIP,
		UserAgent:      c.info.Identity.UserAgent,
		User:           c.member.User(),
		Channels:       c.member.Channels(),
		SendQueueBytes: c.ws.Queued(),
		Inbox:          c.inboxLen(),
	}
}

// inboxLen is how many received messages wait for their route.
func (c *Conn) inboxLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inbox) - c.head
}
