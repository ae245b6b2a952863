package ws

import (
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Handler receives what happens on one connection. Both methods run on the
// connection's reader (an event loop shared with other connections, or the
// connection's reader goroutine): they must return quickly and never block.
type Handler interface {
	// OnMessage delivers one complete data message, in arrival order.
	// payload is owned by the callee. Text payloads are valid UTF-8.
	OnMessage(op Opcode, payload []byte)
	// OnClose is called exactly once per attached connection, after its
	// socket is closed, with the close code and reason that ended it (see
	// CloseCode for which code is reported when).
	OnClose(code CloseCode, reason string)
}

// Limits bound one connection. A Limits value is shared by all connections
// of an API and must not change after use.
type Limits struct {
	MaxMessageBytes int           // reassembled message; 1009 past it
	MaxFrameBytes   int           // one frame; 1009 past it
	AllowBinary     bool          // false: binary frames close with 1003
	IdleTimeout     time.Duration // no data message either way: close 1001
	MaxLifetime     time.Duration // since open: close 1001
	PingInterval    time.Duration // silent this long: send a ping (0: never)
	PongTimeout     time.Duration // no frame this long after a ping: drop
	WriteTimeout    time.Duration // pending output and no progress: 1013
	MaxQueueBytes   int           // queued, unwritten bytes: past it 1013

	// Deflate enables permessage-deflate (deflate.go); nil: not offered.
	Deflate *DeflateOptions
}

// Errors returned by Send.
var (
	ErrClosed       = errors.New("ws: connection is closed")
	ErrSlowConsumer = errors.New("ws: outbound queue full, connection closed as a slow consumer")
)

type connState uint8

const (
	stateNew       connState = iota // created; Send queues; no socket yet
	stateOpen                       // attached and open
	stateDraining                   // a close is decided; replies to messages already delivered may still be sent
	stateClosing                    // our close frame is queued or sent; no more data out
	stateLingering                  // close exchange done or failed; write side shut, draining input
	stateClosed                     // finalized: OnClose was called
)

// Conn is one server-side WebSocket connection.
//
// Ownership: the reader (event loop or reader goroutine) owns the read-side
// fields; the writer (event loop or on-demand writer goroutine) owns out;
// mu guards the rest. Timestamps are atomics so that the timer sweep and
// management calls can read them. Lock order: Conn.mu before poller.mu is
// never needed; neither is held while calling the Handler.
type Conn struct {
	// Immutable after NewConn.
	e   *Engine
	h   Handler
	lim *Limits

	// Set once by attach, before the connection is visible to its driver.
	connectedAt int64 // unix nanoseconds
	fd          int   // epoll driver: the socket; -1 otherwise
	p           *poller
	nc          net.Conn // goroutine driver: the socket

	// Owned by the reader.
	rbuf       []byte // an incomplete frame carried over between reads
	msg        []byte // a fragmented message being reassembled
	msgOp      Opcode
	text       utf8Stream // validates the text message being received
	partOff    int        // payload bytes of an incomplete frame already unmasked and validated
	pingCredit int64      // ping budget in nanoseconds, pingCost per ping (see ping)
	pingAt     int64      // when pingCredit was last updated
	readFailed bool       // a protocol error stopped parsing

	// permessage-deflate (deflate.go). pmd and pmdAnswer are set by
	// NegotiateDeflate before the connection is shared; msgDeflated is
	// the reader's: msg holds the compressed bytes of a compressed message.
	pmd         *DeflateOptions
	pmdAnswer   uint8
	msgDeflated bool

	// Owned by the writer.
	out    [][]byte // frames being written
	outOff int      // bytes of out[0] already written

	// Owned by the epoll driver's loop.
	registered bool
	interest   uint32

	// Guarded by mu.
	mu          sync.Mutex
	state       connState
	attached    bool     // a driver owns the socket
	queue       [][]byte // data frames accepted by Send
	ctrl        [][]byte // pending pongs (one per ping, in order) and our keepalive ping
	holds       int      // delivered messages the handler is still answering (Hold/Release)
	queued      int      // bytes accepted and not yet written
	scheduled   bool     // the writer will look at the queue again
	outBusy     bool     // epoll driver: out holds bytes the loop has not written yet
	head        []byte   // the rest of a frame SendDirect wrote in part: out before anything else
	closeOut    Frame    // our close frame, not yet handed to the writer
	closeInOut  bool     // our close frame is in out
	closeDone   bool     // once our close frame is out, linger and finish
	closeWrote  bool     // our close frame was written
	paused      bool     // the reader should stop reading
	gathering   bool     // a SendDirect caller yielded and will write the queue
	joined      bool     // another SendDirect queued a frame during that gather
	gatherMiss  uint8    // gathers in a row that nobody joined
	directs     uint8    // SendDirect calls that found the connection idle
	resume      chan struct{}
	abortReq    bool // finish now, without a close handshake
	localInit   bool // we started the close
	localCode   CloseCode
	localReason string
	peerClosed  bool
	peerCode    CloseCode
	peerReason  string
	abortCode   CloseCode
	abortReason string

	// decided is set once a close is decided (ours or the peer's): data
	// messages read after it are not delivered. Read by the reader without mu.
	decided    atomic.Bool
	lastRead   atomic.Int64 // any frame received
	lastActive atomic.Int64 // a data message, either way
	pingSent   atomic.Int64 // a ping is outstanding since
	stallSince atomic.Int64 // output pending and the socket took nothing since
	closeAt    atomic.Int64 // the close began / lingering began: CloseTimeout runs from here
}

// LastActive is when a data message last went either way (or the
// connection opened). Its precision is the engine's tick.
func (c *Conn) LastActive() time.Time { return time.Unix(0, c.lastActive.Load()) }

// Closing reports whether the connection is closing or closed: its close
// frame is queued or sent and it takes no more data. A connection whose
// close is decided but waits for held replies (see Hold) is not closing
// yet.
func (c *Conn) Closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state >= stateClosing
}

