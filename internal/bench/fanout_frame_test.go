package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
)

// serverFrame encodes an unmasked server frame.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	n := len(payload)
	var out []byte
	switch {
	case n <= 125:
		out = []byte{b0, byte(n)}
	case n <= 0xFFFF:
		out = []byte{b0, 126, byte(n >> 8), byte(n)}
	default:
		out = []byte{b0, 127}
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

// pubMsg is a pub message as a switchboard.v1 server sends it.
func pubMsg(t int64, size int) []byte {
	return []byte(`{"type":"pub","channel":"bench","data":` + pubBody(t, 1, size) + `}`)
}

// pusherPubMsg is a publication as a Pusher subscriber receives it.
func pusherPubMsg(t int64, size int) []byte {
	return pusherproto.AppendChannelEvent(nil, "message", "bench", []byte(pubBody(t, 1, size)), "")
}

func TestNextFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xFFFF, 0x10000, 70000} {
		payload := bytes.Repeat([]byte{'a'}, n)
		enc := serverFrame(true, opText, payload)
		f, size, need, err := nextFrame(enc)
		if err != nil || size != len(enc) || need != 0 || !f.fin || f.op != opText || !bytes.Equal(f.payload, payload) {
			t.Fatalf("len %d: size %d need %d err %v fin %v op %d", n, size, need, err, f.fin, f.op)
		}
		// Every prefix is incomplete, and says how much it needs: at most
		// the whole frame, more than it holds.
		for _, cut := range []int{0, 1, 2, 3, 9, len(enc) / 2, len(enc) - 1} {
			if cut >= len(enc) || cut < 0 {
				continue
			}
			_, size, need, err := nextFrame(enc[:cut])
			if err != nil || size != 0 || need <= cut || need > len(enc) {
				t.Fatalf("len %d cut %d: size %d need %d err %v", n, cut, size, need, err)
			}
		}
	}
	if _, _, _, err := nextFrame([]byte{0x81, 0x81, 1, 2, 3, 4, 'x'}); err != errMaskedServerFrame {
		t.Fatalf("masked server frame: %v", err)
	}
	huge := binary.BigEndian.AppendUint64([]byte{0x82, 127}, 1<<40)
	if _, _, _, err := nextFrame(huge); err != errFrameTooLarge {
		t.Fatalf("huge frame: %v", err)
	}
}

func TestAppendClientFrame(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 0xFFFF, 0x10000} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		enc := appendMaskedFrame([]byte("prefix"), opText, payload, 0xA1B2C3D4)
		if !bytes.HasPrefix(enc, []byte("prefix")) {
			t.Fatal("the frame did not append")
		}
		enc = enc[len("prefix"):]
		if enc[0] != 0x80|opText || enc[1]&0x80 == 0 {
			t.Fatalf("len %d: header % x: want FIN, text, MASK", n, enc[:2])
		}
		hdr, length := 2, uint64(enc[1]&0x7F)
		switch length {
		case 126:
			hdr, length = 4, uint64(binary.BigEndian.Uint16(enc[2:]))
		case 127:
			hdr, length = 10, binary.BigEndian.Uint64(enc[2:])
		}
		if length != uint64(n) || len(enc) != hdr+4+n {
			t.Fatalf("len %d: encoded length %d, frame %d bytes", n, length, len(enc))
		}
		if n <= 125 && hdr != 2 || n > 125 && n <= 0xFFFF && hdr != 4 || n > 0xFFFF && hdr != 10 {
			t.Fatalf("len %d: %d-byte header is not the shortest", n, hdr)
		}
		mask := enc[hdr : hdr+4]
		if !bytes.Equal(mask, []byte{0xA1, 0xB2, 0xC3, 0xD4}) {
			t.Fatalf("mask % x", mask)
		}
		got := append([]byte(nil), enc[hdr+4:]...)
		for i := range got {
			got[i] ^= mask[i&3]
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("len %d: unmasked payload differs", n)
		}
	}
	// Random keys differ from frame to frame.
	a, b := appendClientFrame(nil, opPong, nil), appendClientFrame(nil, opPong, nil)
	c := appendClientFrame(nil, opPong, nil)
	if bytes.Equal(a, b) && bytes.Equal(b, c) {
		t.Fatal("three frames with the same masking key")
	}
}

