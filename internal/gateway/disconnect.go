package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// connectionClosed runs once per connection when its socket has closed
// (ws.Handler.OnClose, on the event loop: it must not block). It
// unregisters the connection at once — from now on the management API
// answers 410 — and queues the end of the connection behind the messages
// still in the inbox; the worker logs it and fires $disconnect.
func (g *Gateway) connectionClosed(c *Conn, code ws.CloseCode, reason string) {
	c.api.registry.remove(c)
	if c.release != nil {
		c.release()
	}
	c.stopExpiry()
	if c.member != nil {
		if g.cl == nil {
			c.api.hub.Remove(c.member)
			c.api.countMembership()
		} else {
			// In a cluster, leaving the channels calls Redis (Presence.Leave,
			// Bus.Unsubscribe: up to commandTimeout each while Redis does not
			// answer): not on the event loop, which serves other sockets.
			// The worker waits for it before the $disconnect, so the leave
			// still precedes it.
			c.left = make(chan struct{})
			go func() {
				defer close(c.left)
				c.api.hub.Remove(c.member)
				c.api.countMembership()
			}()
		}
	}
	c.push(inItem{closed: true, code: code, reason: reason, at: g.now()})
}

// logDisconnect records the end of a connection: metrics and the
// "disconnect" log line (plus "slow consumer" at warn for 1013).
func (g *Gateway) logDisconnect(c *Conn, it inItem) {
	a := c.api
	a.m.connections.Dec()
	g.metrics.Disconnects.WithLabelValues(a.id, it.code.String()).Inc()
	attrs := []slog.Attr{
		slog.String("api", a.id),
		slog.String("connectionId", c.info.ID),
		slog.Int("code", int(it.code)),
		slog.String("reason", it.reason),
		slog.Float64("durationS", it.at.Sub(c.info.ConnectedAt).Seconds()),
	}
	if it.code == ws.CloseTryAgainLater {
		g.metrics.SlowConsumers.WithLabelValues(a.id).Inc()
		g.log.LogAttrs(g.ctx, slog.LevelWarn, "slow consumer", attrs...)
	}
	g.log.LogAttrs(g.ctx, slog.LevelInfo, "disconnect", attrs...)
}

// fireDisconnect calls the $disconnect route, retrying a failed call with
// exponential backoff up to the API's disconnect.attempts. Every retry and
// a final failure are logged; the final failure is counted too. In a
// cluster the requestId is DisconnectRequestID (a reaper that delivers it
// again uses the same), the connection's record goes once the call is
// done, and the $disconnect of a node that lost its lease is left to the
// surviving node that reaps it.
func (g *Gateway) fireDisconnect(c *Conn, it inItem) {
	if c.left != nil {
		<-c.left
	}
	g.logDisconnect(c, it)
	if g.leftToSurvivor(c) {
		g.log.Info("$disconnect left to a surviving node (lease lost)", "api", c.api.id, "connectionId", c.info.ID)
		return
	}
	if st := c.cur; st.disconnect != nil {
		g.deliverDisconnect(g.ctx, c, st, it, g.disconnectRequestID(c.info.ID))
	}
	if g.cl != nil {
		g.unrecordConnection(c)
	}
}

// deliverDisconnect calls st's $disconnect route for c (the same requestID
// on every try: backends can deduplicate) until it succeeds, the attempts
// are used up or ctx ends.
func (g *Gateway) deliverDisconnect(ctx context.Context, c *Conn, st *apiState, it inItem, requestID string) {
	a, r := c.api, st.disconnect
	ev := event.Disconnect(&c.info, it.at, requestID, int(it.code), it.reason, c.info.DomainName)
	backoff := st.disconnectBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		sctx, span := g.routeSpan(ctx, c, RouteDisconnect, r, requestID)
		if span != nil {
			span.SetAttributes(attrAttempt.Int(attempt))
		}
		resp, err := r.integration.Invoke(sctx, ev)
		g.metrics.IntegrationSeconds.WithLabelValues(a.id, r.integrationName, "DISCONNECT").Observe(time.Since(start).Seconds())
		status := 0
		if err == nil {
			// A 5xx answer is a failure like a thrown error: retried.
			status = resp.StatusCode
			if _, err = answered(status); err == nil {
				endSpan(span, outcomeOK, status, nil)
				g.logRoute(c, RouteDisconnect, r.name(), requestID, outcomeOK, status, start, nil)
				return
			}
		}
		endSpan(span, outcomeError, status, err)
		g.logRoute(c, RouteDisconnect, r.name(), requestID, outcomeError, status, start, err)
		if attempt >= st.disconnectAttempts || ctx.Err() != nil {
			g.metrics.DisconnectFailures.WithLabelValues(a.id).Inc()
			g.log.Error("$disconnect failed; giving up",
				"api", a.id, "connectionId", c.info.ID, "requestId", requestID,
				"attempts", attempt, "error", err.Error())
			return
		}
		g.log.Warn("$disconnect failed; retrying",
			"api", a.id, "connectionId", c.info.ID, "requestId", requestID,
			"attempt", attempt, "retryIn", backoff.String(), "error", err.Error())
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff *= 2
	}
}
