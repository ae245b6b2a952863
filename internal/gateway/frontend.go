package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Session is a protocol front-end's side of one connection (package
// frontend; decision 0025). The gateway owns the connection — its id, its
// socket, its place in the registry, the hub and the cluster, its limits
// and its end — and hands the session what arrives, in order.
type Session interface {
	// Message handles one data message. It runs on the connection's pool
	// task: messages arrive one at a time, in order, and it may block
	// (hub and cluster calls); the connection is held (ws.Conn.Hold) until
	// it returns, so what it sends goes out before a close the server
	// decides meanwhile.
	Message(op ws.Opcode, payload []byte, at time.Time)
	// Closed is the last call: the connection has closed, left every
	// channel and its user, and is no longer registered.
	Closed(code ws.CloseCode, reason string)
}

// AcceptOptions describe a front-end connection to Accept.
type AcceptOptions struct {
	// Stage is the API the connection belongs to: its hub channels, its
	// registry (so the management API reaches it), its limits.
	Stage string
	// Protocol names the front-end in logs ("pusher") and in the
	// connection's cluster record, where it tells a node reaping a dead
	// node's connections not to run the API's $disconnect for it.
	// Required.
	Protocol string
	// Codec is how the hub encodes for this connection: the id its
	// front-end's codec got in hub.Options.Codecs (hub.Raw when 0).
	Codec hub.CodecID
	// User and Info are the connection's user id and presence info, known
	// at connect ("" and nil for none).
	User string
	Info []byte
	// Subprotocol is answered in the 101 response ("" for none).
	Subprotocol string
	// Limits replace the API's socket limits when not nil (a front-end
	// with its own message size, say). They must not change after use.
	Limits *ws.Limits
	// Greeting is queued before the upgrade, so it goes out in the same
	// write as the 101 response (Pusher's connection_established).
	Greeting ws.Frame
	// DrainCode and DrainReason close the connection when the server shuts
	// down (0: 1001 "server shutting down"); Pusher asks its clients to
	// reconnect at once with 4200.
	DrainCode   ws.CloseCode
	DrainReason string
	// Refuse, when set, answers a refusal before the upgrade in the
	// front-end's own protocol instead of with an HTTP status (pusher-js
	// acts on close codes, not on statuses): reason is the gateway's
	// (draining, lease_lost, and the rejection reasons of its metrics),
	// status the HTTP status it would have answered.
	Refuse func(w http.ResponseWriter, r *http.Request, status int, reason string)
	// NewSession makes the session once the connection has its id (the
	// Conn is usable: ID, Member, Send), before the greeting is queued.
	NewSession func(c *Conn) (Session, error)
}

// Errors of Accept.
var (
	ErrRefused = errors.New("gateway: connection refused")
)

