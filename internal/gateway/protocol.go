package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/history"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/integration"
	"github.com/switchboardhq/switchboard/internal/jsonenc"
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// maxPresenceList bounds the members a presence reply lists.
const maxPresenceList = 1000

// handleProtocol runs one switchboard.v1 message (docs/protocol.md). It
// runs on the connection's pool task, so a connection's messages are
// handled, and answered, in order.
func (g *Gateway) handleProtocol(c *Conn, it inItem) {
	if it.op != ws.OpText {
		c.replyError(0, &protocol.Error{Code: protocol.CodeBadRequest, Message: "binary frames are not part of switchboard.v1; send JSON text"})
		return
	}
	msg, id, err := protocol.Decode(it.payload)
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			pe = &protocol.Error{Code: protocol.CodeBadRequest, Message: err.Error()}
		}
		c.replyError(id, pe)
		return
	}
	switch msg.Type {
	case protocol.TypeSubscribe:
		g.v1Subscribe(c, &msg, it.at)
	case protocol.TypeUnsubscribe:
		if _, err := c.api.hub.Unsubscribe(c.member, msg.Channel, false, ""); err != nil {
			c.replyError(msg.ID, protocolError(err, msg.Channel))
			return
		}
		c.api.countMembership()
		c.replyResult(msg.ID, nil)
	case protocol.TypePublish:
		g.v1Publish(c, &msg, it.at)
	case protocol.TypePresence:
		g.v1Presence(c, &msg)
	case protocol.TypePing:
		c.replyResult(msg.ID, nil)
	case protocol.TypeRefresh:
		g.refresh(c, &msg)
	}
}

func (g *Gateway) v1Subscribe(c *Conn, msg *protocol.Message, at time.Time) {
	a := c.api
	ns, bound, err := a.hub.Lookup(msg.Channel)
	if err == nil && c.member.In(msg.Channel) {
		err = hub.ErrAlreadySubscribed
	}
	if err != nil {
		g.countChannelRequest(a, "subscribe", err)
		c.replyError(msg.ID, protocolError(err, msg.Channel))
		return
	}
	if perr := g.authorize(c, ns, bound, false, msg.Channel, nil, at); perr != nil {
		c.replyError(msg.ID, perr)
		return
	}
	o := hub.SubscribeOptions{ReplyID: msg.ID, MaxRecoveryBytes: c.limits.MaxQueueBytes / 2}
	if msg.Recover != nil {
		o.Recover = &history.Position{Epoch: msg.Recover.Epoch, Offset: msg.Recover.Offset}
	}
	_, err = a.hub.Subscribe(g.ctx, c.member, msg.Channel, o)
	g.countChannelRequest(a, "subscribe", err)
	if err != nil {
		c.replyError(msg.ID, protocolError(err, msg.Channel))
		return
	}
	a.countMembership()
}

func (g *Gateway) v1Publish(c *Conn, msg *protocol.Message, at time.Time) {
	a := c.api
	ns, bound, err := a.hub.Lookup(msg.Channel)
	if err != nil {
		g.countChannelRequest(a, "publish", err)
		c.replyError(msg.ID, protocolError(err, msg.Channel))
		return
	}
	if maxPost := c.cur.maxPost; len(msg.Payload) > maxPost {
		c.replyError(msg.ID, &protocol.Error{Code: protocol.CodeTooLarge,
			Message: fmt.Sprintf("the payload has %d bytes; the limit is %d (maxMessageBytes)", len(msg.Payload), maxPost)})
		return
	}
	if perr := g.authorize(c, ns, bound, true, msg.Channel, msg.Payload, at); perr != nil {
		c.replyError(msg.ID, perr)
		return
	}
	exclude := ""
	if msg.ExcludeSelf {
		exclude = c.info.ID
	}
	res, err := g.publish(a, msg.Channel, msg.Payload, exclude)
	g.countChannelRequest(a, "publish", err)
	if err != nil {
		c.replyError(msg.ID, protocolError(err, msg.Channel))
		return
	}
	if msg.ID != 0 {
		c.replyResult(msg.ID, protocol.AppendPublishResult(nil, protocol.PublishResult{
			Position: hub.ProtocolPosition(res.Position), Recipients: res.Recipients,
		}))
	}
}

