package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

// maxAnswer bounds the body of an answer the client reads (a page or a
// user's connections).
const maxAnswer = 64 << 20

// probeTimeout bounds the dial that tells a dead peer from a broken
// connection.
const probeTimeout = time.Second

// Client is the calling side of the internal endpoint: a cluster.Forwarder
// over HTTP/1.1 with keep-alive connections to each peer (one
// http.Transport). It is safe for concurrent use.
type Client struct {
	o      Options
	codes  codes
	secret []byte
	scheme string
	tr     *http.Transport
	hc     *http.Client
	dialer net.Dialer
}

var _ cluster.Forwarder = (*Client)(nil)

// NewClient returns a Client. It fails when o is incomplete (no Self,
// neither Secret nor TLS, clashing Errors).
func NewClient(o Options) (*Client, error) {
	c, err := o.check()
	if err != nil {
		return nil, err
	}
	cl := &Client{o: o, codes: c, scheme: "http"}
	if o.Secret != "" {
		cl.secret = []byte(o.Secret)
	}
	cl.dialer = net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	cl.tr = &http.Transport{
		DialContext:           cl.dialer.DialContext,
		MaxIdleConns:          0, // no limit across peers
		MaxIdleConnsPerHost:   o.MaxConnsPerPeer,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: 0, // the call's context bounds it
		DisableCompression:    true,
	}
	if o.TLS != nil {
		cl.scheme = "https"
		cl.tr.TLSClientConfig = o.TLS.Client.Clone()
	}
	cl.hc = &http.Client{
		Transport: cl.tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return cl, nil
}

// Close closes the idle connections to every peer.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Post implements cluster.Forwarder.
func (c *Client) Post(ctx context.Context, to cluster.Node, stage, id string, data []byte) error {
	_, _, err := c.do(ctx, to, &request{Op: opPost, Stage: stage, ID: id, Data: data})
	return err
}

// Get implements cluster.Forwarder.
func (c *Client) Get(ctx context.Context, to cluster.Node, stage, id string) (cluster.ConnectionInfo, error) {
	b, v, err := c.do(ctx, to, &request{Op: opGet, Stage: stage, ID: id})
	if err != nil {
		return cluster.ConnectionInfo{}, err
	}
	info, err := decodeInfo(b, v)
	if err != nil {
		return cluster.ConnectionInfo{}, c.badAnswer(to, err)
	}
	return info, nil
}

// Delete implements cluster.Forwarder.
func (c *Client) Delete(ctx context.Context, to cluster.Node, stage, id string) error {
	_, _, err := c.do(ctx, to, &request{Op: opDelete, Stage: stage, ID: id})
	return err
}

// Join implements cluster.Forwarder.
func (c *Client) Join(ctx context.Context, to cluster.Node, stage, channel, id string) error {
	_, _, err := c.do(ctx, to, &request{Op: opJoin, Stage: stage, Channel: channel, ID: id})
	return err
}

// Leave implements cluster.Forwarder.
func (c *Client) Leave(ctx context.Context, to cluster.Node, stage, channel, id string) error {
	_, _, err := c.do(ctx, to, &request{Op: opLeave, Stage: stage, Channel: channel, ID: id})
	return err
}

// List implements cluster.Forwarder.
func (c *Client) List(ctx context.Context, to cluster.Node, stage, cursor string, limit int) (cluster.ConnectionPage, error) {
	b, v, err := c.do(ctx, to, &request{Op: opList, Stage: stage, Cursor: cursor, Limit: limit})
	if err != nil {
		return cluster.ConnectionPage{}, err
	}
	p, err := decodePage(b, v)
	if err != nil {
		return cluster.ConnectionPage{}, c.badAnswer(to, err)
	}
	return p, nil
}

// User implements cluster.Forwarder.
func (c *Client) User(ctx context.Context, to cluster.Node, stage, user string, op cluster.UserOp, data []byte) (cluster.UserResult, error) {
	b, v, err := c.do(ctx, to, &request{Op: opUser, Stage: stage, User: user, UserOp: op, Data: data})
	if err != nil {
		return cluster.UserResult{}, err
	}
	u, err := decodeUserResult(b, v)
	if err != nil {
		return cluster.UserResult{}, c.badAnswer(to, err)
	}
	return u, nil
}

func (c *Client) badAnswer(to cluster.Node, err error) error {
	return fmt.Errorf("%w: node %s (%s) sent an answer we cannot read: %w", ErrRemote, to.ID, to.Advertise, err)
}

// do sends one call to node to and returns the body of a 200 answer and
// its answer version, or the call's error: the sentinel the owner answered, cluster.ErrNodeGone (the
// peer refuses connections, or is another incarnation now),
// cluster.ErrUnavailable (no answer in time, a broken connection to a
// process still listening, a 5xx without our code, refused credentials),
// or an error wrapping ErrRemote or ErrRefused.
func (c *Client) do(ctx context.Context, to cluster.Node, r *request) (b []byte, v int, err error) {
	start := time.Now()
	defer func() { c.o.Metrics.forwarded(r.Op, start, err) }()
	if to.Advertise == "" {
		return nil, 0, fmt.Errorf("%w: node %s has no advertise address", cluster.ErrUnavailable, to.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	r.Target = to.Incarnation
	if dl, ok := ctx.Deadline(); ok {
		r.Timeout = time.Until(dl)
	}
	body := appendRequest(make([]byte, 0, 64+len(r.Data)), r)
	path := Path + r.Op.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.scheme+"://"+to.Advertise+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: node %s: %w", cluster.ErrUnavailable, to.ID, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(headerAnswerVersion, answerVersionText)
	if c.secret != nil {
		sign(req.Header, c.secret, http.MethodPost, path, c.o.Self(), c.o.Now(), body)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, c.transportError(ctx, to, err)
	}
	defer resp.Body.Close()
	b, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, 0, c.transportError(ctx, to, err)
	}
	if len(b) > maxAnswer {
		return nil, 0, fmt.Errorf("%w: node %s: answer larger than %d bytes", ErrRemote, to.ID, maxAnswer)
	}
	switch code := resp.Header.Get(headerError); {
	case resp.StatusCode == http.StatusOK:
		v, err := parseAnswerVersion(resp.Header.Get(headerAnswerVersion))
		if err != nil {
			return nil, 0, c.badAnswer(to, err)
		}
		return b, v, nil
	case resp.StatusCode == statusApplication && code != "":
		if e, ok := c.codes.byCode[code]; ok {
			return nil, 0, e
		}
		return nil, 0, fmt.Errorf("%w: node %s: unknown error code %q: %s", ErrRemote, to.ID, code, b)
	case resp.StatusCode == http.StatusInternalServerError && code == codeInternal:
		return nil, 0, fmt.Errorf("%w: node %s: %s", ErrRemote, to.ID, b)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, 0, fmt.Errorf("%w: %w: node %s (%s)", cluster.ErrUnavailable, ErrUnauthorized, to.ID, to.Advertise)
	case resp.StatusCode >= 500:
		return nil, 0, fmt.Errorf("%w: node %s answered %s", cluster.ErrUnavailable, to.ID, resp.Status)
	default:
		return nil, 0, fmt.Errorf("%w: node %s answered %s: %s", ErrRefused, to.ID, resp.Status, bytes.TrimSpace(b))
	}
}

// transportError maps a failed exchange: a refused dial means the peer's
// process is gone (a restarted one has another incarnation), so
// ErrNodeGone; a timeout or the caller's end is ErrUnavailable; a
// connection that broke otherwise (reset, EOF on a kept-alive connection)
// is ErrNodeGone when a new dial is refused, else ErrUnavailable.
func (c *Client) transportError(ctx context.Context, to cluster.Node, err error) error {
	if refused(err) {
		return fmt.Errorf("%w: node %s (%s) refuses connections", cluster.ErrNodeGone, to.ID, to.Advertise)
	}
	var ne net.Error
	if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: node %s (%s): %w", cluster.ErrUnavailable, to.ID, to.Advertise, err)
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, perr := c.dialer.DialContext(pctx, "tcp", to.Advertise)
	if perr == nil {
		conn.Close()
	} else if refused(perr) {
		return fmt.Errorf("%w: node %s (%s) refuses connections", cluster.ErrNodeGone, to.ID, to.Advertise)
	}
	return fmt.Errorf("%w: node %s (%s): %w", cluster.ErrUnavailable, to.ID, to.Advertise, err)
}

func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// answerVersionText is answerVersion as a header value.
var answerVersionText = strconv.Itoa(answerVersion)

// parseAnswerVersion reads an answer's version header: none is version 1;
// a version the caller did not ask for is an error.
func parseAnswerVersion(h string) (int, error) {
	if h == "" {
		return 1, nil
	}
	v, err := strconv.Atoi(h)
	if err != nil || v < 1 || v > answerVersion {
		return 0, fmt.Errorf("%w: answer version %q", errMalformed, h)
	}
	return v, nil
}
