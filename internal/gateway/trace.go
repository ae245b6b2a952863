package gateway

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardhq/switchboard/internal/tracing"
)

// Span attribute keys (docs/operating.md, "Tracing").
const (
	attrAPI             = attribute.Key("switchboard.api")
	attrStage           = attribute.Key("switchboard.stage")
	attrRoute           = attribute.Key("switchboard.route")
	attrConnection      = attribute.Key("switchboard.connection_id")
	attrRequest         = attribute.Key("switchboard.request_id")
	attrIntegration     = attribute.Key("switchboard.integration")
	attrIntegrationType = attribute.Key("switchboard.integration.type")
	attrOutcome         = attribute.Key("switchboard.outcome")
	attrStatus          = attribute.Key("switchboard.status")
	attrAttempt         = attribute.Key("switchboard.attempt")
	attrAuthorizer      = attribute.Key("switchboard.authorizer")
)

// tracer is the gateway's tracer; on is false when the provider records
// nothing, and then no span is started and no attribute built: the hot
// paths pay one branch.
type tracer struct {
	on bool
	t  trace.Tracer
}

func newTracer(tp trace.TracerProvider) tracer {
	if !tracing.Traced(tp) {
		return tracer{}
	}
	return tracer{on: true, t: tp.Tracer("github.com/switchboardhq/switchboard/internal/gateway")}
}

// routeSpan starts the span of one route invocation ("route <key>"), a
// child of the span in ctx if any. It returns ctx and a nil span when
// tracing is off. The integration call made with the returned ctx carries
// the span to the backend (traceparent, X-Amzn-Trace-Id).
func (g *Gateway) routeSpan(ctx context.Context, c *Conn, key string, r *Route, requestID string) (context.Context, trace.Span) {
	if !g.tr.on {
		return ctx, nil
	}
	kind, itype := trace.SpanKindInternal, "action"
	if r.integration != nil {
		kind, itype = trace.SpanKindClient, r.integrationType
	}
	return g.tr.t.Start(ctx, "route "+key, trace.WithSpanKind(kind), trace.WithAttributes(
		attrAPI.String(c.api.id),
		attrStage.String(c.api.stage),
		attrRoute.String(key),
		attrConnection.String(c.info.ID),
		attrRequest.String(requestID),
		attrIntegration.String(r.name()),
		attrIntegrationType.String(itype),
	))
}

// authorizerSpan starts the span of one authorizer call: which is
// "connect" (the REQUEST authorizer of a handshake) or "channel" (a
// namespace's authorizer integration).
func (g *Gateway) authorizerSpan(ctx context.Context, c *Conn, which, integrationName string) (context.Context, trace.Span) {
	if !g.tr.on {
		return ctx, nil
	}
	return g.tr.t.Start(ctx, "authorizer "+which, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attrAPI.String(c.api.id),
		attrStage.String(c.api.stage),
		attrConnection.String(c.info.ID),
		attrAuthorizer.String(which),
		attrIntegration.String(integrationName),
	))
}

// handshakeContext is the parent of a handshake's authorizer and $connect
// spans: the client's traceparent (a server-side client may send one),
// else g.ctx. Off, it is g.ctx.
func (g *Gateway) handshakeContext(r *http.Request) context.Context {
	if !g.tr.on {
		return g.ctx
	}
	return tracing.Extract(g.ctx, r.Header)
}

// endSpan records the outcome (and status, when there was an answer) and
// ends span; a nil span (tracing off) is ignored. An error or timeout
// outcome sets the span's status to Error with err's text.
func endSpan(span trace.Span, outcome string, status int, err error) {
	if span == nil {
		return
	}
	span.SetAttributes(attrOutcome.String(outcome))
	if status != 0 {
		span.SetAttributes(attrStatus.Int(status))
	}
	// A refusal (forbidden, denied) is an answer, not a failure.
	if outcome == outcomeError || outcome == outcomeTimeout {
		msg := outcome
		if err != nil {
			msg = err.Error()
		}
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}
