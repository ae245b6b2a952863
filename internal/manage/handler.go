package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// Backend is the gateway's management data API. Its errors are the
// gateway's sentinels (gateway.ErrGone, ErrNoSuchStage, ErrPayloadTooLarge,
// ErrInvalidConnectionID, ErrInvalidCursor, ErrInvalidChannel,
// ErrNoNamespace, ErrInvalidUser, ErrTooManyChannels, ErrNoHistory,
// ErrEpochMismatch), possibly wrapped; any other error is answered with a
// logged 500. Its methods are called concurrently.
type Backend interface {
	PostToConnection(ctx context.Context, stage, connectionID string, data []byte) error
	GetConnection(ctx context.Context, stage, connectionID string) (gateway.ConnectionInfo, error)
	DeleteConnection(ctx context.Context, stage, connectionID string) error
	// ListConnections returns up to limit connections of the stage after
	// cursor ("" for the first page), oldest first (see listConnections).
	ListConnections(ctx context.Context, stage, cursor string, limit int) (gateway.ConnectionPage, error)
	// MaxPostBytes is the largest POST body the stage accepts (its
	// maxMessageBytes); ErrNoSuchStage if unknown.
	MaxPostBytes(stage string) (int, error)

	// Publish sends data to every connection in channel but exclude (""
	// for none) and keeps it in the channel's history if it has one.
	Publish(ctx context.Context, stage, channel string, data []byte, exclude string) (gateway.PublishResult, error)
	// Broadcast sends data to every connection of the stage but exclude;
	// it returns how many connections it was queued on.
	Broadcast(ctx context.Context, stage string, data []byte, exclude string) (int, error)
	// Join and Leave put a connection in a channel and take it out.
	Join(ctx context.Context, stage, channel, connectionID string) error
	Leave(ctx context.Context, stage, channel, connectionID string) error
	// Channel reports a channel with one page of its presence (cursor ""
	// for the first, limit 1..1000).
	Channel(ctx context.Context, stage, channel, cursor string, limit int) (gateway.ChannelInfo, error)
	// History reads a channel's kept publications.
	History(ctx context.Context, stage, channel string, q gateway.HistoryQuery) (gateway.HistoryPage, error)
	// PostToUser sends data to every connection of user and returns how
	// many; DisconnectUser closes them and returns how many.
	PostToUser(ctx context.Context, stage, user string, data []byte) (int, error)
	DisconnectUser(ctx context.Context, stage, user string) (int, error)
	// UserConnections lists the open connections of user, oldest first.
	UserConnections(ctx context.Context, stage, user string) ([]gateway.ConnectionInfo, error)
}

// List limits: the limit query parameter of GET /{stage}/@connections,
// GET /{stage}/@channels/{channel} and its /history.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// timeLayout is how timestamps are sent: RFC 3339 in UTC with milliseconds,
// which the SDKs parse as Smithy date-time.
const timeLayout = "2006-01-02T15:04:05.000Z"

// Handler serves the management API. Create it with NewHandler; it is safe
// for concurrent use. Its only mutable state is who it admits, which
// SetAuth replaces atomically (a configuration reload).
type Handler struct {
	backend Backend
	auth    atomic.Pointer[authenticator]
	logger  *slog.Logger
	tracer  trace.Tracer // nil: requests are not traced (trace.go)
}

// NewHandler returns a Handler that serves the management API from b,
// admitting the callers auth allows. A nil logger discards the log.
func NewHandler(b Backend, auth Auth, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{backend: b, logger: logger}
	h.SetAuth(auth)
	return h
}

// SetAuth replaces who the handler admits. Requests already admitted are
// not affected; every later request is checked against auth alone.
func (h *Handler) SetAuth(auth Auth) {
	au := newAuthenticator(auth)
	h.auth.Store(&au)
}

// ServeHTTP answers one management request. Every response carries an
// x-amzn-RequestId header; every error response is JSON (see writeError).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL == nil {
		h.ServeEscaped(w, r, "")
		return
	}
	h.ServeEscaped(w, r, r.URL.EscapedPath())
}

