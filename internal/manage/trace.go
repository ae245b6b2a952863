package manage

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardhq/switchboard/internal/tracing"
)

// SetTracerProvider makes the handler trace every request with tp (one
// server span per request, the caller's traceparent or X-Amzn-Trace-Id its
// parent, and the parent of what the request calls). A nil or noop
// provider turns tracing off. Call it before the handler serves.
func (h *Handler) SetTracerProvider(tp trace.TracerProvider) {
	if !tracing.Traced(tp) {
		h.tracer = nil
		return
	}
	h.tracer = tp.Tracer("github.com/switchboardhq/switchboard/internal/manage")
}

// pattern is the route's path template (the span's http.route): ids,
// channels and users never appear in it. "" for paths that match no route.
func (k routeKind) pattern() string {
	switch k {
	case routeList:
		return "/{stage}/@connections"
	case routeConnection:
		return "/{stage}/@connections/{connectionId}"
	case routeChannel:
		return "/{stage}/@channels/{channel}"
	case routeHistory:
		return "/{stage}/@channels/{channel}/history"
	case routeMember:
		return "/{stage}/@channels/{channel}/connections/{connectionId}"
	case routeUser:
		return "/{stage}/@users/{user}"
	case routeBroadcast:
		return "/{stage}/@broadcast"
	case routeBatch:
		return "/{stage}/@batch"
	}
	return ""
}

// startSpan starts the request's server span, a child of the caller's
// trace context, and returns r with it in its context: the backend calls
// made with r.Context() are its children.
func (h *Handler) startSpan(r *http.Request, rt route, reqID string) (*http.Request, trace.Span) {
	ctx := tracing.Extract(r.Context(), r.Header)
	name, pattern := r.Method, rt.kind.pattern()
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("switchboard.request_id", reqID),
	}
	if pattern != "" {
		name += " " + pattern
		attrs = append(attrs, attribute.String("http.route", pattern), attribute.String("switchboard.stage", rt.stage))
	}
	ctx, span := h.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return r.WithContext(ctx), span
}

// endSpan records the response status and ends the span; a 5xx is an
// error (a 4xx is the caller's, as OpenTelemetry's HTTP conventions say
// of server spans).
func endSpan(span trace.Span, w *statusWriter) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
