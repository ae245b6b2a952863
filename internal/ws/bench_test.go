package ws

import "testing"

var chatMessage = []byte(`{"message":"hello, world","sender":"R1kmxc2VNjMCFIA=","timestamp":1731324924553}`)

// BenchmarkTextFrame: encoding one broadcast frame (done once per
// publication, whatever the number of recipients).
func BenchmarkTextFrame(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = TextFrame(chatMessage)
	}
}

// BenchmarkSend: queueing an encoded frame on one connection (done once
// per recipient): a lock, an append and the scheduling check.
func BenchmarkSend(b *testing.B) {
	e := &Engine{}
	lim := testLimits()
	lim.MaxQueueBytes = 1 << 62
	c := e.NewConn(&recorder{}, lim)
	c.state, c.attached, c.scheduled = stateOpen, true, true
	f := TextFrame(chatMessage)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Send(f); err != nil {
			b.Fatal(err)
		}
		if i++; i == 1024 { // what a flush does: hand the queue over
			c.mu.Lock()
			clear(c.queue)
			c.queue, c.queued = c.queue[:0], 0
			c.mu.Unlock()
			i = 0
		}
	}
}

// BenchmarkParse: parsing and unmasking client frames (a chat message
// each) from one read.
func BenchmarkParse(b *testing.B) {
	var in []byte
	for range 16 {
		in = append(in, clientFrame(true, 0, OpText, chatMessage, true)...)
	}
	e := &Engine{}
	c := e.NewConn(discard{}, testLimits())
	c.state, c.attached, c.scheduled = stateOpen, true, true
	buf := make([]byte, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, in)
		c.feed(buf, 1)
	}
}

type discard struct{}

func (discard) OnMessage(Opcode, []byte)  {}
func (discard) OnClose(CloseCode, string) {}
