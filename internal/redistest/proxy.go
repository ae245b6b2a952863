package redistest

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 that a test puts between a client and
// a server (a Switchboard node and its Redis) so that it can cut the
// client off while both keep running: a network partition without a
// network namespace.
//
// While healed it forwards every accepted connection to the target, byte
// for byte in both directions. Cut drops every forwarded connection (both
// sides closed) and blackholes new ones: they are accepted (the dial
// succeeds, as it would through a partition that only drops packets after
// the handshake of a kept-alive path) but nothing is read from or written
// to them, so the client's commands time out rather than fail fast. Heal
// closes the blackholed connections (the client then redials) and forwards
// again.
type Proxy struct {
	// Addr is host:port the proxy listens on: give it to the client.
	Addr string
	// Target is the address every connection is forwarded to.
	Target string

	ln   net.Listener
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	// stalled: forwarded connections stay open but nothing gets through
	// (Stall).
	stalled atomic.Bool

	mu     sync.Mutex
	cut    bool
	closed bool
	pairs  map[*pair]struct{}    // forwarded connections
	held   map[net.Conn]struct{} // connections blackholed while cut
}

// pair is one forwarded connection: the accepted side and the dialled one.
type pair struct{ client, server net.Conn }

func (p *pair) close() {
	p.client.Close()
	p.server.Close()
}

// StartProxy starts a Proxy to target and closes it in t.Cleanup.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy starts a Proxy to target on a free loopback port. The caller
// must Close it.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		Addr:   ln.Addr().String(),
		Target: target,
		ln:     ln,
		done:   make(chan struct{}),
		pairs:  make(map[*pair]struct{}),
		held:   make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient accept error (e.g. too many open files): back off.
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			c.Close()
			return
		case p.cut || p.stalled.Load():
			p.held[c] = struct{}{}
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward dials the target for the accepted c and copies both ways until
// either side ends or Cut/Close drops the pair.
func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	s, err := net.DialTimeout("tcp", p.Target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	pr := &pair{client: c, server: s}
	p.mu.Lock()
	if p.closed || p.cut {
		// Cut while dialling: the connection is dropped like the others.
		p.mu.Unlock()
		pr.close()
		return
	}
	p.pairs[pr] = struct{}{}
	p.mu.Unlock()
	var copies sync.WaitGroup
	copies.Add(2)
	go func() {
		defer copies.Done()
		p.pipe(s, c)
		pr.close()
	}()
	go func() {
		defer copies.Done()
		p.pipe(c, s)
		pr.close()
	}()
	copies.Wait()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// pipe copies src to dst until either fails, dropping what it reads while
// the proxy is stalled.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Stall keeps every forwarded connection open but lets nothing through,
// either way, and blackholes new ones: a peer that stops answering on a
// live connection, so that the client's commands wait for their timeout
// (where Cut's dropped connections fail at once). Heal ends it; what was
// dropped meanwhile leaves a hole in the byte streams, so a client sees a
// protocol error or a timeout on those connections and redials.
func (p *Proxy) Stall() { p.stalled.Store(true) }

// Cut drops every forwarded connection and blackholes new ones until Heal.
// Calling it again does nothing.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	pairs := p.pairs
	p.pairs = make(map[*pair]struct{})
	p.mu.Unlock()
	for pr := range pairs {
		pr.close()
	}
}

// Heal forwards new connections again and closes those blackholed while
// cut, so their clients redial. Calling it while healed does nothing.
func (p *Proxy) Heal() {
	p.stalled.Store(false)
	p.mu.Lock()
	p.cut = false
	held := p.held
	p.held = make(map[net.Conn]struct{})
	p.mu.Unlock()
	for c := range held {
		c.Close()
	}
}

// Connections returns how many connections are being forwarded now.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end. It is safe to call more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	pairs, held := p.pairs, p.held
	p.pairs, p.held = map[*pair]struct{}{}, map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.ln.Close()
	for pr := range pairs {
		pr.close()
	}
	for c := range held {
		c.Close()
	}
	p.wg.Wait()
}