// ServeEscaped is ServeHTTP for a router that has already computed
// r.URL.EscapedPath() (which decodes the path again on every call): path
// must be exactly that.
func (h *Handler) ServeEscaped(w http.ResponseWriter, r *http.Request, path string) {
	debug := h.logger.Enabled(r.Context(), slog.LevelDebug)
	var start time.Time
	if debug { // the latency is only logged at debug level
		start = time.Now()
	}
	sw := statusWriters.Get().(*statusWriter)
	*sw = statusWriter{ResponseWriter: w}
	defer func() {
		*sw = statusWriter{}
		statusWriters.Put(sw)
	}()
	reqID := newRequestID()
	sw.Header()[canonicalRequestID] = []string{reqID}

	var rt route
	var err error
	if r.URL == nil {
		err = badRequest("Missing request URL")
	} else {
		rt, err = parsePath(path)
	}
	if h.tracer != nil {
		var span trace.Span
		r, span = h.startSpan(r, rt, reqID)
		defer endSpan(span, sw)
	}
	principal, rej := h.admit(sw, r, rt)
	switch {
	case rej != nil:
		h.logger.LogAttrs(r.Context(), slog.LevelInfo, "management request rejected",
			slog.String("remote", r.RemoteAddr), slog.String("path", path),
			slog.String("reason", rej.reason), slog.String("requestId", reqID))
		err = rej.err
	case err == nil:
		err = h.serve(sw, r, rt)
	}
	if err != nil {
		h.writeError(sw, r, rt, err)
	}
	if debug {
		h.logger.LogAttrs(r.Context(), slog.LevelDebug, "management call", rt.logAttrs(
			slog.String("method", r.Method),
			slog.Int("status", sw.status), slog.Duration("latency", time.Since(start)),
			slog.String("principal", principal), slog.String("requestId", reqID))...)
	}
}

// ServeAdmitted serves a request that the caller has already admitted
// (the admin console, which signs its operators in itself): no
// credentials are checked; everything else is as in ServeEscaped, with
// principal (such as "console:<session>") in the log. path is
// r.URL.EscapedPath() of the management path, "/{stage}/@...". The
// caller decides which stages principal may reach.
func (h *Handler) ServeAdmitted(w http.ResponseWriter, r *http.Request, path, principal string) {
	sw := statusWriters.Get().(*statusWriter)
	*sw = statusWriter{ResponseWriter: w}
	defer func() {
		*sw = statusWriter{}
		statusWriters.Put(sw)
	}()
	reqID := newRequestID()
	sw.Header()[canonicalRequestID] = []string{reqID}
	rt, err := parsePath(path)
	if err == nil {
		err = h.serve(sw, r, rt)
	}
	if err != nil {
		h.writeError(sw, r, rt, err)
	}
	h.logger.LogAttrs(r.Context(), slog.LevelInfo, "management call", rt.logAttrs(
		slog.String("method", r.Method), slog.Int("status", sw.status),
		slog.String("principal", principal), slog.String("requestId", reqID))...)
}

// logAttrs returns the route's stage and id, and its channel and user when
// it has them, followed by more.
func (rt route) logAttrs(more ...slog.Attr) []slog.Attr {
	attrs := make([]slog.Attr, 0, 4+len(more))
	attrs = append(attrs, slog.String("stage", rt.stage), slog.String("id", rt.id))
	if rt.channel != "" {
		attrs = append(attrs, slog.String("channel", rt.channel))
	}
	if rt.user != "" {
		attrs = append(attrs, slog.String("user", rt.user))
	}
	return append(attrs, more...)
}

// serve dispatches an admitted request on its route and method, by the
// route table (routes.go).
func (h *Handler) serve(w *statusWriter, r *http.Request, rt route) error {
	switch rt.kind {
	case routeNone:
		return notFound(rt, r.Method)
	case routeNoStage:
		return forbidden("Forbidden: the endpoint has no stage; use http(s)://{domainName}/{stage} as the management endpoint")
	}
	spec := &routeTable[rt.kind]
	for i := range spec.methods {
		if m := &spec.methods[i]; m.method == r.Method {
			return m.serve(h, w, r, rt)
		}
	}
	return methodNotAllowed(rt, r.Method, spec.allow())
}

// postToConnection serves POST /{stage}/@connections/{id}: the body, of any
// Content-Type, is the data to send (see readData). 200 with an empty body
// on success.
func (h *Handler) postToConnection(w *statusWriter, r *http.Request, rt route) error {
	data, limit, err := h.readData(w, r, rt.stage)
	if err != nil {
		return err
	}
	if err := h.backend.PostToConnection(r.Context(), rt.stage, rt.id, data); err != nil {
		return fmt.Errorf("post to connection: %w", sendError(err, limit, ""))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// readData reads the body of a POST that carries data to send: any
// Content-Type, at most the stage's limit (MaxPostBytes). It reads at most
// the limit plus one byte; a larger body is a 413 naming the limit, which
// it also returns so that the caller can name it when the backend refuses
// the data as too large.
func (h *Handler) readData(w *statusWriter, r *http.Request, stage string) (data []byte, limit int, err error) {
	limit, err = h.backend.MaxPostBytes(stage)
	if err != nil {
		return nil, 0, fmt.Errorf("max post bytes of stage %q: %w", stage, err)
	}
	limit = max(limit, 0)
	data, err = readBody(w, r, int64(limit))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, limit, payloadTooLarge(limit)
	}
	return data, limit, err
}

// readBody reads the request body, at most limit bytes: a larger body (by
// Content-Length or as read) is an *http.MaxBytesError. A missing body is
// empty.
func readBody(w *statusWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if w.bodyRead { // read by admit to verify its signature
		if int64(len(w.body)) > limit {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		return w.body, nil
	}
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength >= 0 {
		return readSized(r.Body, int(r.ContentLength))
	}
	// MaxBytesReader (given the server's own ResponseWriter) also tells
	// the server to close the connection instead of draining the rest.
	data, err := io.ReadAll(http.MaxBytesReader(w.ResponseWriter, r.Body, limit))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, err
	}
	if err != nil {
		return nil, badRequest("Could not read the request body: %v", err)
	}
	return data, nil
}

// readSized reads a body of n bytes, as its Content-Length says, into a
// buffer of that size (net/http's body reader stops at the length; a
// reader that has more is refused rather than truncated).
func readSized(body io.Reader, n int) ([]byte, error) {
	data := make([]byte, n, n+1)
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, badRequest("Could not read the request body: %v", err)
	}
	if m, _ := io.ReadFull(body, data[n:n+1]); m > 0 {
		return nil, badRequest("Could not read the request body: longer than its Content-Length (%d bytes)", n)
	}
	return data, nil
}

