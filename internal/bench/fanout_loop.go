package bench

import (
	"sync"
	"sync/atomic"
)

// loopReadBuf is each event loop's read buffer, shared by its
// connections: a connection keeps bytes of its own only while a frame is
// split across reads.
const loopReadBuf = 64 << 10

// fanConn is one subscribed connection of a fan-out worker.
type fanConn struct {
	fd      int
	channel int32
	node    int32  // index of the node (URL) it is connected to
	count   uint32 // pubs received since the last report
	pending []byte // the start of a partial frame; nil between frames
}

// fanLoop is one event loop of a fan-out worker: an epoll instance and
// the goroutine that reads every socket registered with it. The
// connections have no goroutine of their own.
//
// The loop goroutine holds mu while it handles one batch of ready
// sockets; the dialing goroutines hold it to add a connection, and the
// worker's command loop to read and reset the counters, so the counters
// need no atomics and a report never sees half a batch.
type fanLoop struct {
	// Immutable after newFanLoop.
	epfd int
	done chan struct{} // closed when the loop goroutine has ended
	quit atomic.Bool

	mu         sync.Mutex
	pusher     bool       // the connections speak Pusher protocol 7 (set before the first add)
	closed     bool       // the loop has stopped: add closes the socket instead
	conns      []*fanConn // by file descriptor; nil where none
	rbuf       []byte     // loopReadBuf bytes
	wbuf       []byte     // pong frames being written
	perChannel []int      // live connections by channel index
	perNode    []int      // live connections by node index
	// With more than one node: the pubs and latencies of each node's
	// connections since the last report (hist and received are the sums).
	nodeHist     []Histogram
	nodeReceived []uint64
	hist         Histogram // latency of the pubs received since the last report
	received     uint64    // pubs since the last report
	other        uint64    // other data frames since the last report
	stale        uint64    // pubs published before floor (an earlier step's)
	errors       uint64    // protocol errors and failed pongs since the last report
	lost         int       // connections lost since the last report
	floor        int64     // unix ns; see stale
	firstErr     string    // why the first connection was lost or failed, since the last report
}

// resetLocked starts a new counting period.
func (l *fanLoop) resetLocked(floor int64) {
	l.hist.Reset()
	for i := range l.nodeHist {
		l.nodeHist[i].Reset()
		l.nodeReceived[i] = 0
	}
	l.received, l.other, l.stale, l.errors, l.lost = 0, 0, 0, 0, 0
	l.floor = floor
	l.firstErr = ""
}

// readBufLocked is where the next read from c goes: buf[start:], after
// the start bytes of c's partial frame. Usually that is the loop's shared
// buffer (with the partial frame copied to its start); a frame too large
// for it is read straight into its own buffer, c.pending.
func (l *fanLoop) readBufLocked(c *fanConn) (buf []byte, start int) {
	switch {
	case len(c.pending) == 0:
		return l.rbuf, 0
	case cap(c.pending) > len(l.rbuf)/2:
		return c.pending[:cap(c.pending)], len(c.pending)
	}
	return l.rbuf, copy(l.rbuf, c.pending)
}

// consumeLocked handles the frames in data, read from c at now (unix ns),
// and keeps a trailing partial frame as c.pending. data may alias
// c.pending. It reports false when the connection was lost.
func (l *fanLoop) consumeLocked(c *fanConn, data []byte, now int64) bool {
	for len(data) > 0 {
		f, size, need, err := nextFrame(data)
		if err != nil {
			l.errors++
			l.loseLocked(c, err.Error())
			return false
		}
		if size == 0 {
			// Keep the partial frame, with room for all of it.
			want := max(need, len(data), 256)
			if cap(c.pending) < want {
				c.pending = append(make([]byte, 0, want), data...)
			} else {
				c.pending = append(c.pending[:0], data...) // memmove: data may overlap
			}
			return true
		}
		data = data[size:]
		switch f.op {
		case opText:
			t, ok := extractT(f.payload)
			switch {
			case !ok && l.pusher && f.fin && isPusherPing(f.payload):
				// The server's activity check (reference §3): answer it
				// as pusher-js does, or it closes the connection.
				if !l.pongLocked(c, opText, pusherPong) {
					return false
				}
			case !ok || !f.fin:
				l.other++
			case t < l.floor:
				l.stale++
			default:
				l.hist.Record(now - t)
				l.received++
				c.count++
				if l.nodeHist != nil {
					l.nodeHist[c.node].Record(now - t)
					l.nodeReceived[c.node]++
				}
			}
		case opPing:
			if !l.pongLocked(c, opPong, f.payload) {
				return false
			}
		case opPong:
		case opClose:
			l.loseLocked(c, "the server closed a connection: "+closeReason(f.payload))
			return false
		default: // binary, continuation
			l.other++
		}
	}
	c.pending = nil
	return true
}

// setPusher says whether the loop's connections speak Pusher protocol 7
// (before the first add).
func (l *fanLoop) setPusher(on bool) {
	l.mu.Lock()
	l.pusher = on
	l.mu.Unlock()
}

func (l *fanLoop) isPusher() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pusher
}