// Queued is how many bytes of accepted frames wait to be written to the
// socket: the connection's send queue, bounded by MaxQueueBytes.
func (c *Conn) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// ConnectedAt is when the connection was upgraded.
func (c *Conn) ConnectedAt() time.Time { return time.Unix(0, c.connectedAt) }

// Send queues a data frame. It never blocks: when the queue would exceed
// MaxQueueBytes the connection is closed with 1013 (slow consumer) and
// ErrSlowConsumer returned. Frames sent before Upgrade are written after
// the 101 response.
func (c *Conn) Send(f Frame) error { return c.send(f, false) }

// SendDirect is Send for a frame that goes to this connection alone (a
// management post to one connection): when nothing is waiting to go out
// on the connection — no queued frame, no pending wakeup, no bytes its
// event loop has not written yet — it writes the frame itself, from the
// calling goroutine, in one non-blocking write, instead of waking the
// connection's event loop; what the socket does not take is queued and
// the loop woken, as for Send. Frames keep their order either way. It
// saves the loop's wakeup (an eventfd write, an epoll_wait return, a
// writev) per frame, but serialises the system calls on the caller:
// fan-out to many connections must use Send, so that the event loops
// write in parallel and batch what piles up (docs/BENCHMARKS.md,
// "Management API"). Under the goroutine driver it is Send.
//
// Before it writes, SendDirect gathers: it yields the processor once
// (runtime.Gosched), so that goroutines already runnable — other posts
// to the same connection, under load — run first and add their frames,
// and then writes them all in one writev. A caller that finds a gather
// under way only queues its frame (the gathering caller writes it, or
// this caller does once gatherMaxBytes are waiting). A connection stops
// gathering after gatherMisses gathers in a row that took only their own
// frame, where the yield costs a scheduler round and gains nothing, and
// tries again every gatherProbe direct frames.
func (c *Conn) SendDirect(f Frame) error { return c.send(f, true) }

const (
	gatherMisses   = 4
	gatherProbe    = 16
	gatherMaxBytes = 64 << 10
)

