package ws

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIdleTimeout(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.IdleTimeout = time.Second
		ts := newTestServer(t, d, lim)
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		// Messages count as activity.
		var start time.Time
		for range 3 {
			time.Sleep(200 * time.Millisecond)
			// start is taken before the server can read the message, so
			// the idle timer it restarts cannot fire within 1s of start,
			// however slow the machine (timing the close from the echo's
			// arrival instead failed when the echo was late).
			start = time.Now()
			c.write(true, OpText, []byte("keep"))
			c.expectMessage(OpText, []byte("keep"))
		}
		if r := c.expectClose(CloseGoingAway); r != "idle timeout" {
			t.Fatalf("reason %q", r)
		}
		if time.Since(start) < 800*time.Millisecond {
			t.Fatalf("closed after %v, before the idle timeout", time.Since(start))
		}
		c.write(true, OpClose, closePayload(CloseGoingAway, ""))
		c.expectEOF()
		h.expectClosed(t, CloseGoingAway)
	})
}

func TestMaxLifetime(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.MaxLifetime = 300 * time.Millisecond
		ts := newTestServer(t, d, lim)
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		go func() { // stay active: activity must not extend the lifetime
			for range 20 {
				time.Sleep(30 * time.Millisecond)
				if _, err := c.nc.Write(clientFrame(true, 0, OpText, []byte("x"), true)); err != nil {
					return
				}
			}
		}()
		if r := c.expectClose(CloseGoingAway); r != "maximum connection duration reached" {
			t.Fatalf("reason %q", r)
		}
		h.expectClosed(t, CloseGoingAway)
	})
}

func TestPingAndPongTimeout(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.PingInterval = 150 * time.Millisecond
		lim.PongTimeout = time.Second
		ts := newTestServer(t, d, lim)
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		// Answer pings for a while: the connection stays.
		deadline := time.Now().Add(800 * time.Millisecond)
		pings := 0
		for time.Now().Before(deadline) {
			f, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			if f.op != OpPing {
				t.Fatalf("got %v, want ping", f.op)
			}
			pings++
			c.write(true, OpPong, f.payload)
		}
		if pings < 2 {
			t.Fatalf("%d pings in 800ms with a 150ms interval", pings)
		}
		// Stop answering: dropped as unresponsive, reported as 1006.
		ev := h.expectClosed(t, CloseAbnormal)
		if ev.reason != "ping timeout" {
			t.Fatalf("reason %q", ev.reason)
		}
	})
}

// A client that never reads: the server's queue fills and the connection
// is closed as a slow consumer, without blocking the sender.
func TestSlowConsumerQueueFull(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.MaxQueueBytes = 256 << 10
		ts := newTestServer(t, d, lim)
		c, _ := dialRaw(t, ts.srv.URL, nil)
		_ = c
		h := ts.handler()
		frame := TextFrame(bytes.Repeat([]byte("z"), 16<<10))
		start := time.Now()
		var err error
		for i := 0; i < 10000 && err == nil; i++ {
			err = h.c.Send(frame)
		}
		if err != ErrSlowConsumer {
			t.Fatalf("Send: %v, want ErrSlowConsumer", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("Send blocked for %v", time.Since(start))
		}
		if err := h.c.Send(frame); err != ErrClosed {
			t.Fatalf("Send after slow-consumer close: %v", err)
		}
		// The client never reads, so the close frame cannot be written:
		// the close is bounded by CloseTimeout (1s here), not WriteTimeout.
		ev := h.expectClosed(t, CloseTryAgainLater)
		if ev.reason != "slow consumer" {
			t.Fatalf("reason %q", ev.reason)
		}
	})
}

// A client that stops reading while the queue stays under its bound: the
// write timeout ends it.
func TestSlowConsumerWriteTimeout(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.MaxQueueBytes = 64 << 20
		lim.WriteTimeout = 300 * time.Millisecond
		ts := newTestServer(t, d, lim)
		c, _ := dialRaw(t, ts.srv.URL, nil)
		_ = c
		h := ts.handler()
		frame := TextFrame(bytes.Repeat([]byte("z"), 64<<10))
		for range 200 { // 12.5 MiB: more than the socket buffers hold
			if err := h.c.Send(frame); err != nil {
				break
			}
		}
		ev := h.expectClosed(t, CloseTryAgainLater)
		if ev.reason != "slow consumer: write timed out" {
			t.Fatalf("reason %q", ev.reason)
		}
	})
}