func (g *Gateway) v1Presence(c *Conn, msg *protocol.Message) {
	a := c.api
	ns, _, err := a.hub.Lookup(msg.Channel)
	switch {
	case err != nil:
	case !ns.Presence:
		err = hub.ErrNoPresence
	case !c.member.In(msg.Channel):
		err = errNotSubscribed
	}
	if err != nil {
		c.replyError(msg.ID, protocolError(err, msg.Channel))
		return
	}
	page, err := a.hub.Presence(g.ctx, msg.Channel, "", maxPresenceList)
	if err != nil {
		c.replyError(msg.ID, protocolError(err, msg.Channel))
		return
	}
	c.replyResult(msg.ID, protocol.AppendPresenceResult(nil, page.Members, page.List, page.Next != ""))
}

// publish publishes to a channel (except the connection exclude, "" for
// none) and counts it. Deliveries are counted here on one node, where
// Recipients is what this node queued; in a cluster, by handleBus as each
// node's share arrives.
func (g *Gateway) publish(a *API, channel string, data []byte, exclude string) (hub.PublishResult, error) {
	res, err := a.hub.Publish(g.ctx, channel, data, exclude)
	if err == nil {
		a.m.publications.Inc()
		if !a.hub.Clustered() {
			a.m.deliveries.Add(float64(res.Recipients))
		}
	}
	return res, err
}

var errNotSubscribed = errors.New("not subscribed to the channel")

// authorize applies the namespace's subscribe (publish false) or publish
// rule to a request of c. bound is what the pattern's {user} matched.
func (g *Gateway) authorize(c *Conn, ns *hub.Namespace, bound string, publish bool, channel string, data []byte, at time.Time) *protocol.Error {
	rule, op := ns.Subscribe, "subscribe to"
	if publish {
		rule, op = ns.Publish, "publish to"
	}
	denied := &protocol.Error{Code: protocol.CodeForbidden, Message: fmt.Sprintf("not allowed to %s %q", op, channel)}
	var perr *protocol.Error
	switch rule {
	case hub.RuleAllow:
	case hub.RuleUser:
		if u := c.member.User(); u == "" || u != bound {
			perr = denied
		}
	case hub.RuleSubscribers:
		if !c.member.In(channel) {
			perr = denied
		}
	case hub.RuleAuthorizer:
		perr = g.askAuthorizer(c, ns, publish, channel, data, at, denied)
	default:
		perr = denied
	}
	if perr != nil {
		outcome := "forbidden"
		if perr.Code != protocol.CodeForbidden {
			outcome = "error"
		}
		name := "subscribe"
		if publish {
			name = "publish"
		}
		g.metrics.ChannelRequests.WithLabelValues(c.api.id, name, outcome).Inc()
	}
	return perr
}

// askAuthorizer calls the namespace's authorizer integration with a
// SUBSCRIBE or PUBLISH event whose body is {"channel": ..., <payload>}.
// A 2xx answer allows; any other status denies; a failed call is 502 and a
// timed-out one 504.
func (g *Gateway) askAuthorizer(c *Conn, ns *hub.Namespace, publish bool, channel string, data []byte, at time.Time, denied *protocol.Error) *protocol.Error {
	a := c.api
	in := c.cur.integrations[ns.Authorizer]
	if in == nil { // config validation makes this impossible
		return &protocol.Error{Code: protocol.CodeInternal, Message: "the namespace's authorizer integration is missing"}
	}
	body := append([]byte(`{"channel":`), jsonenc.AppendString(nil, channel)...)
	routeKey, eventType := event.RouteSubscribe, event.EventSubscribe
	if publish {
		routeKey, eventType = event.RoutePublish, event.EventPublish
		body = append(body, ',')
		body = protocol.AppendPayloadField(body, data, protocol.Classify(data))
	}
	body = append(body, '}')
	requestID := event.NewID()
	start := time.Now()
	ctx, span := g.authorizerSpan(g.ctx, c, "channel", ns.Authorizer)
	if span != nil {
		span.SetAttributes(attrRoute.String(routeKey), attrRequest.String(requestID))
	}
	resp, err := in.Invoke(ctx, event.ChannelRequest(&c.info, at, requestID, routeKey, eventType, body))
	g.metrics.IntegrationSeconds.WithLabelValues(a.id, ns.Authorizer, eventType).Observe(time.Since(start).Seconds())
	switch {
	case errors.Is(err, integration.ErrTimeout):
		endSpan(span, outcomeTimeout, 0, err)
		g.logRoute(c, routeKey, ns.Authorizer, requestID, outcomeTimeout, 0, start, err)
		return &protocol.Error{Code: protocol.CodeTimeout, Message: "the authorizer timed out"}
	case err != nil:
		endSpan(span, outcomeError, 0, err)
		g.logRoute(c, routeKey, ns.Authorizer, requestID, outcomeError, 0, start, err)
		return &protocol.Error{Code: protocol.CodeBadGateway, Message: "the authorizer failed"}
	}
	outcome, err := answered(resp.StatusCode)
	if outcome == outcomeOK && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		endSpan(span, outcomeDenied, resp.StatusCode, nil)
	} else {
		endSpan(span, outcome, resp.StatusCode, err)
	}
	g.logRoute(c, routeKey, ns.Authorizer, requestID, outcome, resp.StatusCode, start, err)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return denied
	}
	return nil
}

