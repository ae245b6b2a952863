package httpint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/integration"
	"github.com/switchboardhq/switchboard/internal/tracing"
)

// Defaults for the zero values of Config.
const (
	defaultTimeout        = 29 * time.Second
	defaultMaxConcurrency = 256
)

// MaxResponseBytes is the most reply body Invoke reads: 6 MiB, AWS
// Lambda's response payload limit. A larger reply is an error.
const MaxResponseBytes = 6 << 20

// ErrResponseTooLarge is wrapped by Invoke's error for a reply body over
// MaxResponseBytes.
var ErrResponseTooLarge = errors.New("backend response larger than 6 MiB")

// Config configures one http integration. The zero value of each field
// means its documented default.
type Config struct {
	// URL is the http or https endpoint the events are POSTed to.
	// Required.
	URL string
	// Timeout bounds one call, from waiting for a free slot to reading the
	// whole reply. Default 29s (AWS's integration timeout).
	Timeout time.Duration
	// MaxConcurrency bounds the calls in flight; more wait for a slot
	// within their Timeout. Default 256.
	MaxConcurrency int
	// Headers are added to every request, for example a shared secret.
	// "Host" sets the request's Host. They cannot replace the headers
	// Switchboard sets (X-Switchboard-Route, X-Switchboard-Event,
	// X-Amzn-RequestId) nor Content-Length, Transfer-Encoding or
	// Connection; they can replace Content-Type.
	Headers map[string]string
}

// Headers Switchboard sets on every request.
const (
	HeaderRoute     = "X-Switchboard-Route"
	HeaderEvent     = "X-Switchboard-Event"
	HeaderRequestID = "X-Amzn-RequestId"
)

// Integration calls one HTTP endpoint. It is immutable after New and safe
// for concurrent use.
type Integration struct {
	name    string
	url     string // as configured, for requests
	logURL  string // password redacted, for errors
	host    string // Host override from Config.Headers, or ""
	timeout time.Duration
	header  http.Header // Content-Type and Config.Headers, cloned per call
	client  *http.Client
	// own is the transport New built when given no client; nil otherwise.
	own *http.Transport
	// sem holds one token per call in flight.
	sem chan struct{}
}

