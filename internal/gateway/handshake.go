package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/integration"
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/rawhead"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// ServeWebSocket handles a request for the API's stage path: the opening
// handshake, held until $connect answers, as on AWS:
//
//   - no $connect route, or a 2xx from it: the connection opens (101), with
//     the Sec-WebSocket-Protocol header of the response and nothing else;
//   - any other status from $connect: the handshake fails with it;
//   - a failed $connect call: 502; a timed-out one: 504.
//
// A request that is not a WebSocket handshake gets 426 (or 400).
func (g *Gateway) ServeWebSocket(w http.ResponseWriter, r *http.Request, a *API) {
	if herr := ws.CheckRequest(r); herr != nil {
		ws.WriteHandshakeError(w, herr)
		return
	}
	g.handshakes.Add(1)
	defer g.handshakes.Add(-1)
	if g.draining.Load() {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if g.LeaseLost() {
		http.Error(w, "node lost its cluster lease", http.StatusServiceUnavailable)
		return
	}
	st := a.acquire() // the state this handshake runs under, to its end
	defer st.release()
	if !st.admit.origins.Allow(r.Header.Get("Origin")) {
		g.reject(w, a, rejectOrigin, http.StatusForbidden, hostOf(r.RemoteAddr))
		return
	}
	if maxConns := g.maxConns.Load(); maxConns > 0 && int64(g.engine.Open())+g.handshakes.Load() > maxConns {
		g.reject(w, a, rejectServerFull, http.StatusServiceUnavailable, hostOf(r.RemoteAddr))
		return
	}
	release, reason := a.admit(st, hostOf(r.RemoteAddr))
	if reason != "" {
		g.reject(w, a, reason, http.StatusTooManyRequests, hostOf(r.RemoteAddr))
		return
	}
	registered := false
	defer func() {
		if !registered {
			release()
		}
	}()
	start := time.Now()
	c := &Conn{g: g, api: a, limits: st.limits}
	var id string
	if g.cl != nil {
		id = g.cl.reg.NewID() // carries this node's incarnation
	} else {
		id = event.NewID()
	}
	c.info = event.Connection{
		ID:          id,
		APIID:       a.id,
		Stage:       a.stage,
		DomainName:  st.domainName,
		ConnectedAt: g.now(),
		Identity:    event.Identity{SourceIP: hostOf(r.RemoteAddr), UserAgent: r.UserAgent()},
	}
	if c.info.DomainName == "" {
		c.info.DomainName = r.Host
	}

	hctx := g.handshakeContext(r) // the parent of the authorizer and $connect spans
	who, status, reason := g.authenticate(hctx, st, c, r)
	if status != 0 {
		g.reject(w, a, reason, status, c.info.Identity.SourceIP)
		return
	}

	subprotocol := ""
	var gr grant
	if rt := st.connect; rt != nil {
		requestID := event.NewID()
		ev := event.Connect(&c.info, c.info.ConnectedAt, requestID, connectHeaders(r, g.tls), queryParams(r.URL.RawQuery))
		ctx, span := g.routeSpan(hctx, c, RouteConnect, rt, requestID)
		resp, err := rt.integration.Invoke(ctx, ev)
		g.metrics.IntegrationSeconds.WithLabelValues(a.id, rt.integrationName, "CONNECT").Observe(time.Since(start).Seconds())
		status, outcome := 0, outcomeOK
		switch {
		case errors.Is(err, integration.ErrTimeout):
			status, outcome = http.StatusGatewayTimeout, outcomeTimeout
		case err != nil:
			status, outcome = http.StatusBadGateway, outcomeError
		case resp.StatusCode < 200:
			status, outcome = http.StatusBadGateway, outcomeError
			err = fmt.Errorf("$connect answered with informational status %d", resp.StatusCode)
		case resp.StatusCode >= 300:
			status = resp.StatusCode
			outcome, err = answered(status) // 5xx: the backend failed; 4xx: it refused
		default:
			subprotocol = resp.Header("Sec-WebSocket-Protocol")
			if strings.ContainsAny(subprotocol, "\r\n,") {
				status, outcome = http.StatusBadGateway, outcomeError
				err = fmt.Errorf("$connect returned an invalid Sec-WebSocket-Protocol %q: want one protocol name", subprotocol)
			} else if gr, err = a.parseGrant(resp); err != nil {
				status, outcome = http.StatusBadGateway, outcomeError
			}
		}
		code := status
		if code == 0 {
			code = resp.StatusCode
		}
		endSpan(span, outcome, code, err)
		g.logRoute(c, RouteConnect, rt.name(), requestID, outcome, code, start, err)
		if status != 0 {
			kind := "rejected"
			if outcome != outcomeOK {
				kind = "failed"
			}
			g.metrics.Connects.WithLabelValues(a.id, kind).Inc()
			g.log.Info("connect "+kind, "api", a.id, "connectionId", c.info.ID, "status", status,
				"sourceIp", c.info.Identity.SourceIP)
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(status)
			return
		}
	}

	if gr.user == "" {
		gr.user = who.user // the JWT's user claim or the authorizer's principalId
	}
	releaseUser, userOK := a.admitUser(gr.user)
	if !userOK {
		releaseUser = func() {}
	}
	c.release = func() { release(); releaseUser() }
	registered = true // from here connectionClosed releases

	if subprotocol == "" && offers(r, protocol.Subprotocol) {
		subprotocol = protocol.Subprotocol
	}
	c.v1 = subprotocol == protocol.Subprotocol
	c.codec = hub.Raw
	if c.v1 {
		c.codec = hub.V1
		// A binary frame is a switchboard.v1 error (400), not a close
		// (docs/protocol.md): the binary setting is for raw routes.
		c.limits = st.v1Limits
	}
	c.ws = g.engine.NewConn(c, c.limits)
	c.ws.NegotiateDeflate(r) // permessage-deflate, when the API enables it
	c.member = hub.NewMember(c.info.ID, gr.user, gr.info, c.codec, c.ws)
	if !userOK {
		// $connect accepted the connection, so it ends as a failed upgrade
		// does: $disconnect follows.
		g.reject(w, a, rejectPerUser, http.StatusTooManyRequests, c.info.Identity.SourceIP)
		a.m.connections.Inc() // balanced by connectionClosed
		g.connectionClosed(c, ws.ClosePolicyViolation, "too many connections for this user")
		return
	}
	if g.cl != nil {
		// A connection no surviving node could $disconnect must not open.
		if err := g.recordConnection(c, gr.user); err != nil {
			g.log.Warn("recording a connection in the cluster failed", "api", a.id, "connectionId", c.info.ID,
				"error", err.Error())
			g.reject(w, a, rejectCluster, http.StatusServiceUnavailable, c.info.Identity.SourceIP)
			a.m.connections.Inc() // balanced by connectionClosed
			g.connectionClosed(c, ws.CloseInternalError, reasonClusterUnavailable)
			return
		}
	}
	a.registry.add(c)
	// What is queued now is written right after the 101 response.
	if c.v1 {
		_ = c.ws.Send(ws.TextFrame(protocol.AppendConnected(nil, c.info.ID, gr.user)))
	}
	a.hub.AddUser(c.member)
	for _, ch := range gr.channels {
		if _, err := a.hub.Subscribe(g.ctx, c.member, ch, hub.SubscribeOptions{Notify: true}); err != nil {
			g.log.Warn("joining a channel given by $connect failed", "api", a.id, "connectionId", c.info.ID,
				"channel", ch, "error", err.Error())
		}
	}
	a.countMembership()
	c.scheduleExpiry(who.expiresAt) // before Upgrade: connectionClosed may run as soon as it returns
	// Logged before Upgrade: once the socket is attached, the connection
	// can deliver, close and log its disconnect before this goroutine runs
	// again, and "connect" must not follow them. A failed upgrade logs a
	// WARN and a disconnect after it.
	g.log.Info("connect", "api", a.id, "connectionId", c.info.ID,
		"sourceIp", c.info.Identity.SourceIP, "userAgent", c.info.Identity.UserAgent,
		"subprotocol", subprotocol, "deflate", c.ws.Deflate(), "user", gr.user, "latencyMs", float64(time.Since(start).Microseconds())/1000)
	if err := c.ws.Upgrade(w, r, subprotocol); err != nil {
		a.registry.remove(c)
		g.metrics.Connects.WithLabelValues(a.id, "upgrade_failed").Inc()
		g.log.Warn("upgrade failed", "api", a.id, "connectionId", c.info.ID, "error", err.Error())
		// The backend accepted the connection; tell it the connection ended.
		a.m.connections.Inc() // balanced by connectionClosed
		g.connectionClosed(c, ws.CloseAbnormal, "handshake failed")
		return
	}
	a.m.connections.Inc()
	g.metrics.Connects.WithLabelValues(a.id, "accepted").Inc()
	if g.draining.Load() {
		c.ws.Close(ws.CloseGoingAway, "server shutting down")
	} else if g.LeaseLost() {
		c.ws.Close(closeLeaseLost, reasonLeaseLost)
	}
}

// reject refuses a handshake before the upgrade: the status, a counted
// reason and a log line (at info: a flood must not flood the log at warn).
func (g *Gateway) reject(w http.ResponseWriter, a *API, reason string, status int, ip string) {
	g.metrics.Rejections.WithLabelValues(a.id, reason).Inc()
	g.log.Info("handshake rejected", "api", a.id, "reason", reason, "status", status, "sourceIp", ip)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, http.StatusText(status), status)
}