// countChannelRequest counts a subscribe or publish request that got past
// authorization (or failed before it).
func (g *Gateway) countChannelRequest(a *API, op string, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, hub.ErrInvalidChannel), errors.Is(err, hub.ErrNoNamespace),
		errors.Is(err, hub.ErrAlreadySubscribed), errors.Is(err, hub.ErrTooManyChannels):
		outcome = "invalid"
	default:
		outcome = "error"
	}
	g.metrics.ChannelRequests.WithLabelValues(a.id, op, outcome).Inc()
}

// protocolError maps a hub error to a switchboard.v1 error.
func protocolError(err error, channel string) *protocol.Error {
	code := protocol.CodeInternal
	msg := err.Error()
	switch {
	case errors.Is(err, hub.ErrInvalidChannel):
		code, msg = protocol.CodeBadRequest, fmt.Sprintf("invalid channel name %q: 1 to the API's maxNameBytes bytes of UTF-8 without control characters, spaces or commas", channel)
	case errors.Is(err, hub.ErrNoNamespace):
		code, msg = protocol.CodeBadRequest, fmt.Sprintf("no channel namespace matches %q", channel)
	case errors.Is(err, hub.ErrAlreadySubscribed):
		code, msg = protocol.CodeAlreadySubscribed, fmt.Sprintf("already subscribed to %q", channel)
	case errors.Is(err, hub.ErrTooManyChannels):
		code = protocol.CodeTooManyChannels
	case errors.Is(err, hub.ErrNoPresence):
		code, msg = protocol.CodeNotEnabled, fmt.Sprintf("the namespace of %q keeps no presence", channel)
	case errors.Is(err, errNotSubscribed):
		code, msg = protocol.CodeNotEnabled, fmt.Sprintf("not subscribed to %q", channel)
	case errors.Is(err, hub.ErrMemberGone):
		code = protocol.CodeInternal
	case errors.Is(err, cluster.ErrUnavailable):
		code, msg = protocol.CodeUnavailable, "the cluster is unavailable; the request may or may not have taken effect: retry"
	default:
		msg = "internal error"
	}
	return &protocol.Error{Code: code, Message: msg}
}

// replyResult answers a message that had an id with result (raw JSON
// object; nil for {}). Without an id nothing is sent.
func (c *Conn) replyResult(id uint64, result []byte) {
	if id == 0 {
		return
	}
	_ = c.ws.Send(ws.TextFrame(protocol.AppendReply(nil, id, result)))
}

// replyError answers with an error: a reply for a message with an id, an
// error message otherwise.
func (c *Conn) replyError(id uint64, e *protocol.Error) {
	if id == 0 {
		_ = c.ws.Send(ws.TextFrame(protocol.AppendError(nil, e)))
		return
	}
	_ = c.ws.Send(ws.TextFrame(protocol.AppendReplyError(nil, id, e)))
}
