package ws

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentSendsKeepOrder has many goroutines send to one connection
// at once while the writer (event loop or writer goroutine) also writes:
// half the senders use SendDirect, half Send. The client starts reading
// only after half the frames were sent, so the socket fills, the direct
// writes (epoll driver) stop part-way or find the socket full and the
// loop takes over, then drains, and direct writes resume; the client's
// pings add pongs that the loop writes in between. Every sender's frames
// must arrive whole and in the order it sent them, and our close frame
// after all of them. It fails when canWriteNowLocked ignores the bytes
// the loop has not written (outBusy): frames interleave mid-frame.
func TestConcurrentSendsKeepOrder(t *testing.T) {
	forDrivers(t, func(t *testing.T, d string) {
		const senders, perSender = 8, 600
		lim := testLimits()
		lim.MaxQueueBytes = 256 << 20
		ts := newTestServer(t, d, lim)
		cl, _ := dialRaw(t, ts.srv.URL, nil)
		h := ts.handler()

		var sent atomic.Int64
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perSender {
					// Sizes from 8 bytes to about 24 KiB, so writes end
					// part-way through frames.
					p := make([]byte, 8+(i*7919+s*104729)%(24<<10))
					binary.BigEndian.PutUint32(p[0:], uint32(s))
					binary.BigEndian.PutUint32(p[4:], uint32(i))
					send := h.c.Send
					if s%2 == 0 {
						send = h.c.SendDirect
					}
					if err := send(NewFrame(OpBinary, p)); err != nil {
						t.Errorf("sender %d frame %d: %v", s, i, err)
						return
					}
					sent.Add(1)
				}
			}()
		}
		defer wg.Wait() // a failure below must not leave senders reporting after the test
		waitFor(t, "half the frames sent", func() bool { return sent.Load() >= senders*perSender/2 })

		pingsDone := make(chan struct{})
		go func() {
			defer close(pingsDone)
			for range 50 {
				if _, err := cl.nc.Write(clientFrame(true, 0, OpPing, []byte("p"), true)); err != nil {
					return
				}
			}
		}()
		closed := make(chan struct{})
		go func() {
			wg.Wait()
			h.c.Close(CloseNormal, "done")
			close(closed)
		}()

		next := make([]int, senders)
		total := 0
		for {
			f, err := cl.read()
			if err != nil {
				t.Fatalf("after %d frames: %v", total, err)
			}
			if f.op == OpPong {
				continue
			}
			if f.op == OpClose {
				break
			}
			if f.op != OpBinary || !f.fin || len(f.payload) < 8 {
				t.Fatalf("frame %d: op %v fin %v len %d", total, f.op, f.fin, len(f.payload))
			}
			s := int(binary.BigEndian.Uint32(f.payload[0:]))
			i := int(binary.BigEndian.Uint32(f.payload[4:]))
			if s >= senders || i != next[s] {
				t.Fatalf("frame %d: sender %d frame %d, want frame %d", total, s, i, next[min(s, senders-1)])
			}
			want := 8 + (i*7919+s*104729)%(24<<10)
			if len(f.payload) != want {
				t.Fatalf("sender %d frame %d: %d bytes, want %d", s, i, len(f.payload), want)
			}
			next[s]++
			total++
		}
		<-closed
		<-pingsDone
		if total != senders*perSender {
			t.Fatalf("close frame after %d of %d frames", total, senders*perSender)
		}
		cl.write(true, OpClose, closePayload(CloseNormal, ""))
		cl.expectEOF()
		h.expectClosed(t, CloseNormal)
	})
}

// TestDirectRestGoesFirst: the rest of a frame that SendDirect wrote in
// part (head) goes out before a control frame queued after it — a pong
// the loop read in the same wakeup — and before the queued data. Before
// head existed the rest was queued data, and the pong went inside the
// frame.
func TestDirectRestGoesFirst(t *testing.T) {
	c := &Conn{
		head:  []byte("rest of a frame"),
		ctrl:  [][]byte{[]byte("pong")},
		queue: [][]byte{[]byte("next frame")},
	}
	c.takeOutputLocked()
	var got []string
	for _, f := range c.out {
		got = append(got, string(f))
	}
	if want := []string{"rest of a frame", "pong", "next frame"}; !slices.Equal(got, want) {
		t.Fatalf("out %q, want %q", got, want)
	}
	if c.head != nil || !c.outBusy {
		t.Fatalf("head %q, outBusy %v after the take", c.head, c.outBusy)
	}
}
