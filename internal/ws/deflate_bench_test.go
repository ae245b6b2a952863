package ws

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// jsonPayload is about n bytes of chat-like JSON: varied words, repeated
// keys, as a channel publication carries.
func jsonPayload(n int) []byte {
	words := strings.Fields("the quick brown fox jumps over lazy dog switchboard gateway message channel user hello world lambda route deploy")
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() < n-80; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","text":"%s %s %s","ts":%d}`,
			i, i*7%13, words[i%len(words)], words[i*3%len(words)], words[i*5%len(words)], 1731324924553+i*17)
	}
	b.WriteByte(']')
	return b.Bytes()
}

var payloadSizes = []int{100, 1 << 10, 16 << 10}

// BenchmarkDeflateFrame: compressing one outbound message, as a
// publication does once whatever the number of recipients (klauspost
// level 1, the writer from a pool). ratio is compressed/plain.
func BenchmarkDeflateFrame(b *testing.B) {
	for _, n := range payloadSizes {
		p := jsonPayload(n)
		if n == 100 {
			p = chatMessage
		}
		f := TextFrame(p)
		b.Run(fmt.Sprintf("bytes=%d", len(p)), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			var z Frame
			for b.Loop() {
				z = deflateFrame(f, 1)
			}
			b.ReportMetric(float64(len(z))/float64(len(f)), "ratio")
		})
	}
}

// BenchmarkDeflateStdlib: the same with compress/flate level 1, for
// decision 0018.
func BenchmarkDeflateStdlib(b *testing.B) {
	pool := sync.Pool{New: func() any { w, _ := stdflate.NewWriter(nil, stdflate.BestSpeed); return w }}
	for _, n := range payloadSizes {
		p := jsonPayload(n)
		if n == 100 {
			p = chatMessage
		}
		b.Run(fmt.Sprintf("bytes=%d", len(p)), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			var out sliceWriter
			for b.Loop() {
				out.b = make([]byte, 10, 10+len(p)/2+16)
				w := pool.Get().(*stdflate.Writer)
				w.Reset(&out)
				_, _ = w.Write(p)
				_ = w.Flush()
				pool.Put(w)
			}
			b.ReportMetric(float64(len(out.b)-10-4+2)/float64(len(p)+2), "ratio")
		})
	}
}

// BenchmarkInflate: inflating one inbound message (klauspost, pooled
// reader, bounded output), and BenchmarkInflateStdlib the same with
// compress/flate.
func BenchmarkInflate(b *testing.B) {
	for _, n := range payloadSizes {
		p := jsonPayload(n)
		if n == 100 {
			p = chatMessage
		}
		z := clientDeflate(b, p)
		b.Run(fmt.Sprintf("bytes=%d", len(p)), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := inflate(z, 1<<20, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkInflateStdlib(b *testing.B) {
	pool := sync.Pool{New: func() any { return stdflate.NewReader(nil) }}
	for _, n := range payloadSizes {
		p := jsonPayload(n)
		if n == 100 {
			p = chatMessage
		}
		z := clientDeflate(b, p)
		b.Run(fmt.Sprintf("bytes=%d", len(p)), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				r := pool.Get().(io.ReadCloser)
				_ = r.(stdflate.Resetter).Reset(bytes.NewReader(append(append(make([]byte, 0, len(z)+4), z...), deflateTail[:]...)), nil)
				out := make([]byte, 0, 4*len(z))
				for {
					if len(out) == cap(out) {
						out = append(out, 0)[:len(out)]
					}
					n, err := r.Read(out[len(out):cap(out)])
					out = out[:len(out)+n]
					if err != nil {
						break
					}
				}
				pool.Put(r)
			}
		})
	}
}

// BenchmarkFanoutDeflate: one publication (encode, and compress when the
// members negotiated permessage-deflate) queued on 1,000 connections, as
// the hub does: the compressed frame is made once, then each member
// queues the same bytes.
func BenchmarkFanoutDeflate(b *testing.B) {
	const members = 1000
	for _, n := range []int{100, 1 << 10} {
		p := jsonPayload(n)
		if n == 100 {
			p = chatMessage
		}
		for _, deflate := range []bool{false, true} {
			b.Run(fmt.Sprintf("bytes=%d/deflate=%v", len(p), deflate), func(b *testing.B) {
				e := &Engine{}
				lim := testLimits()
				lim.MaxQueueBytes = 1 << 62
				if deflate {
					lim.Deflate = &DeflateOptions{MinBytes: 64}
				}
				conns := make([]*Conn, members)
				for i := range conns {
					c := e.NewConn(&recorder{}, lim)
					c.state, c.attached, c.scheduled = stateOpen, true, true
					c.pmd = lim.Deflate
					conns[i] = c
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					m := NewMessage(TextFrame(p))
					for _, c := range conns {
						if err := c.SendMessage(m); err != nil {
							b.Fatal(err)
						}
					}
					if i++; i == 64 { // what a flush does: hand the queues over
						for _, c := range conns {
							c.mu.Lock()
							clear(c.queue)
							c.queue, c.queued = c.queue[:0], 0
							c.mu.Unlock()
						}
						i = 0
					}
				}
			})
		}
	}
}
