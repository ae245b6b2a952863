package ws

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Driver names.
const (
	// DriverEpoll runs plain TCP connections on event loops (Linux): an
	// idle connection costs no goroutine and no buffer.
	DriverEpoll = "epoll"
	// DriverGoroutine gives each connection a reader goroutine and starts a
	// writer goroutine while it has output. It works on every platform and
	// for every net.Conn (TLS included).
	DriverGoroutine = "goroutine"
)

// Options configure an Engine. Zero values mean the defaults given.
type Options struct {
	// Driver is DriverEpoll, DriverGoroutine or "" for the best available
	// (epoll on Linux). Connections that are not plain sockets always use
	// the goroutine driver.
	Driver string
	// Loops is the number of event loops. Default GOMAXPROCS.
	Loops int
	// Tick is the granularity of every time limit (idle, ping, write and
	// close timeouts). Default 1s.
	Tick time.Duration
	// CloseTimeout bounds the closing handshake and the lingering read
	// after it. Default 3s.
	CloseTimeout time.Duration
	// HandshakeTimeout bounds writing the 101 response. Default 10s.
	HandshakeTimeout time.Duration
	Logger           *slog.Logger
}

// ErrEngineClosed is returned by Upgrade once Close has begun.
var ErrEngineClosed = errors.New("ws: engine is closed")

// Engine runs WebSocket connections. It is safe for concurrent use.
type Engine struct {
	opts    Options
	log     *slog.Logger
	pollers []*poller
	next    atomic.Uint32
	clock   atomic.Int64 // unix nanoseconds, refreshed by the loops and the sweep
	open    atomic.Int64
	yield   func() // SendDirect's gather: runtime.Gosched (tests replace it before any send)

	// Guarded by mu.
	mu      sync.Mutex
	closing bool
	goConns map[*Conn]struct{} // connections on the goroutine driver
	sweeper bool
	wg      sync.WaitGroup
	quit    chan struct{} // closed when Close begins
	done    chan struct{} // closed when Close is done
}

// NewEngine starts an engine's event loops.
func NewEngine(opts Options) (*Engine, error) {
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 3 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.Loops <= 0 {
		opts.Loops = runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch opts.Driver {
	case "":
		opts.Driver = DriverGoroutine
		if epollSupported {
			opts.Driver = DriverEpoll
		}
	case DriverEpoll:
		if !epollSupported {
			return nil, fmt.Errorf("ws: driver %q needs Linux", DriverEpoll)
		}
	case DriverGoroutine:
	default:
		return nil, fmt.Errorf("ws: unknown driver %q (want %q or %q)", opts.Driver, DriverEpoll, DriverGoroutine)
	}
	e := &Engine{opts: opts, log: opts.Logger, goConns: make(map[*Conn]struct{}), quit: make(chan struct{}), done: make(chan struct{}),
		yield: runtime.Gosched}
	e.tickClock()
	if opts.Driver == DriverEpoll {
		for range opts.Loops {
			p, err := newPoller(e)
			if err != nil {
				e.Close()
				return nil, err
			}
			e.pollers = append(e.pollers, p)
			e.goLocked(p.loop)
		}
	}
	return e, nil
}

// Driver reports the driver plain sockets use.
func (e *Engine) Driver() string { return e.opts.Driver }

// Open reports the number of attached, not yet finished connections.
func (e *Engine) Open() int { return int(e.open.Load()) }

// goLocked starts a tracked goroutine. It refuses after Close began.
func (e *Engine) goLocked(f func()) bool {
	if e.closing {
		return false
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
	return true
}

func (e *Engine) spawn(f func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.goLocked(f)
}

func (e *Engine) now() int64 { return e.clock.Load() }

func (e *Engine) tickClock() int64 {
	now := time.Now().UnixNano()
	e.clock.Store(now)
	return now
}

// NewConn returns a connection that is not yet attached to a socket; call
// Upgrade to attach it. Frames sent before that are written after the 101.
func (e *Engine) NewConn(h Handler, lim *Limits) *Conn {
	return &Conn{e: e, h: h, lim: lim, fd: -1}
}

// attach hands an upgraded socket to a driver.
func (e *Engine) attach(c *Conn, nc net.Conn, pre []byte) error {
	e.mu.Lock()
	closing := e.closing
	e.mu.Unlock()
	if closing {
		nc.Close()
		return ErrEngineClosed
	}
	now := e.tickClock()
	c.connectedAt = now
	c.lastRead.Store(now)
	c.lastActive.Store(now)
	c.rbuf = pre

	if e.opts.Driver == DriverEpoll {
		fd, ok, err := detachFD(unwrap(nc))
		if err != nil {
			nc.Close()
			return err
		}
		if ok {
			p := e.pollers[int(e.next.Add(1))%len(e.pollers)]
			e.open.Add(1)
			c.mu.Lock()
			c.fd, c.p = fd, p
			if c.state == stateNew {
				c.state = stateOpen
			}
			c.attached = true
			c.scheduled = true
			c.mu.Unlock()
			p.schedule(c) // the loop registers it
			return nil
		}
	}
	return e.attachGoroutine(c, nc)
}

// unwrap finds the socket under connection wrappers that expose it with
// a NetConn method (as the server's header-capturing wrapper does).
func unwrap(nc net.Conn) net.Conn {
	for {
		if _, ok := nc.(*tls.Conn); ok {
			// Bytes on the socket are TLS records: only the goroutine
			// driver, reading through tls.Conn, can serve this connection.
			return nc
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nc
		}
		nc = u.NetConn()
	}
}

// Close finishes every connection without a closing handshake (callers
// drain gracefully first), stops the event loops and waits for every
// goroutine of the engine. OnClose runs for each connection still open.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		<-e.done
		return
	}
	e.closing = true
	close(e.quit)
	goConns := make([]*Conn, 0, len(e.goConns))
	for c := range e.goConns {
		goConns = append(goConns, c)
	}
	e.mu.Unlock()
	for _, p := range e.pollers {
		p.stop()
	}
	for _, c := range goConns {
		c.mu.Lock()
		c.abortLocked(CloseAbnormal, "server stopped")
		c.mu.Unlock()
		c.nc.Close()
	}
	e.wg.Wait()
	close(e.done)
}

// closed is called once per connection by its driver after the socket is
// closed.
func (e *Engine) closed(c *Conn, code CloseCode, reason string) {
	e.open.Add(-1)
	c.h.OnClose(code, reason)
}

// shutdownWrite half-closes the socket after our close frame.
func (c *Conn) shutdownWrite() {
	if c.p != nil {
		c.p.shutdownWrite(c)
		return
	}
	if cw, ok := unwrap(c.nc).(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.nc.Close()
}

// readPaused reports whether the reader should stop reading. A failed or
// lingering connection keeps reading to see the peer's EOF. Reader only.
func (c *Conn) readPaused() bool {
	if c.readFailed {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}
