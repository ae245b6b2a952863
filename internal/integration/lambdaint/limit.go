package lambdaint

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// limitedClient sits between the SDK and the HTTP client.
//
// It caps the response bodies the SDK reads at MaxPayloadBytes: the SDK
// reads an Invoke response whole into memory, so a server that ignores
// Lambda's limit (or a broken proxy) could otherwise make it read without
// bound. A body over the limit reads as ErrResponseTooLarge, which the SDK
// wraps in its deserialization error, and then as empty: the SDK drains a
// failed response's body before closing it, and the rest of an oversized
// body is not worth reading (closing it unread closes the connection
// instead of reusing it).
//
// It also hides the request body's WriteTo method. The SDK closes its
// request body as soon as Do returns, while net/http's write loop may
// still be checking the body for bytes past Content-Length; the SDK's
// body then answers WriteTo with io.EOF, which io.Copy reports as an
// error, so net/http tears the connection down under the response being
// read ("use of closed network connection"). Read after Close answers
// io.EOF too, which io.Copy takes for the end of the body.
type limitedClient struct{ c aws.HTTPClient }

func (l limitedClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req = req.WithContext(req.Context()) // a shallow copy
		req.Body = readOnlyBody{req.Body}
	}
	resp, err := l.c.Do(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if resp.ContentLength > MaxPayloadBytes {
		resp.Body = &limitedBody{rc: resp.Body, left: -1}
		resp.ContentLength = -1
		return resp, nil
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxPayloadBytes}
	return resp, nil
}

// limitedBody reads at most left bytes of rc and fails on the byte after;
// a negative left means the limit is already exceeded. After the failure
// it reads as empty.
type limitedBody struct {
	rc     io.ReadCloser
	left   int64
	failed bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.failed {
		return 0, io.EOF
	}
	if b.left < 0 {
		b.failed = true
		return 0, ErrResponseTooLarge
	}
	// Read one byte past the limit to tell "exactly at the limit" from
	// "over it".
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		b.failed = true
		return n + int(b.left), ErrResponseTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// readOnlyBody exposes only Read and Close of a request body.
type readOnlyBody struct{ io.ReadCloser }