// grant is what a $connect response may give a connection, in headers
// (decision 0010, docs/channels.md).
type grant struct {
	user     string   // X-Switchboard-User
	channels []string // X-Switchboard-Channels, comma-separated
	info     []byte   // X-Switchboard-Info: JSON shown in presence
}

// maxInfoBytes bounds X-Switchboard-Info.
const maxInfoBytes = 1024

// parseGrant reads the Switchboard headers of a $connect response. A
// malformed one is the backend's error: the handshake fails with 502.
func (a *API) parseGrant(resp *event.Response) (grant, error) {
	var gr grant
	if u := resp.Header("X-Switchboard-User"); u != "" {
		if !hub.ValidUser(u) {
			return grant{}, fmt.Errorf("$connect returned an invalid X-Switchboard-User %q: want 1 to 128 bytes of UTF-8 without control characters or commas", u)
		}
		gr.user = u
	}
	if v := resp.Header("X-Switchboard-Channels"); v != "" {
		for ch := range strings.SplitSeq(v, ",") {
			ch = strings.TrimSpace(ch)
			if ch == "" || slices.Contains(gr.channels, ch) {
				continue
			}
			if len(gr.channels) == a.maxChannels {
				return grant{}, fmt.Errorf("$connect returned more than %d channels in X-Switchboard-Channels (channels.maxPerConnection)", a.maxChannels)
			}
			if _, _, err := a.hub.Lookup(ch); err != nil {
				return grant{}, fmt.Errorf("$connect returned X-Switchboard-Channels with channel %q: %w", ch, err)
			}
			gr.channels = append(gr.channels, ch)
		}
	}
	if v := resp.Header("X-Switchboard-Info"); v != "" {
		if len(v) > maxInfoBytes || !json.Valid([]byte(v)) {
			return grant{}, fmt.Errorf("$connect returned an X-Switchboard-Info that is not JSON of at most %d bytes", maxInfoBytes)
		}
		gr.info = []byte(v)
	}
	return gr, nil
}