// Accept opens a front-end connection on the API of o.Stage. It runs the
// gateway's checks that apply to every connection — the handshake itself,
// drain, the cluster lease, the server's and the API's connection limits —
// and answers the HTTP request itself when one refuses (426/400, 503, 429),
// returning ErrRefused. The API's routes ($connect, $default,
// $disconnect), its JWT, authorizer and Origin allowlist are not applied:
// the front-end authenticates in its own protocol (decision 0025).
func (g *Gateway) Accept(w http.ResponseWriter, r *http.Request, o AcceptOptions) (*Conn, error) {
	a := g.apis[o.Stage]
	if a == nil {
		http.Error(w, "unknown stage", http.StatusInternalServerError)
		return nil, fmt.Errorf("%w: no API with stage %q", ErrRefused, o.Stage)
	}
	if o.Protocol == "" {
		http.Error(w, "front-end without a protocol name", http.StatusInternalServerError)
		return nil, fmt.Errorf("%w: AcceptOptions.Protocol is empty", ErrRefused)
	}
	if herr := ws.CheckRequest(r); herr != nil {
		ws.WriteHandshakeError(w, herr)
		return nil, fmt.Errorf("%w: %v", ErrRefused, herr)
	}
	g.handshakes.Add(1)
	defer g.handshakes.Add(-1)
	ip := hostOf(r.RemoteAddr)
	if g.draining.Load() {
		return nil, g.refuse(w, r, o, nil, http.StatusServiceUnavailable, "draining", ip)
	}
	if g.LeaseLost() {
		return nil, g.refuse(w, r, o, nil, http.StatusServiceUnavailable, "lease_lost", ip)
	}
	st := a.acquire()
	defer st.release()
	if maxConns := g.maxConns.Load(); maxConns > 0 && int64(g.engine.Open())+g.handshakes.Load() > maxConns {
		return nil, g.refuse(w, r, o, a, http.StatusServiceUnavailable, rejectServerFull, ip)
	}
	release, reason := a.admit(st, ip)
	if reason != "" {
		return nil, g.refuse(w, r, o, a, http.StatusTooManyRequests, reason, ip)
	}
	registered := false
	defer func() {
		if !registered {
			release()
		}
	}()
	start := time.Now()
	c := &Conn{g: g, api: a, limits: st.limits, protocol: o.Protocol, drainCode: o.DrainCode, drainReason: o.DrainReason}
	if o.Limits != nil {
		c.limits = o.Limits
	}
	id := event.NewID()
	if g.cl != nil {
		id = g.cl.reg.NewID() // carries this node's incarnation
	}
	c.info = event.Connection{
		ID:          id,
		APIID:       a.id,
		Stage:       a.stage,
		DomainName:  st.domainName,
		ConnectedAt: g.now(),
		Identity:    event.Identity{SourceIP: ip, UserAgent: r.UserAgent()},
	}
	if c.info.DomainName == "" {
		c.info.DomainName = r.Host
	}
	releaseUser, userOK := a.admitUser(o.User)
	if !userOK {
		return nil, g.refuse(w, r, o, a, http.StatusTooManyRequests, rejectPerUser, ip)
	}
	c.ws = g.engine.NewConn(c, c.limits)
	c.ws.NegotiateDeflate(r)
	c.member = hub.NewMember(c.info.ID, o.User, o.Info, o.Codec, c.ws)
	c.codec = o.Codec
	s, err := o.NewSession(c)
	if err != nil {
		releaseUser()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	c.session = s
	c.release = func() { release(); releaseUser() }
	registered = true // from here connectionClosed releases
	if g.cl != nil {
		if err := g.recordConnection(c, o.User); err != nil {
			g.log.Warn("recording a connection in the cluster failed", "api", a.id, "connectionId", c.info.ID,
				"protocol", o.Protocol, "error", err.Error())
			err := g.refuse(w, r, o, a, http.StatusServiceUnavailable, rejectCluster, ip)
			a.m.connections.Inc() // balanced by connectionClosed
			g.connectionClosed(c, ws.CloseInternalError, reasonClusterUnavailable)
			return nil, err
		}
	}
	a.registry.add(c)
	if len(o.Greeting) > 0 {
		_ = c.ws.Send(o.Greeting) // written with the 101 response
	}
	a.hub.AddUser(c.member)
	// Logged before Upgrade: once the socket is attached, the connection
	// can deliver, close and log its disconnect before this goroutine runs
	// again, and "connect" must not follow them. A failed upgrade logs a
	// WARN and a disconnect after it.
	g.log.Info("connect", "api", a.id, "connectionId", c.info.ID, "protocol", o.Protocol,
		"sourceIp", c.info.Identity.SourceIP, "userAgent", c.info.Identity.UserAgent,
		"deflate", c.ws.Deflate(), "user", o.User, "latencyMs", float64(time.Since(start).Microseconds())/1000)
	if err := c.ws.Upgrade(w, r, o.Subprotocol); err != nil {
		a.registry.remove(c)
		g.metrics.Connects.WithLabelValues(a.id, "upgrade_failed").Inc()
		g.log.Warn("upgrade failed", "api", a.id, "connectionId", c.info.ID, "protocol", o.Protocol, "error", err.Error())
		a.m.connections.Inc() // balanced by connectionClosed
		g.connectionClosed(c, ws.CloseAbnormal, "handshake failed")
		return nil, err
	}
	a.m.connections.Inc()
	g.metrics.Connects.WithLabelValues(a.id, "accepted").Inc()
	if g.draining.Load() {
		c.ws.Close(c.closeForDrain())
	} else if g.LeaseLost() {
		c.ws.Close(closeLeaseLost, reasonLeaseLost)
	}
	return c, nil
}

// refuse answers a refused front-end handshake: with o.Refuse when the
// front-end has one, else with the HTTP status; counted and logged as any
// rejection when a (the API) is known. It returns the ErrRefused error.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, o AcceptOptions, a *API, status int, reason, ip string) error {
	switch {
	case a != nil && o.Refuse != nil:
		g.metrics.Rejections.WithLabelValues(a.id, reason).Inc()
		g.log.Info("handshake rejected", "api", a.id, "protocol", o.Protocol, "reason", reason, "status", status, "sourceIp", ip)
		o.Refuse(w, r, status, reason)
	case a != nil:
		g.reject(w, a, reason, status, ip)
	case o.Refuse != nil:
		o.Refuse(w, r, status, reason)
	default:
		http.Error(w, reason, status)
	}
	return fmt.Errorf("%w: %s", ErrRefused, reason)
}

// sessionClosed ends a front-end connection on its pool task: after the
// messages still queued, once it has left its channels, instead of the
// $disconnect route.
func (g *Gateway) sessionClosed(c *Conn, it inItem) {
	if c.left != nil {
		<-c.left
	}
	g.logDisconnect(c, it)
	c.session.Closed(it.code, it.reason)
	if g.cl != nil && !g.leftToSurvivor(c) {
		g.unrecordConnection(c)
	}
}

// closeForDrain is the close code and reason of c when the server shuts
// down.
func (c *Conn) closeForDrain() (ws.CloseCode, string) {
	if c.drainCode != 0 {
		return c.drainCode, c.drainReason
	}
	return ws.CloseGoingAway, "server shutting down"
}

// Front-end connection methods: what a Session may do with its
// connection.

// Member is the connection in its API's hub.
func (c *Conn) Member() *hub.Member { return c.member }

// Hub is the hub of the connection's API.
func (c *Conn) Hub() *hub.Hub { return c.api.hub }

// Send queues a frame on the connection; it never blocks (ws.Conn.Send).
func (c *Conn) Send(f ws.Frame) error { return c.ws.Send(f) }

// Close starts the closing handshake (ws.Conn.Close).
func (c *Conn) Close(code ws.CloseCode, reason string) { c.ws.Close(code, reason) }

// SourceIP is the client's address as the listener saw it.
func (c *Conn) SourceIP() string { return c.info.Identity.SourceIP }

// Stage is the stage of the connection's API.
func (c *Conn) Stage() string { return c.api.stage }
