package httpint

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// maxPooledBuf is the largest request buffer returned to the pool; rarer,
// larger events get a buffer that is left to the garbage collector.
const maxPooledBuf = 1 << 20

var bufPool = sync.Pool{New: func() any { return new(reqBuf) }}

// reqBuf holds one encoded event. net/http may still read a request body
// after Client.Do returned (HTTP/1 writes it from the connection's
// goroutine, HTTP/2 may close it from another), so the buffer is reference
// counted: Invoke holds one reference until Do returns and every body
// reader holds one until the transport closes it. The last release puts
// the buffer back in the pool.
type reqBuf struct {
	b    []byte
	refs atomic.Int32
}

// getReqBuf returns an empty buffer holding one reference, the caller's.
func getReqBuf() *reqBuf {
	rb := bufPool.Get().(*reqBuf)
	rb.b = rb.b[:0]
	rb.refs.Store(1)
	return rb
}

func (rb *reqBuf) release() {
	if rb.refs.Add(-1) != 0 {
		return
	}
	if cap(rb.b) > maxPooledBuf {
		rb.b = nil
	}
	bufPool.Put(rb)
}

var errBodyReleased = errors.New("httpint: request body requested after the call ended")

// newBody returns a reader over the buffer that holds its own reference,
// for http.Request.Body and GetBody.
func (rb *reqBuf) newBody() (io.ReadCloser, error) {
	for {
		n := rb.refs.Load()
		if n <= 0 {
			return nil, errBodyReleased
		}
		if rb.refs.CompareAndSwap(n, n+1) {
			return &bodyReader{rb: rb}, nil
		}
	}
}

// bodyReader reads a reqBuf. Read and Close may be called from different
// goroutines (HTTP/2 aborts a body from outside the writing goroutine), so
// mu makes Close wait for a Read in progress and keeps later Reads off the
// released buffer.
type bodyReader struct {
	mu     sync.Mutex
	rb     *reqBuf // nil once closed
	offset int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rb == nil {
		return 0, io.ErrClosedPipe
	}
	if r.offset >= len(r.rb.b) {
		return 0, io.EOF
	}
	n := copy(p, r.rb.b[r.offset:])
	r.offset += n
	return n, nil
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	rb := r.rb
	r.rb = nil
	r.mu.Unlock()
	if rb != nil {
		rb.release()
	}
	return nil
}