func TestExtractT(t *testing.T) {
	const now = 1795000000123456789
	for _, tc := range []struct {
		msg  string
		want int64
		ok   bool
	}{
		{string(pubMsg(now, 100)), now, true},
		{`{"type":"pub","channel":"c","epoch":"x","offset":3,"data":{"t":42,"seq":1}}`, 42, true},
		{`{"type":"pub","channel":"c","data":{"seq":1, "t": 7}}`, 7, true},
		{`{"t":99,"seq":1,"pad":"xx"}`, 99, true}, // a raw connection's delivery
		{`{"type":"pub","channel":"c","data":{"seq":1}}`, 0, false},
		{`{"type":"pub","channel":"c","text":"hello"}`, 0, false},
		{`{"type":"reply","id":1,"result":{}}`, 0, false},
		{`{"type":"pub","data":{"t":"soon"}}`, 0, false},
		{`{"type":"pub","data":{"t":99999999999999999999}}`, 0, false}, // overflows int64
		{`{"type":"pub","data":{"t":`, 0, false},
		// Pusher channel events, as the front-end encodes them.
		{string(pusherPubMsg(now, 100)), now, true},
		{`{"event":"message","channel":"c","data":"{\"seq\":1,\"t\":12}"}`, 12, true},
		{`{"event":"message","channel":"c","data":"{\"seq\":1}"}`, 0, false},
		{`{"event":"pusher:ping","data":{}}`, 0, false},
		{`{"event":"message","channel":"c","data":"{\"t\":`, 0, false},
	} {
		got, ok := extractT([]byte(tc.msg))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
}

func BenchmarkExtractT(b *testing.B) {
	msg := pubMsg(1795000000123456789, 100)
	b.ReportAllocs()
	for range b.N {
		if _, ok := extractT(msg); !ok {
			b.Fatal("no t")
		}
	}
}

// feed runs data through the read path of a loop as reads of at most
// chunk bytes would deliver it.
func feed(l *fanLoop, c *fanConn, data []byte, chunk int, now int64) {
	for len(data) > 0 {
		buf, start := l.readBufLocked(c)
		n := copy(buf[start:], data[:min(chunk, len(data))])
		data = data[n:]
		l.consumeLocked(c, buf[:start+n], now)
	}
}

// The read path reassembles frames split anywhere across reads, handles
// several frames per read, and keeps nothing once a read ends on a frame
// boundary.
func TestConsumeSplitFrames(t *testing.T) {
	const t0 = 1795000000000000000
	var small, large []byte
	wantPubs, wantOther := 0, 0
	for i := range 20 {
		switch i % 5 {
		case 3:
			small = append(small, serverFrame(true, opText, []byte(`{"type":"join","channel":"bench"}`))...)
			wantOther++
		case 4:
			small = append(small, serverFrame(true, opPong, []byte("x"))...)
		default:
			small = append(small, serverFrame(true, opText, pubMsg(t0+int64(i)*1000, 20+i*15))...)
			wantPubs++
		}
	}
	for i, size := range []int{70000, 100, 200000, 40000, 5} {
		large = append(large, serverFrame(true, opText, pubMsg(t0+int64(i)*1000, size))...)
	}
	for _, tc := range []struct {
		name   string
		stream []byte
		pubs   int
		other  int
		chunks []int
	}{
		{"small", small, wantPubs, wantOther, []int{1, 2, 3, 7, 64, 100, 1000, len(small)}},
		{"large", large, 5, 0, []int{1000, 4096, 33000, 65536, 100000, len(large)}},
	} {
		for _, chunk := range tc.chunks {
			t.Run(fmt.Sprintf("%s/%d", tc.name, chunk), func(t *testing.T) {
				l := &fanLoop{rbuf: make([]byte, loopReadBuf), perChannel: make([]int, 1)}
				c := &fanConn{fd: -1}
				feed(l, c, tc.stream, chunk, t0+int64(time.Millisecond))
				if l.received != uint64(tc.pubs) || uint64(c.count) != l.received || l.other != uint64(tc.other) || l.errors != 0 || l.lost != 0 {
					t.Fatalf("received %d (conn %d) other %d errors %d lost %d; want %d pubs, %d other",
						l.received, c.count, l.other, l.errors, l.lost, tc.pubs, tc.other)
				}
				if c.pending != nil {
					t.Fatalf("%d bytes pending after whole frames", len(c.pending))
				}
				if l.hist.Count() != uint64(tc.pubs) || l.hist.Max() > time.Millisecond || l.hist.Min() <= 0 {
					t.Fatalf("latencies: count %d min %v max %v", l.hist.Count(), l.hist.Min(), l.hist.Max())
				}
			})
		}
	}
}

// Publications of an earlier step (before the floor) are counted apart.
func TestConsumeStale(t *testing.T) {
	l := &fanLoop{rbuf: make([]byte, loopReadBuf), perChannel: make([]int, 1)}
	l.resetLocked(1000)
	c := &fanConn{fd: -1}
	var stream []byte
	for _, ts := range []int64{10, 999, 1000, 5000} {
		stream = append(stream, serverFrame(true, opText, pubMsg(ts, 50))...)
	}
	feed(l, c, stream, len(stream), 6000)
	if l.stale != 2 || l.received != 2 || l.hist.Max() != 5000 {
		t.Fatalf("stale %d received %d max %v", l.stale, l.received, l.hist.Max())
	}
}

func TestPubBody(t *testing.T) {
	for _, size := range []int{1, 40, 100, 1000} {
		b := pubBody(1795000000000000000, 12, size)
		if size >= 50 && len(b) != size {
			t.Errorf("size %d: %d bytes", size, len(b))
		}
		if !strings.HasPrefix(b, `{"t":1795000000000000000,"seq":12,"pad":"`) || !strings.HasSuffix(b, `"}`) {
			t.Errorf("size %d: %s", size, b)
		}
		if v, ok := extractT([]byte(b)); !ok || strconv.FormatInt(v, 10) != "1795000000000000000" {
			t.Errorf("size %d: t %d %v", size, v, ok)
		}
	}
}