// getConnection serves GET /{stage}/@connections/{id}: 200 with
// {"connectedAt","identity":{"sourceIp","userAgent"},"lastActiveAt"}.
func (h *Handler) getConnection(w *statusWriter, r *http.Request, rt route) error {
	info, err := h.backend.GetConnection(r.Context(), rt.stage, rt.id)
	if err != nil {
		return fmt.Errorf("get connection: %w", err)
	}
	return writeJSON(w, newConnectionJSON(info))
}

// deleteConnection serves DELETE /{stage}/@connections/{id}: the gateway
// closes the connection; 204 with no body.
func (h *Handler) deleteConnection(w *statusWriter, r *http.Request, rt route) error {
	if err := h.backend.DeleteConnection(r.Context(), rt.stage, rt.id); err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listConnections serves GET /{stage}/@connections[/], Switchboard's own
// listing (AWS has none). Query: limit, 1..1000, default 100; cursor, the
// nextCursor of the previous page, absent for the first. 200 with
// {"connections":[{"connectionId",...GetConnection's fields}],
// "nextCursor"}; nextCursor is omitted on the last page.
//
// The order is the gateway's: oldest first, by the order in which
// connections were accepted. Pages are stable under concurrent connects:
// a connection accepted while a client pages appears after every
// connection it has already seen, so following nextCursor neither skips
// nor repeats a connection that stays open; one that closes meanwhile is
// simply absent.
func (h *Handler) listConnections(w *statusWriter, r *http.Request, rt route) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	cursor, err := q.single("cursor")
	if err != nil {
		return err
	}
	page, err := h.backend.ListConnections(r.Context(), rt.stage, cursor, limit)
	if err != nil {
		return fmt.Errorf("list connections: %w", err)
	}
	resp := listResponse{Connections: make([]listedConnection, 0, len(page.Connections)), NextCursor: page.Next}
	for _, c := range page.Connections {
		resp.Connections = append(resp.Connections, listedConnection{ConnectionID: c.ID, connectionJSON: newConnectionJSON(c)})
	}
	return writeJSON(w, resp)
}

// connectionJSON is GetConnection's response body. The AWS model marks
// sourceIp and userAgent required, so both keys are always present.
type connectionJSON struct {
	ConnectedAt  string       `json:"connectedAt"`
	Identity     identityJSON `json:"identity"`
	LastActiveAt string       `json:"lastActiveAt"`
}

type identityJSON struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

func newConnectionJSON(c gateway.ConnectionInfo) connectionJSON {
	return connectionJSON{
		ConnectedAt:  c.ConnectedAt.UTC().Format(timeLayout),
		Identity:     identityJSON{SourceIP: c.SourceIP, UserAgent: c.UserAgent},
		LastActiveAt: c.LastActiveAt.UTC().Format(timeLayout),
	}
}

// listResponse is the body of GET /{stage}/@connections.
type listResponse struct {
	Connections []listedConnection `json:"connections"`
	NextCursor  string             `json:"nextCursor,omitempty"`
}

type listedConnection struct {
	ConnectionID string `json:"connectionId"`
	connectionJSON
}

// writeJSON writes a 200 with v as its JSON body.
func writeJSON(w *statusWriter, v any) error {
	// Not json.Marshal: it rewrites <, > and & in embedded JSON (a
	// publication's data) as \u003c..., which is the same value but not
	// the bytes that were published.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	body := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a failed write means the caller left
	return nil
}

// statusWriter records the status written, for the call log and so that
// writeError never writes a second header. It also carries a body that
// admit read to verify a signature. One is taken from statusWriters per
// request and put back when the request is answered.
type statusWriter struct {
	http.ResponseWriter
	status   int
	body     []byte
	bodyRead bool
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