// One stalled client does not delay the others.
func TestStalledClientDoesNotDelayOthers(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		lim := testLimits()
		lim.MaxQueueBytes = 4 << 20
		ts := newTestServer(t, d, lim)
		stalled, _ := dialRaw(t, ts.srv.URL, nil)
		_ = stalled
		hs := ts.handler()
		fast, _ := dialRaw(t, ts.srv.URL, nil)
		hf := ts.handler()
		big := TextFrame(bytes.Repeat([]byte("s"), 32<<10))
		for range 64 { // 2 MiB to the stalled client fills its socket
			_ = hs.c.Send(big)
		}
		for i := range 100 {
			msg := []byte(fmt.Sprintf("m%d", i))
			if err := hf.c.Send(TextFrame(msg)); err != nil {
				t.Fatal(err)
			}
			fast.expectMessage(OpText, msg)
		}
	})
}

func TestPauseReading(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		ts.noEcho = true
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		h.c.SetReadPaused(true)
		// A read already under way when the pause is set still delivers
		// what it reads: message 0 may get through. Wait for the pause to
		// reach the reader (not a sleep, which under load was not always
		// long enough, letting 0–4 arrive in one read).
		c.write(true, OpText, []byte{'0'})
		if d == DriverGoroutine {
			// Its reader parks in waitUnpaused, before or after reading 0.
			waitFor(t, "the reader to park", func() bool {
				h.c.mu.Lock()
				defer h.c.mu.Unlock()
				return h.c.resume != nil
			})
		} else {
			// The loop applies the pause (no more EPOLLIN) in the same
			// service that writes a frame queued after it, before it
			// looks at the socket again.
			if err := h.c.Send(TextFrame([]byte("paused"))); err != nil {
				t.Fatal(err)
			}
			c.expectMessage(OpText, []byte("paused"))
		}
		for i := 1; i < 5; i++ {
			c.write(true, OpText, []byte{byte('0' + i)})
		}
		time.Sleep(100 * time.Millisecond) // a window for a wrong delivery to show
		h.mu.Lock()
		n := len(h.msgs)
		h.mu.Unlock()
		if n > 1 { // the goroutine driver may have a read in flight
			t.Fatalf("%d messages delivered while paused", n)
		}
		h.c.SetReadPaused(false)
		waitFor(t, "messages after resume", func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return len(h.msgs) == 5
		})
		for i, m := range h.msgs {
			if string(m) != string([]byte{byte('0' + i)}) {
				t.Fatalf("message %d is %q: order lost", i, m)
			}
		}
		c.closeNormally()
		h.expectClosed(t, CloseNormal)
	})
}

func TestSendBeforeUpgradeIsWrittenAfter101(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		ts.beforeUpgrade = func(h *echoHandler) {
			if err := h.c.Send(TextFrame([]byte("welcome"))); err != nil {
				t.Error(err)
			}
		}
		c, _ := dialRaw(t, ts.srv.URL, nil)
		c.expectMessage(OpText, []byte("welcome"))
		h := ts.handler()
		c.closeNormally()
		h.expectClosed(t, CloseNormal)
	})
}

// Engine.Close finishes every open connection exactly once and leaves no
// goroutine behind (goleak checks after the tests).
func TestEngineCloseFinishesAll(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		const n = 50
		var clients []*rawClient
		var hs []*echoHandler
		for range n {
			c, _ := dialRaw(t, ts.srv.URL, nil)
			clients = append(clients, c)
			hs = append(hs, ts.handler())
		}
		waitFor(t, "all attached", func() bool { return ts.e.Open() == n })
		ts.e.Close()
		var wg sync.WaitGroup
		for _, h := range hs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.expectClosed(t, CloseAbnormal)
			}()
		}
		wg.Wait()
		if ts.e.Open() != 0 {
			t.Fatalf("%d connections still open", ts.e.Open())
		}
		for _, c := range clients {
			c.expectEOF()
		}
	})
}

// Closing a connection before its upgrade (shutdown, DELETE) sends the
// close frame right after the 101 and reports the close once.
func TestCloseBeforeUpgrade(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		ts := newTestServer(t, d, testLimits())
		ts.beforeUpgrade = func(h *echoHandler) { h.c.Close(CloseGoingAway, "server shutting down") }
		c, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()
		c.expectClose(CloseGoingAway)
		c.write(true, OpClose, closePayload(CloseGoingAway, ""))
		c.expectEOF()
		h.expectClosed(t, CloseGoingAway)
	})
}
