package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// w3c is the W3C Trace Context propagator (traceparent, tracestate). It is
// a stateless value, not otel's global propagator.
var w3c propagation.TraceContext

// InjectHTTP sets traceparent and tracestate on h from the span in ctx. It
// does nothing, and costs one context lookup, when ctx holds no valid span
// (tracing off).
func InjectHTTP(ctx context.Context, h http.Header) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	w3c.Inject(ctx, propagation.HeaderCarrier(h))
}

// Extract returns ctx with the caller's span context from h as the remote
// parent: the W3C traceparent (with tracestate) when it is valid, else a
// valid X-Amzn-Trace-Id (what an AWS SDK sends from a Lambda function or a
// function worker), else ctx unchanged. Malformed headers are ignored, as
// the W3C specification asks.
func Extract(ctx context.Context, h http.Header) context.Context {
	if h.Get("Traceparent") != "" {
		if out := w3c.Extract(ctx, propagation.HeaderCarrier(h)); trace.SpanContextFromContext(out).IsValid() {
			return out
		}
	}
	if v := h.Get(HeaderXRay); v != "" {
		if sc, err := ParseXRay(v); err == nil {
			return trace.ContextWithRemoteSpanContext(ctx, sc)
		}
	}
	return ctx
}
