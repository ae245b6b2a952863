package ws

import (
	"bytes"
	"fmt"
	"testing"
)

// recorder is a Handler that records what a parse produced.
type recorder struct{ got []string }

func (r *recorder) OnMessage(op Opcode, p []byte) { r.got = append(r.got, fmt.Sprintf("%v:%q", op, p)) }
func (r *recorder) OnClose(code CloseCode, _ string) {
	r.got = append(r.got, fmt.Sprintf("closed:%d", code))
}

// parseAll feeds data to a detached connection in chunks of size n (0:
// all at once) and returns what it delivered, the close it would send and
// whether a pong is pending.
func parseAll(data []byte, n int) []string {
	e := &Engine{opts: Options{CloseTimeout: 1}}
	r := &recorder{}
	lim := testLimits()
	lim.MaxMessageBytes, lim.MaxFrameBytes, lim.AllowBinary = 1<<12, 1<<11, true
	c := e.NewConn(r, lim)
	c.state, c.scheduled = stateOpen, true // no driver: nothing is written
	if n <= 0 {
		n = len(data) + 1
	}
	for len(data) > 0 {
		k := min(n, len(data))
		c.feed(bytes.Clone(data[:k]), 1)
		data = data[k:]
	}
	out := r.got
	if c.localInit {
		out = append(out, fmt.Sprintf("fail:%d", c.localCode))
	}
	if c.peerClosed {
		out = append(out, fmt.Sprintf("peer:%d:%q", c.peerCode, c.peerReason))
	}
	return out
}

// FuzzParse feeds arbitrary client bytes to the frame parser: it must never
// panic, and how the bytes are split across reads must not change what is
// delivered.
func FuzzParse(f *testing.F) {
	f.Add(clientFrame(true, 0, OpText, []byte("hello"), true), 3)
	f.Add(append(clientFrame(false, 0, OpText, []byte("he"), true), clientFrame(true, 0, OpContinuation, []byte("llo"), true)...), 1)
	f.Add(clientFrame(true, 0, OpPing, []byte("p"), true), 2)
	f.Add(clientFrame(true, 0, OpClose, closePayload(CloseNormal, "bye"), true), 4)
	f.Add(clientFrame(true, 0, OpBinary, bytes.Repeat([]byte{0}, 300), true), 7)
	f.Add(clientFrame(true, 0, OpText, []byte("\xff"), true), 1)
	f.Add(clientFrame(true, 3, OpText, nil, true), 1)
	f.Add([]byte{0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}, 5)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		whole := parseAll(data, 0)
		if split < 1 {
			split = 1
		}
		parts := parseAll(data, split%64+1)
		if fmt.Sprint(whole) != fmt.Sprint(parts) {
			t.Fatalf("split %d changed the result:\nwhole: %v\nsplit: %v", split%64+1, whole, parts)
		}
	})
}