// New returns an integration that POSTs events as JSON to cfg.URL through
// client. Pass the server's shared client (built on NewTransport) so that
// integrations share pooled connections; if client is nil, New builds one
// on NewTransport with MaxIdleConnsPerHost sized to cfg.MaxConcurrency. A
// client without CheckRedirect is used through a copy that does not follow
// redirects. Errors name the integration and the field at fault.
func New(name string, cfg Config, client *http.Client) (*Integration, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("http integration %q: "+format, append([]any{name}, args...)...)
	}
	if cfg.URL == "" {
		return nil, fail("url is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fail("url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fail("url %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fail("url %q: no host", u.Redacted())
	}
	if cfg.Timeout < 0 {
		return nil, fail("timeout %v is negative; use 0 for the default (29s)", cfg.Timeout)
	}
	if cfg.MaxConcurrency < 0 {
		return nil, fail("maxConcurrency %d is negative; use 0 for the default (256)", cfg.MaxConcurrency)
	}

	i := &Integration{
		name:    name,
		url:     cfg.URL,
		logURL:  u.Redacted(),
		timeout: cfg.Timeout,
		header:  http.Header{"Content-Type": {"application/json"}},
	}
	if i.timeout == 0 {
		i.timeout = defaultTimeout
	}
	maxConc := cfg.MaxConcurrency
	if maxConc == 0 {
		maxConc = defaultMaxConcurrency
	}
	i.sem = make(chan struct{}, maxConc)

	for k, v := range cfg.Headers {
		if !validHeaderName(k) {
			return nil, fail("headers: %q is not a valid header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fail("headers: the value of %s contains a line break or NUL", k)
		}
		ck := http.CanonicalHeaderKey(k)
		switch ck {
		case "Host":
			i.host = v
		case http.CanonicalHeaderKey(HeaderRoute), http.CanonicalHeaderKey(HeaderEvent), http.CanonicalHeaderKey(HeaderRequestID):
			return nil, fail("headers: %s is set by Switchboard on every request", k)
		case "Content-Length", "Transfer-Encoding", "Connection":
			return nil, fail("headers: %s is managed by the HTTP client", k)
		default:
			i.header[ck] = []string{v}
		}
	}

	switch {
	case client == nil:
		i.own = NewTransport()
		i.own.MaxIdleConnsPerHost = maxConc
		i.client = &http.Client{Transport: i.own, CheckRedirect: noRedirect}
	case client.CheckRedirect == nil:
		c := *client
		c.CheckRedirect = noRedirect
		i.client = &c
	default:
		i.client = client
	}
	return i, nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Name returns the integration's name as configured.
func (i *Integration) Name() string { return i.name }

// CloseIdleConnections closes the idle connections of the transport New
// built when it was given no client; with a shared client it does nothing
// (the client's owner closes those).
func (i *Integration) CloseIdleConnections() {
	if i.own != nil {
		i.own.CloseIdleConnections()
	}
}

// Invoke POSTs req and returns the integration's answer, read with
// event.ParseHTTP. It blocks until the reply is read, the call's timeout
// passes (an error wrapping integration.ErrTimeout), or ctx ends (an error
// wrapping ctx.Err()).
func (i *Integration) Invoke(ctx context.Context, req *event.Request) (*event.Response, error) {
	parent := ctx
	ctx, end, err := integration.StartCall(parent, i.sem, i.timeout)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", i.logURL, err)
	}
	defer end()

	resp, err := i.do(ctx, req)
	if err != nil {
		return nil, i.callError(parent, ctx, err, "")
	}
	defer resp.Body.Close()

	body, err := readBody(resp.Body, resp.ContentLength)
	if err != nil {
		if errors.Is(err, ErrResponseTooLarge) {
			return nil, fmt.Errorf("POST %s: %w", i.logURL, err)
		}
		return nil, i.callError(parent, ctx, err, "reading the response body: ")
	}
	out, err := event.ParseHTTP(resp.StatusCode, resp.Header, body)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", i.logURL, err)
	}
	return out, nil
}

// do sends the request. The encoded event lives in a pooled buffer that
// goes back to the pool once both do and the transport are done with it.
func (i *Integration) do(ctx context.Context, req *event.Request) (*http.Response, error) {
	rb := getReqBuf()
	defer rb.release()
	rb.b = req.AppendJSON(rb.b)

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, i.url, nil)
	if err != nil {
		return nil, err
	}
	if hreq.Body, err = rb.newBody(); err != nil {
		return nil, err
	}
	hreq.GetBody = rb.newBody
	hreq.ContentLength = int64(len(rb.b))
	if i.host != "" {
		hreq.Host = i.host
	}
	h := i.header.Clone()
	h.Set(HeaderRoute, req.RouteKey())
	h.Set(HeaderEvent, req.EventType())
	h.Set(HeaderRequestID, req.RequestID())
	tracing.InjectHTTP(ctx, h) // the route's or authorizer's span, when traced
	hreq.Header = h
	return i.client.Do(hreq)
}

// ctxError is the error of a call whose context ended: the parent's error
// if the caller gave up, ErrTimeout if the call's own deadline passed.
func (i *Integration) ctxError(parent, ctx context.Context, what string) error {
	return fmt.Errorf("POST %s: %w", i.logURL, integration.Expired(parent, ctx, what))
}

// callError describes a failed round trip or body read.
func (i *Integration) callError(parent, ctx context.Context, err error, during string) error {
	if ctx.Err() != nil {
		return i.ctxError(parent, ctx, fmt.Sprintf("no response within %v", i.timeout))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("POST %s: %s%w", i.logURL, during, err)
}

// readBody reads the whole reply body, at most MaxResponseBytes; a larger
// one is ErrResponseTooLarge (and is not drained: the connection is closed
// rather than reused).
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	if contentLength > MaxResponseBytes {
		return nil, ErrResponseTooLarge
	}
	size := 512
	if contentLength >= 0 {
		size = int(contentLength) + 1 // room to see EOF without growing
	}
	b := make([]byte, 0, size)
	lr := io.LimitReader(r, MaxResponseBytes+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(b) > MaxResponseBytes {
		return nil, ErrResponseTooLarge
	}
	return b, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