// offers reports whether the client listed subprotocol in its handshake.
func offers(r *http.Request, subprotocol string) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(p) == subprotocol {
				return true
			}
		}
	}
	return false
}

// connectHeaders returns the handshake's headers as the client sent them,
// plus the forwarding headers API Gateway adds.
func connectHeaders(r *http.Request, tlsListener bool) []event.HeaderField {
	raw := rawhead.Headers(r)
	out := make([]event.HeaderField, 0, len(raw)+4)
	ip := hostOf(r.RemoteAddr)
	xff := ""
	hasTrace := false
	for _, f := range raw {
		switch http.CanonicalHeaderKey(f.Name) {
		case "X-Forwarded-For":
			xff = f.Value + ", "
			continue
		case "X-Forwarded-Port", "X-Forwarded-Proto":
			continue
		case "X-Amzn-Trace-Id":
			hasTrace = true
		}
		out = append(out, event.HeaderField{Name: f.Name, Value: f.Value})
	}
	if !hasTrace {
		out = append(out, event.HeaderField{Name: "X-Amzn-Trace-Id", Value: traceID()})
	}
	proto := "http"
	if r.TLS != nil || tlsListener {
		proto = "https"
	}
	out = append(out,
		event.HeaderField{Name: "X-Forwarded-For", Value: xff + ip},
		event.HeaderField{Name: "X-Forwarded-Port", Value: localPort(r)},
		event.HeaderField{Name: "X-Forwarded-Proto", Value: proto},
	)
	return out
}

// traceID returns an X-Ray style trace id: Root=1-<epoch hex>-<96 random bits>.
func traceID() string {
	id := event.NewID() // 88 random bits, URL-safe base64
	return fmt.Sprintf("Root=1-%08x-%x", time.Now().Unix(), []byte(id[:12]))
}

// queryParams splits a raw query in order, decoding each name and value.
func queryParams(raw string) []event.QueryParam {
	if raw == "" {
		return nil
	}
	var out []event.QueryParam
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		out = append(out, event.QueryParam{Name: k, Value: v})
	}
	return out
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			return p
		}
	}
	return ""
}