func (c *Conn) send(f Frame, direct bool) error {
	c.mu.Lock()
	if c.state >= stateClosing {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.queued+len(f) > c.lim.MaxQueueBytes {
		c.startCloseLocked(CloseTryAgainLater, "slow consumer", true)
		kick := c.scheduleLocked()
		c.mu.Unlock()
		if kick {
			c.kick()
		}
		return ErrSlowConsumer
	}
	c.lastActive.Store(c.e.now())
	c.queue = append(c.queue, f)
	c.queued += len(f)
	if direct && c.directLocked() {
		c.mu.Unlock()
		return nil
	}
	kick := c.scheduleLocked()
	c.mu.Unlock()
	if kick {
		c.kick()
	}
	return nil
}

// Close starts the closing handshake with code and reason, after the data
// already queued. It does not wait. While the handler holds messages (see
// Hold) the close frame waits for their replies, up to CloseTimeout; data
// messages that arrive after Close are not delivered. Closing a connection
// whose close is already decided does nothing.
func (c *Conn) Close(code CloseCode, reason string) {
	c.mu.Lock()
	c.startCloseLocked(code, reason, false)
	kick := c.scheduleLocked()
	c.mu.Unlock()
	if kick {
		c.kick()
	}
}

// Hold tells the connection that the handler is still answering a message
// it was given: a close that the server decides meanwhile (Close, a
// protocol error, a time limit) waits, at most CloseTimeout, until every
// hold is released, so that the answer goes out before the close frame
// (Send keeps working until then). Call Hold in OnMessage, before it
// returns, and Release once for each Hold after the answer was queued.
func (c *Conn) Hold() {
	c.mu.Lock()
	c.holds++
	c.mu.Unlock()
}

// Release ends one Hold. The last release lets a waiting close proceed.
func (c *Conn) Release() {
	c.mu.Lock()
	if c.holds > 0 {
		c.holds--
	}
	kick := false
	if c.holds == 0 && c.state == stateDraining {
		c.queueCloseLocked()
		kick = c.scheduleLocked()
	}
	c.mu.Unlock()
	if kick {
		c.kick()
	}
}

// SetReadPaused stops (true) or resumes (false) reading from the socket,
// so a consumer that falls behind pushes back on the client through TCP.
func (c *Conn) SetReadPaused(paused bool) {
	c.mu.Lock()
	if c.paused == paused || c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	c.paused = paused
	if !paused && c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
	kick := c.p != nil && c.scheduleLocked()
	c.mu.Unlock()
	if kick {
		c.kick()
	}
}

// Upgrade completes the handshake that CheckRequest accepted: it hijacks
// the HTTP connection, writes the 101 response (with subprotocol when not
// empty) and hands the socket to the engine. On error the connection is
// dead and OnClose will not be called.
func (c *Conn) Upgrade(w http.ResponseWriter, r *http.Request, subprotocol string) error {
	head, err := responseHead(r.Header.Get("Sec-WebSocket-Key"), subprotocol, deflateAnswers[c.pmdAnswer])
	if err != nil {
		return err
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return errors.New("ws: response writer cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return err
	}
	var pre []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		pre = append([]byte(nil), b...)
	}
	// Frames queued before the upgrade (a greeting, say) go out in the same
	// write as the 101 response: one segment instead of two.
	c.mu.Lock()
	if len(c.queue) > 0 && c.state == stateNew {
		buf := make([]byte, 0, len(head)+c.queued)
		buf = append(buf, head...)
		for _, f := range c.queue {
			buf = append(buf, f...)
		}
		clear(c.queue)
		c.queue = c.queue[:0]
		c.queued = 0
		head = buf
	}
	c.mu.Unlock()
	_ = nc.SetDeadline(time.Now().Add(c.e.opts.HandshakeTimeout))
	if _, err := nc.Write(head); err != nil {
		nc.Close()
		return err
	}
	_ = nc.SetDeadline(time.Time{})
	return c.e.attach(c, nc, pre)
}

// directLocked is SendDirect's part after its frame was queued: it
// gathers and writes the queue from the caller when it may (see
// SendDirect). It reports whether the caller is done: the queue was
// written in full, or a gathering caller will write it. Otherwise the
// caller schedules the loop, as Send does. c.mu is held, and released
// while gathering.
func (c *Conn) directLocked() bool {
	if c.gathering {
		c.joined = true
		if c.queued < gatherMaxBytes {
			return true
		}
		// Too much waits for the gathering caller: write it now.
	} else {
		if len(c.queue) != 1 || !c.canWriteQueueLocked() {
			return false
		}
		c.directs++
		if c.gatherMiss < gatherMisses || c.directs%gatherProbe == 0 {
			c.gathering, c.joined = true, false
			c.mu.Unlock()
			c.e.yield()
			c.mu.Lock()
			c.gathering = false
			switch {
			case c.joined:
				c.gatherMiss = 0
			case c.gatherMiss < gatherMisses:
				c.gatherMiss++
			}
		}
	}
	if len(c.queue) == 0 {
		// Written meanwhile, by a caller that joined, or taken by the loop.
		return c.head == nil
	}
	if !c.canWriteQueueLocked() {
		return false
	}
	c.writeQueueLocked()
	return len(c.queue) == 0 && c.head == nil
}

// canWriteQueueLocked reports whether SendDirect may write the queue to
// the socket itself instead of waking the event loop (epoll driver only):
// nothing is waiting to go out before the queue — no control frame, no
// close frame, no pending wakeup, no rest of a direct write, and the loop
// holds no unwritten bytes (outBusy) — so no frame can overtake another,
// and the connection is open or draining, so its socket is registered and
// stays open while c.mu is held (finish closes it only after markClosed
// has taken c.mu). The socket is non-blocking: the write never waits, and
// what the socket does not take stays for the loop. A write error is left
// to the loop too: the frames still queued make it write, see the error
// and abort.
func (c *Conn) canWriteQueueLocked() bool {
	return c.p != nil && !c.scheduled && !c.outBusy && c.head == nil && !c.abortReq &&
		(c.state == stateOpen || c.state == stateDraining) &&
		len(c.ctrl) == 0 && c.closeOut == nil
}

// writeQueueLocked writes the queue in one writev (canWriteQueueLocked
// holds). Whole frames written leave the queue; the rest of a frame cut
// short goes to head, which goes out before anything else, control
// frames included (takeOutputLocked): a pong queued before the loop takes
// it must not land inside the frame.
func (c *Conn) writeQueueLocked() {
	n := writeFrames(c.fd, c.queue)
	c.queued -= n
	i := 0
	for ; i < len(c.queue) && n >= len(c.queue[i]); i++ {
		n -= len(c.queue[i])
	}
	if n > 0 {
		c.head = c.queue[i][n:]
		i++
	}
	rest := copy(c.queue, c.queue[i:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
}

// scheduleLocked marks the connection for the writer and reports whether
// the caller must kick the driver.
func (c *Conn) scheduleLocked() bool {
	if !c.attached || c.state == stateClosed || c.scheduled {
		return false
	}
	c.scheduled = true
	return true
}

func (c *Conn) kick() {
	if c.p != nil {
		c.p.schedule(c)
		return
	}
	c.e.goKick(c)
}

// startCloseLocked begins a close that we initiate. The close frame
// follows every frame queued before it; while the handler holds messages
// (Hold) it waits for their replies in stateDraining, at most
// CloseTimeout. drop (a slow consumer) discards the data frames not yet
// handed to the writer and queues the close frame at once, also when a
// close was already waiting.
func (c *Conn) startCloseLocked(code CloseCode, reason string, drop bool) {
	switch {
	case c.state >= stateClosing:
		return
	case c.state == stateDraining:
		if drop {
			c.localCode, c.localReason = code, reason
			c.dropQueueLocked()
			c.queueCloseLocked()
		}
		return
	}
	c.state = stateDraining
	c.decided.Store(true)
	c.closeAt.Store(c.e.now())
	c.localInit = true
	c.localCode, c.localReason = code, reason
	if drop {
		c.dropQueueLocked()
	}
	if drop || c.holds == 0 {
		c.queueCloseLocked()
	}
}

// queueCloseLocked ends draining: our close frame is queued behind
// everything sent so far, and CloseTimeout starts again for the closing
// handshake.
func (c *Conn) queueCloseLocked() {
	c.state = stateClosing
	c.closeAt.Store(c.e.now())
	c.closeOut = closeFrame(c.localCode, c.localReason)
}

func (c *Conn) dropQueueLocked() {
	for i, f := range c.queue {
		c.queued -= len(f)
		c.queue[i] = nil
	}
	c.queue = c.queue[:0]
}

// abortLocked asks the driver to finish the connection now, without a
// closing handshake. code and reason are reported unless a close frame
// already decided them.
func (c *Conn) abortLocked(code CloseCode, reason string) {
	if c.state == stateClosed || c.abortReq {
		return
	}
	c.abortReq = true
	c.abortCode, c.abortReason = code, reason
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
}

// reportLocked is the code and reason handed to OnClose: ours if we closed
// first, else the peer's, else the abort's.
func (c *Conn) reportLocked() (CloseCode, string) {
	switch {
	case c.localInit:
		return c.localCode, c.localReason
	case c.peerClosed:
		return c.peerCode, c.peerReason
	case c.abortCode != 0:
		return c.abortCode, c.abortReason
	}
	return CloseAbnormal, ""
}

// markClosed moves the connection to stateClosed and returns what to
// report, or ok=false if it was already closed.
func (c *Conn) markClosed() (code CloseCode, reason string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed {
		return 0, "", false
	}
	c.state = stateClosed
	code, reason = c.reportLocked()
	c.dropQueueLocked()
	c.queue = nil
	c.head = nil
	c.ctrl = nil
	c.closeOut = nil
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
	return code, reason, true
}

// takeOutputLocked moves everything waiting (a control frame, the queued
// data frames, our close frame) into out, for the writer.
func (c *Conn) takeOutputLocked() {
	c.scheduled = false
	if c.head != nil {
		// The rest of a direct write (out is empty: a direct write needs
		// it so), ahead of everything.
		c.out = append(c.out, c.head)
		c.head = nil
	}
	if len(c.ctrl) > 0 {
		// Control frames go ahead of queued data, never after our close.
		if c.state < stateClosing || c.closeOut != nil {
			c.out = append(c.out, c.ctrl...)
		} else {
			for _, f := range c.ctrl {
				c.queued -= len(f)
			}
		}
		clear(c.ctrl)
		c.ctrl = c.ctrl[:0]
	}
	if len(c.queue) > 0 {
		if len(c.out) == 0 {
			c.out, c.queue = c.queue, c.out[:0]
		} else {
			c.out = append(c.out, c.queue...)
			clear(c.queue)
			c.queue = c.queue[:0]
		}
	}
	if c.closeOut != nil {
		c.out = append(c.out, c.closeOut)
		c.closeOut = nil
		c.closeInOut = true
	}
	c.outBusy = len(c.out) > 0
}

// advanceOut drops the n bytes the writer wrote from the front of out.
// It returns whether out is now empty.
func (c *Conn) advanceOut(n int) bool {
	for n > 0 && len(c.out) > 0 {
		rest := len(c.out[0]) - c.outOff
		if n < rest {
			c.outOff += n
			return false
		}
		n -= rest
		c.out[0] = nil
		c.out = c.out[1:]
		c.outOff = 0
	}
	if len(c.out) == 0 {
		// Keep a small backing array for the next burst; drop big ones.
		if cap(c.out) > 64 {
			c.out = nil
		} else {
			c.out = c.out[:0]
		}
		return true
	}
	return false
}

// afterWrite accounts for n written bytes. With drained set (out is
// empty) it reports whether our close frame has now been written and the
// connection should linger (the close exchange is complete).
func (c *Conn) afterWrite(n int, drained bool) (linger bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queued -= n
	c.outBusy = !drained
	if drained && c.closeInOut {
		c.closeInOut = false
		c.closeWrote = true
		return c.closeDone
	}
	return false
}

// feed parses bytes read from the socket. It runs on the reader.
func (c *Conn) feed(data []byte, now int64) {
	if c.readFailed {
		return
	}
	buf := data
	if len(c.rbuf) > 0 {
		c.rbuf = append(c.rbuf, data...)
		buf = c.rbuf
	}
	n := c.parse(buf, now)
	rest := buf[n:]
	switch {
	case len(rest) == 0 || c.readFailed:
		c.rbuf = nil
	case len(c.rbuf) > 0:
		c.rbuf = c.rbuf[:copy(c.rbuf, rest)]
	default:
		c.rbuf = append([]byte(nil), rest...)
	}
}

// parse handles the complete frames at the start of buf and returns how
// many bytes it consumed.
func (c *Conn) parse(buf []byte, now int64) int {
	off := 0
	for !c.readFailed {
		h, err := parseHeader(buf[off:])
		if err != nil {
			break
		}
		if code, reason := c.checkHeader(&h); code != 0 {
			c.fail(code, reason)
			break
		}
		total := h.size + int(h.length)
		if len(buf)-off < total {
			c.checkPartial(&h, buf[off+h.size:])
			break
		}
		payload := buf[off+h.size : off+total]
		checked := c.partOff
		c.partOff = 0
		maskBytes(h.mask, checked, payload[checked:])
		off += total
		c.lastRead.Store(now)
		c.pingSent.Store(0)
		c.handleFrame(&h, payload, checked, now)
	}
	return off
}

// checkHeader applies RFC 6455's rules and the limits to a frame header
// before its payload is buffered, so oversized frames fail fast.
func (c *Conn) checkHeader(h *header) (CloseCode, string) {
	if h.rsv != 0 {
		if reason := c.checkRSV(h); reason != "" {
			return CloseProtocolError, reason
		}
	}
	switch {
	case h.op > OpBinary && h.op < OpClose, h.op > OpPong:
		return CloseProtocolError, "reserved opcode"
	case !h.masked:
		return CloseProtocolError, "client frames must be masked"
	case h.length > 1<<62:
		return CloseProtocolError, "invalid payload length"
	}
	if h.op.isControl() {
		if !h.fin {
			return CloseProtocolError, "fragmented control frame"
		}
		if h.length > maxControlPayload {
			return CloseProtocolError, "control frame longer than 125 bytes"
		}
		return 0, ""
	}
	switch {
	case h.op == OpContinuation && c.msgOp == 0:
		return CloseProtocolError, "continuation frame without a message to continue"
	case h.op != OpContinuation && c.msgOp != 0:
		return CloseProtocolError, "new message inside a fragmented message"
	case h.op == OpBinary && !c.lim.AllowBinary:
		return CloseUnsupportedData, "binary frames are not supported"
	case h.length > c.wireLimit(h, c.lim.MaxFrameBytes):
		return CloseMessageTooBig, "frame too big"
	case uint64(len(c.msg))+h.length > c.wireLimit(h, c.lim.MaxMessageBytes):
		return CloseMessageTooBig, "message too big"
	}
	return 0, ""
}

// isText reports whether h's payload is (part of) a text message whose
// bytes are the UTF-8 text itself. A compressed message's bytes are not:
// its text is validated once inflated (deliverInflated), since the
// inflater cannot resume mid-stream (decision 0018).
func (c *Conn) isText(h *header) bool {
	if h.rsv&rsv1 != 0 || c.msgDeflated {
		return false
	}
	return h.op == OpText || h.op == OpContinuation && c.msgOp == OpText
}

// checkPartial unmasks and validates the part of an incomplete text frame
// that has arrived, so that invalid UTF-8 fails the connection as soon as
// the invalid byte arrives, not when its frame is complete.
func (c *Conn) checkPartial(h *header, avail []byte) {
	if !c.isText(h) || len(avail) <= c.partOff {
		return
	}
	b := avail[c.partOff:]
	maskBytes(h.mask, c.partOff, b)
	c.partOff = len(avail)
	if !c.text.write(b) {
		c.fail(CloseInvalidPayload, "invalid UTF-8 in text message")
	}
}

// handleFrame handles one complete frame; checked bytes at the start of
// its payload were validated by checkPartial already.
func (c *Conn) handleFrame(h *header, payload []byte, checked int, now int64) {
	switch h.op {
	case OpPing:
		c.ping(payload, now)
	case OpPong:
		// Liveness is recorded for every frame in parse.
	case OpClose:
		c.peerClose(payload)
	default:
		c.dataFrame(h, payload, checked, now)
	}
}

// A client may send pingBurst pings at once and pingRate a second after
// that; past it the connection fails with 1008, a ping flood. Every ping
// within the budget gets its own pong, in order.
const (
	pingBurst = 100
	pingRate  = 10
	pingCost  = int64(time.Second) / pingRate
)

// ping answers a ping with a pong carrying its payload.
func (c *Conn) ping(payload []byte, now int64) {
	if c.pingAt != 0 {
		c.pingCredit += max(now-c.pingAt, 0)
	} else {
		c.pingCredit = pingBurst * pingCost
	}
	c.pingCredit = min(c.pingCredit, pingBurst*pingCost)
	c.pingAt = now
	if c.pingCredit < pingCost {
		c.fail(ClosePolicyViolation, "ping flood")
		return
	}
	c.pingCredit -= pingCost
	c.mu.Lock()
	kick := false
	if c.state == stateOpen || c.state == stateDraining {
		pong := NewFrame(OpPong, payload)
		if c.queued+len(pong) > c.lim.MaxQueueBytes {
			c.startCloseLocked(CloseTryAgainLater, "slow consumer", true)
		} else {
			c.ctrl = append(c.ctrl, pong)
			c.queued += len(pong)
		}
		kick = c.scheduleLocked()
	}
	c.mu.Unlock()
	if kick {
		c.kick()
	}
}

func (c *Conn) dataFrame(h *header, payload []byte, checked int, now int64) {
	if h.rsv&rsv1 != 0 || c.msgDeflated {
		c.deflatedFrame(h, payload, now) // validated once inflated
		return
	}
	if c.isText(h) && (!c.text.write(payload[checked:]) || h.fin && !c.text.complete()) {
		c.fail(CloseInvalidPayload, "invalid UTF-8 in text message")
		return
	}
	if h.fin && c.msgOp == 0 {
		c.deliver(h.op, append([]byte(nil), payload...), now)
		return
	}
	if c.msgOp == 0 {
		c.msgOp = h.op
	}
	c.msg = append(c.msg, payload...)
	if h.fin {
		msg, op := c.msg, c.msgOp
		c.msg, c.msgOp = nil, 0
		c.deliver(op, msg, now)
	}
}

// deliver hands a complete message to the handler, unless a close was
// decided: what arrives after that is not accepted.
func (c *Conn) deliver(op Opcode, payload []byte, now int64) {
	if c.decided.Load() {
		return
	}
	c.lastActive.Store(now)
	c.h.OnMessage(op, payload)
}

// peerClose handles the peer's close frame.
func (c *Conn) peerClose(payload []byte) {
	code, reason := CloseNoStatus, ""
	switch {
	case len(payload) == 1:
		c.fail(CloseProtocolError, "close frame with a 1-byte payload")
		return
	case len(payload) >= 2:
		code = CloseCode(binary.BigEndian.Uint16(payload))
		if !validReceivedCode(code) {
			c.fail(CloseProtocolError, "invalid close code "+code.String())
			return
		}
		if !utf8.Valid(payload[2:]) {
			c.fail(CloseInvalidPayload, "invalid UTF-8 in close reason")
			return
		}
		reason = string(payload[2:])
	}
	// Nothing after a close frame is read.
	c.readFailed = true
	c.mu.Lock()
	c.peerClosed = true
	c.peerCode, c.peerReason = code, reason
	c.decided.Store(true)
	linger := false
	switch c.state {
	case stateDraining:
		// Our close was waiting for replies: it goes now, after what is
		// queued.
		c.queueCloseLocked()
		c.closeDone = true
	case stateOpen:
		c.state = stateClosing
		c.closeAt.Store(c.e.now())
		c.dropQueueLocked()
		c.closeOut = closeFrame(code, "")
		c.closeDone = true
	case stateClosing:
		if c.closeWrote {
			linger = true
		} else {
			c.closeDone = true
		}
	}
	kick := !linger && c.scheduleLocked()
	c.mu.Unlock()
	if linger {
		c.linger()
	}
	if kick {
		c.kick()
	}
}

// fail fails the connection (RFC 6455 §7.1.7): nothing more is read; the
// close frame with code follows the frames already queued and the replies
// to messages already delivered (see Hold); the connection lingers and
// finishes as soon as the close frame is out.
func (c *Conn) fail(code CloseCode, reason string) {
	c.readFailed = true
	c.msg, c.msgOp, c.rbuf = nil, 0, nil
	c.text, c.partOff = utf8Stream{}, 0
	c.mu.Lock()
	c.startCloseLocked(code, reason, false)
	c.closeDone = true
	linger := c.closeWrote && c.state == stateClosing
	kick := !linger && c.scheduleLocked()
	c.mu.Unlock()
	if linger {
		c.linger()
	}
	if kick {
		c.kick()
	}
}

// linger ends the close exchange: shut our write side (the FIN follows our
// close frame) and read until the peer closes or CloseTimeout passes, so
// an unread input buffer never turns our close into a reset.
func (c *Conn) linger() {
	c.mu.Lock()
	if c.state >= stateLingering {
		c.mu.Unlock()
		return
	}
	c.state = stateLingering
	c.closeAt.Store(c.e.now())
	c.mu.Unlock()
	c.shutdownWrite()
}

// action is what a timer check asks the driver to do.
type action uint8

const (
	actNone action = iota
	actKick
	actAbort
)

// checkTimers enforces the time limits. It runs on the timer sweep.
func (c *Conn) checkTimers(now int64) action {
	l := c.lim
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stallSince.Load(); st != 0 && l.WriteTimeout > 0 && now-st >= int64(l.WriteTimeout) {
		c.abortLocked(CloseTryAgainLater, "slow consumer: write timed out")
		return actAbort
	}
	switch c.state {
	case stateOpen:
		switch {
		case l.MaxLifetime > 0 && now-c.connectedAt >= int64(l.MaxLifetime):
			c.startCloseLocked(CloseGoingAway, "maximum connection duration reached", false)
		case l.IdleTimeout > 0 && now-c.lastActive.Load() >= int64(l.IdleTimeout):
			c.startCloseLocked(CloseGoingAway, "idle timeout", false)
		case l.PingInterval > 0:
			ps := c.pingSent.Load()
			if ps == 0 && now-c.lastRead.Load() >= int64(l.PingInterval) {
				c.pingSent.Store(now)
				ping := NewFrame(OpPing, nil)
				c.ctrl = append(c.ctrl, ping)
				c.queued += len(ping)
			} else if ps != 0 && now-ps >= int64(l.PongTimeout) {
				c.abortLocked(CloseAbnormal, "ping timeout")
				return actAbort
			} else {
				return actNone
			}
		default:
			return actNone
		}
		if c.scheduleLocked() {
			return actKick
		}
	case stateDraining:
		// Replies to held messages had CloseTimeout: the close goes now.
		if at := c.closeAt.Load(); at != 0 && now-at >= int64(c.e.opts.CloseTimeout) {
			c.queueCloseLocked()
			if c.scheduleLocked() {
				return actKick
			}
		}
	case stateClosing, stateLingering:
		if at := c.closeAt.Load(); at != 0 && now-at >= int64(c.e.opts.CloseTimeout) {
			c.abortLocked(CloseAbnormal, "close handshake timed out")
			return actAbort
		}
	}
	return actNone
}
