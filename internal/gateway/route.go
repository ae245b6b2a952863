package gateway

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/integration"
	"github.com/switchboardhq/switchboard/internal/payload"
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Outcomes of a route invocation, in logs and metrics.
const (
	outcomeOK        = "ok"
	outcomeError     = "error"
	outcomeTimeout   = "timeout"
	outcomeForbidden = "forbidden"
	outcomeDenied    = "denied" // a join or channel broadcast refused by its namespace
)

// answered is the outcome of an integration call that returned a
// response. A status of 500 or more is the backend failing — a Lambda
// handler that caught its error and returned statusCode 500, say — and is
// logged and counted as an error, whatever happens to the response.
func answered(status int) (string, error) {
	if status >= 500 {
		return outcomeError, fmt.Errorf("the integration answered with status %d", status)
	}
	return outcomeOK, nil
}

// selectRoute applies the route selection expression to a message, as
// AWS does: an exact match, else $default, else none.
func (st *apiState) selectRoute(op ws.Opcode, body []byte) (string, *Route) {
	key := RouteDefault
	if op == ws.OpText {
		if k, ok := st.selector.Evaluate(body); ok {
			key = k
		}
	}
	// $connect and $disconnect are never selected by a message.
	if r := st.routes[key]; r != nil && key != RouteConnect && key != RouteDisconnect {
		return key, r
	}
	return RouteDefault, st.routes[RouteDefault]
}

// handleMessage routes one message and runs its route under the state
// the connection's pool task holds.
func (g *Gateway) handleMessage(c *Conn, it inItem) {
	a, st := c.api, c.cur
	start := time.Now()
	requestID := event.NewID()
	body, isBase64 := it.payload, false
	if it.op == ws.OpBinary {
		body, isBase64 = base64.StdEncoding.AppendEncode(nil, it.payload), true
	}
	key, r := st.selectRoute(it.op, it.payload)
	if r == nil {
		c.sendError(event.MessageForbidden, requestID)
		if it.op == ws.OpText {
			key, _ = st.selector.Evaluate(it.payload) // for the log: what matched nothing
		}
		g.logRoute(c, key, "", requestID, outcomeForbidden, 0, start, nil)
		return
	}
	ctx, span := g.routeSpan(g.ctx, c, key, r, requestID)
	if r.integration == nil {
		outcome, err := g.runAction(c, r, key, requestID, it, body)
		endSpan(span, outcome, 0, err)
		g.logRoute(c, key, r.name(), requestID, outcome, 0, start, err)
		return
	}
	ev := event.Message(&c.info, it.at, requestID, event.NewID(), key, body, isBase64)
	resp, err := r.integration.Invoke(ctx, ev)
	g.metrics.IntegrationSeconds.WithLabelValues(a.id, r.integrationName, "MESSAGE").Observe(time.Since(start).Seconds())
	switch {
	case errors.Is(err, integration.ErrTimeout):
		c.sendError(event.MessageTimeout, requestID)
		endSpan(span, outcomeTimeout, 0, err)
		g.logRoute(c, key, r.name(), requestID, outcomeTimeout, 0, start, err)
	case err != nil:
		c.sendError(event.MessageInternalError, requestID)
		endSpan(span, outcomeError, 0, err)
		g.logRoute(c, key, r.name(), requestID, outcomeError, 0, start, err)
	default:
		// The body goes back even with a 5xx statusCode, as on AWS.
		if r.twoWay && len(resp.Body) > 0 {
			c.reply(resp, requestID)
		}
		outcome, err := answered(resp.StatusCode)
		endSpan(span, outcome, resp.StatusCode, err)
		g.logRoute(c, key, r.name(), requestID, outcome, resp.StatusCode, start, err)
	}
}

// reply sends a two-way route's response body back to the client: binary
// when the integration said so (isBase64Encoded), else text when it is
// valid UTF-8, else binary.
func (c *Conn) reply(resp *event.Response, requestID string) {
	if maxPost := c.cur.maxPost; len(resp.Body) > maxPost {
		c.g.log.Warn("route response larger than maxMessageBytes was not sent",
			"api", c.api.id, "connectionId", c.info.ID, "requestId", requestID, "bytes", len(resp.Body), "limit", maxPost)
		c.sendError(event.MessageInternalError, requestID)
		return
	}
	f := ws.DataFrame(resp.Body)
	if resp.IsBase64Encoded {
		f = ws.BinaryFrame(resp.Body)
	}
	_ = c.ws.SendMessage(ws.NewMessage(f))
}

// sendError sends an AWS error frame; the connection stays open.
func (c *Conn) sendError(message, requestID string) {
	_ = c.ws.Send(ws.TextFrame(event.ErrorFrame(message, c.info.ID, requestID)))
}

