package ws

import (
	"encoding/binary"
	"testing"
)

// gatherConn is one connection on the epoll driver whose SendDirect yields
// to onYield instead of runtime.Gosched: what runs in onYield is what
// would run while the gathering caller waits for the processor.
func gatherConn(t *testing.T) (*rawClient, *echoHandler, *func()) {
	t.Helper()
	lim := testLimits()
	lim.MaxQueueBytes = 8 << 20
	lim.AllowBinary = true
	ts := newTestServer(t, DriverEpoll, lim)
	var onYield func()
	ts.e.yield = func() {
		if onYield != nil {
			onYield()
		}
	}
	cl, _ := dialRaw(t, ts.srv.URL, nil)
	h := ts.handler()
	waitFor(t, "the loop to register the connection", func() bool {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		return h.c.canWriteQueueLocked()
	})
	return cl, h, &onYield
}

func numbered(i, size int) Frame {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(i))
	return NewFrame(OpBinary, p)
}

func expectNumbered(t *testing.T, cl *rawClient, from, to, size int) {
	t.Helper()
	for i := from; i < to; i++ {
		f, err := cl.read()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.op != OpBinary || len(f.payload) != size || int(binary.BigEndian.Uint32(f.payload)) != i {
			t.Fatalf("got op %v, %d bytes, number %d; want frame %d of %d bytes", f.op, len(f.payload), binary.BigEndian.Uint32(f.payload), i, size)
		}
	}
}

func (h *echoHandler) queueLen() (frames, bytes int) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return len(h.c.queue), h.c.queued
}

// TestSendDirectGathers: frames that other callers send while a SendDirect
// gathers are only queued, and the gathering caller writes them all,
// after its own, before it returns.
func TestSendDirectGathers(t *testing.T) {
	cl, h, onYield := gatherConn(t)
	yields := 0
	*onYield = func() {
		yields++
		for i := 1; i <= 3; i++ {
			if err := h.c.SendDirect(numbered(i, 100)); err != nil {
				t.Errorf("joining frame %d: %v", i, err)
			}
		}
		if n, _ := h.queueLen(); n != 4 {
			t.Errorf("%d frames queued during the gather, want 4: a joining caller wrote", n)
		}
	}
	if err := h.c.SendDirect(numbered(0, 100)); err != nil {
		t.Fatal(err)
	}
	if n, b := h.queueLen(); n != 0 || b != 0 || yields != 1 {
		t.Fatalf("after the gather: %d frames, %d bytes queued, %d yields; want 0, 0, 1", n, b, yields)
	}
	expectNumbered(t, cl, 0, 4, 100)
}

// TestSendDirectGatherMisses: a connection stops gathering after
// gatherMisses gathers that nobody joined, tries again every gatherProbe
// direct frames, and gathers every time again once a probe is joined.
func TestSendDirectGatherMisses(t *testing.T) {
	cl, h, onYield := gatherConn(t)
	yields, join := 0, false
	next := 0
	send := func() error {
		i := next
		next++
		return h.c.SendDirect(numbered(i, 10))
	}
	*onYield = func() {
		yields++
		if join {
			if err := send(); err != nil {
				t.Error(err)
			}
		}
	}
	for range gatherMisses {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if yields != gatherMisses {
		t.Fatalf("%d yields for the first %d frames, want one each", yields, gatherMisses)
	}
	yields = 0
	for range 2 * gatherProbe {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if yields != 2 {
		t.Fatalf("%d yields in %d frames after %d misses, want 2 (one probe every %d)", yields, 2*gatherProbe, gatherMisses, gatherProbe)
	}
	// A probe that is joined turns gathering back on.
	join, yields = true, 0
	for yields == 0 {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	join, yields = false, 0
	if err := send(); err != nil {
		t.Fatal(err)
	}
	if yields != 1 {
		t.Fatalf("the frame after a joined probe yielded %d times, want 1", yields)
	}
	expectNumbered(t, cl, 0, next, 10)
}

// TestSendDirectGatherPileWritten: a caller that joins a gather and finds
// gatherMaxBytes waiting writes the queue itself instead of leaving it to
// the gathering caller (which may wait long for the processor while a
// batch posts to the same connection), and order holds.
func TestSendDirectGatherPileWritten(t *testing.T) {
	cl, h, onYield := gatherConn(t)
	const size = 4 << 10
	n := 1
	*onYield = func() {
		for {
			_, before := h.queueLen()
			if err := h.c.SendDirect(numbered(n, size)); err != nil {
				t.Error(err)
				return
			}
			n++
			if _, after := h.queueLen(); after < before {
				if before+size+6 < gatherMaxBytes {
					t.Errorf("the queue was written at %d bytes, below gatherMaxBytes", before+size)
				}
				return
			}
			if n > 2*gatherMaxBytes/size {
				t.Errorf("%d frames (%d bytes) queued during the gather and none written", n, n*size)
				return
			}
		}
	}
	if err := h.c.SendDirect(numbered(0, size)); err != nil {
		t.Fatal(err)
	}
	*onYield = nil
	expectNumbered(t, cl, 0, n, size)
}