// runAction runs a built-in action. It returns the outcome for the route
// log and, when the action failed, why.
func (g *Gateway) runAction(c *Conn, r *Route, key, requestID string, it inItem, body []byte) (string, error) {
	switch r.action {
	case "echo":
		_ = c.ws.SendMessage(ws.NewMessage(ws.NewFrame(it.op, it.payload)))
	case "join", "leave":
		return g.memberAction(c, r, requestID, it)
	case "broadcast":
		out := body
		if r.template != nil {
			ctx := payload.Context{
				ConnectionID:     c.info.ID,
				RequestID:        requestID,
				MessageID:        requestID,
				RouteKey:         key,
				Stage:            c.info.Stage,
				DomainName:       c.info.DomainName,
				APIID:            c.info.APIID,
				EventType:        "MESSAGE",
				ConnectedAt:      c.info.ConnectedAt.UnixMilli(),
				RequestTimeEpoch: it.at.UnixMilli(),
				SourceIP:         c.info.Identity.SourceIP,
				UserAgent:        c.info.Identity.UserAgent,
			}
			out = r.template.Render(nil, body, &ctx)
		}
		exclude := ""
		if r.excludeSender {
			exclude = c.info.ID
		}
		if r.channel == nil {
			if _, err := g.broadcast(g.ctx, c.api, out, exclude, false); err != nil {
				c.sendError(event.MessageInternalError, requestID)
				return outcomeError, err
			}
			return outcomeOK, nil
		}
		return g.channelBroadcast(c, r, requestID, it, out, exclude)
	}
	return outcomeOK, nil
}

// actionChannel evaluates the action's channel expression on the message
// and finds the channel's namespace. On failure it has already sent the
// AWS-style "Forbidden" error frame.
func (g *Gateway) actionChannel(c *Conn, r *Route, requestID string, it inItem) (string, *hub.Namespace, string, error) {
	name, ok := "", false
	if it.op == ws.OpText {
		name, ok = r.channel.Evaluate(it.payload)
	}
	if !ok {
		c.sendError(event.MessageForbidden, requestID)
		return "", nil, "", fmt.Errorf("the message names no channel for %s", r.channel)
	}
	ns, bound, err := c.api.hub.Lookup(name)
	if err != nil {
		c.sendError(event.MessageForbidden, requestID)
		return "", nil, "", fmt.Errorf("channel %.128q: %w", name, err)
	}
	return name, ns, bound, nil
}

// memberAction runs a join or leave action for a raw connection. A join
// obeys the namespace's subscribe rule; a refused one gets the AWS-style
// "Forbidden" error frame.
func (g *Gateway) memberAction(c *Conn, r *Route, requestID string, it inItem) (string, error) {
	name, ns, bound, err := g.actionChannel(c, r, requestID, it)
	if err != nil {
		return outcomeDenied, err
	}
	a := c.api
	if r.action == "leave" {
		if _, err := a.hub.Unsubscribe(c.member, name, true, "left by the route "+r.key); err != nil {
			return outcomeError, err
		}
		a.countMembership()
		return outcomeOK, nil
	}
	if perr := g.authorize(c, ns, bound, false, name, nil, it.at); perr != nil {
		return g.actionRefused(c, requestID, perr)
	}
	_, err = a.hub.Subscribe(g.ctx, c.member, name, hub.SubscribeOptions{Notify: true})
	g.countChannelRequest(a, "subscribe", err)
	switch {
	case errors.Is(err, hub.ErrAlreadySubscribed):
		return outcomeOK, nil // joining twice leaves it joined
	case err != nil:
		c.sendError(event.MessageForbidden, requestID)
		return outcomeDenied, err
	}
	a.countMembership()
	return outcomeOK, nil
}

// channelBroadcast publishes a broadcast action's payload to the channel
// its expression names, under the namespace's publish rule.
func (g *Gateway) channelBroadcast(c *Conn, r *Route, requestID string, it inItem, out []byte, exclude string) (string, error) {
	name, ns, bound, err := g.actionChannel(c, r, requestID, it)
	if err != nil {
		return outcomeDenied, err
	}
	if perr := g.authorize(c, ns, bound, true, name, out, it.at); perr != nil {
		return g.actionRefused(c, requestID, perr)
	}
	_, err = g.publish(c.api, name, out, exclude)
	g.countChannelRequest(c.api, "publish", err)
	if err != nil {
		c.sendError(event.MessageInternalError, requestID)
		return outcomeError, err
	}
	return outcomeOK, nil
}

// actionRefused answers a raw client whose join or broadcast was refused
// with the AWS error frame that fits.
func (g *Gateway) actionRefused(c *Conn, requestID string, perr *protocol.Error) (string, error) {
	switch perr.Code {
	case protocol.CodeTimeout:
		c.sendError(event.MessageTimeout, requestID)
		return outcomeTimeout, perr
	case protocol.CodeForbidden:
		c.sendError(event.MessageForbidden, requestID)
		return outcomeDenied, perr
	}
	c.sendError(event.MessageInternalError, requestID)
	return outcomeError, perr
}

func (g *Gateway) logRoute(c *Conn, key, target, requestID, outcome string, status int, start time.Time, err error) {
	label := key
	if outcome == outcomeForbidden {
		// The key came from the client: never a label (unbounded), and
		// logged only in part.
		label = ""
		if len(key) > 128 {
			key = key[:128] + "…"
		}
	}
	g.metrics.Routes.WithLabelValues(c.api.id, label, outcome).Inc()
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("api", c.api.id),
		slog.String("connectionId", c.info.ID),
		slog.String("requestId", requestID),
		slog.String("route", key),
		slog.String("integration", target),
		slog.String("outcome", outcome),
		slog.Float64("latencyMs", float64(time.Since(start).Microseconds())/1000),
	}
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	g.log.LogAttrs(g.ctx, level, "route", attrs...)
}
